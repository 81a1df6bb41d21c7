/*
 * A single-node OpenSearch 2.19 server for modelwatch's integration tests.
 *
 * Why this exists: the tests need a real engine that speaks the REST API modelwatch uses
 * (_bulk, index/component templates, data streams, _search), and this machine has no Docker
 * and no OpenSearch distribution archive. The server jar and its HTTP transport plugin are on
 * Maven Central, so this class assembles a node from them in one JVM.
 *
 * It is started and stopped by tests/services/opensearch.sh; it is not a general launcher.
 *
 * Usage: OpenSearchTestNode --home DIR --data DIR --port PORT --port-file FILE
 *   --port 0 lets the operating system pick a free loopback port; the port actually bound is
 *   written to --port-file (atomically) once the node is started, so the script never races
 *   another process for a port it probed earlier.
 *   The data directory survives a stop, so a restart with the same --data and --port gives
 *   back the same cluster with its indices (the outage test relies on this).
 */
package modelwatch.testnode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class OpenSearchTestNode {

    /** The plugins a packaged distribution would load from modules/; only those modelwatch needs. */
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class);

    /** Node's constructor that accepts classpath plugins is protected: this subclass opens it. */
    private static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Environment environment) {
            super(environment, PLUGINS, true);
        }
    }

    private OpenSearchTestNode() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> options = parseOptions(args);
        Path home = Path.of(required(options, "--home")).toAbsolutePath();
        Path data = Path.of(required(options, "--data")).toAbsolutePath();
        int port = Integer.parseInt(required(options, "--port"));
        Path portFile = Path.of(required(options, "--port-file")).toAbsolutePath();
        Files.createDirectories(home);
        Files.createDirectories(data);

        Settings settings = Settings.builder()
            .put("cluster.name", "modelwatch-test")
            .put("node.name", "modelwatch-test-node")
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("network.host", "127.0.0.1")
            .put("http.type", "netty4")
            .put("http.port", port)
            .put("transport.type", "netty4")
            // The transport layer is only used inside this one node: any free port will do.
            .put("transport.port", 0)
            .put("discovery.type", "single-node")
            // A nearly full CI disk must not turn the test indices read-only behind our back.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("logger.level", "INFO")
            .build();

        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, new HashMap<>(), home.resolve("config"), () -> "modelwatch-test-node");
        Node node = new ClasspathPluginNode(environment);

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // SIGTERM from the script: flush and release the data directory lock cleanly.
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "modelwatch-test-node-shutdown"));

        try {
            node.start();
        } catch (Exception e) {
            // The stack trace is long; the script shows the log tail, so end it with the cause.
            e.printStackTrace();
            System.out.println("modelwatch-test-node: start failed: " + causes(e));
            System.out.flush();
            System.exit(1);
        }
        int boundPort = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        writeAtomically(portFile, boundPort + "\n");
        System.out.println("modelwatch-test-node: listening on http://127.0.0.1:" + boundPort);
        System.out.flush();
        closed.await();
    }

    /** The messages of an exception and its causes, outermost first, on one line. */
    private static String causes(Throwable e) {
        StringBuilder line = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (line.length() > 0) {
                line.append(": ");
            }
            line.append(t.getClass().getSimpleName()).append(' ').append(t.getMessage());
        }
        return line.toString();
    }

    private static Map<String, String> parseOptions(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs, got: " + String.join(" ", args));
            }
            options.put(args[i], args[i + 1]);
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing option " + name);
        }
        return value;
    }

    private static void writeAtomically(Path file, String content) throws Exception {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
