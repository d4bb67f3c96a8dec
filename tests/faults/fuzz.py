"""Structure-aware request fuzzing: random requests for every API and version a broker
advertises, built from the protocol schema (integers at their edges, odd strings and topic
names, arrays of 0-3 elements, random records and bytes, nulls where the field allows them),
a fifth of them then damaged (bytes overwritten after the header, or cut short). Every
request must be answered or make the broker close the connection; the broker's log must hold
no traceback. Seeded: a run is reproducible from its seed.

    python -m tests.faults.fuzz --cases 200000 --seed 7    # a long run against a fresh broker
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import struct
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferrokafka.protocol import APIS, ProtocolError, RequestHeader, decode_response, encode_request
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

INTS = {
    "int8": (-128, 127),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 65535),
    "uint32": (0, 2**32 - 1),
}
# Names the broker knows (created by the caller) and names it must refuse.
TOPICS = ("fz", "fz-compact", "__consumer_offsets", "", "nope", "a" * 300, "bad/name")
STRINGS = ("g", "consumer", "range", "\u00e9", "x" * 40)
NESTING_MAX = 3
DAMAGED_FRACTION = 0.2
SOCKET_TIMEOUT_S = 10.0
RESPONSE_BYTES_MAX = 64 * 1024 * 1024
_SIZE = struct.Struct(">i")


@dataclass
class FuzzResult:
    sent: int = 0
    answered: int = 0
    closed: int = 0
    unbuildable: int = 0


class RequestMaker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def _int(self, kind: str) -> int:
        lo, hi = INTS[kind]
        return self.rng.choice([0, -1, 1, 2, lo, hi, self.rng.randint(lo, hi)])

    def _element(self, cls: type, kind: str, version: int, depth: int) -> Any:
        rng = self.rng
        if kind in INTS:
            return self._int(kind)
        if kind == "float64":
            return rng.choice([0.0, -1.0, 1e308, float("nan")])
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "string":
            return rng.choice(TOPICS + STRINGS)
        if kind in ("bytes", "records"):
            return os.urandom(rng.randint(0, 200))
        if kind == "uuid":
            return rng.choice([uuid.UUID(int=0), uuid.UUID(int=1), uuid.uuid4()])
        nested = getattr(cls, kind, None)
        return None if nested is None else self.build(nested, version, depth)

    def build(self, cls: type, version: int, depth: int = 0) -> Any:
        values: dict[str, Any] = {}
        for field in cls.SCHEMA:  # type: ignore[attr-defined]
            if not field.versions[0] <= version <= field.versions[1]:
                continue
            nullable = field.nullable[0] <= version <= field.nullable[1]
            if nullable and self.rng.random() < 0.1:
                values[field.name] = None
            elif field.type.startswith("[]"):
                count = self.rng.choice([0, 1, 1, 2, 3]) if depth < NESTING_MAX else 0
                values[field.name] = [
                    self._element(cls, field.type[2:], version, depth + 1) for _ in range(count)
                ]
            else:
                value = self._element(cls, field.type, version, depth)
                if value is not None:
                    values[field.name] = value
        return cls(**values)

    def frame(self, api_key: int, version: int, correlation_id: int) -> bytes:
        request = self.build(APIS[api_key].request_class, version)
        header = RequestHeader(
            request_api_key=api_key,
            request_api_version=version,
            correlation_id=correlation_id,
            client_id="fuzz",
        )
        data = bytearray(encode_request(header, request))
        if self.rng.random() < DAMAGED_FRACTION and len(data) > 14:
            if self.rng.random() < 0.75:
                for _ in range(self.rng.randint(1, 4)):
                    data[self.rng.randrange(12, len(data))] = self.rng.randrange(256)
            else:
                data = data[: self.rng.randrange(14, len(data))]
                _SIZE.pack_into(data, 0, len(data) - _SIZE.size)
        return bytes(data)


def _read_frame(sock: socket.socket) -> bytes | None:
    buf = b""
    while len(buf) < _SIZE.size:
        chunk = sock.recv(_SIZE.size - len(buf))
        if not chunk:
            return None
        buf += chunk
    (size,) = _SIZE.unpack(buf)
    assert 0 <= size <= RESPONSE_BYTES_MAX, f"a response frame of {size} bytes"
    body = b""
    while len(body) < size:
        chunk = sock.recv(min(1 << 16, size - len(body)))
        if not chunk:
            return None
        body += chunk
    return body


def advertised(bootstrap: str) -> dict[int, tuple[int, int]]:
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), SOCKET_TIMEOUT_S) as sock:
        header = RequestHeader(
            request_api_key=18, request_api_version=3, correlation_id=1, client_id="fuzz"
        )
        request = ApiVersionsRequest(client_software_name="fuzz", client_software_version="1")
        sock.sendall(encode_request(header, request))
        frame = _read_frame(sock)
    assert frame is not None
    _, response = decode_response(frame, 18, 3)
    return {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}


def fuzz(bootstrap: str, cases: int, seed: int) -> FuzzResult:
    """Send ``cases`` requests (one connection, reopened whenever the broker closes it)."""
    apis = advertised(bootstrap)
    keys = sorted(apis)
    maker = RequestMaker(seed)
    result = FuzzResult()
    host, port = bootstrap.rsplit(":", 1)
    sock: socket.socket | None = None
    try:
        for n in range(cases):
            api_key = maker.rng.choice(keys)
            low, high = apis[api_key]
            try:
                frame = maker.frame(api_key, maker.rng.randint(low, high), n)
            except ProtocolError:
                result.unbuildable += 1  # values the encoder refuses (e.g. a null non-nullable)
                continue
            if sock is None:
                sock = socket.create_connection((host, int(port)), SOCKET_TIMEOUT_S)
            try:
                sock.sendall(frame)
                result.sent += 1
                answer = _read_frame(sock)
            except OSError:
                answer = None
            if answer is None:
                result.closed += 1
                sock.close()
                sock = None
            else:
                result.answered += 1
    finally:
        if sock is not None:
            sock.close()
    return result


def main() -> None:
    from .nodes import FerrokafkaNode, NodeConfig
    from .workloads import create_topic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        node = FerrokafkaNode(NodeConfig(node_id=1, work_dir=Path(work)))
        try:
            node.start()
            create_topic(node.bootstrap, "fz", 3)
            create_topic(node.bootstrap, "fz-compact", 1)
            result = fuzz(node.bootstrap, args.cases, args.seed)
            log = node.stderr_path.read_text(errors="replace")
        finally:
            node.close()
    print(result, "tracebacks:", log.count("Traceback"))


if __name__ == "__main__":
    main()
