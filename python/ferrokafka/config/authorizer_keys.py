"""Broker keys of ACL authorization (cluster/acls/) (issue 18).

Rows here are *implemented* keys (config/known_keys.py): listing one lifts the start-up refusal
that protects a broker from silently running without the security its file asks for. A
listener-prefixed form (``listener.name.<l>.<key>``) of a key listed here is implemented too.

``authorizer.class.name`` accepts Kafka's StandardAuthorizer (the one KRaft authorizer, which
ferrokafka implements) or nothing; any other class is refused at start, since a broker that
silently ignored a custom authorizer would let everyone do everything.
"""

from __future__ import annotations

from typing import Any

from ferrokafka.config.definitions import ConfigKey, ConfigType

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _known_authorizer(value: Any) -> str | None:
    if value in ("", None, STANDARD_AUTHORIZER):
        return None
    return (
        f"{value} is not supported: ferrokafka implements only {STANDARD_AUTHORIZER} "
        "(or no authorizer, an empty value)"
    )


AUTHORIZER_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "authorizer.class.name",
        ConfigType.STRING,
        "",
        "The authorizer: " + STANDARD_AUTHORIZER + " enables ACLs; empty allows everything.",
        _known_authorizer,
    ),
    ConfigKey(
        "super.users",
        ConfigType.STRING,
        "",
        "Principals (Type:name, semicolon separated) allowed every operation whatever the ACLs.",
    ),
    ConfigKey(
        "allow.everyone.if.no.acl.found",
        ConfigType.BOOLEAN,
        False,
        "Whether a resource no ACL applies to is open to everyone (else only super users).",
    ),
)
