"""Registration of the handlers that read or change cluster metadata (Metadata, CreateTopics,
DeleteTopics, CreatePartitions, configs, DescribeCluster, DescribeLogDirs): one module per API
beside this one."""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest
from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.describe_cluster import DescribeClusterRequest
from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest
from ferrokafka.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
from ferrokafka.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.configs import (
    AlterConfigsHandler,
    DescribeConfigsHandler,
    IncrementalAlterConfigsHandler,
)
from ferrokafka.server.handlers.create_partitions import CreatePartitionsHandler
from ferrokafka.server.handlers.create_topics import CreateTopicsHandler
from ferrokafka.server.handlers.delete_topics import DeleteTopicsHandler
from ferrokafka.server.handlers.describe_cluster import DescribeClusterHandler
from ferrokafka.server.handlers.describe_log_dirs import DescribeLogDirsHandler
from ferrokafka.server.handlers.metadata import MetadataHandler
from ferrokafka.server.node import Node


def register(
    broker: Dispatcher, node: Node, advertised_listeners: Callable[[], list[Endpoint]]
) -> None:
    """Register every metadata API on the broker listeners' dispatcher."""
    broker.register(MetadataRequest.API_KEY, MetadataHandler(node, advertised_listeners))
    broker.register(CreateTopicsRequest.API_KEY, CreateTopicsHandler(node))
    broker.register(DeleteTopicsRequest.API_KEY, DeleteTopicsHandler(node))
    broker.register(CreatePartitionsRequest.API_KEY, CreatePartitionsHandler(node))
    broker.register(DescribeConfigsRequest.API_KEY, DescribeConfigsHandler(node))
    broker.register(AlterConfigsRequest.API_KEY, AlterConfigsHandler(node))
    broker.register(IncrementalAlterConfigsRequest.API_KEY, IncrementalAlterConfigsHandler(node))
    broker.register(
        DescribeClusterRequest.API_KEY, DescribeClusterHandler(node, advertised_listeners)
    )
    broker.register(DescribeLogDirsRequest.API_KEY, DescribeLogDirsHandler(node))
