"""Hypothesis-made frames into live connections: whatever arrives, the broker stays up and
keeps answering other connections. Each example gets its own connection; a bounded number of
examples, each bounded in size."""

from __future__ import annotations

import logging
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_wire import RawClient, api_versions_frame

from ferrokafka.protocol import APIS
from ferrokafka.testing import RunningBroker

FUZZ_EXAMPLES = 200
FUZZ_BODY_BYTES_MAX = 512
# Short: most fuzzed frames close the connection at once, and the rest wait for more bytes.
FUZZ_READ_TIMEOUT_S = 0.2

api_keys = st.one_of(st.sampled_from(sorted(APIS)), st.integers(-(2**15), 2**15 - 1))
headers = st.builds(
    lambda key, version, cid: struct.pack(">hhi", key, version, cid),
    api_keys,
    st.integers(-1, 20),
    st.integers(-(2**31), 2**31 - 1),
)
frames = st.one_of(
    # a plausible header then random bytes: exercises every decoder
    st.builds(
        lambda header, rest: struct.pack(">i", len(header) + len(rest)) + header + rest,
        headers,
        st.binary(max_size=FUZZ_BODY_BYTES_MAX),
    ),
    # a size prefix that may lie, then random bytes
    st.builds(
        lambda size, rest: struct.pack(">i", size) + rest,
        st.integers(-(2**31), 2**31 - 1),
        st.binary(max_size=FUZZ_BODY_BYTES_MAX),
    ),
    st.binary(max_size=FUZZ_BODY_BYTES_MAX),
)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.lists(frames, min_size=1, max_size=3).map(b"".join))
def test_fuzzed_frames_never_take_the_broker_down(
    ferrokafka_broker: RunningBroker, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers, timeout_s=FUZZ_READ_TIMEOUT_S) as fuzz:
        try:
            fuzz.send(data)
            while fuzz.sock.recv(65536):  # drain whatever it answers until closed or quiet
                pass
        except OSError:  # timeouts and resets are OSErrors
            pass
    with RawClient(ferrokafka_broker.bootstrap_servers) as witness:
        witness.send(api_versions_frame(1))
        assert struct.unpack(">i", witness.recv_frame()[:4])[0] == 1
    # bad input is a warning and a closed connection, never an error or a traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
