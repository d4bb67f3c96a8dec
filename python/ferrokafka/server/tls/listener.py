"""A TLS listener: its current context, the bounded handshake, the client's principal.

The context is built when the broker starts (a bad keystore stops the start with one line)
and rebuilt for the next connection whenever this listener's ``ssl.*`` values change (a
dynamic ``listener.name.<l>.ssl.keystore.location`` from ``kafka-configs --alter``) or a
keystore/truststore file it reads changes on disk: new connections get the new certificate,
open ones keep theirs, as in Kafka. A rebuild that fails is logged once and the listener keeps
serving with the context it had: so does one whose certificate has another subject DN or
drops a subject alternative name, unless ``ssl.allow.dn.changes`` / ``ssl.allow.san.changes``
(Kafka refuses such an AlterConfigs; here the change is stored and not applied).

Each accepted connection shakes hands within ``HANDSHAKE_TIMEOUT_S``; a failure (no client
certificate when one is required, an untrusted one, no shared protocol or suite, a timeout)
closes that connection only, logged once at INFO. The principal is ``User:<name>``, ``name``
being the certificate subject's RFC 2253 distinguished name mapped by
``ssl.principal.mapping.rules``; without a client certificate it is ``User:ANONYMOUS``.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

import trio
from cryptography import x509

from ferrokafka.config import BrokerConfig
from ferrokafka.protocol.principal import ANONYMOUS, KafkaPrincipal
from ferrokafka.server.tls.context import (
    ListenerTls,
    TlsConfigError,
    build_listener_tls,
    check_reload,
    listener_values,
)
from ferrokafka.server.tls.principal_mapping import NoMatchingRule, map_name

log = logging.getLogger(__name__)

# Longest a client may take over its handshake: a connection that opens and sends nothing
# holds a task and a descriptor for at most this long (Kafka bounds it by
# connections.max.idle.ms; a handshake is a few round trips, so 10 s is generous).
HANDSHAKE_TIMEOUT_S = 10.0
# The failed handshake's alert gets at most this long to leave (a peer that reads nothing).
ALERT_SEND_TIMEOUT_S = 1.0
_FILE_KEYS = ("ssl.keystore.location", "ssl.truststore.location")

ConfigSource = Callable[[], BrokerConfig]


class HandshakeFailed(Exception):
    """The TLS handshake or the principal mapping failed (the text says why, in one line)."""


def _file_stamps(values: dict[str, Any]) -> tuple[tuple[str, int, int] | None, ...]:
    stamps: list[tuple[str, int, int] | None] = []
    for key in _FILE_KEYS:
        path = values[key]
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        stamps.append(None if stat is None else (path, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


class TlsListener:
    """The TLS side of listener ``name``; ``config`` gives the broker config in force (static
    plus dynamic layers), read again at each accept."""

    def __init__(self, name: str, config: ConfigSource) -> None:
        self.name = name
        self._config_source = config
        config_now = config()
        values = listener_values(config_now, name)
        self._tls: ListenerTls = build_listener_tls(values, name)  # TlsConfigError: refuse start
        self._key: tuple[object, ...] = (_sorted_items(values), _file_stamps(values))
        self._failed_key: tuple[object, ...] | None = None

    def current(self) -> ListenerTls:
        """The context for a new connection, rebuilt first if its settings or files changed."""
        config = self._config_source()
        values = listener_values(config, self.name)
        key = (_sorted_items(values), _file_stamps(values))
        if key == self._key or key == self._failed_key:
            return self._tls
        try:
            tls = build_listener_tls(values, self.name)
            check_reload(self._tls, tls, values)
        except TlsConfigError as exc:
            self._failed_key = key
            log.error("keeping the previous TLS context of %s: %s", self.name, exc)
            return self._tls
        self._tls, self._key = tls, key
        log.info("listener %s: TLS context reloaded (new connections use it)", self.name)
        return tls

    def wrap(
        self, stream: trio.SocketStream
    ) -> tuple[trio.SSLStream[trio.SocketStream], ListenerTls]:
        """``stream`` as a server-side SSLStream of the current context (no I/O yet)."""
        tls = self.current()
        return trio.SSLStream(stream, tls.context, server_side=True), tls

    async def handshake(
        self, stream: trio.SSLStream[trio.SocketStream], tls: ListenerTls
    ) -> KafkaPrincipal:
        """Shake hands (bounded) and name the peer; on HandshakeFailed the stream is closed."""
        try:
            return await self._handshake(stream, tls)
        except HandshakeFailed:
            await trio.aclose_forcefully(stream)
            raise

    async def _handshake(
        self, stream: trio.SSLStream[trio.SocketStream], tls: ListenerTls
    ) -> KafkaPrincipal:
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                cause = exc.__cause__
                reason = getattr(cause, "reason", None) or str(cause or exc) or "peer closed"
                await _send_alert(stream)
                raise HandshakeFailed(f"TLS handshake failed: {reason}") from None
            return principal_of(stream, tls)
        raise HandshakeFailed(f"TLS handshake not done in {HANDSHAKE_TIMEOUT_S:.0f} s")


async def _send_alert(stream: trio.SSLStream[trio.SocketStream]) -> None:
    """Send the TLS alert OpenSSL wrote when the handshake failed (certificate required,
    unknown CA, ...), which trio's SSLStream leaves unsent once broken: with it the client
    reports an authentication failure, as with Kafka, instead of retrying a dropped
    connection. trio keeps the bytes in its private outgoing BIO; if that changes, the
    connection just closes without the alert."""
    outgoing = getattr(stream, "_outgoing", None)
    if not isinstance(outgoing, ssl.MemoryBIO) or not outgoing.pending:
        return
    with trio.move_on_after(ALERT_SEND_TIMEOUT_S):
        try:
            await stream.transport_stream.send_all(outgoing.read())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def principal_of(stream: trio.SSLStream[trio.SocketStream], tls: ListenerTls) -> KafkaPrincipal:
    """User:<mapped subject DN> of the client certificate; User:ANONYMOUS without one."""
    der = stream.getpeercert(binary_form=True)
    if not der:
        return ANONYMOUS
    try:
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError as exc:
        raise HandshakeFailed(f"client certificate unreadable: {exc}") from None
    try:
        return KafkaPrincipal("User", map_name(tls.rules, subject))
    except NoMatchingRule as exc:
        raise HandshakeFailed(f"ssl.principal.mapping.rules: {exc}") from None


def _sorted_items(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in values.items()))
