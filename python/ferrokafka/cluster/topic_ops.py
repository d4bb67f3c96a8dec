"""CreateTopics, DeleteTopics and CreatePartitions as the controller decides them (sans-io).

Each takes the current image and the request and returns the metadata records to commit and
the response, item by item with Kafka's error codes and messages (Kafka's ``ControllerApis``
and ``ReplicationControlManager``). Nothing here writes: the controller commits the records.

One deliberate difference: a new topic is also checked for a '.'/'_' collision with topics
created earlier in the same request (Kafka only checks against existing topics, so one
request can create both ``a.b`` and ``a_b``).

Every operation is bounded as Kafka 4.4's controller bounds it, and the bounds are checked
before anything of their size is built (a request for 2,147,483,647 partitions is a few dozen
bytes; what it asks for must not cost gigabytes):

* CreateTopics asks for at most :data:`MAX_PARTITIONS_PER_BATCH` partitions in all, and
  CreatePartitions adds at most as many, else the whole request is refused: every topic in
  it, as sent, is answered POLICY_VIOLATION with :data:`EXCESSIVE_PARTITIONS` or
  :data:`EXCESSIVE_ADDITIONAL_PARTITIONS` and nothing is created (Kafka's two
  ``validateTotalNumberOfPartitions``);
* one operation writes at most :data:`MAX_RECORDS_PER_USER_OP` records (Kafka's
  ``BoundedList``): a CreateTopics that would write more (one topic of 10,000 partitions is
  10,001 records) is refused whole with POLICY_VIOLATION :data:`EXCESSIVE_BATCH`; in a
  DeleteTopics each topic past the bound is answered UNKNOWN_SERVER_ERROR without a message
  and the others are deleted. CreatePartitions cannot reach it once its partitions are
  bounded.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import TypeVar

from ferrokafka.cluster import dir_assignment, errors
from ferrokafka.cluster.config_ops import config_records, validate_topic_overrides
from ferrokafka.cluster.errors import SUCCESS, ApiError
from ferrokafka.cluster.image import (
    TOPIC_RESOURCE,
    ZERO_UUID,
    MetadataImage,
    TopicImage,
    random_topic_id,
)
from ferrokafka.cluster.metadata_log import METADATA_TOPIC
from ferrokafka.cluster.records import PartitionRecord, RemoveTopicRecord, TopicRecord
from ferrokafka.cluster.topics import (
    PlacementError,
    colliding_topic,
    manual_assignment_error,
    place_replicas,
    topic_name_error,
)
from ferrokafka.config import BrokerConfig, describe_topic
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.protocol.schema import Message

# Kafka's LeaderRecoveryState.RECOVERED.
RECOVERED = 0

# Kafka's ReplicationControlManager.MAX_PARTITIONS_PER_BATCH: the partitions one CreateTopics
# may ask for, or one CreatePartitions add, all its topics together (summed without overflow,
# as Kafka 4.4 sums them in a long). Kafka bounds it because larger requests ran its controller
# out of memory; unbounded, 2,147,483,647 partitions took this broker to 6 GB and down.
MAX_PARTITIONS_PER_BATCH = 10_000
# Kafka's QuorumController.MAX_RECORDS_PER_USER_OP (its maximum records per batch): the
# metadata records one client operation may write, e.g. one TopicRecord and 9,999
# PartitionRecords.
MAX_RECORDS_PER_USER_OP = 10_000
# Kafka 4.4's messages, each with POLICY_VIOLATION. The last is what its controller makes of
# a BoundedListTooLongException that reaches it.
EXCESSIVE_PARTITIONS = "Excessively large number of partitions per request."
EXCESSIVE_ADDITIONAL_PARTITIONS = "Excessively large number of additional partitions per request."
EXCESSIVE_BATCH = "Unable to perform excessively large batch operation."
# A DeleteTopics topic past MAX_RECORDS_PER_USER_OP: Kafka's per-topic catch turns the
# BoundedListTooLongException into UNKNOWN_SERVER_ERROR, which never carries a message.
RECORDS_OVERFLOW = ApiError(errors.UNKNOWN_SERVER_ERROR)

_CreatableTopic = CreateTopicsRequest.CreatableTopic
_TopicResult = CreateTopicsResponse.CreatableTopicResult
_DeleteResult = DeleteTopicsResponse.DeletableTopicResult
_PartitionsResult = CreatePartitionsResponse.CreatePartitionsTopicResult
_R = TypeVar("_R", _DeleteResult, _PartitionsResult)


class TopicOperations:
    def __init__(self, config: BrokerConfig, rng: random.Random | None = None) -> None:
        self.config = config
        # Where replica placement starts (Kafka's StripedReplicaPlacer takes a Random too).
        self.rng = rng if rng is not None else random.Random()

    # -- CreateTopics ---------------------------------------------------------------------

    def create_topics(
        self, image: MetadataImage, request: CreateTopicsRequest
    ) -> tuple[list[Message], CreateTopicsResponse]:
        counts = Counter(topic.name for topic in request.topics)
        if self._partitions_asked(request.topics, counts) > MAX_PARTITIONS_PER_BATCH:
            return [], _refuse_creation(request, EXCESSIVE_PARTITIONS)
        results = [
            _TopicResult(
                name=name, error_code=errors.INVALID_REQUEST, error_message="Duplicate topic name."
            )
            for name, count in counts.items()
            if count > 1
        ]
        records: list[Message] = []
        accepted: list[str] = []
        for topic in request.topics:
            if counts[topic.name] > 1:
                continue
            error, topic_records, result = self._create_topic(image, topic, accepted)
            if error.is_failure:
                result = _TopicResult(
                    name=topic.name, error_code=error.code, error_message=error.message
                )
            else:
                # Bounded already: at most MAX_PARTITIONS_PER_BATCH partitions were built.
                if len(records) + len(topic_records) > MAX_RECORDS_PER_USER_OP:
                    return [], _refuse_creation(request, EXCESSIVE_BATCH)
                accepted.append(topic.name)
                records += topic_records
            results.append(result)
        return records, CreateTopicsResponse(topics=results)

    def _partitions_asked(self, topics: list[_CreatableTopic], counts: Counter[str]) -> int:
        """Kafka's ``validateTotalNumberOfPartitions`` over the topics its controller gets
        (duplicates and the metadata topic are answered before): an assignment list counts its
        entries, -1 the default, other non-positive counts nothing."""
        default = int(self.config["num.partitions"])
        total = 0
        for topic in topics:
            if counts[topic.name] > 1 or topic.name == METADATA_TOPIC:
                continue
            if topic.assignments:
                total += len(topic.assignments)
            elif topic.num_partitions == -1:
                total += default
            elif topic.num_partitions > 0:
                total += topic.num_partitions
        return total

    def _create_topic(
        self, image: MetadataImage, topic: _CreatableTopic, accepted: list[str]
    ) -> tuple[ApiError, list[Message], _TopicResult]:
        none = _TopicResult(name=topic.name)
        if topic.name == METADATA_TOPIC:
            message = f"Creation of internal topic {METADATA_TOPIC} is prohibited."
            return ApiError.of(errors.INVALID_REQUEST, message), [], none
        error = self._name_error(image, topic.name, accepted)
        if error.is_failure:
            return error, [], none
        null_configs = [c.name for c in topic.configs if c.value is None]
        if null_configs:
            message = "Null value not supported for topic configs: " + ",".join(null_configs)
            return ApiError.of(errors.INVALID_CONFIG, message), [], none
        overrides = {c.name: c.value for c in topic.configs if c.value is not None}
        error = validate_topic_overrides(self.config, overrides)
        if error.is_failure:
            return error, [], none
        try:
            replicas = self._replica_lists(image, topic)
        except PlacementError as exc:
            return exc.error, [], none
        topic_id = random_topic_id()
        records: list[Message] = [TopicRecord(name=topic.name, topic_id=topic_id)]
        records += config_records(TOPIC_RESOURCE, topic.name, {}, overrides)
        records += [
            self._partition_record(image, topic_id, index, replica_list)
            for index, replica_list in enumerate(replicas)
        ]
        return SUCCESS, records, self._success(topic.name, topic_id, replicas, overrides)

    def _name_error(self, image: MetadataImage, name: str, accepted: list[str]) -> ApiError:
        # Kafka's order: an illegal name, then a collision, then "already exists" wins.
        reason = topic_name_error(name)
        error = SUCCESS if reason is None else ApiError.of(errors.INVALID_TOPIC_EXCEPTION, reason)
        other = colliding_topic(name, [*image.topics_by_name, *accepted])
        if other is not None:
            error = ApiError.of(
                errors.INVALID_TOPIC_EXCEPTION,
                f"Topic '{name}' collides with existing topic: {other}",
            )
        if image.topic(name) is not None:
            error = ApiError.of(errors.TOPIC_ALREADY_EXISTS, f"Topic '{name}' already exists.")
        return error

    def _replica_lists(self, image: MetadataImage, topic: _CreatableTopic) -> list[list[int]]:
        if topic.assignments:
            return self._manual_replicas(image, topic)
        if topic.replication_factor < -1 or topic.replication_factor == 0:
            raise PlacementError(
                ApiError.of(
                    errors.INVALID_REPLICATION_FACTOR,
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                )
            )
        if topic.num_partitions < -1 or topic.num_partitions == 0:
            raise PlacementError(
                ApiError.of(
                    errors.INVALID_PARTITIONS,
                    "Number of partitions was set to an invalid non-positive value.",
                )
            )
        count = topic.num_partitions
        if count == -1:
            count = int(self.config["num.partitions"])
        factor = topic.replication_factor
        if factor == -1:
            factor = int(self.config["default.replication.factor"])
        return place_replicas(image, count, factor, self.rng)

    def _manual_replicas(self, image: MetadataImage, topic: _CreatableTopic) -> list[list[int]]:
        def fail(code: int, message: str) -> PlacementError:
            return PlacementError(ApiError.of(code, message))

        if topic.replication_factor != -1:
            raise fail(
                errors.INVALID_REQUEST,
                "A manual partition assignment was specified, but replication factor was not "
                "set to -1.",
            )
        if topic.num_partitions != -1:
            raise fail(
                errors.INVALID_REQUEST,
                "A manual partition assignment was specified, but numPartitions was not set to -1.",
            )
        by_index: dict[int, list[int]] = {}
        factor: int | None = None
        for assignment in topic.assignments:
            if assignment.partition_index in by_index:
                raise fail(
                    errors.INVALID_REPLICA_ASSIGNMENT,
                    "Found multiple manual partition assignments for partition "
                    f"{assignment.partition_index}",
                )
            error = manual_assignment_error(image, assignment.broker_ids, factor)
            if error is not None:
                raise PlacementError(error)
            factor = len(assignment.broker_ids)
            self._check_live(image, assignment.broker_ids, assignment.partition_index)
            by_index[assignment.partition_index] = list(assignment.broker_ids)
        if sorted(by_index) != list(range(len(by_index))):
            raise fail(
                errors.INVALID_REPLICA_ASSIGNMENT,
                "partitions should be a consecutive 0-based integer sequence",
            )
        return [by_index[index] for index in range(len(by_index))]

    @staticmethod
    def _check_live(image: MetadataImage, broker_ids: list[int], partition: int) -> None:
        if not any(image.brokers[b].is_active for b in broker_ids):
            raise PlacementError(
                ApiError.of(
                    errors.INVALID_REPLICA_ASSIGNMENT,
                    "All brokers specified in the manual partition assignment for partition "
                    f"{partition} are fenced or in controlled shutdown.",
                )
            )

    @staticmethod
    def _partition_record(
        image: MetadataImage, topic_id: uuid.UUID, index: int, replicas: list[int]
    ) -> PartitionRecord:
        isr = [b for b in replicas if image.brokers[b].is_active]
        directories = [dir_assignment.default_directory(image, b) for b in replicas]
        return PartitionRecord(
            partition_id=index,
            topic_id=topic_id,
            replicas=list(replicas),
            isr=isr,
            leader=isr[0],
            leader_recovery_state=RECOVERED,
            leader_epoch=0,
            partition_epoch=0,
            directories=directories,
        )

    def _success(
        self,
        name: str,
        topic_id: uuid.UUID,
        replicas: list[list[int]],
        overrides: dict[str, str],
    ) -> _TopicResult:
        entries = describe_topic(self.config, self.config.topic_config(overrides))
        return _TopicResult(
            name=name,
            topic_id=topic_id,
            error_message=None,
            num_partitions=len(replicas),
            replication_factor=len(replicas[0]),
            configs=[
                CreateTopicsResponse.CreatableTopicConfigs(
                    name=entry.name,
                    value=entry.value,
                    read_only=entry.read_only,
                    config_source=int(entry.source),
                    is_sensitive=entry.is_sensitive,
                )
                for entry in entries
            ],
        )

    # -- DeleteTopics ---------------------------------------------------------------------

    def delete_topics(
        self, image: MetadataImage, request: DeleteTopicsRequest
    ) -> tuple[list[Message], DeleteTopicsResponse]:
        wanted = [(s.name, s.topic_id) for s in request.topics] or [
            (name, ZERO_UUID) for name in request.topic_names
        ]
        if not self.config["delete.topic.enable"]:
            results = [
                _DeleteResult(
                    name=name, topic_id=topic_id, error_code=errors.TOPIC_DELETION_DISABLED
                )
                for name, topic_id in wanted
            ]
            return [], DeleteTopicsResponse(responses=results)
        names = Counter(name for name, _ in wanted if name is not None)
        ids = Counter(topic_id for name, topic_id in wanted if name is None)
        records: list[Message] = []
        results = []
        for name, topic_id in wanted:
            error, topic = self._deletion(image, name, topic_id, names, ids)
            if topic is None:
                results.append(
                    _DeleteResult(
                        name=name,
                        topic_id=topic_id,
                        error_code=error.code,
                        error_message=error.message,
                    )
                )
                continue
            if len(records) >= MAX_RECORDS_PER_USER_OP:
                results.append(
                    _DeleteResult(
                        name=topic.name, topic_id=topic.topic_id, error_code=RECORDS_OVERFLOW.code
                    )
                )
                continue
            records.append(RemoveTopicRecord(topic_id=topic.topic_id))
            results.append(_DeleteResult(name=topic.name, topic_id=topic.topic_id))
        return records, DeleteTopicsResponse(responses=_first_each(results))

    @staticmethod
    def _deletion(
        image: MetadataImage,
        name: str | None,
        topic_id: uuid.UUID,
        names: Counter[str],
        ids: Counter[uuid.UUID],
    ) -> tuple[ApiError, TopicImage | None]:
        def fail(code: int, message: str | None = None) -> tuple[ApiError, None]:
            return ApiError.of(code, message), None

        if name is not None and topic_id != ZERO_UUID:
            return fail(errors.INVALID_REQUEST, "You may not specify both topic name and topic id.")
        if name is None and topic_id == ZERO_UUID:
            return fail(errors.INVALID_REQUEST, "Neither topic name nor id were specified.")
        if name is not None and names[name] > 1:
            return fail(errors.INVALID_REQUEST, "Duplicate topic name.")
        if name is None and ids[topic_id] > 1:
            return fail(errors.INVALID_REQUEST, "Duplicate topic id.")
        topic = image.topic(name) if name is not None else image.topic_by_id(topic_id)
        if topic is None:
            code = (
                errors.UNKNOWN_TOPIC_OR_PARTITION if name is not None else errors.UNKNOWN_TOPIC_ID
            )
            return fail(code)
        return SUCCESS, topic

    # -- CreatePartitions -----------------------------------------------------------------

    def create_partitions(
        self, image: MetadataImage, request: CreatePartitionsRequest
    ) -> tuple[list[Message], CreatePartitionsResponse]:
        counts = Counter(topic.name for topic in request.topics)
        if _partitions_added(image, request.topics, counts) > MAX_PARTITIONS_PER_BATCH:
            return [], _refuse_growth(request)
        records: list[Message] = []
        results = []
        for topic in request.topics:
            if counts[topic.name] > 1:
                error = ApiError.of(errors.INVALID_REQUEST, "Duplicate topic name.")
                topic_records: list[Message] = []
            else:
                error, topic_records = self._add_partitions(image, topic)
            records += topic_records
            results.append(
                _PartitionsResult(
                    name=topic.name,
                    error_code=error.code,
                    error_message=error.message if error.is_failure else None,
                )
            )
        return records, CreatePartitionsResponse(results=_first_each(results))

    def _add_partitions(
        self, image: MetadataImage, request: CreatePartitionsRequest.CreatePartitionsTopic
    ) -> tuple[ApiError, list[Message]]:
        topic = image.topic(request.name)
        if topic is None:
            # Kafka throws UnknownTopicOrPartitionException without a message: null on the wire.
            return ApiError(errors.UNKNOWN_TOPIC_OR_PARTITION), []
        current = len(topic.partitions)
        if request.count == current:
            return ApiError.of(
                errors.INVALID_PARTITIONS, f"Topic already has {current} partition(s)."
            ), []
        if request.count < current:
            return ApiError.of(
                errors.INVALID_PARTITIONS,
                f"The topic {topic.name} currently has {current} partition(s); {request.count} "
                "would not be an increase.",
            ), []
        additional = request.count - current
        try:
            replicas = self._new_partition_replicas(image, request, current, additional, topic)
        except PlacementError as exc:
            return exc.error, []
        return SUCCESS, [
            self._partition_record(image, topic.topic_id, current + i, replica_list)
            for i, replica_list in enumerate(replicas)
        ]

    def _new_partition_replicas(
        self,
        image: MetadataImage,
        request: CreatePartitionsRequest.CreatePartitionsTopic,
        current: int,
        additional: int,
        topic: TopicImage,
    ) -> list[list[int]]:
        factor = topic.replication_factor
        if request.assignments is None:
            return place_replicas(image, additional, factor, self.rng)
        if len(request.assignments) != additional:
            raise PlacementError(
                ApiError.of(
                    errors.INVALID_REPLICA_ASSIGNMENT,
                    f"Attempted to add {additional} additional partition(s), but only "
                    f"{len(request.assignments)} assignment(s) were specified.",
                )
            )
        out = []
        for i, assignment in enumerate(request.assignments):
            error = manual_assignment_error(image, assignment.broker_ids, factor)
            if error is not None:
                raise PlacementError(error)
            self._check_live(image, assignment.broker_ids, current + i)
            out.append(list(assignment.broker_ids))
        return out


def _partitions_added(
    image: MetadataImage,
    topics: list[CreatePartitionsRequest.CreatePartitionsTopic],
    counts: Counter[str],
) -> int:
    """Kafka 4.4's ``validateTotalNumberOfPartitions`` for CreatePartitions, over the topics its
    controller gets (duplicates are answered before): the partitions each known topic would
    gain; unknown topics and counts that are no increase add nothing."""
    total = 0
    for request in topics:
        topic = image.topic(request.name)
        if counts[request.name] > 1 or request.count < 0 or topic is None:
            continue
        total += max(request.count - len(topic.partitions), 0)
    return total


def _refuse_creation(request: CreateTopicsRequest, message: str) -> CreateTopicsResponse:
    """Kafka's answer when its controller refuses a CreateTopics whole
    (``CreateTopicsRequest.getErrorResponse``): every topic of the request as sent, duplicates
    and the metadata topic included, POLICY_VIOLATION with ``message``; nothing created."""
    return CreateTopicsResponse(
        topics=[
            _TopicResult(name=topic.name, error_code=errors.POLICY_VIOLATION, error_message=message)
            for topic in request.topics
        ]
    )


def _refuse_growth(request: CreatePartitionsRequest) -> CreatePartitionsResponse:
    """The same for a CreatePartitions Kafka refuses whole: every topic as sent, duplicates
    included, POLICY_VIOLATION "Excessively large number of additional partitions per
    request."; nothing created."""
    return CreatePartitionsResponse(
        results=[
            _PartitionsResult(
                name=topic.name,
                error_code=errors.POLICY_VIOLATION,
                error_message=EXCESSIVE_ADDITIONAL_PARTITIONS,
            )
            for topic in request.topics
        ]
    )


def _first_each(results: list[_R]) -> list[_R]:
    """Each name (or id) answered once, as Kafka answers duplicates once."""
    seen: set[object] = set()
    out = []
    for result in results:
        key = (result.name, getattr(result, "topic_id", None))
        if key not in seen:
            seen.add(key)
            out.append(result)
    return out
