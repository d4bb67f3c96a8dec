"""Applying metadata records to an image: :class:`MetadataDelta` (Kafka's ``MetadataDelta``).

A delta starts from an image, replays records in log order into private working maps, and
:meth:`MetadataDelta.apply` freezes them into a new :class:`MetadataImage`. The old image is
never touched; unchanged topics are shared between the two.

Records the image has no place for yet (delegation tokens,
ZooKeeper migration state) are accepted and skipped, so a log
written by Apache Kafka replays. Begin/EndTransactionRecord need no handling here: the
controller writes a transaction's records in one batch, and a batch is applied whole or not
at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ferrokafka.cluster import client_quotas
from ferrokafka.cluster import records as r
from ferrokafka.cluster.acls.control import binding_from_record
from ferrokafka.cluster.image import (
    TOPIC_RESOURCE,
    BrokerEndpoint,
    BrokerRegistration,
    MetadataImage,
    PartitionImage,
    TopicImage,
    frozen_map,
)
from ferrokafka.cluster.scram_credentials import MECHANISMS_BY_TYPE
from ferrokafka.cluster.scram_store import credential_of_record
from ferrokafka.protocol.schema import Message

# PartitionChangeRecord.leader: -2 means "the leader did not change".
NO_LEADER_CHANGE = -2
# PartitionChangeRecord.leader_recovery_state: -1 means "did not change".
NO_RECOVERY_STATE_CHANGE = -1
# BrokerRegistrationChangeRecord.fenced: Kafka's BrokerRegistrationFencingChange values.
FENCE = 1
UNFENCE = -1


class MetadataReplayError(ValueError):
    """A record that contradicts the image (a partition of an unknown topic, ...): the log is
    not one this image came from."""


class MetadataDelta:
    """Records replayed on top of ``image``; :meth:`apply` gives the new image."""

    def __init__(self, image: MetadataImage) -> None:
        self.image = image
        self._features = dict(image.features)
        self._by_id: dict[uuid.UUID, TopicImage] = dict(image.topics_by_id)
        # Partition maps being changed, per topic id (copied from the topic on first change).
        self._partitions: dict[uuid.UUID, dict[int, PartitionImage]] = {}
        self._configs = {key: dict(values) for key, values in image.configs.items()}
        self._brokers = dict(image.brokers)
        self._next_producer_id = image.next_producer_id
        self._controllers = dict(image.controllers)
        self._scram = dict(image.scram)
        self._acls = dict(image.acls)
        # The image's ACL map is kept (same object) while no ACL record came: the authorizer
        # rebuilds its index only when it changes.
        self._acls_changed = False
        self._client_quotas = {e: dict(v) for e, v in image.client_quotas.items()}
        self._offset = image.offset
        self.changed_topics: set[uuid.UUID] = set()
        self.removed_topics: dict[uuid.UUID, TopicImage] = {}

    def replay_all(self, messages: Iterable[Message], last_offset: int) -> None:
        for message in messages:
            self.replay(message)
        self._offset = max(self._offset, last_offset)

    def replay(self, message: Message) -> None:
        handler = _HANDLERS.get(type(message))
        if handler is not None:
            handler(self, message)

    # -- topics and partitions ------------------------------------------------------------

    def _topic(self, record: r.TopicRecord) -> None:
        if record.topic_id in self._by_id:
            raise MetadataReplayError(f"topic id {record.topic_id} registered twice")
        self._by_id[record.topic_id] = TopicImage(record.name, record.topic_id)
        self._partitions[record.topic_id] = {}
        self.changed_topics.add(record.topic_id)

    def _partition_map(self, topic_id: uuid.UUID) -> dict[int, PartitionImage]:
        parts = self._partitions.get(topic_id)
        if parts is None:
            topic = self._by_id.get(topic_id)
            if topic is None:
                raise MetadataReplayError(f"partition record for unknown topic id {topic_id}")
            parts = self._partitions[topic_id] = dict(topic.partitions)
        self.changed_topics.add(topic_id)
        return parts

    def _partition(self, record: r.PartitionRecord) -> None:
        parts = self._partition_map(record.topic_id)
        parts[record.partition_id] = PartitionImage(
            partition=record.partition_id,
            replicas=tuple(record.replicas),
            isr=tuple(record.isr),
            leader=record.leader,
            leader_epoch=record.leader_epoch,
            partition_epoch=record.partition_epoch,
            removing_replicas=tuple(record.removing_replicas),
            adding_replicas=tuple(record.adding_replicas),
            leader_recovery_state=record.leader_recovery_state,
            directories=tuple(record.directories),
            elr=_tuple_or_none(record.eligible_leader_replicas),
            last_known_elr=_tuple_or_none(record.last_known_elr),
        )

    def _partition_change(self, record: r.PartitionChangeRecord) -> None:
        parts = self._partition_map(record.topic_id)
        old = parts.get(record.partition_id)
        if old is None:
            raise MetadataReplayError(
                f"change of unknown partition {record.partition_id} of {record.topic_id}"
            )
        changes: dict[str, Any] = {"partition_epoch": old.partition_epoch + 1}
        # Kafka's PartitionRegistration.merge: a new leader (even "none") bumps the epoch.
        if record.leader != NO_LEADER_CHANGE:
            changes["leader"] = record.leader
            changes["leader_epoch"] = old.leader_epoch + 1
        for name, attr in (
            ("isr", "isr"),
            ("replicas", "replicas"),
            ("removing_replicas", "removing_replicas"),
            ("adding_replicas", "adding_replicas"),
            ("directories", "directories"),
            ("eligible_leader_replicas", "elr"),
            ("last_known_elr", "last_known_elr"),
        ):
            value = getattr(record, name)
            if value is not None:
                changes[attr] = tuple(value)
        if record.leader_recovery_state != NO_RECOVERY_STATE_CHANGE:
            changes["leader_recovery_state"] = record.leader_recovery_state
        parts[record.partition_id] = replace(old, **changes)

    def _remove_topic(self, record: r.RemoveTopicRecord) -> None:
        topic = self._by_id.pop(record.topic_id, None)
        if topic is None:
            raise MetadataReplayError(f"removal of unknown topic id {record.topic_id}")
        self._partitions.pop(record.topic_id, None)
        self.changed_topics.discard(record.topic_id)
        self.removed_topics[record.topic_id] = topic
        # Kafka's ConfigurationsDelta drops a removed topic's configs with it.
        self._configs.pop((TOPIC_RESOURCE, topic.name), None)

    def _clear_elr(self, record: r.ClearElrRecord) -> None:
        ids = (
            [t.topic_id for t in self._by_id.values() if t.name == record.topic_name]
            if record.topic_name
            else list(self._by_id)
        )
        for topic_id in ids:
            parts = self._partition_map(topic_id)
            for index, part in parts.items():
                parts[index] = replace(part, elr=(), last_known_elr=())

    # -- configs, brokers, features -------------------------------------------------------

    def _config(self, record: r.ConfigRecord) -> None:
        key = (record.resource_type, record.resource_name)
        values = self._configs.setdefault(key, {})
        if record.value is None:
            values.pop(record.name, None)
            if not values:
                del self._configs[key]
        else:
            values[record.name] = record.value

    def _register_broker(self, record: r.RegisterBrokerRecord) -> None:
        self._brokers[record.broker_id] = BrokerRegistration(
            broker_id=record.broker_id,
            incarnation_id=record.incarnation_id,
            broker_epoch=record.broker_epoch,
            endpoints=tuple(
                BrokerEndpoint(ep.name, ep.host, ep.port, ep.security_protocol)
                for ep in record.end_points
            ),
            features=frozen_map(
                {
                    f.name: (f.min_supported_version, f.max_supported_version)
                    for f in record.features
                }
            ),
            rack=record.rack,
            fenced=record.fenced,
            in_controlled_shutdown=record.in_controlled_shutdown,
            log_dirs=tuple(record.log_dirs),
        )

    def _broker(self, broker_id: int, epoch: int) -> BrokerRegistration:
        broker = self._brokers.get(broker_id)
        if broker is None or broker.broker_epoch != epoch:
            raise MetadataReplayError(f"change of unknown broker {broker_id} epoch {epoch}")
        return broker

    def _unregister_broker(self, record: r.UnregisterBrokerRecord) -> None:
        self._broker(record.broker_id, record.broker_epoch)
        del self._brokers[record.broker_id]

    def _fence(self, broker_id: int, epoch: int, fenced: bool) -> None:
        self._brokers[broker_id] = replace(self._broker(broker_id, epoch), fenced=fenced)

    def _registration_change(self, record: r.BrokerRegistrationChangeRecord) -> None:
        broker = self._broker(record.broker_id, record.broker_epoch)
        changes: dict[str, Any] = {}
        if record.fenced in (FENCE, UNFENCE):
            changes["fenced"] = record.fenced == FENCE
        if record.in_controlled_shutdown:
            changes["in_controlled_shutdown"] = True
        if record.log_dirs:
            changes["log_dirs"] = tuple(record.log_dirs)
        self._brokers[record.broker_id] = replace(broker, **changes)

    def _feature_level(self, record: r.FeatureLevelRecord) -> None:
        # Level 0 means the feature is not enabled (Kafka removes it from the image).
        if record.feature_level == 0:
            self._features.pop(record.name, None)
        else:
            self._features[record.name] = record.feature_level

    def _producer_ids(self, record: r.ProducerIdsRecord) -> None:
        self._next_producer_id = record.next_producer_id

    def _register_controller(self, record: r.RegisterControllerRecord) -> None:
        self._controllers[record.controller_id] = record

    def _unregister_controller(self, record: r.UnregisterControllerRecord) -> None:
        self._controllers.pop(record.controller_id, None)

    def _scram_credential(self, record: r.UserScramCredentialRecord) -> None:
        credential = credential_of_record(record)
        if credential is not None:  # an unknown mechanism type: nothing can use it
            self._scram[(record.name, credential.mechanism.name)] = credential

    def _remove_scram_credential(self, record: r.RemoveUserScramCredentialRecord) -> None:
        mechanism = MECHANISMS_BY_TYPE.get(record.mechanism)
        if mechanism is not None:
            self._scram.pop((record.name, mechanism.name), None)

    def _acl(self, record: r.AccessControlEntryRecord) -> None:
        self._acls[record.id] = binding_from_record(record)
        self._acls_changed = True

    def _remove_acl(self, record: r.RemoveAccessControlEntryRecord) -> None:
        if self._acls.pop(record.id, None) is None:
            raise MetadataReplayError(f"removal of unknown ACL id {record.id}")
        self._acls_changed = True

    def _client_quota(self, record: r.ClientQuotaRecord) -> None:
        client_quotas.replay(self._client_quotas, record)

    # -- the new image --------------------------------------------------------------------

    def apply(self) -> MetadataImage:
        by_id = dict(self._by_id)
        for topic_id in self.changed_topics:
            topic = by_id[topic_id]
            by_id[topic_id] = replace(topic, partitions=frozen_map(self._partitions[topic_id]))
        by_name = {topic.name: topic for topic in by_id.values()}
        if len(by_name) != len(by_id):
            raise MetadataReplayError("two topics share a name")
        return MetadataImage(
            offset=self._offset,
            features=frozen_map(self._features),
            topics_by_name=frozen_map(dict(sorted(by_name.items()))),
            topics_by_id=frozen_map(by_id),
            configs=frozen_map({k: frozen_map(v) for k, v in self._configs.items()}),
            brokers=frozen_map(self._brokers),
            next_producer_id=self._next_producer_id,
            controllers=frozen_map(self._controllers),
            scram=frozen_map(self._scram),
            acls=frozen_map(self._acls) if self._acls_changed else self.image.acls,
            client_quotas=frozen_map({e: frozen_map(v) for e, v in self._client_quotas.items()}),
        )


def _tuple_or_none(values: list[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(values)


_HANDLERS: dict[type[Message], Any] = {
    r.TopicRecord: MetadataDelta._topic,
    r.PartitionRecord: MetadataDelta._partition,
    r.PartitionChangeRecord: MetadataDelta._partition_change,
    r.RemoveTopicRecord: MetadataDelta._remove_topic,
    r.ClearElrRecord: MetadataDelta._clear_elr,
    r.ConfigRecord: MetadataDelta._config,
    r.RegisterBrokerRecord: MetadataDelta._register_broker,
    r.UnregisterBrokerRecord: MetadataDelta._unregister_broker,
    r.BrokerRegistrationChangeRecord: MetadataDelta._registration_change,
    r.FenceBrokerRecord: lambda d, rec: d._fence(rec.id, rec.epoch, True),
    r.UnfenceBrokerRecord: lambda d, rec: d._fence(rec.id, rec.epoch, False),
    r.FeatureLevelRecord: MetadataDelta._feature_level,
    r.ProducerIdsRecord: MetadataDelta._producer_ids,
    r.RegisterControllerRecord: MetadataDelta._register_controller,
    r.UnregisterControllerRecord: MetadataDelta._unregister_controller,
    r.UserScramCredentialRecord: MetadataDelta._scram_credential,
    r.RemoveUserScramCredentialRecord: MetadataDelta._remove_scram_credential,
    r.AccessControlEntryRecord: MetadataDelta._acl,
    r.RemoveAccessControlEntryRecord: MetadataDelta._remove_acl,
    r.ClientQuotaRecord: MetadataDelta._client_quota,
}
