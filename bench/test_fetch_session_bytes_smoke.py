"""A small run of ``python -m bench.fetch_session_bytes`` so it cannot rot."""

from __future__ import annotations

from bench.fetch_session_bytes import measure


def test_incremental_fetches_are_smaller_than_full_ones() -> None:
    sizes = measure(100, 4)
    assert sizes["incremental, 0% moved"] < sizes["incremental, 10% moved"] < sizes["full"]
