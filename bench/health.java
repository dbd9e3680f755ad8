///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS com.auth0:java-jwt:4.6.2
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//SOURCES ../tests/support/TestCluster.java
//SOURCES ../tests/support/HttpStandIn.java
//SOURCES ../tests/support/HealthPlatform.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/runners/RunnerValues.java
//SOURCES BenchRuns.java
//MAIN HealthBench

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Benchmark (not a test): {@code health dev} on a deployed test environment — the namespace layout applied by
 * provision-namespaces, the five runner releases of environments/dev.yaml installed by deploy-runners with real Helm
 * (fixture chart; token Secrets created beforehand with their runner ids), the database, Attic and the dashboard of
 * tests/support/HealthPlatform, GitLab answered by a stand-in — against the kubectl commands an operator would chain
 * for the same answer: {@code kubectl get cluster,deploy,pods,hpa,pdb -n NS} for each of the four namespaces plus
 * {@code kubectl get --raw} of the two HTTP checks through the service proxy. Then the same with every runner scaled
 * to 5 pods (25 runner pods): health's request count does not change.
 *
 * <pre>
 *   ./jbang bench/health.java              # 3 rounds
 *   ./jbang bench/health.java --rounds 5
 * </pre>
 * Prints a Markdown table (medians, requests by kind) on stdout; progress on stderr.
 */
class HealthBench {

    record Run(long millis, long reads, long writes, long discovery, long total) {
        Run plus(Run o) {
            return new Run(millis + o.millis, reads + o.reads, writes + o.writes, discovery + o.discovery, total + o.total);
        }
    }

    static Path repo;
    static int rounds = 3;

    public static void main(String... args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--rounds") && i + 1 < args.length) {
                rounds = Integer.parseInt(args[++i]);
            } else {
                System.err.println("usage: bench/health.java [--rounds N]");
                System.exit(64);
            }
        }
        repo = BenchRuns.findRepo();
        EnvConfig.Env env = EnvConfig.load("dev", repo.resolve("environments").toString());
        var results = new java.util.LinkedHashMap<String, List<Run>>();
        try (TestCluster server = TestCluster.start(); var platform = new HealthPlatform(server, env); var gitlab = new HttpStandIn()) {
            String kc = server.kubeconfig().toString();
            List<String> cluster = List.of("--kubeconfig", kc, "--context", server.context());
            System.err.println("deploying the test environment (provision-namespaces, platform, deploy-runners with Helm) ...");
            BenchRuns.run(repo, server, concat(List.of(repo.resolve("jbang").toString(), "scripts/provision-namespaces.java", "dev"), cluster));
            platform.install();
            long id = 9100;
            for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
                server.client().resource(RunnerValues.tokenSecret(r, "glrt-bench-" + r.type(), ++id)).create();
                gitlab.answer("/api/v4/runners/" + id, 200, "application/json", "{\"id\":" + id
                        + ",\"online\":true,\"paused\":false,\"status\":\"online\",\"contacted_at\":\"2026-12-01T10:00:00.000Z\"}");
            }
            BenchRuns.run(repo, server, concat(List.of(repo.resolve("jbang").toString(), "scripts/deploy-runners.java", "dev", "--chart",
                    repo.resolve("tests/fixtures/gitlab-runner").toString(), "--timeout", "2m"), cluster));
            for (RunnerValues.Release r : RunnerValues.select(env, List.of())) platform.autoscalerStatus(r.type(), 1, 1);

            Path token = Files.createTempFile("gfw-bench-gitlab", ".token", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(token, "glpat-bench\n");
            List<String> health = concat(List.of(repo.resolve("jbang").toString(), "scripts/health.java", "dev", "--gitlab-url",
                    gitlab.uri().toString(), "--gitlab-token-file", token.toString()), cluster);
            List<List<String>> kubectl = new ArrayList<>();
            for (String ns : List.of(env.namespaces().attic().name(), env.namespaces().runners().name(), env.namespaces().dashboard().name(),
                    env.cnpg().operatorNamespace())) {
                kubectl.add(concat(List.of("kubectl"), cluster, List.of("get", "cluster,deploy,pods,hpa,pdb", "-n", ns)));
            }
            kubectl.add(concat(List.of("kubectl"), cluster, List.of("get", "--raw", "/api/v1/namespaces/" + env.namespaces().attic().name()
                    + "/services/" + env.attic().service() + ":" + env.attic().port() + "/proxy/")));
            kubectl.add(concat(List.of("kubectl"), cluster, List.of("get", "--raw", "/api/v1/namespaces/" + env.namespaces().dashboard().name()
                    + "/services/runner-dashboard:" + env.dashboard().port() + "/proxy/api/health")));
            measure(server, health); // builds and warms the script once
            for (int scale : List.of(1, 5)) {
                if (scale > 1) {
                    for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
                        server.client().apps().deployments().inNamespace(r.namespace()).withName(r.name()).scale(scale);
                    }
                }
                int pods = server.client().pods().inNamespace(env.namespaces().runners().name()).list().getItems().size();
                for (int round = 0; round < rounds; round++) {
                    Run h = measure(server, health);
                    Run k = new Run(0, 0, 0, 0, 0);
                    for (List<String> c : kubectl) k = k.plus(measure(server, c));
                    results.computeIfAbsent("gfw health dev (" + pods + " runner pods)", x -> new ArrayList<>()).add(h);
                    results.computeIfAbsent("6 kubectl commands (" + pods + " runner pods)", x -> new ArrayList<>()).add(k);
                    System.err.printf("  %d runner pods, round %d: health %d ms (%d requests), kubectl chain %d ms (%d requests)%n",
                            pods, round + 1, h.millis(), h.total(), k.millis(), k.total());
                }
            }
            Files.deleteIfExists(token);
        }
        System.out.println("| what | wall time (ms) | requests: total (reads / writes / discovery) |");
        System.out.println("|---|---|---|");
        results.forEach((what, runs) -> {
            Run f = runs.get(0);
            long median = BenchRuns.median(runs.stream().map(Run::millis).toList());
            System.out.printf("| %s | %d | %d (%d / %d / %d) |%n", what, median, f.total(), f.reads(), f.writes(), f.discovery());
        });
        System.out.printf("%n(medians of %d round(s); %d cores, java %s)%n", rounds, Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
    }

    static Run measure(TestCluster server, List<String> command) throws Exception {
        BenchRuns.Timed t = BenchRuns.run(repo, server, command);
        return new Run(t.millis(), t.reads(), t.writes(), t.discovery(), t.requests().size());
    }

    @SafeVarargs
    static List<String> concat(List<String>... parts) {
        var out = new ArrayList<String>();
        for (List<String> p : parts) out.addAll(p);
        return out;
    }
}
