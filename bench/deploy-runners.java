///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../tests/support/TestCluster.java
//SOURCES BenchRuns.java
//MAIN DeployRunnersBench

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Benchmark (not a test): {@code deploy-runners dev} with real Helm (helm-java, in the script's JVM) against the
 * local test API server with rollouts on (every Deployment's pods become ready at once), all five runner releases
 * of environments/dev.yaml from the fixture chart: a first install of the five with {@code --wait}, then a re-run
 * on the unchanged cluster (no upgrade: zero writes). The runner token Secrets are created beforehand, so no GitLab
 * is involved. For scale, {@code kubectl get} of the same kinds of objects in the namespace, once per round.
 *
 * <pre>
 *   ./jbang bench/deploy-runners.java              # 3 rounds
 *   ./jbang bench/deploy-runners.java --rounds 5
 * </pre>
 * Prints a Markdown table (medians, requests by kind, Helm's wait polls) on stdout; progress on stderr.
 */
class DeployRunnersBench {

    record Run(long millis, int reads, int writes, int discovery, int waitPolls, int total) {}

    static Path repo;
    static int rounds = 3;
    static final List<String> TYPES = List.of("docker", "dind", "rocky8", "rocky9", "nix");
    static final String NS = "gitlab-runners";

    public static void main(String... args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--rounds") && i + 1 < args.length) {
                rounds = Integer.parseInt(args[++i]);
            } else {
                System.err.println("usage: bench/deploy-runners.java [--rounds N]");
                System.exit(64);
            }
        }
        repo = BenchRuns.findRepo();
        var first = new ArrayList<Run>();
        var again = new ArrayList<Run>();
        var kubectl = new ArrayList<Run>();
        try (TestCluster server = TestCluster.start()) {
            List<String> gfw = List.of(repo.resolve("jbang").toString(), "scripts/deploy-runners.java", "dev", "--kubeconfig",
                    server.kubeconfig().toString(), "--context", server.context(), "--chart",
                    repo.resolve("tests/fixtures/gitlab-runner").toString(), "--timeout", "2m", "-o", "json");
            List<String> get = List.of("kubectl", "--kubeconfig", server.kubeconfig().toString(), "-n", NS, "get",
                    "secrets,deployments,replicasets,pods,hpa,pdb", "-o", "name");
            measure(server, List.of(repo.resolve("jbang").toString(), "scripts/deploy-runners.java", "dev", "--dry-run=client")); // build once
            for (int r = 0; r < rounds; r++) {
                fresh(server);
                first.add(measure(server, gfw));
                again.add(measure(server, gfw));
                kubectl.add(measure(server, get));
                if (again.get(r).writes() != 0) throw new IllegalStateException("the unchanged re-run wrote: " + server.requests());
                System.err.printf("  round %d: first install %d ms, re-run %d ms, kubectl get %d ms%n", r + 1, first.get(r).millis(),
                        again.get(r).millis(), kubectl.get(r).millis());
            }
        }
        System.out.println("| what (5 releases) | wall time (ms) | requests: total (reads / writes / discovery) | of which Helm's wait polls |");
        System.out.println("|---|---|---|---|");
        System.out.println(row("gfw deploy-runners dev, first install with --wait", first));
        System.out.println(row("gfw deploy-runners dev, unchanged re-run", again));
        System.out.println(row("kubectl get secrets,deployments,replicasets,pods,hpa,pdb", kubectl));
        System.out.printf("%n(medians of %d round(s); %d cores, java %s)%n", rounds, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
    }

    /** An empty runner namespace with rollouts (pods ready at once) and the five runner token Secrets. */
    static void fresh(TestCluster server) {
        var client = server.client();
        client.namespaces().withName(NS).delete();
        client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(NS)
                .endMetadata().build()).create();
        server.rollouts(NS, TestCluster.Readiness.ready());
        for (String type : TYPES) {
            client.secrets().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata()
                    .withName("gitlab-runner-" + type + "-token").withNamespace(NS).endMetadata()
                    .withStringData(Map.of("runner-token", "glrt-bench-" + type, "runner-registration-token", "")).build()).create();
        }
    }

    /** Runs one command against the server, timed, with the server's request log of that run. */
    static Run measure(TestCluster server, List<String> command) throws Exception {
        BenchRuns.Timed t = BenchRuns.run(repo, server, command);
        int polls = (int) t.requests().stream().filter(r -> r.method().equals("GET") && r.path().endsWith("/replicasets")
                && r.query().contains("labelSelector")).count();
        return new Run(t.millis(), (int) t.reads(), (int) t.writes(), (int) t.discovery(), polls, t.requests().size());
    }

    static String row(String what, List<Run> runs) {
        Run f = runs.get(0);
        long median = BenchRuns.median(runs.stream().map(Run::millis).toList());
        return String.format("| %s | %d | %d (%d / %d / %d) | %d |", what, median, f.total(), f.reads(), f.writes(), f.discovery(),
                f.waitPolls());
    }
}
