// A stateful Kafka Streams topology with processing.guarantee=at_least_once, for
// tests/ecosystem/test_kafka_streams.py. Arguments: bootstrap application-id purchases users
// totals joined state-dir group-protocol (classic|streams).
//
// purchases (key purchase id, value "user,amount") are re-keyed by user (groupBy: a repartition
// topic) and aggregated per user into the distinct purchases seen (a state store and its
// compacted changelog); the aggregate is written to `totals` as "count,sum" and joined
// (KStream-KTable) with the users table (key user, value region) into `joined` as
// "region,count,sum". The aggregate keeps purchase ids, so records processed again after a
// crash (at-least-once) do not change it: the latest value per key is exact.
// Prints "STATE <new state>" on every state change (and "TASKS <its active tasks>" on RUNNING); runs until SIGTERM (closes the app).
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;

public final class PurchaseTotals {
    /** "id=amount;id=amount..." with a purchase added (idempotent: an id once). */
    static String add(String aggregate, String id, long amount) {
        TreeMap<String, Long> seen = parse(aggregate);
        seen.put(id, amount);
        StringBuilder out = new StringBuilder();
        for (var entry : seen.entrySet()) {
            if (out.length() > 0) {
                out.append(';');
            }
            out.append(entry.getKey()).append('=').append(entry.getValue());
        }
        return out.toString();
    }

    static TreeMap<String, Long> parse(String aggregate) {
        TreeMap<String, Long> seen = new TreeMap<>();
        if (aggregate != null && !aggregate.isEmpty()) {
            for (String item : aggregate.split(";")) {
                int eq = item.indexOf('=');
                seen.put(item.substring(0, eq), Long.parseLong(item.substring(eq + 1)));
            }
        }
        return seen;
    }

    static String summary(String aggregate) {
        TreeMap<String, Long> seen = parse(aggregate);
        long sum = 0;
        for (long amount : seen.values()) {
            sum += amount;
        }
        return seen.size() + "," + sum;
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[6]);
        props.put("group.protocol", args[7]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 500);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put("reconnect.backoff.max.ms", 500);
        if (args[7].equals("classic")) {
            // A member killed with SIGKILL leaves the group when its session expires: the
            // restarted instance's rebalance waits for that (the streams protocol sets the
            // session timeout on the group, broker side).
            props.put("session.timeout.ms", 6000);
            props.put("heartbeat.interval.ms", 1000);
        }
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> users = builder.table(args[3]);
        KStream<String, String> purchases = builder.stream(args[2]);
        KTable<String, String> seen = purchases
            .map((id, value) -> {
                String[] parts = value.split(",");
                return KeyValue.pair(parts[0], id + "," + parts[1]);
            })
            .groupByKey(Grouped.as("by-user"))
            .aggregate(
                () -> "",
                (user, purchase, aggregate) -> {
                    String[] parts = purchase.split(",");
                    return add(aggregate, parts[0], Long.parseLong(parts[1]));
                },
                Materialized.as("purchases-by-user"));
        KStream<String, String> totals = seen.toStream().mapValues(PurchaseTotals::summary);
        totals.to(args[4]);
        totals.join(users, (total, region) -> region + "," + total).to(args[5]);
        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch closed = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            if (now == KafkaStreams.State.RUNNING) {
                // The active tasks this instance runs now, e.g. "TASKS 0_0,1_1".
                java.util.TreeSet<String> tasks = new java.util.TreeSet<>();
                streams.metadataForLocalThreads().forEach(
                    thread -> thread.activeTasks().forEach(task -> tasks.add(task.taskId().toString())));
                System.out.println("TASKS " + String.join(",", tasks));
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            closed.countDown();
        }));
        streams.start();
        closed.await();
    }
}
