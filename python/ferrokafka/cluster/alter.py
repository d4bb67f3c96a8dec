"""IncrementalAlterConfigs and AlterConfigs as the controller decides them (sans-io).

Each resource is answered on its own: a topic (it must exist) or a broker ("" for the
cluster-wide default, else a broker id). The resource's overrides after the change are
validated whole (:mod:`ferrokafka.cluster.config_ops`); only resources that pass produce
ConfigRecords, and with ``validate_only`` the controller commits none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ferrokafka.cluster import errors
from ferrokafka.cluster.config_ops import (
    OP_SET,
    apply_incremental,
    config_records,
    resource_error,
    validate_resource,
)
from ferrokafka.cluster.errors import ApiError
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.config import BrokerConfig
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest, AlterConfigsResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from ferrokafka.protocol.schema import Message

IAC = IncrementalAlterConfigsRequest
AC = AlterConfigsRequest
_IncrementalResult = IncrementalAlterConfigsResponse.AlterConfigsResourceResponse
_LegacyResult = AlterConfigsResponse.AlterConfigsResourceResponse


class ConfigAlterations:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config

    def incremental_alter_configs(
        self, image: MetadataImage, request: IncrementalAlterConfigsRequest
    ) -> tuple[list[Message], IncrementalAlterConfigsResponse]:
        records: list[Message] = []
        results = []
        duplicates = _duplicate_resources(request.resources)
        for resource in request.resources:
            key = (resource.resource_type, resource.resource_name)
            changes = [(c.name, c.config_operation, c.value) for c in resource.configs]
            if key in duplicates:
                error = ApiError.of(errors.INVALID_REQUEST, "Duplicate resource.")
            else:
                error, new = self._alter(image, key, changes)
                if error.is_success:
                    old = image.configs.get(key, {})
                    records += config_records(*key, old, new)
            results.append(_IncrementalResult(**_answer(key, error)))
        return records, IncrementalAlterConfigsResponse(responses=results)

    def alter_configs(
        self, image: MetadataImage, request: AlterConfigsRequest
    ) -> tuple[list[Message], AlterConfigsResponse]:
        records: list[Message] = []
        results = []
        duplicates = _duplicate_resources(request.resources)
        for resource in request.resources:
            key = (resource.resource_type, resource.resource_name)
            if key in duplicates:
                error = ApiError.of(errors.INVALID_REQUEST, "Duplicate resource.")
            else:
                null = [c.name for c in resource.configs if c.value is None]
                if null:
                    error = ApiError.of(
                        errors.INVALID_REQUEST, f"Null value not supported for : {null[0]}"
                    )
                else:
                    # Legacy semantics: the request is the resource's whole set of overrides.
                    changes = [(c.name, OP_SET, c.value) for c in resource.configs]
                    error, new = self._alter(image, key, changes, start={})
                    if error.is_success:
                        records += config_records(*key, image.configs.get(key, {}), new)
            results.append(_LegacyResult(**_answer(key, error)))
        return records, AlterConfigsResponse(responses=results)

    def _alter(
        self,
        image: MetadataImage,
        key: tuple[int, str],
        changes: list[tuple[str, int, str | None]],
        start: Mapping[str, str] | None = None,
    ) -> tuple[ApiError, dict[str, str]]:
        resource_type, resource_name = key
        error = resource_error(image, resource_type, resource_name)
        if error.is_failure:
            return error, {}
        current = image.configs.get(key, {}) if start is None else start
        new, error = apply_incremental(self.config, resource_type, current, changes)
        if error.is_failure:
            return error, {}
        return validate_resource(self.config, image, resource_type, resource_name, new), new


def _duplicate_resources(
    resources: list[IAC.AlterConfigsResource] | list[AC.AlterConfigsResource],
) -> set[tuple[int, str]]:
    counts = Counter((r.resource_type, r.resource_name) for r in resources)
    return {key for key, count in counts.items() if count > 1}


def _answer(key: tuple[int, str], error: ApiError) -> dict[str, Any]:
    return {
        "resource_type": key[0],
        "resource_name": key[1],
        "error_code": error.code,
        "error_message": error.message if error.is_failure else None,
    }
