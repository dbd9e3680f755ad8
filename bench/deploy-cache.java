///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.auth0:java-jwt:4.6.2
//SOURCES ../tests/support/TestCluster.java
//SOURCES ../tests/support/TestPostgres.java
//SOURCES ../tests/support/TestSupport.java
//SOURCES ../tests/support/CnpgOperatorStandIn.java
//SOURCES ../tests/support/AtticStandIn.java
//SOURCES ../lib/cli/Cli.java
//SOURCES BenchRuns.java
//MAIN DeployCacheBench

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Benchmark (not a test): a no-op re-run of {@code deploy-cache dev} on an unchanged cluster — wall
 * time and the requests it sends — against {@code kubectl apply --server-side -f} of the same
 * non-secret objects (from {@code deploy-cache dev --dry-run=client -o yaml}, Secrets left out and the
 * checksum annotation set to the live value, since kubectl cannot compute either). One test API server, the suite's
 * PostgreSQL, the CNPG operator stand-in and the Attic stand-in behind a port-forward stand-in, as in
 * tests/DeployCacheTest.
 *
 * <pre>
 *   ./jbang bench/deploy-cache.java              # 5 rounds
 *   ./jbang bench/deploy-cache.java --rounds 3
 * </pre>
 * Prints a Markdown table on stdout; progress on stderr.
 */
class DeployCacheBench {

    public static void main(String... args) throws Exception {
        int rounds = args.length == 2 && args[0].equals("--rounds") ? Integer.parseInt(args[1]) : 5;
        Path repo = BenchRuns.findRepo();
        String ns = "attic-cache-dev";
        try (TestCluster server = TestCluster.start()) {
            var kube = server.client();
            var pg = TestPostgres.shared();
            var operator = new CnpgOperatorStandIn(kube, pg);
            kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
            operator.watch(ns);
            var attic = new AtticStandIn(() -> {
                Secret s = kube.secrets().inNamespace(ns).withName("attic-jwt-signing").get();
                return s == null ? "" : new String(Base64.getDecoder().decode(s.getData().get("hs256-secret-base64")), StandardCharsets.UTF_8);
            });
            server.serviceBackend(ns, 8080, java.net.URI.create("http://127.0.0.1:" + attic.port()));
            List<String> gfw = List.of(repo.resolve("jbang").toString(), "scripts/deploy-cache.java", "dev",
                    "--kubeconfig", server.kubeconfig().toString(), "--timeout", "120s");
            var first = measure(repo, server, gfw);
            System.err.printf("first deploy: %d ms, %d requests (%d writes)%n", first.millis(), first.total(), first.writes());

            String liveChecksum = kube.apps().deployments().inNamespace(ns).withName("attic").get()
                    .getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
            Path rendered = Files.createTempFile("gfw-bench-cache", ".yaml");
            var p = new ProcessBuilder(repo.resolve("jbang").toString(), "scripts/deploy-cache.java", "dev", "--dry-run=client", "-o", "yaml")
                    .directory(repo.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String yaml = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new IllegalStateException("rendering failed");
            var docs = new ArrayList<String>();
            for (String doc : yaml.split("(?m)^---\\s*$")) {
                if (doc.isBlank() || doc.contains("\nkind: Secret\n") || doc.startsWith("kind: Secret\n") || doc.contains("kind: ScheduledBackup")) continue;
                // The checksum gfw computed from the real secrets, as the live Deployments carry it.
                docs.add(doc.replaceAll("checksum/config: \\S+", "checksum/config: " + liveChecksum));
            }
            Files.writeString(rendered, String.join("---\n", docs));
            List<String> kubectl = List.of("kubectl", "--kubeconfig", server.kubeconfig().toString(), "apply", "--server-side", "-f", rendered.toString());
            measure(repo, server, kubectl); // kubectl's first apply adds its own field manager entries

            Thread.sleep(500); // let the stand-in react to kubectl's first apply, then keep it quiet while measuring
            operator.paused = true;
            var gfwRuns = new ArrayList<Run>();
            var kubectlRuns = new ArrayList<Run>();
            for (int r = 0; r < rounds; r++) {
                gfwRuns.add(measure(repo, server, gfw));
                kubectlRuns.add(measure(repo, server, kubectl));
                System.err.printf("  round %d: gfw %d ms, kubectl %d ms%n", r + 1, gfwRuns.get(r).millis(), kubectlRuns.get(r).millis());
            }
            attic.close();
            operator.close();
            System.out.println("| tool | objects | no-op re-run (ms, median) | requests: total (reads / writes / discovery) |");
            System.out.println("|---|---|---|---|");
            Run g = gfwRuns.get(0);
            Run k = kubectlRuns.get(0);
            System.out.printf("| gfw deploy-cache dev | %d (3 of them Secrets) + the cache check through a port-forward | %d | %d (%d / %d / %d) |%n", docs.size() + 3, median(gfwRuns), g.total(), g.reads(), g.writes(), g.discovery());
            System.out.printf("| kubectl apply --server-side | %d (no Secrets) | %d | %d (%d / %d / %d) |%n", docs.size(), median(kubectlRuns), k.total(), k.reads(), k.writes(), k.discovery());
            System.out.printf("%n(gfw %s; first deploy: %d ms, %d requests, %d writes; %d rounds; %d cores, java %s)%n", Cli.VERSION, first.millis(), first.total(), first.writes(),
                    rounds, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        } finally {
            TestSupport.shutdown();
        }
    }

    record Run(long millis, long reads, long writes, long discovery, long total) {}

    static Run measure(Path repo, TestCluster server, List<String> command) throws Exception {
        BenchRuns.Timed t = BenchRuns.run(repo, server, command);
        return new Run(t.millis(), t.reads(), t.writes(), t.discovery(), t.requests().size());
    }

    static long median(List<Run> runs) {
        return BenchRuns.median(runs.stream().map(Run::millis).toList());
    }
}
