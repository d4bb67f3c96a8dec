"""DescribeConfigs (key 32), AlterConfigs (33) and IncrementalAlterConfigs (44).

Describe answers from the node's image the way Kafka's ConfigHelper does, resource by resource:

- a topic: every topic config (or the named ones) with its effective value, source and
  synonyms: the topic's overrides over the broker's defaults, the dynamic ones included;
- this broker's id: every broker config of this node, static and dynamic layers merged;
- the broker named "": only the cluster-wide dynamic defaults that are set (Kafka's
  ``currentDynamicDefaultConfigs``), without per-broker synonyms;
- a group (resource type 32, existing or not): Kafka's group configs, the group's own values
  over its broker synonyms (``group.consumer.session.timeout.ms``, ...);
- anything else: a per-resource error, never a failed request.

The alters go to the controller, which validates each resource whole and commits
ConfigRecords to the metadata log; the node's sync then gives the topic's log its new config.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ferrokafka.cluster import errors
from ferrokafka.cluster.errors import ApiError
from ferrokafka.cluster.image import (
    BROKER_RESOURCE,
    CLUSTER_DEFAULT_BROKER,
    TOPIC_RESOURCE,
    MetadataImage,
)
from ferrokafka.cluster.topics import topic_name_error
from ferrokafka.config import (
    BrokerConfig,
    ConfigEntry,
    ConfigError,
    describe_broker,
    describe_group,
    describe_topic,
)
from ferrokafka.config.group import GROUP_RESOURCE
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest, AlterConfigsResponse
from ferrokafka.protocol.messages.describe_configs import (
    DescribeConfigsRequest,
    DescribeConfigsResponse,
)
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

_Result = DescribeConfigsResponse.DescribeConfigsResult
_Entry = DescribeConfigsResponse.DescribeConfigsResourceResult
_Synonym = DescribeConfigsResponse.DescribeConfigsSynonym
# include_documentation exists from v3; below it Kafka never sends documentation.
DOCUMENTATION_MIN_VERSION = 3


class _Failure(Exception):
    """A resource Kafka answers with an error (its ApiError.fromThrowable)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class ConfigSource(Protocol):
    """Whose configs DescribeConfigs describes: a broker's node, or a controller's (its own
    config over the controller's image: server/kraft.py)."""

    @property
    def config(self) -> BrokerConfig: ...

    @property
    def image(self) -> MetadataImage: ...


class DescribeConfigsHandler:
    def __init__(self, node: ConfigSource) -> None:
        self.node = node
        # The broker config with the image's dynamic layers, rebuilt when the image changes.
        self._cached: tuple[int, BrokerConfig, BrokerConfig] | None = None

    async def __call__(
        self, ctx: RequestContext, request: DescribeConfigsRequest
    ) -> DescribeConfigsResponse:
        image = self.node.image
        synonyms = request.include_synonyms
        documentation = (
            ctx.api_version >= DOCUMENTATION_MIN_VERSION and request.include_documentation
        )
        results = []
        for resource in request.resources:
            keys = resource.configuration_keys or None  # null or empty: every key
            try:
                entries = self._describe(image, resource, keys, synonyms, documentation)
            except _Failure as failure:
                results.append(
                    _Result(
                        error_code=failure.error.code,
                        error_message=failure.error.message,
                        resource_type=resource.resource_type,
                        resource_name=resource.resource_name,
                    )
                )
                continue
            results.append(
                _Result(
                    error_code=errors.NONE,
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                    configs=[_entry(entry) for entry in entries],
                )
            )
        return DescribeConfigsResponse(results=results)

    def _describe(
        self,
        image: MetadataImage,
        resource: DescribeConfigsRequest.DescribeConfigsResource,
        keys: Iterable[str] | None,
        synonyms: bool,
        documentation: bool,
    ) -> list[ConfigEntry]:
        name = resource.resource_name
        if resource.resource_type == TOPIC_RESOURCE:
            reason = topic_name_error(name)
            if reason is not None:
                raise _Failure(ApiError.of(errors.INVALID_TOPIC_EXCEPTION, reason))
            if image.topic(name) is None:
                raise _Failure(ApiError.of(errors.UNKNOWN_TOPIC_OR_PARTITION))
            broker, _ = self._broker_configs(image)
            try:
                topic = broker.topic_config(dict(image.topic_config(name)))
            except ConfigError as exc:
                raise _Failure(ApiError.of(errors.INVALID_CONFIG, str(exc))) from exc
            return describe_topic(
                broker,
                topic,
                keys,
                include_synonyms=synonyms,
                include_documentation=documentation,
            )
        if resource.resource_type == BROKER_RESOURCE:
            broker, defaults_only = self._broker_configs(image)
            if name == CLUSTER_DEFAULT_BROKER:
                set_keys = image.broker_config(None)
                wanted = [k for k in (keys or sorted(set_keys)) if k in set_keys]
                return describe_broker(
                    defaults_only,
                    wanted,
                    include_synonyms=synonyms,
                    include_documentation=documentation,
                )
            if not (name.isascii() and name.lstrip("-").isdigit()):
                raise _Failure(
                    ApiError.of(
                        errors.INVALID_REQUEST, f"Broker id must be an integer, but it is: {name}"
                    )
                )
            if int(name) != self.node.config.node_id:
                raise _Failure(
                    ApiError.of(
                        errors.INVALID_REQUEST,
                        f"Unexpected broker id, expected {self.node.config.node_id} or empty "
                        f"string, but received {name}",
                    )
                )
            return describe_broker(
                broker, keys, include_synonyms=synonyms, include_documentation=documentation
            )
        if resource.resource_type == GROUP_RESOURCE:
            if name == "":
                raise _Failure(ApiError.of(errors.INVALID_REQUEST, "Group name must not be empty"))
            broker, _ = self._broker_configs(image)
            return describe_group(
                broker,
                image.configs.get((GROUP_RESOURCE, name), {}),
                keys,
                include_synonyms=synonyms,
                include_documentation=documentation,
            )
        raise _Failure(
            ApiError.of(
                errors.INVALID_REQUEST, f"Unsupported resource type: {resource.resource_type}"
            )
        )

    def _broker_configs(self, image: MetadataImage) -> tuple[BrokerConfig, BrokerConfig]:
        """(static + dynamic default + per-broker, static + dynamic default) configs."""
        if self._cached is not None and self._cached[0] == image.offset:
            return self._cached[1], self._cached[2]
        static = self.node.config.static
        defaults = dict(image.broker_config(None))
        try:
            full = BrokerConfig(
                static,
                dynamic_default=defaults,
                dynamic_broker=dict(image.broker_config(self.node.config.node_id)),
            )
            defaults_only = BrokerConfig(static, dynamic_default=defaults)
        except ConfigError as exc:
            # The controller validated every committed change; this is a broken log.
            raise _Failure(ApiError.of(errors.UNKNOWN_SERVER_ERROR, str(exc))) from exc
        self._cached = (image.offset, full, defaults_only)
        return full, defaults_only


def _entry(entry: ConfigEntry) -> _Entry:
    return _Entry(
        name=entry.name,
        value=entry.value,
        read_only=entry.read_only,
        config_source=int(entry.source),
        is_sensitive=entry.is_sensitive,
        synonyms=[
            _Synonym(name=s.name, value=s.value, source=int(s.source)) for s in entry.synonyms
        ],
        config_type=entry.config_type,
        documentation=entry.documentation,
    )


class AlterConfigsHandler:
    """Legacy AlterConfigs: each resource's whole set of overrides is replaced."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: AlterConfigsRequest
    ) -> AlterConfigsResponse:
        return await self.node.controller_channel.alter_configs(request)


class IncrementalAlterConfigsHandler:
    """SET, DELETE, APPEND and SUBTRACT of single keys (KIP-339)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse:
        return await self.node.controller_channel.incremental_alter_configs(request)
