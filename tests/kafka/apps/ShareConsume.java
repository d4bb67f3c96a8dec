// A share-group consumer for tests/share (KafkaShareConsumer, KIP-932). Arguments: bootstrap
// group topic mode idleMs maxMs [firstWaitMs [maxPollRecords]]. mode "implicit": every record polled is accepted by the next
// poll. mode "explicit": by the record's value prefix, "release-" RELEASE on its first
// delivery then ACCEPT, "reject-" REJECT, "poison-" RELEASE always, "hold-" not acknowledged on its
// first delivery (the process prints HOLD and waits to be killed), then ACCEPT, anything else ACCEPT; commitSync after
// each poll. Prints "GOT <offset> <deliveryCount> <value>" per record, and "DONE" once no
// record came for idleMs after the first one, or none at all for firstWaitMs (default maxMs),
// or maxMs passed; a fatal error exits 1.
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public final class ShareConsume {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("group.id", args[1]);
        props.put("key.deserializer", StringDeserializer.class.getName());
        props.put("value.deserializer", StringDeserializer.class.getName());
        String mode = args[3];
        props.put("share.acknowledgement.mode", mode);
        long idleMs = Long.parseLong(args[4]);
        long start = System.currentTimeMillis();
        long deadline = start + Long.parseLong(args[5]);
        long firstWaitMs = args.length > 6 ? Long.parseLong(args[6]) : Long.parseLong(args[5]);
        if (args.length > 7) {
            props.put("max.poll.records", args[7]);
        }
        boolean holding = false;
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(props)) {
            consumer.subscribe(List.of(args[2]));
            long lastRecord = -1;
            while (System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> record : records) {
                    int count = record.deliveryCount().map(Short::intValue).orElse(-1);
                    System.out.println("GOT " + record.offset() + " " + count + " " + record.value());
                    if (!mode.equals("explicit")) {
                        continue;
                    }
                    String value = record.value();
                    if (value.startsWith("hold-") && count == 1) {
                        holding = true;
                    } else if (value.startsWith("release-") && count == 1) {
                        consumer.acknowledge(record, AcknowledgeType.RELEASE);
                    } else if (value.startsWith("poison-")) {
                        consumer.acknowledge(record, AcknowledgeType.RELEASE);
                    } else if (value.startsWith("reject-")) {
                        consumer.acknowledge(record, AcknowledgeType.REJECT);
                    } else {
                        consumer.acknowledge(record, AcknowledgeType.ACCEPT);
                    }
                }
                System.out.flush();
                if (holding) {
                    System.out.println("HOLD");
                    System.out.flush();
                    Thread.sleep(deadline - System.currentTimeMillis());
                    break;
                }
                if (mode.equals("explicit") && !records.isEmpty()) {
                    consumer.commitSync();
                }
                long now = System.currentTimeMillis();
                if (!records.isEmpty()) {
                    lastRecord = now;
                } else if (lastRecord >= 0 && now - lastRecord >= idleMs) {
                    break;
                } else if (lastRecord < 0 && now - start >= firstWaitMs) {
                    break;
                }
            }
            System.out.println("DONE");
        } catch (Exception exc) {
            exc.printStackTrace();
            System.exit(1);
        }
    }
}
