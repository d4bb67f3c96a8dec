"""A controller that loses the lead while an operation's records are committing answers
NOT_CONTROLLER (Kafka's QuorumController fails the operation with NotControllerException),
not a handler failure: found by the multi-node fault runs (tests/faults), where an
AlterPartition reached the active controller just as a partition of the network deposed it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import trio

from ferrokafka.cluster.raft.metadata_log import NotActiveControllerError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers.controller_admin import ControllerAdminHandlers


class DeposedChannel:
    """Every operation fails as the metadata log does when the lead is lost mid-append."""

    def __getattr__(self, name: str) -> Any:
        async def operation(*args: Any) -> Any:
            raise NotActiveControllerError("node 1 lost the leadership of epoch 3")

        return operation


def test_an_operation_whose_commit_loses_the_lead_answers_not_controller() -> None:
    handlers = ControllerAdminHandlers(Dispatcher(), DeposedChannel(), lambda: True)  # type: ignore[arg-type]

    # What the handler reads of the request's context: its API version.
    ctx = SimpleNamespace(api_version=3)

    async def ask() -> tuple[Any, Any]:
        isr = await handlers.answer(ctx, AlterPartitionRequest(broker_id=2, broker_epoch=5))  # type: ignore[arg-type]
        beat = await handlers.answer(ctx, BrokerHeartbeatRequest(broker_id=2, broker_epoch=5))  # type: ignore[arg-type]
        return isr, beat

    isr, beat = trio.run(ask)
    assert isr.error_code == ec.NOT_CONTROLLER
    assert beat.error_code == ec.NOT_CONTROLLER
