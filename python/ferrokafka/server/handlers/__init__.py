"""The request handlers, one module per API, and :func:`build_dispatchers`, the one place
where each API gets its handler.

To add an API: write ``handlers/<api>.py`` with an ``async def handle(ctx, request) ->
response`` (or a callable class holding the state it needs), and register it below. ApiVersions
then advertises it by itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ferrokafka.config import Endpoint
from ferrokafka.protocol import API_VERSIONS_KEY
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers import admin, data, groups, sasl, share_state, txn
from ferrokafka.server.handlers.api_versions import (
    CONTROLLER_FEATURES,
    DEFAULT_FEATURES,
    ApiVersionsHandler,
    Features,
)
from ferrokafka.server.handlers.controller_admin import register_controller_admin_handlers
from ferrokafka.server.node import Node

__all__ = [
    "DEFAULT_FEATURES",
    "ApiVersionsHandler",
    "Features",
    "build_dispatchers",
    "install_authorization",
    "register_node_handlers",
]


def build_dispatchers() -> dict[str, Dispatcher]:
    """A dispatcher per listener kind: "broker" serves clients, "controller" the quorum
    (listeners named in ``controller.listener.names``). Handlers that need the broker's state
    (metadata image, log manager) get it through this function's parameters."""
    broker = Dispatcher()
    broker.register(API_VERSIONS_KEY, ApiVersionsHandler(broker, "broker"))
    sasl.register(broker)  # Kafka advertises both on every listener

    controller = Dispatcher()
    controller.register(
        API_VERSIONS_KEY, ApiVersionsHandler(controller, "controller", CONTROLLER_FEATURES)
    )
    sasl.register(controller)
    return {"broker": broker, "controller": controller}


def register_node_handlers(
    dispatchers: dict[str, Dispatcher],
    node: Node,
    advertised_listeners: Callable[[], list[Endpoint]],
) -> None:
    """Register the handlers that read or change the node's state (metadata, logs) on the
    broker listeners, and tell the broker listeners' ApiVersions which node of which cluster
    this is (KIP-1242). Each API's handler lives in its own module."""
    api_versions = dispatchers["broker"].handler_for(API_VERSIONS_KEY)
    if isinstance(api_versions, ApiVersionsHandler):
        api_versions.set_identity(node.cluster_id, node.config.node_id)
        if node.own_controller is None:
            # A broker of a cluster reports the levels its cluster finalized.
            api_versions.set_finalized(lambda: (node.image.features, node.image.offset))
        else:
            # The single node: its fixed levels, with those its metadata log finalized
            # (transaction.version, written when the node's log began).
            fixed = DEFAULT_FEATURES
            api_versions.set_finalized(
                lambda: ({**fixed.finalized, **node.image.features}, fixed.epoch)
            )
    admin.register(dispatchers["broker"], node, advertised_listeners)
    if node.own_controller is not None:
        # This node's controller is the only voter, so always the active one.
        register_controller_admin_handlers(
            dispatchers["controller"], node.controller_channel, lambda: True
        )
    data.register(dispatchers["broker"], node)
    groups.register(dispatchers["broker"], node, advertised_listeners)
    txn.register(dispatchers["broker"], node)
    share_state.register(dispatchers["broker"], node)


def install_authorization(dispatcher: Dispatcher, node: Node, *, controller: bool = False) -> None:
    """Kafka's per-API authorization checks in front of the handlers registered on
    ``dispatcher`` (call it once all are; ``controller`` for a controller listener's);
    nothing without an authorizer. Imported only then, since the checks import every message
    module."""
    if node.authorizer is not None:
        gates = importlib.import_module("ferrokafka.server.authorize_gates")
        gates.install_gates(dispatcher, node.authorizer, controller=controller)
