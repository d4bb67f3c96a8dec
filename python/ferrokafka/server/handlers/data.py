"""Registration of the data-path handlers (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId, OffsetForLeaderEpoch, DescribeProducers):
one module per API beside this one."""

from __future__ import annotations

from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.lazy import LazyHandler
from ferrokafka.server.node import Node

PRODUCE_KEY = 0
FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
DELETE_RECORDS_KEY = 21
INIT_PRODUCER_ID_KEY = 22
OFFSET_FOR_LEADER_EPOCH_KEY = 23
DESCRIBE_PRODUCERS_KEY = 61


def register(broker: Dispatcher, node: Node) -> None:
    """Register every data-path API on the broker listeners' dispatcher; each handler is
    built on its API's first request (see ``lazy``)."""
    for key, module, attribute in (
        (PRODUCE_KEY, "produce", "ProduceHandler"),
        (FETCH_KEY, "fetch", "FetchHandler"),
        (LIST_OFFSETS_KEY, "list_offsets", "ListOffsetsHandler"),
        (DELETE_RECORDS_KEY, "delete_records", "DeleteRecordsHandler"),
        (INIT_PRODUCER_ID_KEY, "init_producer_id", "InitProducerIdHandler"),
        (OFFSET_FOR_LEADER_EPOCH_KEY, "offset_for_leader_epoch", "OffsetForLeaderEpochHandler"),
        (DESCRIBE_PRODUCERS_KEY, "describe_producers", "DescribeProducersHandler"),
    ):
        broker.register(key, LazyHandler("ferrokafka.server.handlers." + module, attribute, node))
