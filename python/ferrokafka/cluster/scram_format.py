"""``storage format --add-scram`` arguments, read as Kafka's ScramParser reads them.

An argument is ``MECHANISM=[key=value,...]`` with the keys ``name`` (required), ``password``
or ``saltedpassword`` (one of them; ``saltedpassword`` needs ``salt``), ``salt`` and
``saltedpassword`` in standard base64, and ``iterations`` (default 4096, within the
mechanism's bounds). Components are split at every comma and a value in double quotes loses
them, as Kafka does (so a password cannot hold a comma). Each argument becomes one
UserScramCredentialRecord; the bootstrap snapshot holds them after the feature levels, and the
first active controller writes them into the log with the levels.

Errors are :class:`ScramFormatError` with Kafka's one-line messages; a password never appears
in one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ferrokafka.cluster.records import UserScramCredentialRecord
from ferrokafka.cluster.scram_credentials import MECHANISMS, ScramMechanism
from ferrokafka.cluster.scram_store import (
    credential_from_password,
    credential_from_salted,
    credential_record,
    random_salt,
)

# Kafka's ScramParser default when ``iterations`` is not given.
DEFAULT_ITERATIONS = 4096
# Arguments one format command takes: a bound, not a Kafka limit.
ARGUMENTS_MAX = 10_000


class ScramFormatError(ValueError):
    """An --add-scram argument Kafka would refuse (one-line reason)."""


def parse_add_scram(arguments: Sequence[str]) -> list[UserScramCredentialRecord]:
    if len(arguments) > ARGUMENTS_MAX:
        raise ScramFormatError(f"At most {ARGUMENTS_MAX} --add-scram arguments are accepted")
    return [_record(argument) for argument in arguments]


def _record(argument: str) -> UserScramCredentialRecord:
    mechanism, body = _split_mechanism(argument)
    components: dict[str, str] = {}
    for component in body.split(","):
        key, value = _split_component(component)
        components[key] = value
    name = components.pop("name", None)
    if name is None:
        raise ScramFormatError("You must supply 'name' to add-scram")
    salt = _decode(components.pop("salt", None), "salt")
    iterations_text = components.pop("iterations", None)
    try:
        iterations = DEFAULT_ITERATIONS if iterations_text is None else int(iterations_text)
    except ValueError:
        raise ScramFormatError(f"Failed to parse iterations count: {iterations_text}") from None
    password = components.pop("password", None)
    salted_text = components.pop("saltedpassword", None)
    if password is None:
        if salted_text is None:
            raise ScramFormatError(
                "You must supply one of 'password' or 'saltedpassword' to add-scram"
            )
        if salt is None:
            raise ScramFormatError("You must supply 'salt' with 'saltedpassword' to add-scram")
    salted = _decode(salted_text, "saltedPassword") if password is None else None
    if components:
        raise ScramFormatError("Unknown SCRAM configurations: " + ", ".join(sorted(components)))
    if salt is None:
        salt = random_salt()
    _check_iterations(mechanism, iterations)
    if salted is not None:
        credential = credential_from_salted(mechanism, salt, salted, iterations)
    else:
        assert password is not None
        credential = credential_from_password(mechanism, password, salt, iterations)
    return credential_record(name, credential)


def _split_mechanism(argument: str) -> tuple[ScramMechanism, str]:
    argument = argument.strip()
    equals = argument.find("=")
    if equals < 0:
        # Kafka quotes the whole argument here; only the mechanism is shown, as it may hold
        # a password.
        raise ScramFormatError("Failed to find equals sign in SCRAM argument")
    name, config = argument[:equals], argument[equals + 1 :]
    mechanism = MECHANISMS.get(name)
    if mechanism is None:
        raise ScramFormatError(f"The add-scram mechanism {name} is not supported.")
    if not config.startswith("["):
        raise ScramFormatError("Expected configuration string to start with [")
    if not config.endswith("]"):
        raise ScramFormatError("Expected configuration string to end with ]")
    return mechanism, config[1:-1]


def _split_component(component: str) -> tuple[str, str]:
    equals = component.find("=")
    if equals < 0:
        raise ScramFormatError(f"No equals sign found in SCRAM component: {component}")
    value = component[equals + 1 :]
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return component[:equals], value


def _decode(text: str | None, what: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ScramFormatError(f"Failed to decode given {what}: {text}") from None


def _check_iterations(mechanism: ScramMechanism, iterations: int) -> None:
    if iterations < mechanism.min_iterations:
        raise ScramFormatError(
            f"The 'iterations' value must be >= {mechanism.min_iterations} for add-scram "
            f"using {mechanism.name.replace('-', '_')}"
        )
    if iterations > mechanism.max_iterations:
        raise ScramFormatError(
            f"The 'iterations' value must be <= {mechanism.max_iterations} for add-scram "
            f"using {mechanism.name.replace('-', '_')}"
        )
