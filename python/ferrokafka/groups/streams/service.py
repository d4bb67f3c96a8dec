"""Streams groups (KIP-1071) inside the group coordinator: write-then-adopt of heartbeats, the
deadline timers and the replay at load are :mod:`~ferrokafka.groups.heartbeat_service`'s (the
records are StreamsGroup*, :mod:`.records`); this module adds the streams group's config and
the creation of the internal topics (repartition, changelog) a group's topology needs, which
the broker does itself in KIP-1071 (the members no longer create them).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import trio

from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.groups.heartbeat_service import HeartbeatService
from ferrokafka.groups.streams.group import GroupConfig, Heartbeat, HeartbeatResult, StreamsGroup
from ferrokafka.groups.streams.records import RECORDS
from ferrokafka.groups.streams.topology import TopicInfo, configure
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest

log = logging.getLogger(__name__)

# How long a heartbeat waits for the controller to create a group's internal topics; past it
# the member hears MISSING_INTERNAL_TOPICS and asks again with its next heartbeat.
CREATE_TOPICS_TIMEOUT_S = 5.0
CREATE_TOPICS_REQUEST_TIMEOUT_MS = 30_000
DEADLINES_TIMER = "streams-group-deadlines"


class StreamsGroups(HeartbeatService[StreamsGroup]):
    """The streams groups of one coordinator."""

    group_type = StreamsGroup
    records = RECORDS
    DEADLINES_TIMER = DEADLINES_TIMER
    NOT_FOUND = "Streams group {} not found."
    OTHER_KIND = "Group {} is not a streams group."

    def partition_counts(self) -> dict[str, int]:
        return {name: len(t.partitions) for name, t in self.node.image.topics_by_name.items()}

    def group_config(self, group_id: str) -> GroupConfig:
        """The broker's streams group settings, with the group's own configs over them."""
        broker = self.node.broker_config()
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id), {})

        def value(name: str) -> int:
            return int(effective_group_value(broker, overrides, name))

        return GroupConfig(
            session_timeout_ms=value("streams.session.timeout.ms"),
            heartbeat_interval_ms=value("streams.heartbeat.interval.ms"),
            num_standby_replicas=value("streams.num.standby.replicas"),
            max_size=int(broker.value("group.streams.max.size")),
            acceptable_recovery_lag=value("streams.acceptable.recovery.lag"),
            task_offset_interval_ms=value("streams.task.offset.interval.ms"),
        )

    async def apply(self, work: StreamsGroup, hb: Heartbeat) -> HeartbeatResult:
        """Apply one heartbeat; create the internal topics it found missing."""
        result = work.heartbeat(hb, self.partition_counts(), self.coordinator.now_ms())
        if result.to_create and await self._create_topics(result.to_create):
            # Created and in the image: the same heartbeat goes on with them.
            again = work.heartbeat(
                replace(hb, member_id=result.member_id, member_epoch=result.member_epoch),
                self.partition_counts(),
                self.coordinator.now_ms(),
            )
            if again.assignment is None and result.assignment is not None:
                again = replace(again, assignment=work.members[again.member_id].assigned)
            result = again
        return result

    async def _create_topics(self, to_create: tuple[tuple[TopicInfo, int], ...]) -> bool:
        """Ask the controller for the missing internal topics; whether they all exist now."""
        default_rf = int(self.node.broker_config().value("default.replication.factor"))
        request = CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=info.name,
                    num_partitions=partitions,
                    replication_factor=(
                        info.replication_factor if info.replication_factor > 0 else default_rf
                    ),
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in info.configs
                    ],
                )
                for info, partitions in to_create
            ],
            timeout_ms=CREATE_TOPICS_REQUEST_TIMEOUT_MS,
        )
        with trio.move_on_after(CREATE_TOPICS_TIMEOUT_S):
            response = await self.node.controller_channel.create_topics(request)
            failed = [
                (t.name, t.error_code)
                for t in response.topics
                if t.error_code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS)
            ]
            for name, code in failed:
                log.warning("creating internal topic %s failed: %s", name, ec.error_name(code))
            if failed:
                return False
            # The controller answers once the topics are committed; on a single node the
            # image has them then. Where it does not yet (a follower broker), the member hears
            # MISSING_INTERNAL_TOPICS and its next heartbeat finds them, as with Kafka's
            # asynchronous creation.
            names = {info.name for info, _n in to_create}
            return names <= set(self.node.image.topics_by_name)
        return False

    # -- load -------------------------------------------------------------------------------

    def _member_loaded(self, group: StreamsGroup, member_id: str) -> None:
        """A member read back at load gets a full session from now to come back in, in a group
        whose topology is resolved against the topics."""
        if group.topology is not None:
            group.configured = configure(group.topology, self.partition_counts())
        super()._member_loaded(group, member_id)
