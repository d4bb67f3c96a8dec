// A transactional producer for tests/txn: `transactions` transactions of `records` records
// each, spread over the topic's partitions by key; transaction i aborts when i % abortEvery ==
// abortEvery - 1, else commits. Values are "<i>-<j>". Arguments: bootstrap transactional-id
// topic transactions records abortEvery. Prints "COMMITTED <i>" / "ABORTED <i>" per
// transaction and "DONE" at the end; a fatal error is printed and exits 1.
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public final class TxnProducer {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, args[1]);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        String topic = args[2];
        int transactions = Integer.parseInt(args[3]);
        int records = Integer.parseInt(args[4]);
        int abortEvery = Integer.parseInt(args[5]);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            producer.initTransactions();
            for (int i = 0; i < transactions; i++) {
                producer.beginTransaction();
                for (int j = 0; j < records; j++) {
                    producer.send(new ProducerRecord<>(topic, "k" + j, i + "-" + j));
                }
                if (i % abortEvery == abortEvery - 1) {
                    producer.flush(); // in the log before the abort: what read_committed skips
                    producer.abortTransaction();
                    System.out.println("ABORTED " + i);
                } else {
                    producer.commitTransaction();
                    System.out.println("COMMITTED " + i);
                }
            }
            System.out.println("DONE");
        } catch (Exception exc) {
            System.out.println("FATAL " + exc);
            System.exit(1);
        }
    }
}
