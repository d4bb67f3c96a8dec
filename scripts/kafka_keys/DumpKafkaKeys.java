// Prints, as JSON lines, every broker config key Apache Kafka's broker accepts and every group
// config key, read from the Kafka jars on the classpath. Run by scripts/gen_kafka_keys.py.
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.coordinator.group.GroupConfig;
import org.apache.kafka.server.config.AbstractKafkaConfig;
import org.apache.kafka.server.config.DynamicBrokerConfig;

public final class DumpKafkaKeys {
    private static String quote(String s) {
        if (s == null) return "null";
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    private static String defaultString(ConfigDef.ConfigKey key) {
        if (key.defaultValue == ConfigDef.NO_DEFAULT_VALUE) return "\"<required>\"";
        return quote(ConfigDef.convertToString(key.defaultValue, key.type));
    }

    private static String line(String kind, ConfigDef.ConfigKey key, String extra) {
        return "{\"kind\": " + quote(kind) + ", \"name\": " + quote(key.name)
            + ", \"type\": " + quote(key.type.name())
            + ", \"default\": " + defaultString(key)
            + ", \"validator\": " + quote(key.validator == null ? null : key.validator.toString())
            + ", \"internal\": " + key.internalConfig + extra + "}";
    }

    public static void main(String[] args) {
        Map<String, String> modes = DynamicBrokerConfig.dynamicConfigUpdateModes();
        Set<String> security = DynamicBrokerConfig.DYNAMIC_SECURITY_CONFIGS;
        for (ConfigDef.ConfigKey key : new TreeMap<>(AbstractKafkaConfig.CONFIG_DEF.configKeys()).values()) {
            String mode = modes.getOrDefault(key.name, "read-only");
            System.out.println(line("broker", key, ", \"mode\": " + quote(mode)
                + ", \"dynamic_security\": " + security.contains(key.name)));
        }
        for (ConfigDef.ConfigKey key : new TreeMap<>(GroupConfig.CONFIG_DEF.configKeys()).values()) {
            Optional<String> synonym = GroupConfig.brokerSynonym(key.name);
            System.out.println(line("group", key, ", \"broker_synonym\": " + quote(synonym.orElse(null))
                + ", \"doc\": " + quote(key.documentation)));
        }
    }
}
