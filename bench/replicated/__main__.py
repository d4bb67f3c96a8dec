"""``python -m bench.replicated [--quick | --full | --smoke]``: see the package docstring."""

from __future__ import annotations

from bench import side_by_side
from bench.replicated.run import PLANS, markdown, run


def main(argv: list[str] | None = None) -> int:
    return side_by_side.main(
        argv,
        prog="python -m bench.replicated",
        description="3-node RF 3 acks=all produce: ferrokafka vs Apache Kafka, side by side.",
        stem="replicated",
        plans=PLANS,
        run=run,
        markdown=markdown,
    )


if __name__ == "__main__":
    raise SystemExit(main())
