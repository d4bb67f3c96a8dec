"""Cluster membership as the controller decides it (sans-io, with an injected clock).

Kafka 4.4's ``ClusterControlManager`` (registrations), ``BrokerHeartbeatManager`` (sessions
and the broker state machine) and the membership half of ``ReplicationControlManager``
(what fencing, unfencing, controlled shutdown and unregistration do to partitions):

* **BrokerRegistration**: the cluster id must match (INCONSISTENT_CLUSTER_ID); a broker id
  whose registration still has a live session belongs to that incarnation
  (DUPLICATE_BROKER_REGISTRATION; the same incarnation registering again is idempotent: its
  registration is amended and keeps its epoch and state); log directories must be given,
  unreserved, unique and not another broker's (INVALID_REGISTRATION); every finalized feature
  must be in the broker's supported range (UNSUPPORTED_VERSION). A new incarnation is written
  as a fenced RegisterBrokerRecord whose broker epoch is the record's own offset.
* **BrokerHeartbeat**: a heartbeat keeps the session alive and moves the broker through
  FENCED -> UNFENCED (once its metadata offset reached its registration record and it does not
  want fencing) -> CONTROLLED_SHUTDOWN (it wants to shut down and still leads partitions: they
  move away) -> SHUTDOWN_NOW (it leads nothing and every active broker has seen that); wrong
  epochs are STALE_BROKER_EPOCH.
* **Sessions**: an unfenced broker that has not heartbeated for ``broker.session.timeout.ms``
  is fenced by :meth:`ClusterControl.fence_stale_broker`, which the controller's periodic tick
  calls (one broker per batch, as Kafka does, so each fencing is seen before the next).
* **UnregisterBroker** (BROKER_ID_NOT_REGISTERED if unknown) and **ControllerRegistration**.

Fencing and unfencing are BrokerRegistrationChangeRecords (what Kafka writes at this
metadata.version); the partitions follow (:mod:`ferrokafka.cluster.leadership`).

Each decision returns the records to commit and the answer; nothing here writes. The
controller commits the records, then tells this class their offsets (:meth:`replay`), which
is how it learns each registration's offset and epoch, on restart too.
"""

from __future__ import annotations

import base64
import enum
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ferrokafka.cluster import dir_assignment
from ferrokafka.cluster.elr import elr_enabled
from ferrokafka.cluster.image import METADATA_VERSION_FEATURE, BrokerRegistration, MetadataImage
from ferrokafka.cluster.leadership import (
    has_leaderships,
    leader_and_isr_updates,
    partitions_with_broker_in_elr,
    partitions_with_broker_in_isr,
    partitions_without_leader,
)
from ferrokafka.cluster.records import (
    BrokerRegistrationChangeRecord,
    RegisterBrokerRecord,
    RegisterControllerRecord,
    UnregisterBrokerRecord,
)
from ferrokafka.protocol import error_codes as errors
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
from ferrokafka.protocol.messages.unregister_broker import (
    UnregisterBrokerRequest,
    UnregisterBrokerResponse,
)
from ferrokafka.protocol.schema import Message

log = logging.getLogger(__name__)

# BrokerRegistrationChangeRecord.fenced / .in_controlled_shutdown values (Kafka's
# BrokerRegistrationFencingChange and BrokerRegistrationInControlledShutdownChange).
FENCE = 1
UNFENCE = -1
IN_CONTROLLED_SHUTDOWN = 1
# Kafka's DirectoryId: ids whose high 64 bits are 0 and low bits below 100 are reserved
# (UNASSIGNED, LOST, MIGRATING, ...).
RESERVED_DIRECTORY_IDS = 100
# The default level of a feature the cluster has not finalized: 1 for metadata.version, 0
# (not enabled) for the others (Kafka's processRegistrationFeature).
UNFINALIZED_METADATA_VERSION = 1

# Kafka's registerBroker: the stored broker epoch of a broker never registered before.
NO_STORED_EPOCH = -2

MonotonicMs = Callable[[], float]


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0


class MembershipError(Exception):
    """A request refused with Kafka's error ``code`` and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BrokerState(enum.Enum):
    """Kafka's BrokerControlState: what the controller thinks of a broker."""

    FENCED = "fenced"
    UNFENCED = "unfenced"
    CONTROLLED_SHUTDOWN = "controlled_shutdown"
    SHUTDOWN_NOW = "shutdown_now"

    @property
    def fenced(self) -> bool:
        return self in (BrokerState.FENCED, BrokerState.SHUTDOWN_NOW)


@dataclass
class BrokerSession:
    """Kafka's BrokerHeartbeatState: the controller's in-memory view of one broker's
    heartbeats (never in the log: a new controller starts every session afresh)."""

    broker_id: int
    last_contact_ms: float
    fenced: bool
    metadata_offset: int = -1
    # The offset of the batch that put the broker in controlled shutdown (-1: not in it).
    controlled_shutdown_offset: int = -1

    @property
    def shutting_down(self) -> bool:
        return self.controlled_shutdown_offset >= 0

    @property
    def state(self) -> BrokerState:
        if self.shutting_down:
            return BrokerState.CONTROLLED_SHUTDOWN
        return BrokerState.FENCED if self.fenced else BrokerState.UNFENCED


@dataclass(frozen=True, slots=True)
class HeartbeatOutcome:
    records: list[Message]
    response: BrokerHeartbeatResponse
    # The broker entered (or stays in) controlled shutdown: the controller reports the
    # offset of the batch these records went in (Kafka's processBatchEndOffset).
    in_controlled_shutdown: bool


def uuid_str(value: uuid.UUID) -> str:
    """Kafka's text form of a Uuid (URL-safe base64, no padding), as its messages print it."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


class ClusterControl:
    """Broker registrations and sessions; see the module doc."""

    def __init__(
        self,
        cluster_id: str | None,
        *,
        session_timeout_ms: int,
        now_ms: MonotonicMs = monotonic_ms,
        unclean_allowed: Callable[[MetadataImage, str], bool] = lambda _image, _topic: False,
        elr_min_isr: Callable[[MetadataImage, str], int | None] = lambda _image, _topic: None,
    ) -> None:
        """``unclean_allowed(image, topic)``: may the topic elect an unclean leader;
        ``elr_min_isr(image, topic)``: its effective min.insync.replicas with eligible leader
        replicas on, None with them off (:mod:`ferrokafka.cluster.elr`)."""
        # None: a controller that does not know its cluster id (a test fixture) accepts any.
        self.cluster_id = cluster_id
        self.session_timeout_ms = session_timeout_ms
        self._now_ms = now_ms
        self._unclean_allowed = unclean_allowed
        self._elr_min_isr = elr_min_isr
        self.sessions: dict[int, BrokerSession] = {}
        # broker id -> offset of its last RegisterBrokerRecord (learnt by replay).
        self.registration_offsets: dict[int, int] = {}
        # controller id -> the last RegisterControllerRecord's incarnation.
        self.controllers: dict[int, uuid.UUID] = {}
        # controller id -> the feature ranges its last RegisterControllerRecord supports
        # (UpdateFeatures checks a new level against every controller's).
        self.controller_features: dict[int, dict[str, tuple[int, int]]] = {}

    # -- replay: what the committed log says ----------------------------------------------

    def replay(self, message: Message, offset: int) -> None:
        """A committed record at ``offset`` (every record, in log order, at start and after
        each commit)."""
        if isinstance(message, RegisterBrokerRecord):
            self.registration_offsets[message.broker_id] = offset
        elif isinstance(message, UnregisterBrokerRecord):
            self.registration_offsets.pop(message.broker_id, None)
            self.sessions.pop(message.broker_id, None)
        elif isinstance(message, RegisterControllerRecord):
            self.controllers[message.controller_id] = message.incarnation_id
            self.controller_features[message.controller_id] = {
                f.name: (f.min_supported_version, f.max_supported_version) for f in message.features
            }

    def activate(self, image: MetadataImage) -> None:
        """Start a session for every registered broker, as a newly active controller does
        (Kafka's ClusterControlManager.activate): each gets a full session timeout."""
        self.sessions = {}
        for broker_id, broker in image.brokers.items():
            self._touch(broker_id, fenced=broker.fenced, metadata_offset=-1, create=True)

    # -- BrokerRegistration ---------------------------------------------------------------

    def register_broker(
        self, image: MetadataImage, request: BrokerRegistrationRequest, next_offset: int
    ) -> tuple[list[Message], BrokerRegistrationResponse]:
        """``next_offset``: where the records will be written (the new broker epoch)."""
        try:
            records, epoch = self._register(image, request, next_offset)
        except MembershipError as exc:
            # The response has no message: the controller's log says why (as Kafka's does).
            log.warning(
                "BrokerRegistration of broker %d (incarnation %s) refused: %s: %s",
                request.broker_id,
                request.incarnation_id,
                errors.error_name(exc.code),
                exc,
            )
            return [], BrokerRegistrationResponse(error_code=exc.code, broker_epoch=-1)
        return records, BrokerRegistrationResponse(broker_epoch=epoch)

    def _register(
        self, image: MetadataImage, request: BrokerRegistrationRequest, next_offset: int
    ) -> tuple[list[Message], int]:
        if self.cluster_id is not None and request.cluster_id != self.cluster_id:
            raise MembershipError(
                errors.INCONSISTENT_CLUSTER_ID,
                f"Expected cluster ID {self.cluster_id}, but got cluster ID {request.cluster_id}",
            )
        broker_id = request.broker_id
        existing = image.broker(broker_id)
        if (
            existing is not None
            and self.has_valid_session(broker_id)
            and request.incarnation_id != existing.incarnation_id
        ):
            raise MembershipError(
                errors.DUPLICATE_BROKER_REGISTRATION,
                "Another broker is registered with that broker id. If the broker was recently "
                "restarted this should self-resolve once the heartbeat manager expires the "
                "broker's session.",
            )
        if request.is_migrating_zk_broker:
            raise MembershipError(
                errors.BROKER_ID_NOT_REGISTERED,
                "Controller does not support registering ZK brokers.",
            )
        self._check_directories(image, broker_id, request.log_dirs)
        features = self._check_features(image, broker_id, request.features)
        record = RegisterBrokerRecord(
            broker_id=broker_id,
            incarnation_id=request.incarnation_id,
            rack=request.rack,
            end_points=[
                RegisterBrokerRecord.BrokerEndpoint(
                    name=ep.name,
                    host=ep.host,
                    port=ep.port,
                    security_protocol=ep.security_protocol,
                )
                for ep in request.listeners
            ],
            features=features,
            log_dirs=list(request.log_dirs),
        )
        if existing is not None and existing.incarnation_id == request.incarnation_id:
            # Amending: the same incarnation registering again keeps its epoch and state.
            record.fenced = existing.fenced
            record.in_controlled_shutdown = existing.in_controlled_shutdown
            record.broker_epoch = existing.broker_epoch
        records: list[Message] = []
        if existing is None or existing.incarnation_id != request.incarnation_id:
            record.fenced = True
            record.broker_epoch = next_offset
            self.sessions.pop(broker_id, None)  # the old incarnation's session ends
            records += self._shutdown_records(image, request, existing)
        self._touch(broker_id, fenced=record.fenced, metadata_offset=None, create=True)
        return [*records, record], record.broker_epoch

    def _shutdown_records(
        self,
        image: MetadataImage,
        request: BrokerRegistrationRequest,
        existing: BrokerRegistration | None,
    ) -> list[Message]:
        """Kafka 4.4's ``handleBrokerShutdown`` for a new incarnation, with eligible leader
        replicas on (with them off it changes nothing this controller's partitions could
        show, and it is skipped): after a clean shutdown (the previous broker epoch the broker
        read from its clean-shutdown marker is its registered one) the broker leaves the ISRs
        it is still in; after an unclean one it leaves every ISR and every ELR, since its log
        may have lost acknowledged records."""
        broker_id = request.broker_id
        if not elr_enabled(image):
            return []
        stored_epoch = existing.broker_epoch if existing is not None else NO_STORED_EPOCH
        clean = stored_epoch == request.previous_broker_epoch
        unclean_allowed = lambda topic: self._unclean_allowed(image, topic)  # noqa: E731
        min_isr = lambda topic: self._elr_min_isr(image, topic)  # noqa: E731
        if clean:
            return list(
                leader_and_isr_updates(
                    image,
                    partitions_with_broker_in_isr(image, broker_id),
                    broker_to_remove=broker_id,
                    unclean_allowed=unclean_allowed,
                    min_isr=min_isr,
                )
            )
        log.info("broker %d comes back from an unclean shutdown: out of ISRs and ELRs", broker_id)
        records: list[Message] = []
        for partitions in (partitions_with_broker_in_isr, partitions_with_broker_in_elr):
            records += leader_and_isr_updates(
                image,
                list(partitions(image, broker_id)),
                broker_with_unclean_shutdown=broker_id,
                unclean_allowed=unclean_allowed,
                min_isr=min_isr,
            )
        return records

    @staticmethod
    def _check_directories(image: MetadataImage, broker_id: int, dirs: Sequence[uuid.UUID]) -> None:
        def invalid(message: str) -> MembershipError:
            return MembershipError(errors.INVALID_REGISTRATION, message)

        if not dirs:
            raise invalid("No directories specified in request")
        if any(d.int >> 64 == 0 and d.int & (2**64 - 1) < RESERVED_DIRECTORY_IDS for d in dirs):
            raise invalid("Reserved directory ID in request")
        if len(set(dirs)) != len(dirs):
            raise invalid("Duplicate directory ID in request")
        for directory in dirs:
            for other in image.brokers.values():
                if other.broker_id != broker_id and directory in other.log_dirs:
                    raise invalid(
                        f"Broker {other.broker_id} is already registered with directory "
                        f"{uuid_str(directory)}"
                    )

    @staticmethod
    def _check_features(
        image: MetadataImage,
        broker_id: int,
        offered: Sequence[BrokerRegistrationRequest.Feature],
    ) -> list[RegisterBrokerRecord.BrokerFeature]:
        """Kafka's processRegistrationFeature over every offered feature, then every
        finalized feature the broker did not offer (as the range 0..0)."""
        if not any(f.name == METADATA_VERSION_FEATURE for f in offered):
            raise MembershipError(
                errors.INVALID_REGISTRATION,
                f"Request features do not contain '{METADATA_VERSION_FEATURE}'",
            )

        def check(name: str, low: int, high: int) -> None:
            default = UNFINALIZED_METADATA_VERSION if name == METADATA_VERSION_FEATURE else 0
            finalized = image.features.get(name, default)
            if not low <= finalized <= high:
                raise MembershipError(
                    errors.UNSUPPORTED_VERSION,
                    "Unable to register because the broker does not support finalized version "
                    f"{finalized} of {name}. The broker wants a version between {low} and "
                    f"{high}, inclusive.",
                )

        out = []
        for feature in offered:
            check(feature.name, feature.min_supported_version, feature.max_supported_version)
            out.append(
                RegisterBrokerRecord.BrokerFeature(
                    name=feature.name,
                    min_supported_version=feature.min_supported_version,
                    max_supported_version=feature.max_supported_version,
                )
            )
        names = {f.name for f in offered}
        for name, level in image.features.items():
            if level != 0 and name not in names:
                check(name, 0, 0)
        return out

    # -- BrokerHeartbeat ------------------------------------------------------------------

    def heartbeat(self, image: MetadataImage, request: BrokerHeartbeatRequest) -> HeartbeatOutcome:
        try:
            return self._heartbeat(image, request)
        except MembershipError as exc:
            return HeartbeatOutcome(
                [], BrokerHeartbeatResponse(error_code=exc.code, is_fenced=True), False
            )

    def _heartbeat(self, image: MetadataImage, request: BrokerHeartbeatRequest) -> HeartbeatOutcome:
        broker_id = request.broker_id
        registered_at = self.registration_offsets.get(broker_id)
        if registered_at is None:
            raise MembershipError(
                errors.STALE_BROKER_EPOCH,
                f"Receive a heartbeat from broker {broker_id} before registration",
            )
        self.check_broker_epoch(image, broker_id, request.broker_epoch)
        session = self.sessions.get(broker_id)
        if session is None:  # registered before this controller became active
            session = self._touch(broker_id, fenced=True, metadata_offset=-1, create=True)
        current = session.state
        following = self._next_state(image, session, request, registered_at)
        records: list[Message] = []
        if following != current:
            epoch = request.broker_epoch
            if following in (BrokerState.FENCED, BrokerState.SHUTDOWN_NOW):
                records = self.fence_records(image, broker_id)
            elif following is BrokerState.UNFENCED:
                records = self.unfence_records(image, broker_id, epoch)
            else:
                records = self.controlled_shutdown_records(image, broker_id, epoch)
        self._touch(
            broker_id, fenced=following.fenced, metadata_offset=request.current_metadata_offset
        )
        # Kafka's handleDirectoriesOffline: the replicas in newly failed dirs lose leadership
        # and ISR membership, the registration keeps the dirs still online.
        records += dir_assignment.offline_dir_records(
            image,
            broker_id,
            request.broker_epoch,
            request.offline_log_dirs,
            lambda parts: self.without_broker_records(image, parts, broker_id),
        )
        response = BrokerHeartbeatResponse(
            is_caught_up=request.current_metadata_offset >= registered_at,
            is_fenced=following.fenced,
            should_shut_down=following is BrokerState.SHUTDOWN_NOW,
        )
        return HeartbeatOutcome(records, response, following is BrokerState.CONTROLLED_SHUTDOWN)

    def check_broker_epoch(self, image: MetadataImage, broker_id: int, epoch: int) -> None:
        registration = image.broker(broker_id)
        if registration is None:
            raise MembershipError(
                errors.STALE_BROKER_EPOCH, f"No broker registration found for broker id {broker_id}"
            )
        if registration.broker_epoch != epoch:
            raise MembershipError(
                errors.STALE_BROKER_EPOCH,
                f"Expected broker epoch {registration.broker_epoch}, but got broker epoch {epoch}",
            )

    def _next_state(
        self,
        image: MetadataImage,
        session: BrokerSession,
        request: BrokerHeartbeatRequest,
        registered_at: int,
    ) -> BrokerState:
        """Kafka's BrokerHeartbeatManager.calculateNextBrokerState."""
        current = session.state
        if current is BrokerState.FENCED:
            if request.want_shut_down:
                return BrokerState.SHUTDOWN_NOW
            if not request.want_fence and request.current_metadata_offset >= registered_at:
                return BrokerState.UNFENCED
            return BrokerState.FENCED
        if current is BrokerState.UNFENCED:
            if request.want_fence:
                return BrokerState.SHUTDOWN_NOW if request.want_shut_down else BrokerState.FENCED
            if request.want_shut_down:
                if has_leaderships(image, session.broker_id):
                    return BrokerState.CONTROLLED_SHUTDOWN
                return BrokerState.SHUTDOWN_NOW
            return BrokerState.UNFENCED
        # CONTROLLED_SHUTDOWN: done once it leads nothing and every active broker has caught
        # up with the batch that moved its leaderships.
        if has_leaderships(image, session.broker_id):
            return BrokerState.CONTROLLED_SHUTDOWN
        if session.controlled_shutdown_offset <= self._lowest_active_offset():
            return BrokerState.SHUTDOWN_NOW
        return BrokerState.CONTROLLED_SHUTDOWN

    def _lowest_active_offset(self) -> int:
        active = [
            s.metadata_offset
            for s in self.sessions.values()
            if not s.fenced and not s.shutting_down
        ]
        return min(active) if active else 2**63 - 1

    def controlled_shutdown_began(self, broker_id: int, batch_last_offset: int) -> None:
        """The batch ending at ``batch_last_offset`` put ``broker_id`` in controlled shutdown
        (Kafka's maybeUpdateControlledShutdownOffset); the first such batch counts."""
        session = self.sessions.get(broker_id)
        if session is not None and not session.fenced and session.controlled_shutdown_offset < 0:
            session.controlled_shutdown_offset = batch_last_offset

    # -- record builders: fencing, unfencing, controlled shutdown -------------------------

    def without_broker_records(
        self, image: MetadataImage, partitions: Sequence[tuple[uuid.UUID, int]], broker_id: int
    ) -> list[Message]:
        """Kafka's generateLeaderAndIsrUpdates with ``brokerToRemove``: ``broker_id`` leaves
        the ISR and leadership of ``partitions``."""
        return list(
            leader_and_isr_updates(
                image,
                partitions,
                broker_to_remove=broker_id,
                unclean_allowed=lambda topic: self._unclean_allowed(image, topic),
                min_isr=lambda topic: self._elr_min_isr(image, topic),
            )
        )

    def fence_records(self, image: MetadataImage, broker_id: int) -> list[Message]:
        """Kafka's handleBrokerFenced: the broker leaves every ISR (not as the last member)
        and leadership, then it is fenced."""
        registration = image.broker(broker_id)
        assert registration is not None, broker_id
        records: list[Message] = list(
            leader_and_isr_updates(
                image,
                partitions_with_broker_in_isr(image, broker_id),
                broker_to_remove=broker_id,
                unclean_allowed=lambda topic: self._unclean_allowed(image, topic),
                min_isr=lambda topic: self._elr_min_isr(image, topic),
            )
        )
        records.append(
            BrokerRegistrationChangeRecord(
                broker_id=broker_id, broker_epoch=registration.broker_epoch, fenced=FENCE
            )
        )
        return records

    def unfence_records(self, image: MetadataImage, broker_id: int, epoch: int) -> list[Message]:
        """Kafka's handleBrokerUnfenced: unfence, then lead leaderless partitions again."""
        records: list[Message] = [
            BrokerRegistrationChangeRecord(broker_id=broker_id, broker_epoch=epoch, fenced=UNFENCE)
        ]
        records += leader_and_isr_updates(
            image,
            partitions_without_leader(image),
            broker_to_add=broker_id,
            unclean_allowed=lambda topic: self._unclean_allowed(image, topic),
            min_isr=lambda topic: self._elr_min_isr(image, topic),
        )
        return records

    def controlled_shutdown_records(
        self, image: MetadataImage, broker_id: int, epoch: int
    ) -> list[Message]:
        """Kafka's handleBrokerInControlledShutdown: mark it, then move its leaderships and
        take it out of the ISRs."""
        records: list[Message] = []
        registration = image.broker(broker_id)
        if registration is not None and not registration.in_controlled_shutdown:
            records.append(
                BrokerRegistrationChangeRecord(
                    broker_id=broker_id,
                    broker_epoch=epoch,
                    in_controlled_shutdown=IN_CONTROLLED_SHUTDOWN,
                )
            )
        records += leader_and_isr_updates(
            image,
            partitions_with_broker_in_isr(image, broker_id),
            broker_to_remove=broker_id,
            unclean_allowed=lambda topic: self._unclean_allowed(image, topic),
            min_isr=lambda topic: self._elr_min_isr(image, topic),
        )
        return records

    # -- sessions -------------------------------------------------------------------------

    def _touch(
        self, broker_id: int, *, fenced: bool, metadata_offset: int | None, create: bool = False
    ) -> BrokerSession:
        """Kafka's BrokerHeartbeatManager.touch (and register, with ``create``)."""
        session = self.sessions.get(broker_id)
        if session is None:
            assert create, broker_id
            session = self.sessions[broker_id] = BrokerSession(broker_id, self._now_ms(), fenced)
        elif metadata_offset is None and session.fenced == fenced:
            metadata_offset = -1  # register(): a state change keeps the offset, else reset
        session.last_contact_ms = self._now_ms()
        if metadata_offset is not None:
            session.metadata_offset = metadata_offset
        session.fenced = fenced
        if fenced:
            session.controlled_shutdown_offset = -1
        return session

    def has_valid_session(self, broker_id: int) -> bool:
        session = self.sessions.get(broker_id)
        if session is None or session.fenced:
            return False
        return session.last_contact_ms + self.session_timeout_ms >= self._now_ms()

    def stale_broker(self) -> int | None:
        """The unfenced broker heard from longest ago, if its session expired."""
        unfenced = [s for s in self.sessions.values() if not s.fenced]
        if not unfenced:
            return None
        oldest = min(unfenced, key=lambda s: (s.last_contact_ms, s.broker_id))
        return None if self.has_valid_session(oldest.broker_id) else oldest.broker_id

    def fence_stale_broker(self, image: MetadataImage) -> list[Message]:
        """Records fencing one broker whose session expired (none if none did)."""
        broker_id = self.stale_broker()
        if broker_id is None or image.broker(broker_id) is None:
            return []
        records = self.fence_records(image, broker_id)
        session = self.sessions[broker_id]
        session.fenced = True
        session.controlled_shutdown_offset = -1
        return records

    def next_check_ms(self) -> float | None:
        """When the next session may expire (monotonic ms), or None with no unfenced broker."""
        unfenced = [s.last_contact_ms for s in self.sessions.values() if not s.fenced]
        return min(unfenced) + self.session_timeout_ms if unfenced else None

    # -- UnregisterBroker and ControllerRegistration --------------------------------------

    def unregister_broker(
        self, image: MetadataImage, request: UnregisterBrokerRequest
    ) -> tuple[list[Message], UnregisterBrokerResponse]:
        """Kafka's handleBrokerUnregistered: out of every ISR and leadership, then gone."""
        registration = image.broker(request.broker_id)
        if registration is None:
            return [], UnregisterBrokerResponse(
                error_code=errors.BROKER_ID_NOT_REGISTERED,
                error_message=f"Broker ID {request.broker_id} is not currently registered",
            )
        records: list[Message] = []
        # Kafka's handleBrokerUnregistered: out of the ISRs, then out of the ELRs.
        for partitions in (partitions_with_broker_in_isr, partitions_with_broker_in_elr):
            records += leader_and_isr_updates(
                image,
                list(partitions(image, request.broker_id)),
                broker_to_remove=request.broker_id,
                unclean_allowed=lambda topic: self._unclean_allowed(image, topic),
                min_isr=lambda topic: self._elr_min_isr(image, topic),
            )
        records.append(
            UnregisterBrokerRecord(
                broker_id=request.broker_id, broker_epoch=registration.broker_epoch
            )
        )
        return records, UnregisterBrokerResponse(error_message=None)

    @staticmethod
    def register_controller(
        request: ControllerRegistrationRequest,
    ) -> tuple[list[Message], ControllerRegistrationResponse]:
        """Kafka's registerController: a RegisterControllerRecord, no checks beyond the
        metadata.version (every level this controller runs at supports it)."""
        record = RegisterControllerRecord(
            controller_id=request.controller_id,
            incarnation_id=request.incarnation_id,
            zk_migration_ready=False,
            end_points=[
                RegisterControllerRecord.ControllerEndpoint(
                    name=ep.name,
                    host=ep.host,
                    port=ep.port,
                    security_protocol=ep.security_protocol,
                )
                for ep in request.listeners
            ],
            features=[
                RegisterControllerRecord.ControllerFeature(
                    name=f.name,
                    min_supported_version=f.min_supported_version,
                    max_supported_version=f.max_supported_version,
                )
                for f in request.features
            ],
        )
        return [record], ControllerRegistrationResponse(error_message=None)


__all__ = [
    "BrokerSession",
    "BrokerState",
    "ClusterControl",
    "HeartbeatOutcome",
    "MembershipError",
]
