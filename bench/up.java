///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.auth0:java-jwt:4.6.2
//SOURCES ../tests/support/TestCluster.java
//SOURCES ../tests/support/TestPostgres.java
//SOURCES ../tests/support/TestSupport.java
//SOURCES ../tests/support/CnpgOperatorStandIn.java
//SOURCES ../tests/support/AtticStandIn.java
//SOURCES ../tests/support/GitLabStandIn.java
//SOURCES ../tests/support/DashboardAppStandIn.java
//SOURCES ../lib/cli/Cli.java
//SOURCES BenchRuns.java
//MAIN UpBench

import io.fabric8.kubernetes.api.model.Secret;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Benchmark (not a test): a no-op re-run of {@code up dev} on an unchanged cluster — wall time and the
 * requests it sends (its plan and its last step, health, included) — and its ratio to one no-op
 * {@code provision-namespaces dev}.
 * One test API server with rollouts in the runner and dashboard namespaces, the suite's PostgreSQL behind
 * the CNPG operator stand-in (its own Deployment in cnpg-system), the HPA controller stand-in, the Attic and
 * GitLab stand-ins, the dashboard's /api/health stand-in behind its Service, real Helm with the fixture runner chart.
 *
 * <pre>
 *   ./jbang bench/up.java              # 3 rounds
 *   ./jbang bench/up.java --rounds 5
 * </pre>
 * Prints a Markdown table on stdout; progress on stderr.
 */
class UpBench {

    /** Requests by method and path (namespaces and names of releases' records folded; a watch marked), most first. */
    static void buckets(List<TestCluster.Request> requests) {
        var counts = new java.util.TreeMap<String, Integer>();
        for (TestCluster.Request q : requests) {
            String query = q.query() == null ? "" : q.query();
            String key = q.method() + " " + q.path().replaceAll("/namespaces/[^/]+", "/namespaces/NS") + (query.contains("watch=true") ? " (watch)" : "");
            counts.merge(key, 1, Integer::sum);
        }
        counts.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).forEach(e -> System.err.printf("%5d %s%n", e.getValue(), e.getKey()));
    }

    public static void main(String... args) throws Exception {
        int rounds = args.length == 2 && args[0].equals("--rounds") ? Integer.parseInt(args[1]) : 3;
        Path repo = BenchRuns.findRepo();
        // Two handles on one control plane: gfw's commands go through `server`, whose request log is what is counted; the
        // stand-ins (the CNPG operator's loop, the dashboard's start, the CI cache token below) go through `standIns`.
        try (TestCluster server = TestCluster.start(); TestCluster standIns = TestCluster.start(); GitLabStandIn gitlab = new GitLabStandIn()) {
            var kube = standIns.client();
            var operator = new CnpgOperatorStandIn(kube, TestPostgres.shared());
            operator.installOperator("cnpg-system");
            operator.watch("attic-cache-dev");
            server.rollouts("gitlab-runners", TestCluster.Readiness.ready());
            server.rollouts("runner-dashboard", TestCluster.Readiness.ready());
            var attic = new AtticStandIn(() -> {
                Secret s = kube.secrets().inNamespace("attic-cache-dev").withName("attic-jwt-signing").get();
                return s == null ? "" : new String(Base64.getDecoder().decode(s.getData().get("hs256-secret-base64")), StandardCharsets.UTF_8);
            });
            var dashboard = new DashboardAppStandIn(kube, "runner-dashboard");
            server.serviceBackend("runner-dashboard", 3000, dashboard.uri());
            server.serviceBackend("attic-cache-dev", 8080, java.net.URI.create("http://127.0.0.1:" + attic.port()));
            List<String> kubeconfig = List.of("--kubeconfig", server.kubeconfig().toString());
            var up = new ArrayList<>(List.of(repo.resolve("jbang").toString(), "scripts/up.java", "dev", "--timeout", "120s",
                    "--chart", repo.resolve("tests/fixtures/gitlab-runner").toString(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString(), "--attic-url", "http://127.0.0.1:" + attic.port()));
            up.addAll(kubeconfig);
            var pn = new ArrayList<>(List.of(repo.resolve("jbang").toString(), "scripts/provision-namespaces.java", "dev"));
            pn.addAll(kubeconfig);

            BenchRuns.Timed first = BenchRuns.run(repo, server, up);
            System.err.printf("first up (to healthy; BenchRuns stops on any other exit): %d ms, %d requests (%d writes)%n", first.millis(), first.requests().size(), first.writes());
            BenchRuns.run(repo, server, pn); // warm provision-namespaces' build cache too
            Thread.sleep(500);
            operator.paused = true; // its polls would count as the command's requests
            var upRuns = new ArrayList<BenchRuns.Timed>();
            var pnRuns = new ArrayList<BenchRuns.Timed>();
            for (int r = 0; r < rounds; r++) {
                upRuns.add(BenchRuns.run(repo, server, up));
                pnRuns.add(BenchRuns.run(repo, server, pn));
                System.err.printf("  round %d: up %d ms (%d writes), provision-namespaces %d ms%n", r + 1, upRuns.get(r).millis(), upRuns.get(r).writes(), pnRuns.get(r).millis());
            }
            if (System.getenv("GFW_BENCH_HOLD") != null) { // keep the cluster and the stand-ins for a look by hand, until killed
                System.err.println("holding; run: cd " + repo + " && " + String.join(" ", up));
                Thread.sleep(Long.MAX_VALUE);
            }
            attic.close();
            dashboard.close();
            operator.close();
            long upMs = BenchRuns.median(upRuns.stream().map(BenchRuns.Timed::millis).toList());
            long pnMs = BenchRuns.median(pnRuns.stream().map(BenchRuns.Timed::millis).toList());
            BenchRuns.Timed u = upRuns.get(0);
            BenchRuns.Timed p = pnRuns.get(0);
            System.out.println("| command (no-op re-run) | wall time (ms, median) | requests: total (reads / writes / discovery) |");
            System.out.println("|---|---|---|");
            System.out.printf("| gfw up dev (plan + 6 steps, health included) | %d | %d (%d / %d / %d) |%n", upMs, u.requests().size(), u.reads(), u.writes(), u.discovery());
            System.out.printf("| gfw provision-namespaces dev | %d | %d (%d / %d / %d) |%n", pnMs, p.requests().size(), p.reads(), p.writes(), p.discovery());
            System.out.printf("%nratio up / provision-namespaces: %.1fx wall time, %.1fx requests%n", (double) upMs / pnMs, (double) u.requests().size() / p.requests().size());
            if (System.getenv("GFW_BENCH_REQUESTS") != null) { // where the requests of the first up and of one no-op up go, on stderr
                System.err.println("first up dev, requests by method and path:");
                buckets(first.requests());
                System.err.println("no-op up dev, requests by method and path:");
                buckets(u.requests());
            }
            System.out.printf("(gfw %s; first up: %d ms, %d requests, %d writes; %d rounds; %d cores, java %s)%n", Cli.VERSION, first.millis(), first.requests().size(),
                    first.writes(), rounds, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        } finally {
            TestSupport.shutdown();
        }
    }
}
