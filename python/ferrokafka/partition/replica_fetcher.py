"""Replica fetchers: how a follower copies its leaders' logs (Kafka's ``ReplicaFetcherManager``
and ``ReplicaFetcherThread``, ``num.replica.fetchers`` = 1).

One fetcher task per source broker carries every partition this broker follows from it; it
sends Kafka's follower Fetch over the inter-broker listener (a :class:`NodeClient`) in an
incremental fetch session (KIP-227, :mod:`fetch_session_handler`: after the first full fetch,
each fetch names only the partitions whose position changed, and the leader answers only
partitions with news), then for each partition does what :mod:`follower_fetch` decides —
append through ``Partition.append_as_follower`` and take the leader's high watermark, truncate
where the logs diverge, recover from OFFSET_OUT_OF_RANGE with the leader's offsets, back off
after errors. Partitions backing off or throttled leave the session until they are ready.

The manager follows leadership: after every metadata image the ReplicaManager hands it the
hosted partitions, and it starts, re-targets or stops fetchers so that exactly the followed
partitions (leader known, not this broker) are fetched, each from its leader of now. An answer
to a partition whose leader epoch or log end changed while the fetch was out is dropped.

Threading: the trio thread; appends and truncations go through the Partition (worker threads).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import trio

from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.node_client import REQUEST_TIMEOUT_S, NodeClient, NodeUnavailableError
from ferrokafka.partition.fetch_session_handler import FetchSessionHandler, SessionFetch
from ferrokafka.partition.follower_fetch import (
    Decision,
    FetcherConfig,
    FetchPosition,
    Step,
    decide,
    fetch_request,
    out_of_range_step,
)
from ferrokafka.partition.replication_quota import FOLLOWER, ReplicationQuota
from ferrokafka.protocol import ProtocolError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.protocol.messages.list_offsets import ListOffsetsRequest
from ferrokafka.storage import FerrokafkaError

if TYPE_CHECKING:
    from ferrokafka.partition.partition import Partition

log = logging.getLogger(__name__)

PartitionKey = tuple[uuid.UUID, int]
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
# Source brokers fetched from at once: one task each; a cluster has at most this many brokers
# worth fetching from (a bound so a leak shows, as every other table here).
FETCHERS_MAX = 1024
CLIENT_ID_PREFIX = "ferrokafka-replica-fetcher-"


class ReplicaFetcher:
    """Fetches every partition this broker follows from one source broker."""

    def __init__(
        self,
        broker_id: int,
        source_id: int,
        address: tuple[str, int],
        config: FetcherConfig,
        broker_epoch: Callable[[], int],
        quota: ReplicationQuota | None = None,
    ) -> None:
        self.broker_id = broker_id
        self.source_id = source_id
        self.address = address
        self.config = config
        self._broker_epoch = broker_epoch
        # The follower side of the replication throttle, shared by the broker's fetchers.
        self.quota = quota
        # How far each partition was behind the leader's high watermark at its last answer
        # (Kafka's PartitionFetchState lag: 0 is in sync, unknown counts as behind).
        self._lag: dict[PartitionKey, int] = {}
        self.partitions: dict[PartitionKey, Partition] = {}
        # Partitions backing off after an error, until this trio time.
        self._delayed: dict[PartitionKey, float] = {}
        self._changed = trio.Event()
        self._scope = trio.CancelScope()
        self.paused = False
        # Answers applied (for tests and logs): a fetcher that never applies is stuck.
        self.fetches = 0
        # The incremental fetch session with the source broker (KIP-227).
        self.session = FetchSessionHandler(source_id)

    def __repr__(self) -> str:
        return f"<ReplicaFetcher {self.broker_id}<-{self.source_id} {len(self.partitions)}p>"

    def set_partitions(self, partitions: dict[PartitionKey, Partition]) -> None:
        for key in [k for k in self._delayed if k not in partitions]:
            del self._delayed[key]
        for key in [k for k in self._lag if k not in partitions]:
            del self._lag[key]
        self.partitions = partitions
        self._changed.set()

    def stop(self) -> None:
        self._scope.cancel()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._changed.set()

    async def run(self) -> None:
        timeout_s = self.config.max_wait_ms / 1000.0 + REQUEST_TIMEOUT_S
        client = NodeClient(
            self.address,
            client_id=f"{CLIENT_ID_PREFIX}{self.broker_id}",
            timeout_s=timeout_s,
            connector=self.config.connector,
        )
        with self._scope:
            try:
                while True:
                    await self._fetch_once(client)
            finally:
                with trio.CancelScope(shield=True):
                    await client.aclose()

    async def _wait_for_work(self) -> None:
        self._changed = trio.Event()
        wake_at = min(self._delayed.values(), default=math.inf)
        with trio.move_on_at(wake_at):
            await self._changed.wait()

    def _ready(self) -> dict[PartitionKey, Partition]:
        if self.paused:
            return {}
        now = trio.current_time()
        for key in [k for k, t in self._delayed.items() if t <= now]:
            del self._delayed[key]
        # A partition this broker leads now is not fetched even before the manager's update
        # drops it (Kafka removes the fetcher before it makes the leader): its position would
        # be a leader's log end, which the old leader must never take as a follower's. Nor
        # is a partition whose log dir just failed (its fetch position would let the leader
        # put this replica back in the ISR before the manager's update drops it).
        return {
            k: p
            for k, p in self.partitions.items()
            if k not in self._delayed and not p.is_leader and not p.offline
        }

    def _unthrottled(self, ready: dict[PartitionKey, Partition]) -> dict[PartitionKey, Partition]:
        """Kafka's ``shouldFollowerThrottle``: while the follower quota is exceeded, throttled
        partitions that lag the leader are left out of the fetch."""
        quota = self.quota
        if quota is None or not quota.exceeded():
            return ready
        return {
            k: p
            for k, p in ready.items()
            if self._lag.get(k, 1) <= 0 or not quota.is_throttled(p.topic, p.partition)
        }

    async def _fetch_once(self, client: NodeClient) -> None:
        ready = self._unthrottled(self._ready())
        positions = {key: _position(p) for key, p in ready.items()}
        # Partitions not ready (backing off, throttled, no longer followed) leave the session.
        fetch = self.session.build(positions.values())
        if fetch is None:
            if self._ready():  # every ready partition throttled: back off as Kafka does
                await trio.sleep(self.config.backoff_ms / 1000.0)
            else:
                await self._wait_for_work()
            return
        response = await self._send(client, fetch)
        if response is None:
            return
        if not self.session.handle_response(fetch, response):
            await self._session_refused(fetch, response)
            return
        if fetch.full and self.session.session_id:
            log.info(
                "broker %d: fetch session %d opened with broker %d (%d partitions)",
                self.broker_id,
                self.session.session_id,
                self.source_id,
                len(fetch.to_send),
            )
        self.fetches += 1
        by_name = {(p.topic, p.partition): k for k, p in ready.items()}
        for topic in response.responses:
            for data in topic.partitions:
                key: PartitionKey | None = (topic.topic_id, data.partition_index)
                if key not in positions:
                    key = by_name.get((topic.topic, data.partition_index))
                if key is None:
                    continue
                partition, position = ready[key], positions[key]
                if not _still_at(self.partitions.get(key), partition, position):
                    continue  # leadership or the log moved while the fetch was out
                await self._apply(client, key, partition, position, data)

    async def _send(self, client: NodeClient, fetch: SessionFetch) -> FetchResponse | None:
        """Send ``fetch``; None after a transport error (backed off)."""
        try:
            await client.connect()
            version = client.version(FetchRequest.API_KEY)
            if version is None:
                raise NodeUnavailableError(f"broker {self.source_id} does not answer Fetch")
            request = fetch_request(
                self.broker_id,
                self._broker_epoch(),
                fetch.to_send,
                self.config,
                version,
                session_id=fetch.session_id,
                session_epoch=fetch.epoch,
                forgotten=fetch.to_forget,
            )
            response: FetchResponse = await client.call(request, version=version)
        except (NodeUnavailableError, ProtocolError) as exc:
            log.info("replica fetch from broker %d failed: %s", self.source_id, exc)
            self.session.handle_error()
            await trio.sleep(self.config.backoff_ms / 1000.0)
            return None
        return response

    async def _session_refused(self, fetch: SessionFetch, response: FetchResponse) -> None:
        """An answer the session could not use: the next fetch is a full one. Session errors
        retry at once (that full fetch cannot meet them); other errors back off."""
        code = response.error_code
        if code in (ec.FETCH_SESSION_ID_NOT_FOUND, ec.INVALID_FETCH_SESSION_EPOCH):
            log.info(
                "broker %d: fetch session %d refused (%d)", self.source_id, fetch.session_id, code
            )
            return
        if code:
            log.info("broker %d answered a fetch with error %d", self.source_id, code)
        else:
            log.info("broker %d: an answer that does not match %s", self.source_id, self.session)
        await trio.sleep(self.config.backoff_ms / 1000.0)

    async def _apply(
        self,
        client: NodeClient,
        key: PartitionKey,
        partition: Partition,
        position: FetchPosition,
        data: FetchResponse.PartitionData,
    ) -> None:
        decision = decide(
            position,
            data,
            partition.log_end_offset,
            partition.high_watermark,
            lambda epoch: partition.epochs.end_offset_for(epoch, partition.log_end_offset),
        )
        try:
            if decision.step is Step.APPEND:
                if not await _append(partition, decision, position.current_leader_epoch):
                    return  # became leader or moved epoch meanwhile: the answer is stale
                self._lag[key] = max(0, data.high_watermark - partition.log_end_offset)
                if self.quota is not None and self.quota.is_throttled(
                    partition.topic, partition.partition
                ):
                    self.quota.record(len(decision.records))
            elif decision.step is Step.TRUNCATE:
                log.info(
                    "%r truncates to %d (diverged from its leader)", partition, decision.offset
                )
                await partition.truncate_to(
                    decision.offset, leader_epoch=position.current_leader_epoch
                )
            elif decision.step is Step.OUT_OF_RANGE:
                await self._out_of_range(client, partition, position.current_leader_epoch)
            else:
                self._back_off(key, decision.error)
        except (FerrokafkaError, OSError) as exc:
            log.warning("%r: replicating from broker %d failed: %s", partition, self.source_id, exc)
            self._back_off(key, ec.KAFKA_STORAGE_ERROR)
        except NodeUnavailableError as exc:
            log.info("%r: asking broker %d its offsets failed: %s", partition, self.source_id, exc)
            self._back_off(key, ec.NETWORK_EXCEPTION)

    def _back_off(self, key: PartitionKey, error: int) -> None:
        log.debug("partition %s backs off after error %d", key, error)
        self._delayed[key] = trio.current_time() + self.config.backoff_ms / 1000.0

    async def _out_of_range(
        self, client: NodeClient, partition: Partition, leader_epoch: int
    ) -> None:
        start = await self._leader_offset(client, partition, EARLIEST_TIMESTAMP)
        end = await self._leader_offset(client, partition, LATEST_TIMESTAMP)
        if start is None or end is None:
            self._back_off((partition.topic_id, partition.partition), ec.OFFSET_OUT_OF_RANGE)
            return
        action, offset = out_of_range_step(partition.log_end_offset, start, end)
        if action == "truncate":
            log.warning("%r: log longer than its leader's, truncated to %d", partition, offset)
            await partition.truncate_to(offset, leader_epoch=leader_epoch)
        elif action == "restart":
            log.info("%r: restarts empty at the leader's log start %d", partition, offset)
            await partition.truncate_fully_and_start_at(offset, leader_epoch=leader_epoch)

    async def _leader_offset(
        self, client: NodeClient, partition: Partition, timestamp: int
    ) -> int | None:
        """The leader's log start or log end (a replica's ListOffsets sees the whole log)."""
        request = ListOffsetsRequest(
            replica_id=self.broker_id,
            topics=[
                ListOffsetsRequest.ListOffsetsTopic(
                    name=partition.topic,
                    partitions=[
                        ListOffsetsRequest.ListOffsetsPartition(
                            partition_index=partition.partition,
                            current_leader_epoch=partition.leader_epoch,
                            timestamp=timestamp,
                        )
                    ],
                )
            ],
        )
        response = await client.call(request)
        for topic in response.topics:
            for answer in topic.partitions:
                if answer.error_code == ec.NONE:
                    return int(answer.offset)
        return None


def _position(partition: Partition) -> FetchPosition:
    return FetchPosition(
        partition.topic,
        partition.topic_id,
        partition.partition,
        partition.leader_epoch,
        partition.log_end_offset,
        partition.epochs.latest_epoch,
        partition.log_start_offset,
        partition.high_watermark,
    )


def _still_at(current: Partition | None, partition: Partition, position: FetchPosition) -> bool:
    return (
        current is partition
        and not partition.is_leader
        and partition.leader_epoch == position.current_leader_epoch
        and partition.log_end_offset == position.fetch_offset
    )


async def _append(partition: Partition, decision: Decision, leader_epoch: int) -> bool:
    """Apply an answer fetched under ``leader_epoch``; False when the replica stopped
    following under it meanwhile (the append lock is awaited: the metadata may move on), as
    Kafka's fetcher never applies an answer to a partition it no longer fetches."""
    if decision.records:
        appended = await partition.append_as_follower(decision.records, leader_epoch=leader_epoch)
        if appended is None:
            return False
    if not partition.follows_at(leader_epoch):
        return False
    partition.update_high_watermark_as_follower(decision.high_watermark)
    leader_start = decision.leader_log_start_offset
    if partition.log_start_offset < leader_start <= partition.high_watermark:
        # The leader deleted records (retention, DeleteRecords): so does the follower.
        await partition.advance_log_start_offset_as_follower(leader_start)
    return True


class ReplicaFetcherManager:
    """The fetchers of one broker, one per source broker (Kafka's ReplicaFetcherManager)."""

    def __init__(self, broker_id: int, listener_name: str, config: FetcherConfig) -> None:
        self.broker_id = broker_id
        self.listener_name = listener_name
        self.config = config
        self.fetchers: dict[int, ReplicaFetcher] = {}
        self._wanted: dict[int, tuple[tuple[str, int], dict[PartitionKey, Partition]]] = {}
        self._nursery: trio.Nursery | None = None
        self._broker_epoch = -1
        self._paused = False
        self.quota = ReplicationQuota(broker_id, FOLLOWER)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the fetchers until cancelled."""
        log.debug("broker %d: replica fetchers start", self.broker_id)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._reconcile()
                task_status.started()
                await trio.sleep_forever()
        finally:
            log.debug("broker %d: replica fetchers stop", self.broker_id)
            self._nursery = None
            self.fetchers = {}

    def update(self, image: MetadataImage, partitions: Iterable[Partition]) -> None:
        """Fetch exactly the followed ``partitions``, each from its leader as ``image`` has it."""
        me = image.broker(self.broker_id)
        self._broker_epoch = me.broker_epoch if me is not None else -1
        self.quota.configure(image)
        wanted: dict[int, tuple[tuple[str, int], dict[PartitionKey, Partition]]] = {}
        for partition in partitions:
            leader = partition.leader_id
            if partition.is_leader or leader < 0:
                continue
            registration = image.broker(leader)
            endpoint = registration.endpoint(self.listener_name) if registration else None
            if endpoint is None:
                continue  # the leader is not reachable on the inter-broker listener yet
            entry = wanted.setdefault(leader, ((endpoint.host, endpoint.port), {}))
            entry[1][(partition.topic_id, partition.partition)] = partition
        self._wanted = wanted
        self._reconcile()

    def set_paused(self, paused: bool) -> None:
        """Stop (True) or resume every fetch of this broker (tests: a follower falls behind)."""
        self._paused = paused
        for fetcher in self.fetchers.values():
            fetcher.set_paused(paused)

    def _reconcile(self) -> None:
        nursery = self._nursery
        if nursery is None:
            return  # started later: run() reconciles
        for source in [s for s in self.fetchers if s not in self._wanted]:
            self.fetchers.pop(source).stop()
        for source, (address, partitions) in self._wanted.items():
            fetcher = self.fetchers.get(source)
            if fetcher is not None and fetcher.address != address:
                self.fetchers.pop(source).stop()
                fetcher = None
            if fetcher is None:
                assert len(self.fetchers) < FETCHERS_MAX, "replica fetchers leak"
                fetcher = ReplicaFetcher(
                    self.broker_id,
                    source,
                    address,
                    self.config,
                    lambda: self._broker_epoch,
                    self.quota,
                )
                fetcher.set_paused(self._paused)
                self.fetchers[source] = fetcher
                nursery.start_soon(fetcher.run)
            fetcher.set_partitions(dict(partitions))
