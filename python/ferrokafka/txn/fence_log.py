"""The INFO line for a producer fenced by a newer one: InitProducerId for a transactional id
that already had a producer bumps the epoch (or hands out a new producer id), and every
request of the older producer is refused from then on (PRODUCER_FENCED)."""

from __future__ import annotations

import logging

log = logging.getLogger("ferrokafka.txn")


def log_fenced(
    transactional_id: str, previous: tuple[int, int] | None, producer_id: int, epoch: int
) -> None:
    """``previous``: the (producer id, epoch) the id had before InitProducerId, None if none."""
    if previous is None or previous == (producer_id, epoch):
        return
    log.info(
        "transactional id %r: producer id %d epoch %d fenced by producer id %d epoch %d",
        transactional_id,
        previous[0],
        previous[1],
        producer_id,
        epoch,
        extra={
            "fields": {
                "event": "producer_fenced",
                "transactional_id": transactional_id,
                "fenced_producer_id": previous[0],
                "fenced_epoch": previous[1],
                "producer_id": producer_id,
                "producer_epoch": epoch,
            }
        },
    )
