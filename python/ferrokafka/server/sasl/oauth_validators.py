"""Validators of OAUTHBEARER tokens, as Kafka's server callback handlers:

- :class:`UnsecuredValidator` (OAuthBearerUnsecuredValidatorCallbackHandler): an unsigned JWS
  (``alg: none``), its principal claim, ``exp``/``iat`` and required scopes checked, with the
  JAAS options ``unsecuredValidatorPrincipalClaimName``, ``unsecuredValidatorScopeClaimName``,
  ``unsecuredValidatorRequiredScope`` and ``unsecuredValidatorAllowableClockSkewMs``. For tests:
  anyone can mint such a token.
- :class:`JwksValidator` (OAuthBearerValidatorCallbackHandler): a signed JWT checked by PyJWT
  against the keys of ``sasl.oauthbearer.jwks.endpoint.url`` (file:// or http(s)://, cached and
  fetched again every ``jwks.endpoint.refresh.ms`` or when a token names an unknown key id),
  with the expected audience and issuer, the sub claim and clock skew of the config.

A refused token raises :class:`TokenRejected`, whose JSON is Kafka's error challenge.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # PyJWT (and cryptography under it) load on the first JWKS use: ~60 ms
    import jwt

# Seconds a JWKS HTTP fetch may take before the authentication fails (Kafka's
# sasl.oauthbearer.jwks.endpoint ... read timeout is the JDK default; this bounds ours).
JWKS_FETCH_TIMEOUT_S = 10.0
# Largest JWKS document read (a key set is a few KiB).
JWKS_BYTES_MAX = 1 << 20
# Signature algorithms accepted for signed tokens (never "none", never HMAC with a public key).
SIGNED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                     "ES512", "EdDSA")  # fmt: skip


@dataclass(frozen=True)
class ValidToken:
    principal_name: str
    expiry_ms: int
    scopes: frozenset[str]


class TokenRejected(Exception):
    """A token the validator refused; the message is for the broker's debug log only."""

    def __init__(self, reason: str, status: str = "invalid_token", scope: str | None = None):
        super().__init__(reason)
        self.status = status
        self.scope = scope

    def json(self) -> str:
        """Kafka's OAuthBearerSaslServer.jsonErrorResponse."""
        text = f'{{"status":"{self.status}"'
        if self.scope is not None:
            text += f', "scope":"{self.scope}"'
        return text + "}"


class TokenValidator(Protocol):
    blocking: bool

    def validate(self, token: str) -> ValidToken: ...


def _b64url_json(part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise TokenRejected(f"not base64url JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TokenRejected("not a JSON object")
    return value


def _scopes(claims: dict[str, Any], claim: str) -> frozenset[str]:
    value = claims.get(claim)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise TokenRejected(f"scope claim {claim!r} is not a string or a list of strings")


class UnsecuredValidator:
    blocking = False

    def __init__(
        self,
        *,
        principal_claim: str = "sub",
        scope_claim: str = "scope",
        required_scope: Sequence[str] = (),
        clock_skew_ms: int = 0,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._principal_claim = principal_claim
        self._scope_claim = scope_claim
        self._required_scope = list(required_scope)
        self._skew_ms = clock_skew_ms
        self._now_ms = now_ms

    @classmethod
    def from_jaas_options(cls, options: dict[str, str]) -> UnsecuredValidator:
        skew = options.get("unsecuredValidatorAllowableClockSkewMs", "0")
        try:
            skew_ms = int(skew)
        except ValueError:
            raise ValueError(
                f"unsecuredValidatorAllowableClockSkewMs {skew!r} is not an integer"
            ) from None
        if skew_ms < 0:
            raise ValueError("unsecuredValidatorAllowableClockSkewMs must not be negative")
        return cls(
            principal_claim=options.get("unsecuredValidatorPrincipalClaimName", "sub") or "sub",
            scope_claim=options.get("unsecuredValidatorScopeClaimName", "scope") or "scope",
            required_scope=options.get("unsecuredValidatorRequiredScope", "").split(),
            clock_skew_ms=skew_ms,
        )

    def validate(self, token: str) -> ValidToken:
        parts = token.split(".")
        if len(parts) != 3 or parts[2]:
            raise TokenRejected("an unsecured JWS has three parts and an empty signature")
        header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
        if header.get("alg") != "none":
            raise TokenRejected("an unsecured JWS must have alg none")
        principal = claims.get(self._principal_claim)
        if not isinstance(principal, str) or not principal.strip():
            raise TokenRejected(f"no principal claim {self._principal_claim!r}")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise TokenRejected("no numeric exp claim")
        if iat is not None and (not isinstance(iat, int | float) or isinstance(iat, bool)):
            raise TokenRejected("iat claim is not a number")
        exp_ms = int(exp * 1000)
        now_ms = self._now_ms()
        if iat is not None and exp_ms < int(iat * 1000):
            raise TokenRejected("exp is before iat")
        if now_ms >= exp_ms + self._skew_ms:
            raise TokenRejected("the token has expired")
        if iat is not None and int(iat * 1000) > now_ms + self._skew_ms:
            raise TokenRejected("the token was issued in the future")
        scopes = _scopes(claims, self._scope_claim)
        missing = [s for s in self._required_scope if s not in scopes]
        if missing:
            raise TokenRejected(
                "required scope missing",
                status="insufficient_scope",
                scope="[" + ", ".join(self._required_scope) + "]",
            )
        return ValidToken(principal, exp_ms, scopes)


class JwksKeys:
    """The key set at ``url`` (file://, http://, https://), kept for ``refresh_ms`` and fetched
    again sooner when a token names a key id it lacks (at most once per ``retry_backoff_ms``).
    Thread-safe: OAUTHBEARER authentications over HTTP run in worker threads."""

    def __init__(self, url: str, *, refresh_ms: int, retry_backoff_ms: int) -> None:
        if not url.startswith(("file://", "http://", "https://")):
            raise ValueError(f"sasl.oauthbearer.jwks.endpoint.url {url!r}: file:// or http(s)://")
        self.url = url
        self.blocking = not url.startswith("file://")
        self._refresh_s = refresh_ms / 1000
        self._backoff_s = retry_backoff_ms / 1000
        self._lock = threading.Lock()
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = -float("inf")

    def _fetch(self) -> jwt.PyJWKSet:
        import urllib.request

        import jwt

        with urllib.request.urlopen(self.url, timeout=JWKS_FETCH_TIMEOUT_S) as response:
            body = response.read(JWKS_BYTES_MAX + 1)
        if len(body) > JWKS_BYTES_MAX:
            raise ValueError(f"JWKS at {self.url} is larger than {JWKS_BYTES_MAX} bytes")
        return jwt.PyJWKSet.from_json(body.decode("utf-8"))

    def key(self, kid: str | None) -> jwt.PyJWK:
        import jwt

        with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at >= self._refresh_s
            found = self._find(kid)
            if (
                self._keys is None
                or stale
                or (found is None and now - self._fetched_at >= self._backoff_s)
            ):
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                except (OSError, ValueError, jwt.PyJWKSetError) as exc:
                    if self._keys is None:
                        raise TokenRejected(f"JWKS unavailable: {exc}") from None
                found = self._find(kid)
            if found is None:
                raise TokenRejected(f"no key {kid!r} in the JWKS")
            return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if self._keys is None:
            return None
        keys = self._keys.keys
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((k for k in keys if k.key_id == kid), None)


class JwksValidator:
    def __init__(
        self,
        keys: JwksKeys,
        *,
        audience: Sequence[str] = (),
        issuer: str | None = None,
        sub_claim: str = "sub",
        scope_claim: str = "scope",
        clock_skew_s: int = 30,
    ) -> None:
        self._keys = keys
        self.blocking = keys.blocking
        self._audience = list(audience)
        self._issuer = issuer
        self._sub_claim = sub_claim
        self._scope_claim = scope_claim
        self._skew_s = clock_skew_s

    def validate(self, token: str) -> ValidToken:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"malformed JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in SIGNED_ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} is not accepted")
        key = self._keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self._audience or None,
                issuer=self._issuer,
                leeway=self._skew_s,
                options={"require": ["exp", self._sub_claim], "verify_aud": bool(self._audience)},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"JWT refused: {exc}") from None
        principal = claims.get(self._sub_claim)
        if not isinstance(principal, str) or not principal.strip():
            raise TokenRejected(f"no principal claim {self._sub_claim!r}")
        return ValidToken(principal, int(claims["exp"] * 1000), _scopes(claims, self._scope_claim))
