"""A request a broker forwards to a remote controller, made to mean at the newest version what
its client asked at its own.

Kafka's broker forwards the client's bytes in an Envelope, at the client's version; ferrokafka's
RemoteControllerChannel sends the decoded request again at the newest version the controller
supports. For every field the table test (``tests/cluster/test_forwarded_versions.py``) checks
that this keeps the client's meaning: fields both versions have are carried as they are; a field
only newer versions have takes its Kafka default, which is what an older request means (e.g.
ElectLeaders v0: election_type 0, preferred; AlterPartitionReassignments v0:
allow_replication_factor_change true; UpdateFeatures v0: validate_only false); a field only
older versions have must be said another way, here:

- DeleteTopics v1-5 name topics in ``topic_names``, which v6 does not have: they become v6's
  ``topics`` entries by name (v6 deletes by name or id);
- UpdateFeatures v0's ``allow_downgrade`` becomes an upgrade type where the request is decoded
  (``feature_control.with_upgrade_types``, on the broker and the controller alike).
"""

from __future__ import annotations

from typing import Any

from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest


def as_forwarded(request: Any) -> Any:
    """``request`` (as decoded at its client's version) as it is sent at the newest version."""
    if isinstance(request, DeleteTopicsRequest) and request.topic_names and not request.topics:
        return DeleteTopicsRequest(
            topics=[DeleteTopicsRequest.DeleteTopicState(name=n) for n in request.topic_names],
            timeout_ms=request.timeout_ms,
        )
    return request
