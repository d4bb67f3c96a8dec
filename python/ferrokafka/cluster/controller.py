"""The controller: it decides, the metadata log records, the image shows.

Each operation reads the current image, validates the request item by item with Kafka's error
codes and messages, turns what passes into metadata records, appends them as one atomic batch
(:class:`MetadataLog.append` returns once they are committed, i.e. on disk for one voter), and
only then answers. The image is never edited by the controller: the loader applies what the
log committed, exactly as on restart, so the answer and the replay cannot disagree.

Requests and responses are the protocol's generated messages (as Kafka's controller takes
``CreateTopicsRequestData``), so a request handler calls e.g.
``controller.create_topics(request)`` and encodes the response at the request's version.

Cluster membership (BrokerRegistration, BrokerHeartbeat, UnregisterBroker,
ControllerRegistration, and the periodic :meth:`Controller.tick` that fences brokers whose
session expired) is decided by :class:`~ferrokafka.cluster.cluster_control.ClusterControl`,
which learns every committed record's offset from :meth:`Controller._commit` (and from the
log at start). A single ``ferrokafka serve`` node skips all that: :meth:`register_broker`
registers and unfences its own broker in one batch, and nothing fences it.

Leader elections — ElectLeaders, and the leader balancer and unclean elector that
:meth:`Controller.tick` runs when their schedules say so — are
:mod:`~ferrokafka.cluster.elections`'s.

Everything here is synchronous: an operation's only blocking step is the fsync of one batch.
Operations must be serialized by the caller (one at a time; e.g. a ``trio.Lock`` around a
``trio.to_thread.run_sync`` call) since each validates against the image the previous one made.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Mapping, Sequence

from ferrokafka.cluster import (
    client_quotas,
    dir_assignment,
    elections,
    elr,
    feature_control,
    isr_change,
    reassignment,
    scram_ops,
)
from ferrokafka.cluster.acls import control as acl_control
from ferrokafka.cluster.alter import ConfigAlterations
from ferrokafka.cluster.change_log import log_committed
from ferrokafka.cluster.cluster_control import (
    ClusterControl,
    MembershipError,
    MonotonicMs,
    monotonic_ms,
)
from ferrokafka.cluster.feature_levels import SUPPORTED_FEATURES
from ferrokafka.cluster.image import (
    METADATA_VERSION_FEATURE,
    BrokerEndpoint,
    BrokerRegistration,
    MetadataImage,
)
from ferrokafka.cluster.loader import MetadataLoader
from ferrokafka.cluster.metadata_log import MetadataLog
from ferrokafka.cluster.records import (
    BeginTransactionRecord,
    BrokerRegistrationChangeRecord,
    EndTransactionRecord,
    FeatureLevelRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
)
from ferrokafka.cluster.topic_ops import TopicOperations
from ferrokafka.config import BrokerConfig
from ferrokafka.config.authorizer_keys import STANDARD_AUTHORIZER
from ferrokafka.config.listeners import SECURITY_PROTOCOLS
from ferrokafka.protocol.error_codes import SECURITY_DISABLED
from ferrokafka.protocol.error_responses import elect_leaders_error, error_response
from ferrokafka.protocol.messages.alter_client_quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
)
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest, AlterConfigsResponse
from ferrokafka.protocol.messages.alter_partition import (
    AlterPartitionRequest,
    AlterPartitionResponse,
)
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
)
from ferrokafka.protocol.messages.assign_replicas_to_dirs import (
    AssignReplicasToDirsRequest,
    AssignReplicasToDirsResponse,
)
from ferrokafka.protocol.messages.broker_heartbeat import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
)
from ferrokafka.protocol.messages.broker_registration import (
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)
from ferrokafka.protocol.messages.controller_registration import (
    ControllerRegistrationRequest,
    ControllerRegistrationResponse,
)
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest, CreateAclsResponse
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest, DeleteAclsResponse
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.unregister_broker import (
    UnregisterBrokerRequest,
    UnregisterBrokerResponse,
)
from ferrokafka.protocol.messages.update_features import (
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)
from ferrokafka.protocol.schema import Message

# The level a cluster without a bootstrap snapshot (the single node of ``ferrokafka serve``)
# starts at: what Apache Kafka 4.3.1 bootstraps a new cluster at (seen in its log). A formatted
# cluster starts at its snapshot's levels. What a node supports (up to 33) is
# feature_levels.SUPPORTED_FEATURES.
METADATA_VERSION_LEVEL = 30
# The single node of ``ferrokafka serve`` with no arguments (no formatted snapshot) begins its
# log with these levels: transaction.version 2 (KIP-890 part 2) too, as Kafka 4.x formats by
# default, so that Kafka 4.x clients run the second version of the transaction protocol. Other
# unformatted controllers (the in-process test clusters) begin at metadata.version alone.
SINGLE_NODE_BOOTSTRAP_LEVELS: Mapping[str, int] = {
    METADATA_VERSION_FEATURE: METADATA_VERSION_LEVEL,
    "transaction.version": 2,
}
BOOTSTRAP_TRANSACTION_NAME = "Bootstrap records"
# BrokerRegistrationChangeRecord.fenced: -1 unfences.
UNFENCE = -1
# Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE: ids a broker gets per ProducerIdsRecord.
PRODUCER_ID_BLOCK_SIZE = 1000


# What Kafka says when the ACL APIs reach a controller without an authorizer.
NO_AUTHORIZER = "No Authorizer is configured."


class Controller:
    """The active controller of a one-voter quorum, co-located with its broker."""

    def __init__(
        self,
        config: BrokerConfig,
        log: MetadataLog,
        loader: MetadataLoader | None = None,
        *,
        cluster_id: str | None = None,
        now_ms: MonotonicMs = monotonic_ms,
        rng: random.Random | None = None,
        bootstrap_levels: Mapping[str, int] | None = None,
        bootstrap_scram: Sequence[Message] = (),
    ) -> None:
        """``cluster_id``: what registering brokers must name (None: any, for fixtures);
        ``now_ms``: the monotonic clock broker sessions are timed by; ``rng``: where replica
        placement starts (both injectable for tests); ``bootstrap_levels``: the feature levels
        a new cluster starts at (the formatted bootstrap snapshot's, cluster/bootstrap.py;
        None: metadata.version METADATA_VERSION_LEVEL); ``bootstrap_scram``: the SCRAM
        credentials formatted with them (UserScramCredentialRecords), written after them."""
        self.config = config
        self._bootstrap_levels = bootstrap_levels
        self._bootstrap_scram = tuple(bootstrap_scram)
        self.log = log
        self.loader = loader if loader is not None else MetadataLoader()
        self._topics = TopicOperations(config, rng)
        self._configs = ConfigAlterations(config)
        self.membership = ClusterControl(
            cluster_id,
            session_timeout_ms=int(config["broker.session.timeout.ms"]),
            now_ms=now_ms,
            unclean_allowed=self._unclean_allowed,
            elr_min_isr=self._elr_min_isr,
        )
        self._now_ms = now_ms
        # The periodic elections (cluster/elections.py): the leader balancer when
        # auto.leader.rebalance.enable, the unclean elector always (it only acts for topics
        # that allow unclean elections).
        balance_s = config["leader.imbalance.check.interval.seconds"]
        self._balance = elections.ElectionSchedule(
            balance_s * 1000.0 if config["auto.leader.rebalance.enable"] else None
        )
        self._unclean = elections.ElectionSchedule(config["unclean.leader.election.interval.ms"])

    @property
    def image(self) -> MetadataImage:
        return self.loader.image

    # -- start-up -------------------------------------------------------------------------

    def start(self) -> MetadataImage:
        """Replay the log into the image; on the very first start, write the bootstrap
        records (metadata.version) first."""
        self.loader.catch_up(self.log)
        if METADATA_VERSION_FEATURE not in self.image.features:
            self._commit(bootstrap_records(self._bootstrap_levels, self._bootstrap_scram))
        # Registration offsets come from the log (from its snapshot first, where a
        # registration's offset is its broker epoch); sessions start afresh (Kafka's activate).
        start = 0
        snapshot = self.log.snapshot_to_load(0)
        if snapshot is not None:
            last = snapshot.snapshot_id.end_offset - 1
            for record in snapshot.records:
                message = record.message
                offset = message.broker_epoch if isinstance(message, RegisterBrokerRecord) else last
                self.membership.replay(message, offset)
            start = snapshot.snapshot_id.end_offset
        for batch in self.log.read_committed(start):
            for index, record in enumerate(batch.records):
                self.membership.replay(record.message, batch.base_offset + index)
        self.membership.activate(self.image)
        self._balance.cancel()
        self._unclean.cancel()
        self._schedule_elections()
        return self.image

    def register_broker(
        self,
        endpoints: Sequence[BrokerEndpoint] | None = None,
        *,
        log_dir_ids: Sequence[uuid.UUID] = (),
        rack: str | None = None,
        broker_id: int | None = None,
    ) -> BrokerRegistration:
        """Register this node's broker (a new incarnation on every start, as Kafka does) with
        its listeners, and unfence it: one node is always caught up with its own log.

        ``endpoints`` default to the advertised non-controller listeners; pass the bound ones
        when a listener asked for port 0. ``broker_id`` defaults to this node's; another is a
        broker of the same in-process cluster (ferrokafka.testing's harness).
        """
        if endpoints is None:
            endpoints = self._advertised_endpoints()
        if broker_id is None:
            broker_id = self.config.node_id
        # Kafka's broker epoch is the offset of the registration record.
        epoch = self.log.committed_offset
        register = RegisterBrokerRecord(
            broker_id=broker_id,
            incarnation_id=uuid.uuid4(),
            broker_epoch=epoch,
            end_points=[
                RegisterBrokerRecord.BrokerEndpoint(
                    name=ep.name, host=ep.host, port=ep.port, security_protocol=ep.security_protocol
                )
                for ep in endpoints
            ],
            features=[
                RegisterBrokerRecord.BrokerFeature(
                    name=name, min_supported_version=low, max_supported_version=high
                )
                for name, (low, high) in SUPPORTED_FEATURES.items()
            ],
            rack=rack,
            fenced=True,
            log_dirs=list(log_dir_ids),
        )
        unfence = BrokerRegistrationChangeRecord(
            broker_id=broker_id, broker_epoch=epoch, fenced=UNFENCE
        )
        self._commit([register, unfence])
        registration = self.image.broker(broker_id)
        assert registration is not None and registration.broker_epoch == epoch
        return registration

    def _advertised_endpoints(self) -> list[BrokerEndpoint]:
        controller_names = set(self.config.controller_listener_names)
        out = []
        for ep in self.config.advertised_listeners:
            if ep.name in controller_names:
                continue
            protocol = self.config.security_protocol_map[ep.name]
            # Kafka advertises the canonical host name for a listener bound to every interface.
            host = ep.host or socket.getfqdn()
            out.append(BrokerEndpoint(ep.name, host, ep.port, SECURITY_PROTOCOLS.index(protocol)))
        return out

    # -- operations -----------------------------------------------------------------------

    def create_topics(self, request: CreateTopicsRequest) -> CreateTopicsResponse:
        records, response = self._topics.create_topics(self.image, request)
        if not request.validate_only:
            self._commit(records)
        return response

    def delete_topics(self, request: DeleteTopicsRequest) -> DeleteTopicsResponse:
        records, response = self._topics.delete_topics(self.image, request)
        self._commit(records)
        return response

    def create_partitions(self, request: CreatePartitionsRequest) -> CreatePartitionsResponse:
        records, response = self._topics.create_partitions(self.image, request)
        if not request.validate_only:
            self._commit(records)
        return response

    def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse:
        records, response = self._configs.incremental_alter_configs(self.image, request)
        if not request.validate_only:
            self._commit([*records, *elr.clear_elr_records(self.image, records)])
        return response

    def alter_user_scram_credentials(
        self, request: AlterUserScramCredentialsRequest
    ) -> AlterUserScramCredentialsResponse:
        records, response = scram_ops.alter_credentials(self.image, request)
        self._commit(records)
        return response

    def alter_client_quotas(self, request: AlterClientQuotasRequest) -> AlterClientQuotasResponse:
        records, response = client_quotas.alter_client_quotas(self.image.client_quotas, request)
        if not request.validate_only and records:
            self._commit(records)
        return response

    def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse:
        records, response = self._configs.alter_configs(self.image, request)
        if not request.validate_only:
            self._commit([*records, *elr.clear_elr_records(self.image, records)])
        return response

    def _acls_disabled(self) -> bool:
        # Kafka's controller without an authorizer answers the ACL APIs SECURITY_DISABLED.
        return self.config.value("authorizer.class.name") != STANDARD_AUTHORIZER

    def create_acls(self, request: CreateAclsRequest) -> CreateAclsResponse:
        if self._acls_disabled():
            return error_response(request, SECURITY_DISABLED, NO_AUTHORIZER)
        records, response = acl_control.create_acls(self.image.acls, request)
        self._commit(records)
        return response

    def delete_acls(self, request: DeleteAclsRequest) -> DeleteAclsResponse:
        if self._acls_disabled():
            return error_response(request, SECURITY_DISABLED, NO_AUTHORIZER)
        records, response = acl_control.delete_acls(self.image.acls, request)
        self._commit(records)
        return response

    def allocate_producer_ids(self, broker_id: int, broker_epoch: int) -> range:
        """The next block of producer ids for ``broker_id``. The ProducerIdsRecord is committed
        before the block is handed out, so no id is ever given twice, restarts included."""
        first = max(self.image.next_producer_id, 0)
        self._commit(
            [
                ProducerIdsRecord(
                    broker_id=broker_id,
                    broker_epoch=broker_epoch,
                    next_producer_id=first + PRODUCER_ID_BLOCK_SIZE,
                )
            ]
        )
        return range(first, first + PRODUCER_ID_BLOCK_SIZE)

    def update_features(self, request: UpdateFeaturesRequest) -> UpdateFeaturesResponse:
        """UpdateFeatures (57), v0's allow_downgrade already read
        (:func:`feature_control.with_upgrade_types`): the new levels checked against this
        controller, every registered broker and controller (:mod:`feature_control`), then
        committed as FeatureLevelRecords in one batch (none when ``validate_only``)."""
        records, response = feature_control.update_features(
            self.image,
            request,
            controller_id=self.config.node_id,
            voters=[v.node_id for v in self.config.quorum_voters],
            controllers=self.membership.controller_features,
            # The quorum's kraft.version (a RaftMetadataLog; the single node's log has none).
            kraft=self.log if hasattr(self.log, "upgrade_kraft_version") else None,  # type: ignore[arg-type]
        )
        self._commit(records)
        return response

    def _commit(self, records: Sequence[Message]) -> int:
        """Commit ``records`` as one batch; returns the offset of the first (or the next
        offset to write when there are none)."""
        if not records:
            return self.log.committed_offset
        before, end = self.image, self.log.append(records)
        log_committed(before, records)  # topics, partitions, configs: INFO lines
        first = end - len(records)
        for index, record in enumerate(records):
            self.membership.replay(record, first + index)
        self.loader.catch_up(self.log)
        self._schedule_elections()
        return first

    # -- membership (cluster_control decides, these commit) -------------------------------

    def broker_registration(self, request: BrokerRegistrationRequest) -> BrokerRegistrationResponse:
        """BrokerRegistration (62): a new incarnation is registered fenced, with the offset
        of its record as its broker epoch."""
        next_offset = self.log.committed_offset
        records, response = self.membership.register_broker(self.image, request, next_offset)
        first = self._commit(records)
        assert not records or first == next_offset, (first, next_offset)
        return response

    def broker_heartbeat(self, request: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse:
        """BrokerHeartbeat (63): the session goes on; fencing, unfencing and controlled
        shutdown are committed before the answer."""
        outcome = self.membership.heartbeat(self.image, request)
        self._commit(outcome.records)
        if outcome.in_controlled_shutdown:
            self.membership.controlled_shutdown_began(
                request.broker_id, self.log.committed_offset - 1
            )
        return outcome.response

    def assign_replicas_to_dirs(
        self, request: AssignReplicasToDirsRequest
    ) -> AssignReplicasToDirsResponse:
        """AssignReplicasToDirs (73): where a broker put its replicas' logs
        (:mod:`ferrokafka.cluster.dir_assignment`); a stale broker epoch is refused whole."""
        image = self.image
        try:
            self.membership.check_broker_epoch(image, request.broker_id, request.broker_epoch)
        except MembershipError as exc:
            return AssignReplicasToDirsResponse(error_code=exc.code)
        records, response = dir_assignment.assign_replicas_to_dirs(
            image,
            request,
            lambda parts: self.membership.without_broker_records(image, parts, request.broker_id),
        )
        self._commit(records)
        return response

    def unregister_broker(self, request: UnregisterBrokerRequest) -> UnregisterBrokerResponse:
        records, response = self.membership.unregister_broker(self.image, request)
        self._commit(records)
        return response

    def register_controller(
        self, request: ControllerRegistrationRequest
    ) -> ControllerRegistrationResponse:
        records, response = self.membership.register_controller(request)
        self._commit(records)
        return response

    def alter_partition(self, request: AlterPartitionRequest) -> AlterPartitionResponse:
        """AlterPartition (56): a leader's ISR change, validated as Kafka does
        (:mod:`isr_change`), committed as PartitionChangeRecords before the answer."""
        try:
            image = self.image
            records, response = isr_change.alter_partition(
                image,
                request,
                self.membership.check_broker_epoch,
                lambda topic: self._elr_min_isr(image, topic),
            )
        except MembershipError as exc:
            return AlterPartitionResponse(error_code=exc.code)
        self._commit(records)
        return isr_change.answer(self.image, response)

    def alter_partition_reassignments(
        self, request: AlterPartitionReassignmentsRequest
    ) -> AlterPartitionReassignmentsResponse:
        """AlterPartitionReassignments (45): start, replace or cancel reassignments
        (:mod:`reassignment`), committed as one batch before the answer."""
        image = self.image
        records, response = reassignment.alter_partition_reassignments(
            image,
            request,
            lambda topic: self._unclean_allowed(image, topic),
            lambda topic: self._elr_min_isr(image, topic),
        )
        self._commit(records)
        return response

    def list_partition_reassignments(
        self, request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse:
        """ListPartitionReassignments (46): the reassignments in progress."""
        return reassignment.list_partition_reassignments(self.image, request)

    def elect_leaders(self, request: ElectLeadersRequest) -> ElectLeadersResponse:
        """ElectLeaders (43): PREFERRED or UNCLEAN elections (:mod:`elections`), committed
        before the answer."""
        try:
            image = self.image
            records, response = elections.elect_leaders(
                image, request, lambda topic: self._elr_min_isr(image, topic)
            )
        except elections.ElectionRequestError as exc:
            return elect_leaders_error(request, exc.code, str(exc))
        self._commit(records)
        return response

    def tick(self) -> bool:
        """The periodic task: fence one broker whose session expired, or run a due round of
        leader balancing or unclean elections; True if it did (call again at once: more may
        be due)."""
        records = self.membership.fence_stale_broker(self.image)
        if records:
            self._commit(records)
            return True
        return self._run_due_elections()

    def next_tick_ms(self) -> float | None:
        """When :meth:`tick` may next have work (the controller clock), None: not before a
        broker is unfenced or an election is scheduled."""
        due = [self.membership.next_check_ms(), self._balance.due_ms, self._unclean.due_ms]
        return min((d for d in due if d is not None), default=None)

    def _run_due_elections(self) -> bool:
        now = self._now_ms()
        if self._balance.is_due(now):
            image = self.image
            records, more = elections.balance_partition_leaders(
                image, min_isr=lambda topic: self._elr_min_isr(image, topic)
            )
            self._balance.ran(more)
            self._commit(records)
            self._schedule_elections()  # Kafka reschedules after every write event, even empty
            return True
        if self._unclean.is_due(now):
            image = self.image
            records, more = elections.elect_unclean_leaders(
                image,
                lambda topic: self._unclean_allowed(image, topic),
                min_isr=lambda topic: self._elr_min_isr(image, topic),
            )
            self._unclean.ran(more)
            self._commit(records)
            self._schedule_elections()
            return True
        return False

    def _schedule_elections(self) -> None:
        now = self._now_ms()
        if self._balance.may_schedule:
            self._balance.after_write(now, elections.any_imbalanced(self.image))
        if self._unclean.may_schedule:
            self._unclean.after_write(now, elections.any_leaderless(self.image))

    def _elr_min_isr(self, image: MetadataImage, topic: str) -> int | None:
        return elr.elr_min_isr(image, topic, self.config.node_id, int(self.config[elr.MIN_ISR_KEY]))

    def _unclean_allowed(self, image: MetadataImage, topic: str) -> bool:
        return elections.unclean_enabled(
            image, topic, self.config.node_id, bool(self.config[elections.UNCLEAN_KEY])
        )


def bootstrap_records(
    levels: Mapping[str, int] | None = None, scram: Sequence[Message] = ()
) -> list[Message]:
    """What a new cluster's log starts with, framed as a transaction as Kafka frames it:
    ``levels`` (from the bootstrap snapshot, metadata.version first), or else
    metadata.version METADATA_VERSION_LEVEL alone. A level 0 is not written (0 is what an
    absent feature is)."""
    if levels is None:
        levels = {METADATA_VERSION_FEATURE: METADATA_VERSION_LEVEL}
    return [
        BeginTransactionRecord(name=BOOTSTRAP_TRANSACTION_NAME),
        *(
            FeatureLevelRecord(name=name, feature_level=level)
            for name, level in levels.items()
            if level != 0
        ),
        *scram,
        EndTransactionRecord(),
    ]
