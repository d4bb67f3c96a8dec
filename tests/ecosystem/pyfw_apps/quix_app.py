"""A stateful Quix Streams application: a running count and sum per key kept in its State
(RocksDB, backed by a changelog topic Quix creates), one output record per input record.

Input values are ``{"n": <int>}``; each output value is ``{"n", "count", "sum"}`` for the key
after that input, so the consumer of the output can check both the final totals and, under
exactly-once, that no input was counted (or written) twice. A small delay per record keeps the
stream running long enough for the test to kill it mid-stream.

With MODE ``window`` it sums ``n`` per key in tumbling windows of WINDOW_MS (by the record
timestamps) instead, and writes each window once it is closed (``final()``): output values
``{"start", "end", "value"}``; the windowed store has its own changelog topic.

    python quix_app.py BOOTSTRAP INPUT OUTPUT GROUP STATE_DIR GUARANTEE DELAY_S [MODE]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from quixstreams import Application, State

WINDOW_MS = 1000
# The commit interval: short, so a restart re-processes little (and the test is quick).
COMMIT_INTERVAL_S = 0.5
# A killed member would stay in the group until its session expires (45 s by default): a
# static member (KIP-345) started again under its group.instance.id takes its place at once.
INSTANCE_ID = "quix-app-1"


def main() -> None:
    bootstrap, input_topic, output_topic, group, state_dir, guarantee, delay = sys.argv[1:8]
    delay_s = float(delay)
    mode = sys.argv[8] if len(sys.argv) > 8 else "count"
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=COMMIT_INTERVAL_S,
        state_dir=state_dir,
        processing_guarantee=guarantee,  # type: ignore[arg-type]
        consumer_extra_config={"group.instance.id": INSTANCE_ID},
        # A transactional.id that outlives the process (Quix draws a random one by default):
        # the restarted app's InitProducerId then fences the killed one and aborts its open
        # transaction at once, instead of the output waiting for transaction.timeout.ms.
        producer_extra_config={"transactional.id": f"{group}-txn"},
        loglevel="INFO",
    )
    source = app.topic(input_topic, value_deserializer="json")
    sink = app.topic(output_topic, value_serializer="json")

    def count(value: dict[str, Any], state: State) -> dict[str, Any]:
        if delay_s:
            time.sleep(delay_s)
        total = state.get("count", 0) + 1
        running = state.get("sum", 0) + value["n"]
        state.set("count", total)
        state.set("sum", running)
        return {"n": value["n"], "count": total, "sum": running}

    def slow(value: dict[str, Any]) -> int:
        if delay_s:
            time.sleep(delay_s)
        return int(value["n"])

    sdf = app.dataframe(source)
    if mode == "window":
        sdf = sdf.apply(slow).tumbling_window(WINDOW_MS).sum().final()
    else:
        sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(sink)
    print("quix app running", flush=True)
    app.run()


if __name__ == "__main__":
    main()
