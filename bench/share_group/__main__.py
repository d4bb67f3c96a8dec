"""``python -m bench.share_group [--quick | --full | --smoke]``: see the package docstring."""

from __future__ import annotations

from bench import side_by_side
from bench.share_group.run import PLANS, markdown, run


def main(argv: list[str] | None = None) -> int:
    return side_by_side.main(
        argv,
        prog="python -m bench.share_group",
        description="A share group of consumers: ferrokafka vs Apache Kafka, side by side.",
        stem="share-group",
        plans=PLANS,
        run=run,
        markdown=markdown,
    )


if __name__ == "__main__":
    raise SystemExit(main())
