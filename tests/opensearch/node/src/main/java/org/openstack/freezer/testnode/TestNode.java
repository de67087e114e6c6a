/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * One OpenSearch node for the tests of freezer-api, started in this JVM from the classpath:
 * a subclass of org.opensearch.node.Node given its plugins as classes (as OpenSearch's own
 * MockNode does), so that no distribution, plugin installer or security manager is needed.
 *
 *   java -cp 'target/classes:target/lib/*' org.openstack.freezer.testnode.TestNode HOME
 *
 * HOME gets the node's data and logs; it listens on 127.0.0.1 on ports the system picks,
 * written (node.portsfile) to HOME/logs/http.ports and transport.ports. The node stops on
 * SIGTERM (or when its standard input closes).
 */
package org.openstack.freezer.testnode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class TestNode extends Node {

    private static final List<Class<? extends Plugin>> PLUGINS =
            List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);

    private TestNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: TestNode HOME");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("logs"));
        Settings settings = Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("cluster.name", "freezer-tests")
                .put("node.name", "freezer-test-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", "0")
                .put("transport.port", "0")
                .put("node.portsfile", true)
                .put("discovery.type", "single-node")
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("action.auto_create_index", true)
                .build();
        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Collections.emptyMap(), home.resolve("config"), () -> "freezer-test-node");
        TestNode node = new TestNode(environment, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception error) {
                error.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        node.start();
        System.out.println("freezer-test-node started");
        System.out.flush();
        stopped.await();
    }
}
