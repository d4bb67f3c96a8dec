"""Registration of the data-path handlers (Produce, Fetch, ListOffsets, DeleteRecords,
InitProducerId, OffsetForLeaderEpoch, DescribeProducers):
one module per API beside this one."""

from __future__ import annotations

from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.delete_records import DeleteRecordsHandler
from ferrokafka.server.handlers.describe_producers import DescribeProducersHandler
from ferrokafka.server.handlers.fetch import FetchHandler
from ferrokafka.server.handlers.init_producer_id import InitProducerIdHandler
from ferrokafka.server.handlers.list_offsets import ListOffsetsHandler
from ferrokafka.server.handlers.offset_for_leader_epoch import OffsetForLeaderEpochHandler
from ferrokafka.server.handlers.produce import ProduceHandler
from ferrokafka.server.node import Node

PRODUCE_KEY = 0
FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
DELETE_RECORDS_KEY = 21
INIT_PRODUCER_ID_KEY = 22
OFFSET_FOR_LEADER_EPOCH_KEY = 23
DESCRIBE_PRODUCERS_KEY = 61


def register(broker: Dispatcher, node: Node) -> None:
    """Register every data-path API on the broker listeners' dispatcher."""
    broker.register(PRODUCE_KEY, ProduceHandler(node))
    broker.register(FETCH_KEY, FetchHandler(node))
    broker.register(LIST_OFFSETS_KEY, ListOffsetsHandler(node))
    broker.register(DELETE_RECORDS_KEY, DeleteRecordsHandler(node))
    broker.register(INIT_PRODUCER_ID_KEY, InitProducerIdHandler(node))
    broker.register(OFFSET_FOR_LEADER_EPOCH_KEY, OffsetForLeaderEpochHandler(node))
    broker.register(DESCRIBE_PRODUCERS_KEY, DescribeProducersHandler(node))
