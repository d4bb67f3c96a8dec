"""What the authorization gates (server/authorize_gates.py, authorize_gates_txn.py) share:
the gate's shape, the checks they make, and the whole-request refusal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ferrokafka.cluster.acls.model import CLUSTER_NAME, AclOperation, ResourceType
from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.authorize import StandardAuthorizer
from ferrokafka.server.dispatcher import RequestContext

# The handler behind a gate, and a gate: (authorizer, context, request, handler) -> response.
Inner = Callable[[RequestContext, Any], Awaitable[Any]]
Gate = Callable[[StandardAuthorizer, RequestContext, Any, Inner], Awaitable[Any]]

TOPIC = ResourceType.TOPIC
GROUP = ResourceType.GROUP
TXN = ResourceType.TRANSACTIONAL_ID
TOPIC_DENIED = ec.TOPIC_AUTHORIZATION_FAILED


def allows(
    auth: StandardAuthorizer, ctx: RequestContext, op: AclOperation, rt: ResourceType, name: str
) -> bool:
    return auth.allows(ctx, op, rt, name)


def cluster_allows(auth: StandardAuthorizer, ctx: RequestContext, op: AclOperation) -> bool:
    return auth.allows(ctx, op, ResourceType.CLUSTER, CLUSTER_NAME)


def whole(
    check: Callable[[StandardAuthorizer, RequestContext, Any], int],
    refuse: Callable[[Any, int], Any],
) -> Gate:
    """A gate refusing the whole request with the code ``check`` gives (0: let it through)."""

    async def gate(
        auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
    ) -> Any:
        code = check(auth, ctx, request)
        if code:
            return refuse(request, code)
        return await inner(ctx, request)

    return gate


def group_read(attr: str = "group_id") -> Callable[[StandardAuthorizer, RequestContext, Any], int]:
    def check(auth: StandardAuthorizer, ctx: RequestContext, request: Any) -> int:
        allowed = allows(auth, ctx, AclOperation.READ, GROUP, getattr(request, attr))
        return 0 if allowed else ec.GROUP_AUTHORIZATION_FAILED

    return check


def cluster_op(op: AclOperation) -> Callable[[StandardAuthorizer, RequestContext, Any], int]:
    def check(auth: StandardAuthorizer, ctx: RequestContext, request: Any) -> int:
        return 0 if cluster_allows(auth, ctx, op) else ec.CLUSTER_AUTHORIZATION_FAILED

    return check


def txn_write(auth: StandardAuthorizer, ctx: RequestContext, request: Any) -> int:
    allowed = allows(auth, ctx, AclOperation.WRITE, TXN, request.transactional_id)
    return 0 if allowed else ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def top_level(response_type: type) -> Callable[[Any, int], Any]:
    return lambda _request, code: response_type(error_code=code)
