"""Broker keys other than ``log.*``: roles, quorum, listeners, sockets, replication, coordinators.

Names, types, defaults and ranges follow Apache Kafka 4.x (``KRaftConfigs``, ``QuorumConfig``,
``SocketServerConfigs``, ``ReplicationConfigs``, ``GroupCoordinatorConfig``,
``TransactionLogConfig``, ``ShareCoordinatorConfig``). Keys sized for the JVM broker's thread
pools are accepted, so existing ``server.properties`` files load, with ``applies=False`` and a
doc string saying why the value changes nothing here.
"""

from __future__ import annotations

from ferrokafka.config.authorizer_keys import AUTHORIZER_KEYS
from ferrokafka.config.definitions import (
    INT_MAX,
    LONG_MAX,
    NO_DEFAULT,
    ConfigKey,
    ConfigTable,
    ConfigType,
    at_least,
    between,
    list_of,
    one_of,
)
from ferrokafka.config.listeners import SECURITY_PROTOCOLS
from ferrokafka.config.log_keys import LOG_KEYS, MIB
from ferrokafka.config.quota_keys import QUOTA_KEYS
from ferrokafka.config.sasl_keys import SASL_KEYS
from ferrokafka.config.tls_keys import TLS_KEYS

_B = ConfigType.BOOLEAN
_S = ConfigType.STRING
_I = ConfigType.INT
_SH = ConfigType.SHORT
_L = ConfigType.LONG
_LIST = ConfigType.LIST

DAY_MS = 86_400_000
DEFAULT_PROTOCOL_MAP = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"
_NOT_APPLIED = "Accepted for compatibility; does not apply: "
# Kafka's replica selectors (KIP-392), by the class names server.properties gives.
LEADER_SELECTOR = "org.apache.kafka.common.replica.LeaderSelector"
RACK_AWARE_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
_TRIO = "ferrokafka serves connections as trio tasks on one event loop, not on a thread pool."

# fmt: off
_ROLE_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("process.roles", _LIST, NO_DEFAULT,
              "Roles of this node: broker, controller, or both (a combined single node).",
              list_of("broker", "controller", allow_empty=False)),
    ConfigKey("node.id", _I, NO_DEFAULT,
              "Id of this node in the cluster, as a broker and as a controller.", at_least(0)),
    ConfigKey("broker.id", _I, -1,
              "Former name of node.id; when set it must equal node.id."),
    ConfigKey("broker.rack", _S, None, "Rack of this broker, for rack-aware replica placement."),
    ConfigKey("controller.listener.names", _LIST, None,
              "Listener names the controllers serve on; the first is the one brokers use."),
    ConfigKey("controller.quorum.voters", _LIST, [],
              "Static controller quorum as id@host:port entries."),
    ConfigKey("controller.quorum.bootstrap.servers", _LIST, [],
              "host:port addresses used to discover the controller quorum."),
    ConfigKey("controller.quorum.election.timeout.ms", _I, 1000,
              "Longest time, in ms, without a leader before an election starts."),
    ConfigKey("controller.quorum.fetch.timeout.ms", _I, 2000,
              "Longest time, in ms, without a fetch from the leader before a voter becomes a "
              "candidate."),
    ConfigKey("controller.quorum.election.backoff.max.ms", _I, 1000,
              "Largest back-off, in ms, before a new election."),
    ConfigKey("controller.quorum.append.linger.ms", _I, 25,
              "How long, in ms, the quorum leader waits to batch metadata writes."),
    ConfigKey("controller.quorum.request.timeout.ms", _I, 2000,
              "Timeout, in ms, of quorum requests."),
    ConfigKey("controller.quorum.retry.backoff.ms", _I, 20,
              "Back-off, in ms, before a failed quorum request is retried."),
    ConfigKey("metadata.log.dir", _S, None,
              "Directory of the cluster metadata log; if unset the first log directory."),
    ConfigKey("metadata.log.segment.bytes", _I, 1 << 30,
              "Segment size of the metadata log.", at_least(12)),
    ConfigKey("metadata.log.segment.ms", _L, 7 * DAY_MS,
              "Age, in ms, at which a metadata log segment is rolled."),
    ConfigKey("metadata.log.max.record.bytes.between.snapshots", _L, 20 * MIB,
              "Bytes of metadata records committed after the latest snapshot before a new "
              "snapshot is written.", at_least(1)),
    ConfigKey("metadata.log.max.snapshot.interval.ms", _L, 60 * 60 * 1000,
              "Longest time, in ms, between metadata snapshots while records are committed "
              "(0: by bytes only).", at_least(0)),
    ConfigKey("metadata.max.retention.bytes", _L, 100 * MIB,
              "Metadata log size kept before old snapshots and segments go."),
    ConfigKey("metadata.max.retention.ms", _L, 7 * DAY_MS,
              "How long, in ms, metadata snapshots and segments are kept."),
    ConfigKey("metadata.max.idle.interval.ms", _I, 500,
              "How often, in ms, the active controller appends a no-op record when idle.",
              at_least(0)),
    ConfigKey("broker.heartbeat.interval.ms", _I, 2000,
              "Interval, in ms, of broker heartbeats to the controller."),
    ConfigKey("broker.session.timeout.ms", _I, 9000,
              "How long, in ms, a broker lease lasts without a heartbeat."),
    ConfigKey("initial.broker.registration.timeout.ms", _I, 60_000,
              "How long, in ms, a starting broker waits to register with the controller."),
)

_SOCKET_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("listeners", _S, "PLAINTEXT://:9092",
              "Comma-separated NAME://host:port addresses to listen on; an empty host binds "
              "every interface, port 0 an ephemeral port.", dynamic=True),
    ConfigKey("advertised.listeners", _S, None,
              "Addresses clients are told to use, if different from listeners.", dynamic=True),
    ConfigKey("listener.security.protocol.map", _S, DEFAULT_PROTOCOL_MAP,
              "NAME:PROTOCOL pairs giving each listener's security protocol. ferrokafka serves "
              "PLAINTEXT only; a listener mapped to another protocol is refused.", dynamic=True),
    ConfigKey("inter.broker.listener.name", _S, None,
              "Listener brokers use to reach each other; exclusive with "
              "security.inter.broker.protocol."),
    ConfigKey("security.inter.broker.protocol", _S, "PLAINTEXT",
              "Security protocol between brokers when inter.broker.listener.name is unset.",
              one_of(*SECURITY_PROTOCOLS)),
    ConfigKey("socket.send.buffer.bytes", _I, 102_400,
              "SO_SNDBUF of client sockets (-1: the OS default)."),
    ConfigKey("socket.receive.buffer.bytes", _I, 102_400,
              "SO_RCVBUF of client sockets (-1: the OS default)."),
    ConfigKey("socket.request.max.bytes", _I, 100 * MIB,
              "Largest request a client may send; larger frames close the connection.",
              at_least(1)),
    ConfigKey("socket.listen.backlog.size", _I, 50,
              "Backlog of pending connections of each listening socket.", at_least(1)),
    ConfigKey("max.connections", _I, INT_MAX,
              "Most connections the broker accepts at once.", at_least(0), dynamic=True),
    ConfigKey("max.connections.per.ip", _I, INT_MAX,
              "Most connections accepted from one IP address.", at_least(0), dynamic=True),
    ConfigKey("max.connections.per.ip.overrides", _S, "",
              "host:count pairs overriding max.connections.per.ip.", dynamic=True),
    ConfigKey("max.connection.creation.rate", _I, INT_MAX,
              "Most new connections accepted per second.", at_least(0), dynamic=True),
    ConfigKey("connections.max.idle.ms", _L, 600_000,
              "Idle time, in ms, after which a connection is closed."),
    ConfigKey("queued.max.requests", _I, 500,
              "Requests read but not yet handled before reading pauses.", at_least(1)),
    ConfigKey("num.network.threads", _I, 3, _NOT_APPLIED + _TRIO, at_least(1),
              dynamic=True, applies=False),
    ConfigKey("num.io.threads", _I, 8, _NOT_APPLIED + _TRIO, at_least(1),
              dynamic=True, applies=False),
    ConfigKey("background.threads", _I, 10, _NOT_APPLIED + _TRIO, at_least(1),
              dynamic=True, applies=False),
)

_REPLICATION_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("default.replication.factor", _I, 1,
              "Replication factor of topics created without one."),
    ConfigKey("delete.topic.enable", _B, True, "Whether DeleteTopics requests are honoured."),
    ConfigKey("auto.leader.rebalance.enable", _B, True,
              "Whether leadership moves back to preferred replicas."),
    ConfigKey("leader.imbalance.check.interval.seconds", _L, 300,
              "How often, in s, leader imbalance is checked.", at_least(1)),
    ConfigKey("leader.imbalance.per.broker.percentage", _I, 10,
              "Share of non-preferred leaders per broker that triggers a rebalance (read but "
              "unused by Kafka's KRaft controller, and here: every imbalance is rebalanced)."),
    ConfigKey("unclean.leader.election.interval.ms", _L, 300_000,
              "How often, in ms, the controller looks for leaderless partitions it may elect "
              "an unclean leader for (Kafka's internal key).", at_least(1)),
    ConfigKey("replica.lag.time.max.ms", _L, 30_000,
              "How long, in ms, a follower may lag before it leaves the ISR."),
    ConfigKey("replica.fetch.max.bytes", _I, MIB,
              "Bytes a follower fetches per partition per request.", at_least(0)),
    ConfigKey("replica.fetch.response.max.bytes", _I, 10 * MIB,
              "Bytes a follower fetches per request.", at_least(0)),
    ConfigKey("replica.fetch.wait.max.ms", _I, 500,
              "How long, in ms, a follower fetch waits for data."),
    ConfigKey("replica.fetch.min.bytes", _I, 1,
              "Bytes a follower fetch waits for before returning."),
    ConfigKey("replica.fetch.backoff.ms", _I, 1000,
              "Back-off, in ms, after a failed follower fetch.", at_least(0)),
    ConfigKey("num.replica.fetchers", _I, 1,
              "Fetcher tasks per source broker.", dynamic=True),
    ConfigKey("replica.socket.timeout.ms", _I, 30_000,
              "Socket timeout, in ms, of follower fetches."),
    ConfigKey("replica.socket.receive.buffer.bytes", _I, 65_536,
              "SO_RCVBUF of follower fetch sockets."),
    ConfigKey("replica.high.watermark.checkpoint.interval.ms", _L, 5000,
              "How often, in ms, high watermarks are checkpointed."),
    ConfigKey("replica.selector.class", _S, None,
              "Which replica consumers fetch from (KIP-392): Kafka's LeaderSelector or "
              "RackAwareReplicaSelector (by client.rack and broker.rack); unset: the leader.",
              one_of(LEADER_SELECTOR, RACK_AWARE_SELECTOR)),
    # Reassignment throttles (KIP-73; kafka-reassign-partitions --throttle sets them, --verify
    # deletes them), per broker or cluster-wide: partition/replication_quota.py.
    ConfigKey("leader.replication.throttled.rate", _L, LONG_MAX,
              "Bytes per second a leader sends to followers outside the ISR of the replicas "
              "leader.replication.throttled.replicas names.", at_least(0), dynamic=True),
    ConfigKey("follower.replication.throttled.rate", _L, LONG_MAX,
              "Bytes per second a follower fetches for lagging replicas that "
              "follower.replication.throttled.replicas names.", at_least(0), dynamic=True),
    ConfigKey("replica.alter.log.dirs.io.max.bytes.per.second", _L, LONG_MAX,
              _NOT_APPLIED + "replicas are not moved between log directories.", at_least(0),
              dynamic=True, applies=False),
)

_COORDINATOR_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("group.initial.rebalance.delay.ms", _I, 3000,
              "How long, in ms, a new classic group waits for more members before its first "
              "rebalance."),
    ConfigKey("group.min.session.timeout.ms", _I, 6000,
              "Smallest session timeout, in ms, a group member may ask for."),
    ConfigKey("group.max.session.timeout.ms", _I, 1_800_000,
              "Largest session timeout, in ms, a group member may ask for."),
    ConfigKey("group.max.size", _I, INT_MAX, "Most members of one group.", at_least(1)),
    ConfigKey("group.consumer.session.timeout.ms", _I, 45_000,
              "How long, in ms, a consumer group (KIP-848) member stays without a heartbeat.",
              at_least(1)),
    ConfigKey("group.consumer.heartbeat.interval.ms", _I, 5_000,
              "How often, in ms, consumer group (KIP-848) members are told to heartbeat.",
              at_least(1)),
    ConfigKey("group.consumer.max.size", _I, INT_MAX,
              "Most members of one consumer group (KIP-848).", at_least(1)),
    # Share groups (KIP-932): Kafka 4.4's GroupCoordinatorConfig / ShareGroupConfig keys.
    ConfigKey("group.share.session.timeout.ms", _I, 45_000,
              "How long, in ms, a share group member stays without a heartbeat.", at_least(1)),
    ConfigKey("group.share.min.session.timeout.ms", _I, 45_000,
              "Smallest share.session.timeout.ms a share group may set.", at_least(1)),
    ConfigKey("group.share.max.session.timeout.ms", _I, 60_000,
              "Largest share.session.timeout.ms a share group may set.", at_least(1)),
    ConfigKey("group.share.heartbeat.interval.ms", _I, 5_000,
              "How often, in ms, share group members are told to heartbeat.", at_least(1)),
    ConfigKey("group.share.min.heartbeat.interval.ms", _I, 5_000,
              "Smallest share.heartbeat.interval.ms a share group may set.", at_least(1)),
    ConfigKey("group.share.max.heartbeat.interval.ms", _I, 15_000,
              "Largest share.heartbeat.interval.ms a share group may set.", at_least(1)),
    ConfigKey("group.share.record.lock.duration.ms", _I, 30_000,
              "How long, in ms, a share group member holds the records it acquired.",
              between(1000, 3_600_000)),
    ConfigKey("group.share.min.record.lock.duration.ms", _I, 15_000,
              "Smallest share.record.lock.duration.ms a share group may set.",
              between(1000, 30_000)),
    ConfigKey("group.share.max.record.lock.duration.ms", _I, 60_000,
              "Largest share.record.lock.duration.ms a share group may set.",
              between(30_000, 3_600_000)),
    ConfigKey("group.share.delivery.count.limit", _I, 5,
              "Deliveries of a record to a share group before it is archived.", between(2, 10)),
    ConfigKey("group.share.min.delivery.count.limit", _I, 2,
              "Smallest share.delivery.count.limit a share group may set.", between(2, 5)),
    ConfigKey("group.share.max.delivery.count.limit", _I, 10,
              "Largest share.delivery.count.limit a share group may set.", between(5, 25)),
    ConfigKey("group.share.partition.max.record.locks", _I, 2_000,
              "In-flight records of one share-partition.", between(100, 10_000)),
    ConfigKey("group.share.min.partition.max.record.locks", _I, 100,
              "Smallest share.partition.max.record.locks a share group may set.",
              between(100, 2_000)),
    ConfigKey("group.share.max.partition.max.record.locks", _I, 4_000,
              "Largest share.partition.max.record.locks a share group may set.",
              between(2_000, 10_000)),
    ConfigKey("group.share.max.size", _I, 200, "Most members of one share group.",
              between(1, 1_000)),
    ConfigKey("group.share.max.share.sessions", _I, 2_000,
              "Share sessions (KIP-932) one broker keeps.", at_least(1)),
    ConfigKey("errors.deadletterqueue.auto.create.topics.enable", _B, False,
              "Whether a share group's missing dead-letter queue topic is created (KIP-1191).",
              dynamic=True),
    ConfigKey("errors.deadletterqueue.topic.name.prefix", _S, "dlq.",
              "The prefix share groups' dead-letter queue topic names must have (empty: any).",
              dynamic=True),
    ConfigKey("offsets.topic.num.partitions", _I, 50,
              "Partitions of __consumer_offsets (fixed once created).", at_least(1)),
    ConfigKey("offsets.topic.replication.factor", _SH, 3,
              "Replication factor of __consumer_offsets.", at_least(1)),
    ConfigKey("offsets.topic.segment.bytes", _I, 100 * MIB,
              "Segment size of __consumer_offsets.", at_least(1)),
    ConfigKey("offsets.retention.minutes", _I, 7 * 24 * 60,
              "How long, in minutes, committed offsets of an empty group are kept.",
              at_least(1)),
    ConfigKey("offsets.retention.check.interval.ms", _L, 600_000,
              "How often, in ms, stale offsets are looked for.", at_least(1)),
    ConfigKey("offsets.topic.compression.codec", _I, 0,
              "Codec of __consumer_offsets batches (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).",
              at_least(0)),
    ConfigKey("offset.metadata.max.bytes", _I, 4096,
              "Largest metadata string an offset commit may carry.", at_least(0)),
    ConfigKey("offsets.commit.timeout.ms", _I, 5000,
              "How long, in ms, an offset commit waits for replication.", at_least(1)),
    ConfigKey("offsets.load.buffer.size", _I, 5 * MIB,
              "Read size when loading offsets into the coordinator.", at_least(1)),
    ConfigKey("transaction.state.log.num.partitions", _I, 50,
              "Partitions of __transaction_state (fixed once created).", at_least(1)),
    ConfigKey("transaction.state.log.replication.factor", _SH, 3,
              "Replication factor of __transaction_state.", at_least(1)),
    ConfigKey("transaction.state.log.min.isr", _I, 2,
              "min.insync.replicas of __transaction_state.", at_least(1)),
    ConfigKey("transaction.state.log.segment.bytes", _I, 100 * MIB,
              "Segment size of __transaction_state.", at_least(1)),
    ConfigKey("transaction.state.log.load.buffer.size", _I, 5 * MIB,
              "Read size when loading transaction state into the coordinator.", at_least(1)),
    ConfigKey("transactional.id.expiration.ms", _I, 7 * DAY_MS,
              "Idle time, in ms, after which a transactional id expires.", at_least(1)),
    ConfigKey("transaction.max.timeout.ms", _I, 900_000,
              "Largest transaction timeout, in ms, a producer may ask for.", at_least(1)),
    ConfigKey("transaction.abort.timed.out.transaction.cleanup.interval.ms", _I, 10_000,
              "How often, in ms, timed-out transactions are aborted.", at_least(1)),
    ConfigKey("transaction.remove.expired.transaction.cleanup.interval.ms", _I, 3_600_000,
              "How often, in ms, expired transactional ids are removed.", at_least(1)),
    ConfigKey("transaction.partition.verification.enable", _B, True,
              "Whether a partition leader asks the transaction coordinator before a "
              "transaction's first batch on it (KIP-890).", dynamic=True),
    ConfigKey("producer.id.expiration.ms", _I, DAY_MS,
              "Idle time, in ms, after which a producer id's state is dropped.", at_least(1),
              dynamic=True),
    ConfigKey("share.coordinator.state.topic.num.partitions", _I, 50,
              "Partitions of __share_group_state (fixed once created).", at_least(1)),
    ConfigKey("share.coordinator.state.topic.replication.factor", _SH, 3,
              "Replication factor of __share_group_state.", at_least(1)),
    ConfigKey("share.coordinator.state.topic.min.isr", _I, 2,
              "min.insync.replicas of __share_group_state.", at_least(1)),
    ConfigKey("share.coordinator.state.topic.segment.bytes", _I, 100 * MIB,
              "Segment size of __share_group_state.", at_least(1)),
    ConfigKey("share.coordinator.snapshot.update.records.per.snapshot", _I, 500,
              "ShareUpdate records of a share-partition between two ShareSnapshot records of "
              "it on __share_group_state.", between(0, 500)),
    ConfigKey("share.coordinator.state.topic.prune.interval.ms", _I, 300_000,
              "How often, in ms, records of __share_group_state older than every "
              "share-partition's latest snapshot are deleted.", at_least(1)),
    ConfigKey("share.coordinator.load.buffer.size", _I, 5 * MIB,
              "Read size when loading share-group state into the share coordinator.",
              at_least(1)),
)
# fmt: on

# ferrokafka's own keys (Kafka has none of these): the metrics endpoint (server/metrics/).
# fmt: off
_FERROKAFKA_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("ferrokafka.metrics.port", _I, 0,
              "Port of the Prometheus endpoint (/metrics, /healthz, /readyz); 0: off. "
              "`ferrokafka serve --metrics-port` sets it.", between(0, 65535)),
    ConfigKey("ferrokafka.metrics.host", _S, "127.0.0.1",
              "Address the metrics endpoint binds; 0.0.0.0 for every interface. "
              "`ferrokafka serve --metrics-host` sets it."),
)
# fmt: on

BROKER_KEYS = ConfigTable(
    _ROLE_KEYS
    + _SOCKET_KEYS
    + LOG_KEYS
    + _REPLICATION_KEYS
    + _COORDINATOR_KEYS
    + _FERROKAFKA_KEYS
    + TLS_KEYS
    + SASL_KEYS
    + AUTHORIZER_KEYS
    + QUOTA_KEYS
)
"""Every broker key ferrokafka accepts, in documentation order."""
