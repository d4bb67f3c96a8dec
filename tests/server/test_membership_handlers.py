"""The controller's membership APIs on the wire (server/handlers/controller_admin.py): a
controller listener with register_controller_admin_handlers answers BrokerRegistration,
BrokerHeartbeat, UnregisterBroker and ControllerRegistration, encoded and decoded by the
protocol codec, and ApiVersions advertises them."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio
from server_wire import RawClient

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.channel import InProcessControllerChannel
from ferrokafka.config import load_broker_config
from ferrokafka.protocol import API_VERSIONS_KEY
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.controller_registration import ControllerRegistrationRequest
from ferrokafka.protocol.messages.unregister_broker import UnregisterBrokerRequest
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers import ApiVersionsHandler
from ferrokafka.server.handlers.controller_admin import register_controller_admin_handlers
from ferrokafka.server.server import ListenerSpec, Server, ServerLimits

CLUSTER_ID = "wire-cluster"
TIMEOUT_S = 30.0


def _client_session(address: str) -> dict[str, object]:
    out: dict[str, object] = {}
    with RawClient(address) as client:
        versions = client.call_api_versions()
        out["keys"] = {k.api_key for k in versions.api_keys}
        request = BrokerRegistrationRequest(
            broker_id=5,
            cluster_id=CLUSTER_ID,
            incarnation_id=uuid.uuid4(),
            listeners=[BrokerRegistrationRequest.Listener(name="PLAINTEXT", host="h", port=1)],
            features=[
                BrokerRegistrationRequest.Feature(
                    name="metadata.version", min_supported_version=7, max_supported_version=30
                )
            ],
            rack=None,
            log_dirs=[uuid.uuid4()],
        )
        registered = client.call(request, 4)
        out["registered"] = (registered.error_code, registered.broker_epoch)
        wrong = client.call(BrokerRegistrationRequest(cluster_id="other", broker_id=6), 4)
        out["wrong_cluster"] = wrong.error_code
        beat = client.call(
            BrokerHeartbeatRequest(
                broker_id=5,
                broker_epoch=registered.broker_epoch,
                current_metadata_offset=registered.broker_epoch,
            ),
            1,
        )
        out["heartbeat"] = (beat.error_code, beat.is_caught_up, beat.is_fenced)
        stale = client.call(BrokerHeartbeatRequest(broker_id=5, broker_epoch=0), 1)
        out["stale"] = stale.error_code
        controller = client.call(
            ControllerRegistrationRequest(controller_id=9, incarnation_id=uuid.uuid4()), 0
        )
        out["controller"] = controller.error_code
        gone = client.call(UnregisterBrokerRequest(broker_id=5), 0)
        missing = client.call(UnregisterBrokerRequest(broker_id=5), 0)
        out["unregister"] = (gone.error_code, missing.error_code, missing.error_message)
    return out


def test_membership_apis_on_a_controller_listener(tmp_path: Path) -> None:
    config = load_broker_config(None, {"log.dirs": str(tmp_path / "data")})
    result: dict[str, object] = {}

    async def main() -> None:
        log = SingleVoterLog(tmp_path / "data")
        try:
            controller = Controller(config, log, cluster_id=CLUSTER_ID)
            controller.start()
            dispatcher = Dispatcher()
            dispatcher.register(API_VERSIONS_KEY, ApiVersionsHandler(dispatcher, "controller"))
            register_controller_admin_handlers(
                dispatcher, InProcessControllerChannel(controller), lambda: True
            )
            server = Server(
                [ListenerSpec("CONTROLLER", "127.0.0.1", 0, dispatcher)],
                ServerLimits.from_config(config, shutdown_grace_s=1.0),
            )
            with trio.fail_after(TIMEOUT_S):
                async with trio.open_nursery() as nursery:
                    [bound] = await nursery.start(server.serve)
                    address = f"{bound.host}:{bound.port}"
                    result.update(await trio.to_thread.run_sync(_client_session, address))
                    server.request_shutdown()
            result["image_brokers"] = sorted(controller.image.brokers)
        finally:
            log.close()

    trio.run(main)
    assert {62, 63, 64, 70} <= result["keys"]  # type: ignore[operator]
    code, epoch = result["registered"]  # type: ignore[misc]
    assert code == ec.NONE and epoch > 0
    assert result["wrong_cluster"] == ec.INCONSISTENT_CLUSTER_ID
    assert result["heartbeat"] == (ec.NONE, True, False)
    assert result["stale"] == ec.STALE_BROKER_EPOCH
    assert result["controller"] == ec.NONE
    assert result["unregister"] == (
        ec.NONE,
        ec.BROKER_ID_NOT_REGISTERED,
        "Broker ID 5 is not currently registered",
    )
    assert result["image_brokers"] == []
