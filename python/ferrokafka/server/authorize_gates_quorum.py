"""The authorization checks of the quorum's APIs on a controller listener (Kafka 4.4's
``ControllerApis``), added to the controller listener's gates by
:func:`ferrokafka.server.authorize_gates.install_gates`.

- Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch and FetchSnapshot of ``__cluster_metadata``
  (the voters' and observers' own traffic) and UpdateRaftVoter: CLUSTER_ACTION on the cluster,
  refused with a top-level CLUSTER_AUTHORIZATION_FAILED only (Kafka's ``getErrorResponse`` of
  these requests; Fetch from v13 carries no partitions then).
- AddRaftVoter, RemoveRaftVoter (``kafka-metadata-quorum add-controller``/``remove-controller``)
  and DescribeCluster (what ``--bootstrap-controller`` asks first): ALTER on the cluster — on a
  controller DescribeCluster needs more than on a broker, as Kafka says. DescribeCluster's
  ``cluster_authorized_operations`` is then what the principal may do on the cluster.
(DescribeAcls checks DESCRIBE on the cluster itself, as on a broker: handlers/acls.py.)

A node's inter-node principals (the controller listener's) must therefore be super users or
hold CLUSTER_ACTION, as in Kafka.
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.acls.model import CLUSTER_NAME, AclOperation, ResourceType
from ferrokafka.cluster.raft import voter_wire, wire
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages import (
    add_raft_voter,
    begin_quorum_epoch,
    describe_cluster,
    end_quorum_epoch,
    fetch,
    fetch_snapshot,
    remove_raft_voter,
    update_raft_voter,
    vote,
)
from ferrokafka.server.authorize import StandardAuthorizer, authorized_operations
from ferrokafka.server.authorize_gate_kit import Gate, Inner, cluster_allows, cluster_op, whole
from ferrokafka.server.dispatcher import RequestContext

# The message of a refusal that has room for one (Kafka's ClusterAuthorizationException).
NOT_AUTHORIZED = "Cluster authorization failed."


def _raft_refused(request: Any, code: int) -> Any:
    return wire.error_response(request.API_KEY, code)


def _voter_refused(request: Any, code: int) -> Any:
    response = voter_wire.voter_error_response(request.API_KEY, code)
    if hasattr(response, "error_message"):
        response.error_message = NOT_AUTHORIZED
    return response


def _describe_cluster_refused(_request: Any, code: int) -> Any:
    return describe_cluster.DescribeClusterResponse(
        error_code=code, error_message=NOT_AUTHORIZED, cluster_id="", controller_id=-1
    )


class _Holder:
    """What server/authorize.py's helpers read: an ``authorizer`` attribute."""

    __slots__ = ("authorizer",)

    def __init__(self, authorizer: StandardAuthorizer) -> None:
        self.authorizer = authorizer


async def _describe_cluster(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    if not cluster_allows(auth, ctx, AclOperation.ALTER):
        return _describe_cluster_refused(request, ec.CLUSTER_AUTHORIZATION_FAILED)
    response = await inner(ctx, request)
    if request.include_cluster_authorized_operations and response.error_code == ec.NONE:
        response.cluster_authorized_operations = authorized_operations(
            _Holder(auth), ctx, ResourceType.CLUSTER, CLUSTER_NAME
        )
    return response


_CLUSTER_ACTION = cluster_op(AclOperation.CLUSTER_ACTION)
_ALTER = cluster_op(AclOperation.ALTER)

QUORUM_GATES: dict[type, Gate] = {
    vote.VoteRequest: whole(_CLUSTER_ACTION, _raft_refused),
    begin_quorum_epoch.BeginQuorumEpochRequest: whole(_CLUSTER_ACTION, _raft_refused),
    end_quorum_epoch.EndQuorumEpochRequest: whole(_CLUSTER_ACTION, _raft_refused),
    fetch.FetchRequest: whole(_CLUSTER_ACTION, _raft_refused),
    fetch_snapshot.FetchSnapshotRequest: whole(_CLUSTER_ACTION, _raft_refused),
    add_raft_voter.AddRaftVoterRequest: whole(_ALTER, _voter_refused),
    remove_raft_voter.RemoveRaftVoterRequest: whole(_ALTER, _voter_refused),
    update_raft_voter.UpdateRaftVoterRequest: whole(_CLUSTER_ACTION, _voter_refused),
    describe_cluster.DescribeClusterRequest: _describe_cluster,
}
