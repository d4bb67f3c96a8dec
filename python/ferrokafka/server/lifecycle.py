"""The broker's side of cluster membership: Kafka's ``BrokerLifecycleManager``.

A broker of a multi-broker cluster registers with the controller at start (its listeners,
rack, supported features, log directories and a new incarnation id), then heartbeats every
``broker.heartbeat.interval.ms`` through its :class:`ControllerChannel`, each heartbeat
carrying the offset of the newest metadata image it applied. The controller registers it
fenced; the first heartbeat at or past its registration record unfences it, and only then
does the broker serve (:meth:`BrokerLifecycleManager.wait_unfenced`). A broker whose
heartbeats stop is fenced by the controller after ``broker.session.timeout.ms``; its next
heartbeat unfences it again.

On stop, :meth:`BrokerLifecycleManager.controlled_shutdown` asks to shut down; the
controller moves the partitions it leads to other replicas (or leaves them leaderless) and
answers ``should_shut_down`` once every active broker has seen that, or the wait is bounded
by ``CONTROLLED_SHUTDOWN_TIMEOUT_S``.

States follow Kafka's ``BrokerState``: STARTING (registering), RECOVERY (registered,
fenced), RUNNING (unfenced), PENDING_CONTROLLED_SHUTDOWN, SHUTTING_DOWN.
"""

from __future__ import annotations

import enum
import itertools
import logging
import random
import uuid
from collections.abc import Callable, Sequence

import trio

from ferrokafka.cluster import BrokerEndpoint
from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.feature_levels import KRAFT_VERSION_FEATURE, SUPPORTED_FEATURES
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.broker_heartbeat import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
)
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest

# What a broker registers: its features, and (as Kafka 4.4's BrokerFeatures, from Feature's
# production features) the kraft.version range, which the controller checks before an upgrade.
REGISTERED_FEATURES = {**SUPPORTED_FEATURES, KRAFT_VERSION_FEATURE: (0, 1)}

log = logging.getLogger(__name__)

# How long a stopping broker waits for the controller to grant its controlled shutdown
# before it stops anyway (its partitions are then moved when its session expires).
CONTROLLED_SHUTDOWN_TIMEOUT_S = 30.0
# Kafka's lifecycle manager asks again this soon after the first answer that did not grant
# its controlled shutdown yet, then at the heartbeat interval.
CONTROLLED_SHUTDOWN_FIRST_RETRY_S = 0.05
# After a refused registration, wait this long before trying again (Kafka's lifecycle
# manager backs off on errors too); bounded overall by initial.broker.registration.timeout.ms.
REGISTRATION_RETRY_S = 0.1
# Kafka's resend backoff: doubling from REGISTRATION_RETRY_S up to half the session timeout,
# with 2% jitter (a restarted broker is refused DUPLICATE_BROKER_REGISTRATION until its old
# session expires; asking ten times a second meanwhile only loads the controller).
REGISTRATION_BACKOFF_MULTIPLIER = 2.0
REGISTRATION_BACKOFF_JITTER = 0.02


class BrokerState(enum.Enum):
    """Kafka's BrokerState as the lifecycle manager moves through it."""

    STARTING = 1
    RECOVERY = 2
    RUNNING = 3
    PENDING_CONTROLLED_SHUTDOWN = 6
    SHUTTING_DOWN = 7


class RegistrationError(RuntimeError):
    """The controller kept refusing this broker's registration."""


class BrokerLifecycleManager:
    def __init__(
        self,
        config: BrokerConfig,
        channel: ControllerChannel,
        cluster_id: str,
        metadata_offset: Callable[[], int],
        *,
        incarnation_id: uuid.UUID | None = None,
        previous_broker_epoch: int = -1,
    ) -> None:
        """``metadata_offset()``: the offset of the newest image this broker applied;
        ``previous_broker_epoch``: the epoch the log dirs' clean-shutdown markers recorded (-1:
        none, an unclean shutdown), which tells the controller whether to take this broker
        out of the eligible leader replicas (KIP-966)."""
        self.previous_broker_epoch = previous_broker_epoch
        self.config = config
        self.node_id = config.node_id
        self.channel = channel
        self.cluster_id = cluster_id
        self.incarnation_id = incarnation_id if incarnation_id is not None else uuid.uuid4()
        self._metadata_offset = metadata_offset
        self.heartbeat_interval_s = int(config["broker.heartbeat.interval.ms"]) / 1000.0
        self.registration_timeout_s = int(config["initial.broker.registration.timeout.ms"]) / 1000
        self.state = BrokerState.STARTING
        self.broker_epoch = -1
        self.fenced = True
        self._unfenced = trio.Event()
        self._shutdown_granted = trio.Event()
        self._want_shut_down = False
        self._controlled_shutdown_answered = False
        # The next heartbeat's delay when it is not the interval.
        self._next_delay_s: float | None = None
        self._send_now = trio.Event()
        # For tests: a broker whose heartbeats stop (the controller then fences it).
        self.heartbeats_paused = False
        self._last_error: int | None = None
        # The directory.id of every failed log dir, sent with each heartbeat (Kafka's
        # offlineLogDirs); set by the Broker from its LogManager.
        self.offline_log_dirs: Callable[[], list[uuid.UUID]] = list

    # -- start ----------------------------------------------------------------------------

    async def run(
        self,
        endpoints: Sequence[BrokerEndpoint],
        log_dir_ids: Sequence[uuid.UUID],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Register (reported through ``task_status``), then heartbeat until cancelled."""
        await self._register(endpoints, log_dir_ids)
        task_status.started()
        self._send_now.set()  # the first heartbeat at once: it may unfence us
        while self.state is not BrokerState.SHUTTING_DOWN:
            delay_s, self._next_delay_s = self._next_delay_s, None
            with trio.move_on_after(self.heartbeat_interval_s if delay_s is None else delay_s):
                await self._send_now.wait()
            self._send_now = trio.Event()
            if self.heartbeats_paused:
                continue
            await self._heartbeat()

    async def _register(
        self, endpoints: Sequence[BrokerEndpoint], log_dir_ids: Sequence[uuid.UUID]
    ) -> None:
        rack = self.config["broker.rack"]
        request = BrokerRegistrationRequest(
            broker_id=self.node_id,
            cluster_id=self.cluster_id,
            incarnation_id=self.incarnation_id,
            listeners=[
                BrokerRegistrationRequest.Listener(
                    name=ep.name, host=ep.host, port=ep.port, security_protocol=ep.security_protocol
                )
                for ep in endpoints
            ],
            features=[
                BrokerRegistrationRequest.Feature(
                    name=name, min_supported_version=low, max_supported_version=high
                )
                for name, (low, high) in REGISTERED_FEATURES.items()
            ],
            rack=rack if rack else None,
            log_dirs=list(log_dir_ids),
            previous_broker_epoch=self.previous_broker_epoch,
        )
        delay_max_s = int(self.config["broker.session.timeout.ms"]) / 1000 / 2
        with trio.move_on_after(self.registration_timeout_s):
            for attempt in itertools.count():
                response = await self.channel.broker_registration(request)
                if response.error_code == ec.NONE:
                    self.broker_epoch = response.broker_epoch
                    self.state = BrokerState.RECOVERY
                    log.info("broker %d registered, epoch %d", self.node_id, self.broker_epoch)
                    return
                self._log_error("registration", response.error_code)
                delay = min(
                    REGISTRATION_RETRY_S * REGISTRATION_BACKOFF_MULTIPLIER**attempt, delay_max_s
                )
                jitter = random.uniform(-REGISTRATION_BACKOFF_JITTER, REGISTRATION_BACKOFF_JITTER)
                await trio.sleep(delay * (1 + jitter))
        raise RegistrationError(
            f"broker {self.node_id} was not registered within {self.registration_timeout_s} s "
            f"(last error {ec.error_name(self._last_error or ec.NONE)})"
        )

    async def wait_unfenced(self) -> None:
        """Return once the controller unfenced this broker (Kafka's initialUnfenceFuture);
        bounded by initial.broker.registration.timeout.ms."""
        with trio.move_on_after(self.registration_timeout_s):
            await self._unfenced.wait()
            return
        raise RegistrationError(
            f"broker {self.node_id} was not unfenced within {self.registration_timeout_s} s"
        )

    # -- heartbeats -----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        request = BrokerHeartbeatRequest(
            broker_id=self.node_id,
            broker_epoch=self.broker_epoch,
            current_metadata_offset=self._metadata_offset(),
            want_fence=False,
            want_shut_down=self._want_shut_down,
            offline_log_dirs=self.offline_log_dirs(),
        )
        response = await self.channel.broker_heartbeat(request)
        if response.error_code != ec.NONE:
            self._log_error("heartbeat", response.error_code)
            return
        self._last_error = None
        self._on_heartbeat(response)

    def _on_heartbeat(self, response: BrokerHeartbeatResponse) -> None:
        if response.is_fenced != self.fenced:
            log.info(
                "broker %d is %s", self.node_id, "fenced" if response.is_fenced else "unfenced"
            )
        self.fenced = response.is_fenced
        if self.state is BrokerState.RECOVERY and not response.is_fenced:
            self.state = BrokerState.RUNNING
            self._unfenced.set()
        elif self.state is BrokerState.PENDING_CONTROLLED_SHUTDOWN:
            if response.should_shut_down:
                self.state = BrokerState.SHUTTING_DOWN
                self._shutdown_granted.set()
            elif not self._controlled_shutdown_answered:
                # As Kafka: after the first answer, ask again a little sooner than usual (a
                # controlled shutdown often completes quickly).
                self._next_delay_s = CONTROLLED_SHUTDOWN_FIRST_RETRY_S
            self._controlled_shutdown_answered = True

    def _log_error(self, what: str, code: int) -> None:
        if code != self._last_error:  # once per error, not once per heartbeat
            log.warning("broker %d %s refused: %s", self.node_id, what, ec.error_name(code))
        self._last_error = code

    def heartbeat_now(self) -> None:
        """Send the next heartbeat at once (a log dir failed: the controller is told now, as
        Kafka's directory event handler does, not at the next interval)."""
        self._send_now.set()

    def pause_heartbeats(self) -> None:
        """Stop heartbeating (tests: the controller fences this broker after its session)."""
        self.heartbeats_paused = True

    def resume_heartbeats(self) -> None:
        self.heartbeats_paused = False
        self._send_now.set()

    # -- stop -----------------------------------------------------------------------------

    async def controlled_shutdown(self) -> bool:
        """Ask the controller for a controlled shutdown and wait until it is granted (True)
        or CONTROLLED_SHUTDOWN_TIMEOUT_S passed (False). Never raises. As Kafka, only a
        RUNNING broker asks; any other shuts down at once (True)."""
        if self.state is not BrokerState.RUNNING:
            if self.state is not BrokerState.PENDING_CONTROLLED_SHUTDOWN:
                self.state = BrokerState.SHUTTING_DOWN
                self._send_now.set()  # the heartbeat loop ends
            return self.state is BrokerState.SHUTTING_DOWN
        self.state = BrokerState.PENDING_CONTROLLED_SHUTDOWN
        self._want_shut_down = True
        self.heartbeats_paused = False
        self._send_now.set()
        with trio.move_on_after(CONTROLLED_SHUTDOWN_TIMEOUT_S):
            await self._shutdown_granted.wait()
            log.info("broker %d: controlled shutdown granted", self.node_id)
            return True
        log.warning(
            "broker %d: controlled shutdown not granted in %s s",
            self.node_id,
            CONTROLLED_SHUTDOWN_TIMEOUT_S,
        )
        return False
