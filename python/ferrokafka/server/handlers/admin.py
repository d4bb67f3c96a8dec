"""Registration of the handlers that read or change cluster metadata (Metadata, CreateTopics,
DeleteTopics, CreatePartitions, ElectLeaders, configs, SCRAM credentials, DescribeCluster,
DescribeLogDirs, Alter/ListPartitionReassignments, DescribeTopicPartitions, Create/Describe/
DeleteAcls, Describe/AlterClientQuotas; UpdateFeatures on a broker of a cluster): one module per
API beside this one."""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.lazy import LazyHandler, api_key
from ferrokafka.server.handlers.metadata import MetadataHandler
from ferrokafka.server.node import Node

_HANDLERS = "ferrokafka.server.handlers."


def register(
    broker: Dispatcher, node: Node, advertised_listeners: Callable[[], list[Endpoint]]
) -> None:
    """Register every metadata API on the broker listeners' dispatcher. Metadata, every
    client's first request, is built now; the others on first use (see ``lazy``)."""
    broker.register(api_key("Metadata"), MetadataHandler(node, advertised_listeners))
    for name, module, attribute in (
        ("CreateTopics", "create_topics", "CreateTopicsHandler"),
        ("DeleteTopics", "delete_topics", "DeleteTopicsHandler"),
        ("CreatePartitions", "create_partitions", "CreatePartitionsHandler"),
        ("ElectLeaders", "elect_leaders", "ElectLeadersHandler"),
        ("DescribeConfigs", "configs", "DescribeConfigsHandler"),
        ("AlterConfigs", "configs", "AlterConfigsHandler"),
        ("IncrementalAlterConfigs", "configs", "IncrementalAlterConfigsHandler"),
        (
            "DescribeUserScramCredentials",
            "user_scram_credentials",
            "DescribeUserScramCredentialsHandler",
        ),
        ("AlterUserScramCredentials", "user_scram_credentials", "AlterUserScramCredentialsHandler"),
        ("DescribeClientQuotas", "client_quotas", "DescribeClientQuotasHandler"),
        ("AlterClientQuotas", "client_quotas", "AlterClientQuotasHandler"),
        ("DescribeLogDirs", "describe_log_dirs", "DescribeLogDirsHandler"),
        ("CreateAcls", "acls", "CreateAclsHandler"),
        ("DescribeAcls", "acls", "DescribeAclsHandler"),
        ("DeleteAcls", "acls", "DeleteAclsHandler"),
        (
            "AlterPartitionReassignments",
            "partition_reassignments",
            "AlterPartitionReassignmentsHandler",
        ),
        (
            "ListPartitionReassignments",
            "partition_reassignments",
            "ListPartitionReassignmentsHandler",
        ),
        (
            "DescribeTopicPartitions",
            "describe_topic_partitions",
            "DescribeTopicPartitionsHandler",
        ),
    ):
        broker.register(api_key(name), LazyHandler(_HANDLERS + module, attribute, node))
    if node.own_controller is None:
        # A broker of a cluster forwards it; the single node's ApiVersions reports fixed
        # levels (api_versions.DEFAULT_FEATURES), so it does not change them either.
        broker.register(
            api_key("UpdateFeatures"),
            LazyHandler(_HANDLERS + "update_features", "UpdateFeaturesHandler", node),
        )
    broker.register(
        api_key("DescribeCluster"),
        LazyHandler(
            _HANDLERS + "describe_cluster", "DescribeClusterHandler", node, advertised_listeners
        ),
    )
