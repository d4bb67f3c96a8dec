// The Java Admin API's SCRAM calls for tests/security: each argument is one step, run in order
// against the bootstrap server (the first argument), and each prints one line:
//   upsert:USER:MECHANISM:ITERATIONS:PASSWORD  -> "upsert USER ok" or "upsert USER <Exception>: <message>"
//   delete:USER:MECHANISM                      -> "delete USER ok" / the error
//   describe:USER,USER,...  (empty: all users) -> per user, sorted: "describe USER MECH=ITER,..."
//                                                 or "describe USER <Exception>: <message>"
// MECHANISM is SCRAM-SHA-256 or SCRAM-SHA-512. A failure to reach the broker exits 1.
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeUserScramCredentialsResult;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.common.KafkaFuture;

public final class ScramAdmin {
    private static final long TIMEOUT_S = 30;

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            for (String step : Arrays.copyOfRange(args, 1, args.length)) {
                String[] parts = step.split(":", -1);
                switch (parts[0]) {
                    case "upsert": {
                        ScramCredentialInfo info = new ScramCredentialInfo(
                            ScramMechanism.fromMechanismName(parts[2]), Integer.parseInt(parts[3]));
                        alter(admin, "upsert", parts[1],
                            new UserScramCredentialUpsertion(parts[1], info, parts[4]));
                        break;
                    }
                    case "delete":
                        alter(admin, "delete", parts[1], new UserScramCredentialDeletion(
                            parts[1], ScramMechanism.fromMechanismName(parts[2])));
                        break;
                    case "describe":
                        describe(admin, parts[1].isEmpty() ? null : Arrays.asList(parts[1].split(",")));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown step " + step);
                }
            }
        }
    }

    private static void alter(Admin admin, String what, String user,
                              UserScramCredentialAlteration alteration) throws Exception {
        KafkaFuture<Void> future = admin.alterUserScramCredentials(List.of(alteration)).values().get(user);
        System.out.println(what + " " + user + " " + outcome(future));
    }

    private static void describe(Admin admin, List<String> users) throws Exception {
        DescribeUserScramCredentialsResult result = users == null
            ? admin.describeUserScramCredentials() : admin.describeUserScramCredentials(users);
        List<String> names = users;
        if (names == null) {
            names = new ArrayList<>(result.users().get(TIMEOUT_S, TimeUnit.SECONDS));
        }
        TreeMap<String, String> lines = new TreeMap<>();
        for (String user : names) {
            KafkaFuture<UserScramCredentialsDescription> future = result.description(user);
            try {
                UserScramCredentialsDescription description = future.get(TIMEOUT_S, TimeUnit.SECONDS);
                TreeMap<String, Integer> infos = new TreeMap<>();
                for (ScramCredentialInfo info : description.credentialInfos()) {
                    infos.put(info.mechanism().mechanismName(), info.iterations());
                }
                StringBuilder text = new StringBuilder();
                for (Map.Entry<String, Integer> entry : infos.entrySet()) {
                    if (text.length() > 0) text.append(',');
                    text.append(entry.getKey()).append('=').append(entry.getValue());
                }
                lines.put(user, text.toString());
            } catch (ExecutionException e) {
                lines.put(user, error(e));
            }
        }
        for (Map.Entry<String, String> line : lines.entrySet()) {
            System.out.println("describe " + line.getKey() + " " + line.getValue());
        }
    }

    private static String outcome(KafkaFuture<Void> future) throws Exception {
        try {
            future.get(TIMEOUT_S, TimeUnit.SECONDS);
            return "ok";
        } catch (ExecutionException e) {
            return error(e);
        }
    }

    private static String error(ExecutionException e) {
        Throwable cause = e.getCause();
        return cause.getClass().getSimpleName() + ": " + cause.getMessage();
    }
}
