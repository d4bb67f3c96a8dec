"""The protocol's exceptions: one type per thing the server must react to differently."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error raised by the codecs."""


class ProtocolDecodeError(ProtocolError):
    """The bytes are not a valid message: truncated, a bad length, trailing bytes, bad UTF-8.

    The server closes the connection: it can no longer trust where the next frame starts.
    """


class ProtocolEncodeError(ProtocolError):
    """A message cannot be written at the requested version (a non-ignorable field set in a
    version that lacks it, a null where the version has no null, an out-of-range value)."""


class UnsupportedApiVersionError(ProtocolError):
    """The request names an API key or version this codec does not know.

    Raised after reading only the header's first three fields, which every request version
    shares, so the server can still answer ``UNSUPPORTED_VERSION`` to ``correlation_id`` (for
    ApiVersions) or close the connection (for anything else).
    """

    def __init__(self, api_key: int, api_version: int, correlation_id: int) -> None:
        super().__init__(
            f"unsupported API key {api_key} version {api_version} (correlation id {correlation_id})"
        )
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
