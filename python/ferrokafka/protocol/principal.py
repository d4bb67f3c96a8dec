"""Who sent a request: Kafka's ``KafkaPrincipal`` (a type and a name, written ``User:alice``).

A connection's principal is ``User:ANONYMOUS`` until its listener authenticates it (TLS with a
client certificate, SASL); authorization and quotas key on it; forwarded requests carry it in
the Envelope as Kafka's DefaultKafkaPrincipalBuilder serializes it.
"""

from __future__ import annotations

from dataclasses import dataclass

USER_TYPE = "User"
ANONYMOUS_NAME = "ANONYMOUS"


@dataclass(frozen=True, slots=True)
class KafkaPrincipal:
    principal_type: str
    name: str
    # Kafka's tokenAuthenticated: the connection authenticated with a delegation token.
    token_authenticated: bool = False

    def __str__(self) -> str:
        return f"{self.principal_type}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> KafkaPrincipal:
        """``Type:name`` as ``super.users`` and ACLs write it; ValueError without the colon."""
        principal_type, sep, name = text.partition(":")
        if not sep or not principal_type:
            raise ValueError(f"{text!r} is not a principal (expected Type:name, e.g. User:alice)")
        return cls(principal_type, name)


ANONYMOUS = KafkaPrincipal(USER_TYPE, ANONYMOUS_NAME)
