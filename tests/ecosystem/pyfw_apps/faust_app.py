"""A faust-streaming worker: an agent that counts the inputs ``{"n": <int>}`` per key in a
Table (in memory, so after a restart it exists only as rebuilt from its changelog topic) and
sends ``{"n", "count", "sum"}`` for the key to an output topic.

Faust is at-least-once: after a kill it sees again the inputs after its last committed offset.
The table keeps the last ``n`` counted per key (inputs of one key arrive in increasing ``n``),
so a replayed input is not counted twice; the counts are then right exactly when the table was
recovered from its changelog. The web server is off (``web_enabled=False``).

    python faust_app.py BOOTSTRAP INPUT OUTPUT APP_ID DATA_DIR PARTITIONS DELAY_S GUARANTEE

GUARANTEE is faust's ``processing_guarantee``: ``at_least_once`` or ``exactly_once``
(transactions: a transactional producer per assigned partition, offsets sent to the
transaction).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import faust

COMMIT_INTERVAL_S = 0.5
# A killed member leaves the group only when its session expires: the broker's minimum
# (group.min.session.timeout.ms), so the restarted worker is not kept waiting.
SESSION_TIMEOUT_S = 6.0
HEARTBEAT_INTERVAL_S = 1.0


def main() -> None:
    bootstrap, input_topic, output_topic, app_id, data_dir, partitions, delay = sys.argv[1:8]
    guarantee = sys.argv[8]
    delay_s = float(delay)
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=data_dir,
        web_enabled=False,
        topic_partitions=int(partitions),
        topic_replication_factor=1,
        broker_commit_interval=COMMIT_INTERVAL_S,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=guarantee,
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_INTERVAL_S,
    )
    # Keys are plain bytes (b"k0"), values JSON, as the test's producer writes them.
    source = app.topic(input_topic, key_serializer="raw", value_serializer="json")
    sink = app.topic(output_topic, key_serializer="raw", value_serializer="json")
    counts = app.Table("counts", default=dict, partitions=int(partitions))

    @app.agent(source)
    async def count(stream: Any) -> None:
        async for raw_key, value in stream.items():
            key = raw_key.decode()
            if delay_s:
                await asyncio.sleep(delay_s)
            n = int(value["n"])
            seen = counts[key]
            if seen and seen["last"] >= n:
                continue  # replayed after a restart: counted already
            seen = {
                "last": n,
                "count": seen.get("count", 0) + 1,
                "sum": seen.get("sum", 0) + n,
            }
            counts[key] = seen
            await sink.send(key=raw_key, value={"n": n, "count": seen["count"], "sum": seen["sum"]})

    @app.task
    async def started() -> None:
        print("faust app running", flush=True)

    # faust's own command line: a worker, nothing else from ours.
    sys.argv = [sys.argv[0], "worker", "--loglevel", "info"]
    app.main()


if __name__ == "__main__":
    main()
