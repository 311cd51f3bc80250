package com.downline.launcher;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Runs Neo4j Community embedded with only the Bolt connector, bound to loopback.
 *
 * <p>Usage: {@code java -jar neo4j-launcher.jar --data DIR --port 7687 [--pagecache 512m]
 * [--password SECRET] [--keep-password true] [--conf key=value ...]}. The heap is the JVM's own
 * {@code -Xmx}. It prints
 * {@code READY bolt://127.0.0.1:PORT} once Bolt accepts connections and shuts the database down
 * cleanly on SIGTERM, so the store never needs recovery after {@code downline db stop}.
 *
 * <p>{@code java -jar neo4j-launcher.jar import|dump|load|check --data DIR [options ...]} instead
 * runs Neo4j's own offline {@code neo4j-admin database} command on the stopped store: the bulk
 * importer, a dump, a load of a dump, or the consistency checker; see {@link Admin}.
 */
public final class Main {
    private static final String USER = "neo4j";

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && Admin.isMode(args[0])) {
            System.exit(Admin.run(args[0], java.util.Arrays.copyOfRange(args, 1, args.length)));
            return;
        }
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("neo4j-launcher: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (!portIsFree(options.host, options.port)) {
            System.err.println("neo4j-launcher: port " + options.port + " on " + options.host
                    + " is already in use; choose another with --port");
            System.exit(3);
            return;
        }
        Files.createDirectories(options.data);

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(options.data)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(options.host, options.port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, options.password != null)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files");
        // Settings by name (page cache, --conf) go through a properties file: the embedded
        // builder only takes typed settings otherwise.
        Map<String, String> raw = new LinkedHashMap<>();
        if (options.pagecache != null) {
            raw.put("server.memory.pagecache.size", options.pagecache);
        }
        raw.putAll(options.raw);
        if (!raw.isEmpty()) {
            Path conf = options.data.resolve("launcher.conf");
            StringBuilder text = new StringBuilder();
            raw.forEach((key, value) -> text.append(key).append('=').append(value).append('\n'));
            Files.writeString(conf, text.toString());
            builder.loadPropertiesFromFile(conf);
        }

        DatabaseManagementService service = builder.build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            service.shutdown();
            System.out.println("STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "neo4j-launcher-shutdown"));

        try {
            // A restart of a store whose password is already set skips the ALTER USER, which
            // costs seconds of cold Cypher planning on a small machine.
            if (options.password != null && !options.keepPassword) {
                setPassword(service, options.password);
            }
            GraphDatabaseService db = service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            db.executeTransactionally("RETURN 1");
        } catch (RuntimeException e) {
            // Without this the database's own threads would keep a half-started JVM alive.
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("READY bolt://" + options.host + ":" + options.port);
        System.out.flush();
        stopped.await();
    }

    /** Sets the neo4j user's password so clients authenticate with the configured secret. */
    private static void setPassword(DatabaseManagementService service, String password) {
        GraphDatabaseService system = service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER " + USER + " SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // A restarted store already has this password; Neo4j refuses to "change" it to itself.
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static boolean portIsFree(String host, int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(host, port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private record Options(Path data, String host, int port, String pagecache, String password,
                           boolean keepPassword, Map<String, String> raw) {
        static Options parse(String[] args) {
            Path data = null;
            String host = "127.0.0.1";
            int port = 7687;
            String pagecache = null;
            String password = System.getenv("NEO4J_PASSWORD");
            boolean keepPassword = false;
            Map<String, String> raw = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value after " + arg);
                }
                String value = args[++i];
                switch (arg) {
                    case "--data" -> data = Path.of(value).toAbsolutePath();
                    case "--host" -> host = value;
                    case "--port" -> port = parsePort(value);
                    case "--pagecache" -> pagecache = value;
                    case "--password" -> password = value;
                    case "--keep-password" -> keepPassword = Boolean.parseBoolean(value);
                    case "--conf" -> {
                        int eq = value.indexOf('=');
                        if (eq <= 0) {
                            throw new IllegalArgumentException("--conf expects key=value, got " + value);
                        }
                        raw.put(value.substring(0, eq), value.substring(eq + 1));
                    }
                    default -> throw new IllegalArgumentException("unknown option " + arg);
                }
            }
            if (data == null) {
                throw new IllegalArgumentException("--data DIR is required");
            }
            if (password != null && password.isEmpty()) {
                password = null;
            }
            return new Options(data, host, port, pagecache, password, keepPassword, raw);
        }

        private static int parsePort(String value) {
            try {
                int port = Integer.parseInt(value);
                if (port < 1 || port > 65535) {
                    throw new NumberFormatException();
                }
                return port;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--port expects 1-65535, got " + value);
            }
        }
    }
}
