"""A FastStream service on its Kafka broker (BACKEND: ``aiokafka``, faststream.kafka, or
``confluent``, faststream.confluent on confluent-kafka): a subscriber in a consumer group that
transforms each input ``{"n": <int>}`` into ``{"n", "square"}`` and publishes it, with the
input's key, to another topic. Offsets are committed by aiokafka every COMMIT_INTERVAL_MS, so a
restart resumes from the group's committed offsets.

    python faststream_app.py BOOTSTRAP INPUT OUTPUT GROUP DELAY_S BACKEND
"""

# No ``from __future__ import annotations``: FastStream reads the handler's annotations as
# objects (its KafkaMessage is injected by type), and here the type is chosen at run time.
import asyncio
import sys
from typing import Any

from faststream import FastStream

COMMIT_INTERVAL_MS = 200
# A killed member would stay in the group until its session expires: a static member
# (KIP-345) started again under its group.instance.id takes its place at once.
INSTANCE_ID = "faststream-app-1"


def main() -> None:
    bootstrap, input_topic, output_topic, group, delay, backend = sys.argv[1:7]
    delay_s = float(delay)
    if backend == "confluent":
        from faststream.confluent import KafkaBroker, KafkaMessage
    else:
        from faststream.kafka import KafkaBroker, KafkaMessage  # type: ignore[assignment]
    broker = KafkaBroker(bootstrap)
    publisher = broker.publisher(output_topic)

    @broker.subscriber(
        input_topic,
        group_id=group,
        auto_offset_reset="earliest",
        auto_commit_interval_ms=COMMIT_INTERVAL_MS,
        group_instance_id=f"{INSTANCE_ID}-{backend}",
    )
    async def transform(body: dict[str, Any], message: KafkaMessage) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        n = int(body["n"])
        raw = message.raw_message  # aiokafka's ConsumerRecord or confluent-kafka's Message
        key = raw.key() if callable(raw.key) else raw.key
        await publisher.publish({"n": n, "square": n * n}, key=key)

    app = FastStream(broker)

    @app.after_startup
    async def started() -> None:
        print("faststream app running", flush=True)

    asyncio.run(app.run())


if __name__ == "__main__":
    main()
