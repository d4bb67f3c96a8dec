"""The authorization gates of the share coordinator's state RPCs (Kafka 4.4's ``KafkaApis``):
InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState, DeleteShareGroupState
and ReadShareGroupStateSummary are the brokers' own, CLUSTER_ACTION on the cluster; refused,
every partition answers CLUSTER_AUTHORIZATION_FAILED."""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.acls.model import AclOperation
from ferrokafka.protocol.messages import (
    delete_share_group_state,
    initialize_share_group_state,
    read_share_group_state,
    read_share_group_state_summary,
    write_share_group_state,
)
from ferrokafka.server.authorize_gate_kit import Gate, cluster_op, whole

_RESPONSES: dict[type, tuple[Any, str]] = {
    initialize_share_group_state.InitializeShareGroupStateRequest: (
        initialize_share_group_state.InitializeShareGroupStateResponse,
        "InitializeStateResult",
    ),
    read_share_group_state.ReadShareGroupStateRequest: (
        read_share_group_state.ReadShareGroupStateResponse,
        "ReadStateResult",
    ),
    write_share_group_state.WriteShareGroupStateRequest: (
        write_share_group_state.WriteShareGroupStateResponse,
        "WriteStateResult",
    ),
    delete_share_group_state.DeleteShareGroupStateRequest: (
        delete_share_group_state.DeleteShareGroupStateResponse,
        "DeleteStateResult",
    ),
    read_share_group_state_summary.ReadShareGroupStateSummaryRequest: (
        read_share_group_state_summary.ReadShareGroupStateSummaryResponse,
        "ReadStateSummaryResult",
    ),
}
_MESSAGE = "Cluster authorization failed."


def _refused(request: Any, code: int) -> Any:
    """Kafka's getErrorResponse of these requests: every partition named, with the code."""
    response_class, result_name = _RESPONSES[type(request)]
    result_class = getattr(response_class, result_name)
    return response_class(
        results=[
            result_class(
                topic_id=t.topic_id,
                partitions=[
                    response_class.PartitionResult(
                        partition=p.partition, error_code=code, error_message=_MESSAGE
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topics
        ]
    )


_CLUSTER_ACTION = whole(cluster_op(AclOperation.CLUSTER_ACTION), _refused)

SHARE_STATE_GATES: dict[type, Gate] = {
    initialize_share_group_state.InitializeShareGroupStateRequest: _CLUSTER_ACTION,
    read_share_group_state.ReadShareGroupStateRequest: _CLUSTER_ACTION,
    write_share_group_state.WriteShareGroupStateRequest: _CLUSTER_ACTION,
    delete_share_group_state.DeleteShareGroupStateRequest: _CLUSTER_ACTION,
    read_share_group_state_summary.ReadShareGroupStateSummaryRequest: _CLUSTER_ACTION,
}
