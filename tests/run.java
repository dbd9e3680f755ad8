///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.junit.jupiter:junit-jupiter:5.14.4
//DEPS org.junit.platform:junit-platform-launcher:1.14.4
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.auth0:java-jwt:4.6.2
//SOURCES ../scripts/gfw.java
//SOURCES support/*.java
//SOURCES *Test.java

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassNameFilter;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs every gfw test (classes named *Test under tests/) and prints "N passed, N failed" alone on
 * its last line; exits 1 when anything failed or nothing ran.
 *
 * <pre>
 *   ./jbang tests/run.java                 # everything
 *   ./jbang tests/run.java Config Launcher  # only test classes whose name contains one of these
 *   ./jbang tests/run.java UpTest#aDeployerBoundByDeployerRbacBringsAnEnvironmentUpWithoutBeingAdmin   # one test method
 * </pre>
 *
 * Environment: GFW_TEST_KUBECONFIG runs the cluster tests against that real cluster instead of
 * the suite's own control plane (tests/cluster.java: kube-apiserver, etcd and kwok built from Go
 * modules, started once per run).
 */
class run {
    public static void main(String... args) throws Exception {
        List<String> missing = Prerequisites.missing();
        if (!missing.isEmpty()) {
            for (String m : missing) System.out.println("missing: " + m);
            System.out.println("0 passed, " + missing.size() + " failed");
            System.exit(3);
        }
        if (args.length == 0) {
            // Every test class but a few needs the cluster: start it now, and say which it is.
            System.out.println(TestCluster.describe());
        }
        Path jar = Path.of(run.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> patterns = new ArrayList<>();
        var methods = new ArrayList<org.junit.platform.engine.DiscoverySelector>();
        for (String a : args) {
            if (a.contains("#")) methods.add(DiscoverySelectors.selectMethod(a));
            else patterns.add(".*" + java.util.regex.Pattern.quote(a) + ".*Test");
        }
        if (patterns.isEmpty() && methods.isEmpty()) patterns.add(".*Test");
        var builder = LauncherDiscoveryRequestBuilder.request();
        if (!patterns.isEmpty()) {
            builder.selectors(DiscoverySelectors.selectClasspathRoots(Set.of(jar)))
                    .filters(ClassNameFilter.includeClassNamePatterns(patterns.toArray(String[]::new)));
        }
        if (!methods.isEmpty()) builder.selectors(methods);
        LauncherDiscoveryRequest request = builder.build();

        var passed = new AtomicInteger();
        var failed = new AtomicInteger();
        var skipped = new AtomicInteger();
        var failures = new ArrayList<String>();
        TestExecutionListener listener = new TestExecutionListener() {
            long started;

            @Override
            public void executionStarted(TestIdentifier id) {
                if (id.isTest()) started = System.nanoTime();
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (id.isTest()) {
                    skipped.incrementAndGet();
                    System.out.println("SKIP " + name(id) + " (" + reason + ")");
                }
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (!id.isTest()) {
                    // A failing @BeforeAll fails the whole class: count it, or it would vanish.
                    if (result.getStatus() == TestExecutionResult.Status.FAILED && id.getSource().isPresent()) {
                        failed.incrementAndGet();
                        failures.add(name(id) + "\n" + trace(result));
                        System.out.println("FAIL " + name(id) + " (container)");
                    }
                    return;
                }
                long ms = (System.nanoTime() - started) / 1_000_000;
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
                    // An assumption said no: e.g. a check that needs the test proxy's request log, on GFW_TEST_KUBECONFIG's cluster.
                    skipped.incrementAndGet();
                    System.out.println("SKIP " + name(id) + " (" + result.getThrowable().map(Throwable::getMessage).orElse("aborted") + ")");
                } else if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    passed.incrementAndGet();
                    System.out.println("ok   " + name(id) + " (" + ms + " ms)");
                } else {
                    failed.incrementAndGet();
                    failures.add(name(id) + "\n" + trace(result));
                    System.out.println("FAIL " + name(id) + " (" + ms + " ms)");
                }
            }

            private String name(TestIdentifier id) {
                return id.getUniqueId().replaceAll(".*\\[class:([^\\]]*)\\].*?(\\[method:([^(\\]]*).*)?$", "$1.$3")
                        .replaceAll("\\.null$", "") + (id.getDisplayName().contains("[") ? " " + id.getDisplayName() : "");
            }

            private String trace(TestExecutionResult result) {
                var sw = new StringWriter();
                result.getThrowable().ifPresent(t -> t.printStackTrace(new PrintWriter(sw)));
                String s = sw.toString();
                // The top of the trace says what failed; the JUnit internals below do not help.
                int cut = s.indexOf("\tat org.junit.platform");
                return cut > 0 ? s.substring(0, cut) : s;
            }
        };

        try {
            LauncherFactory.create().execute(request, listener);
        } finally {
            TestSupport.shutdown();
        }
        if (!failures.isEmpty()) {
            System.out.println("\nFailures:");
            for (String f : failures) System.out.println("- " + f);
        }
        if (passed.get() + failed.get() == 0) {
            System.out.println("no test ran (filter: " + String.join(" ", args) + ")");
            failed.incrementAndGet();
        }
        System.out.println(passed.get() + " passed, " + failed.get() + " failed" + (skipped.get() > 0 ? ", " + skipped.get() + " skipped" : ""));
        System.exit(failed.get() == 0 ? 0 : 1);
    }
}
