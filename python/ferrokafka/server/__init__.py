"""The network side of the broker, on trio.

Layout (one way: frame → connection → dispatch → handler):

- ``framing``: Kafka's size-prefixed frames, sans-io, with the ``socket.request.max.bytes`` cap.
- ``connection``: one client connection; requests handled concurrently, answered in order.
- ``dispatcher``: API key → async handler, and the :class:`RequestContext` handlers get.
- ``server``: listeners, the connection cap, graceful shutdown; knows no Kafka API.
- ``handlers``: one module per API, and ``build_dispatchers``, where each API is registered.
- ``broker``: a :class:`BrokerConfig` made into a running :class:`Broker`.
"""

from ferrokafka.server.broker import Broker
from ferrokafka.server.connection import REQUESTS_IN_FLIGHT_MAX, ConnectionLimits
from ferrokafka.server.dispatcher import Dispatcher, Handler, RequestContext
from ferrokafka.server.framing import FrameReader, FrameSizeError
from ferrokafka.server.handlers import build_dispatchers
from ferrokafka.server.server import (
    SHUTDOWN_GRACE_S,
    BoundAddress,
    ListenerSpec,
    Server,
    ServerLimits,
)

__all__ = [
    "REQUESTS_IN_FLIGHT_MAX",
    "SHUTDOWN_GRACE_S",
    "BoundAddress",
    "Broker",
    "ConnectionLimits",
    "Dispatcher",
    "FrameReader",
    "FrameSizeError",
    "Handler",
    "ListenerSpec",
    "RequestContext",
    "Server",
    "ServerLimits",
    "build_dispatchers",
]
