///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../tests/support/TestCluster.java
//SOURCES BenchRuns.java
//MAIN ProvisionNamespacesBench

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Benchmark (not a test): {@code provision-namespaces ENV} against {@code kubectl apply --server-side -f}
 * of the same rendered objects ({@code provision-namespaces ENV --dry-run=client -o yaml}), on one local
 * test control plane started here (tests/cluster.java; its recording proxy counts what each tool sent). For each environment
 * and round: a first apply on an empty layout, then a re-run on the unchanged cluster; the layout is
 * deleted between the tools (and the namespace controller has finalized them). Environments: {@code dev} (environments/dev.yaml) and a synthetic one of
 * 1,000 namespaces (dev.yaml plus 997 {@code namespaces.extra} entries, generated in a temp directory).
 *
 * <pre>
 *   ./jbang bench/provision-namespaces.java            # dev 5 rounds, 1,000 namespaces 1 round
 *   ./jbang bench/provision-namespaces.java --rounds 3 --big-rounds 2 --namespaces 1000
 * </pre>
 * Prints a Markdown table (wall time medians, ratio, requests by kind) on stdout; progress on stderr.
 */
class ProvisionNamespacesBench {

    record Run(long millis, int reads, int writes, int discovery, int total) {}

    static Path repo;
    static int rounds = 5;
    static int bigRounds = 1;
    static int namespaces = 1000;

    public static void main(String... args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--big-rounds" -> bigRounds = Integer.parseInt(args[++i]);
                case "--namespaces" -> namespaces = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: bench/provision-namespaces.java [--rounds N] [--big-rounds N] [--namespaces N]");
                    System.exit(64);
                }
            }
        }
        repo = BenchRuns.findRepo();
        Path envDir = Files.createTempDirectory("gfw-bench-env");
        Files.copy(repo.resolve("environments/dev.yaml"), envDir.resolve("dev.yaml"));
        String big = "bench" + namespaces;
        Files.writeString(envDir.resolve(big + ".yaml"), syntheticEnv(Files.readString(repo.resolve("environments/dev.yaml")), big, namespaces - 3));

        var table = new ArrayList<String>();
        table.add("| environment | objects | tool | first apply (ms) | re-run (ms) | requests first apply: total (reads / writes / discovery) | requests re-run: total (reads / writes / discovery) |");
        table.add("|---|---|---|---|---|---|---|");
        var ratios = new ArrayList<String>();
        try (TestCluster server = TestCluster.start()) {
            for (String env : List.of("dev", big)) {
                int n = env.equals("dev") ? rounds : bigRounds;
                if (n == 0) continue; // --big-rounds 0: dev only
                Path rendered = envDir.resolve(env + "-rendered.yaml");
                int objects = render(env, envDir, rendered);
                System.err.printf("%s: %d objects, %d round(s)%n", env, objects, n);
                var gfwFirst = new ArrayList<Run>();
                var gfwAgain = new ArrayList<Run>();
                var kubectlFirst = new ArrayList<Run>();
                var kubectlAgain = new ArrayList<Run>();
                List<String> gfw = List.of(repo.resolve("jbang").toString(), "scripts/provision-namespaces.java", env, "--env-dir",
                        envDir.toString(), "--kubeconfig", server.kubeconfig().toString());
                List<String> kubectl = List.of("kubectl", "--kubeconfig", server.kubeconfig().toString(), "apply", "--server-side",
                        "-f", rendered.toString());
                for (int r = 0; r < n; r++) {
                    clean(server, env);
                    gfwFirst.add(measure(server, gfw));
                    gfwAgain.add(measure(server, gfw));
                    clean(server, env);
                    kubectlFirst.add(measure(server, kubectl));
                    kubectlAgain.add(measure(server, kubectl));
                    System.err.printf("  round %d: gfw %d / %d ms, kubectl %d / %d ms%n", r + 1, gfwFirst.get(r).millis(),
                            gfwAgain.get(r).millis(), kubectlFirst.get(r).millis(), kubectlAgain.get(r).millis());
                }
                clean(server, env);
                String label = env.equals("dev") ? "dev (3 namespaces)" : env + " (" + namespaces + " namespaces)";
                table.add(row(label, objects, "gfw provision-namespaces", gfwFirst, gfwAgain));
                table.add(row(label, objects, "kubectl apply --server-side", kubectlFirst, kubectlAgain));
                ratios.add(String.format("%s: gfw/kubectl wall time %.2fx first apply, %.2fx re-run; requests %.2fx first apply, %.2fx re-run",
                        label, ratio(median(gfwFirst), median(kubectlFirst)), ratio(median(gfwAgain), median(kubectlAgain)),
                        (double) gfwFirst.get(0).total() / kubectlFirst.get(0).total(), (double) gfwAgain.get(0).total() / kubectlAgain.get(0).total()));
            }
        }
        table.forEach(System.out::println);
        System.out.println();
        ratios.forEach(r -> System.out.println("- " + r));
        System.out.printf("%n(medians of %d round(s) for dev, %d for %d namespaces; %d cores, java %s, %s)%n", rounds, bigRounds, namespaces,
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), kubectlVersion());
    }

    /** dev.yaml renamed to {@code name}, with {@code extra} more namespaces, each with a quota, limits and a service account. */
    static String syntheticEnv(String dev, String name, int extra) {
        var sb = new StringBuilder("  extra:\n");
        for (int i = 0; i < extra; i++) {
            sb.append("    - name: team-").append(String.format("%04d", i)).append("-{environment}\n")
                    .append("      component: runners\n")
                    .append("      quota: {requests.cpu: \"4\", requests.memory: 8Gi, pods: \"20\"}\n")
                    .append("      limits: {defaultRequest: {cpu: 100m, memory: 128Mi}, default: {cpu: 500m, memory: 512Mi}}\n")
                    .append("      serviceAccounts: [ci]\n");
        }
        String out = dev.replace("environment: dev\n", "environment: " + name + "\n")
                .replace("    name: gitlab-runners\n", "    name: gitlab-runners-{environment}\n")
                .replace("    name: runner-dashboard\n", "    name: runner-dashboard-{environment}\n")
                .replace("\ndashboard:\n", "\n" + sb + "\ndashboard:\n");
        if (!out.contains("  extra:\n") || !out.contains("environment: " + name)) throw new IllegalStateException("dev.yaml changed shape");
        return out;
    }

    /** The objects as YAML, from gfw's own client dry run (this also builds the script once). Returns the count. */
    static int render(String env, Path envDir, Path out) throws Exception {
        var p = new ProcessBuilder(repo.resolve("jbang").toString(), "scripts/provision-namespaces.java", env, "--env-dir", envDir.toString(),
                "--dry-run=client", "-o", "yaml").directory(repo.toFile()).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        if (p.waitFor() != 0) throw new IllegalStateException("rendering " + env + " failed");
        return (int) Files.readAllLines(out).stream().filter(l -> l.equals("---")).count() + 1;
    }

    /** Runs one command against the server, timed, with the server's request log of that run. */
    static Run measure(TestCluster server, List<String> command) throws Exception {
        BenchRuns.Timed t = BenchRuns.run(repo, server, command);
        return new Run(t.millis(), (int) t.reads(), (int) t.writes(), (int) t.discovery(), t.requests().size());
    }

    /**
     * Deletes the environment's namespaces and waits until the namespace controller has finalized them (a real
     * API server removes a namespace's contents first), untimed.
     */
    static void clean(TestCluster server, String env) throws InterruptedException {
        var client = server.client();
        java.util.function.Predicate<String> ours = n -> n.endsWith("-" + env) || n.equals("gitlab-runners") || n.equals("runner-dashboard");
        client.namespaces().list().getItems().stream().map(ns -> ns.getMetadata().getName()).filter(ours)
                .forEach(n -> client.namespaces().withName(n).delete());
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(20);
        long left;
        while ((left = client.namespaces().list().getItems().stream().map(ns -> ns.getMetadata().getName()).filter(ours).count()) != 0) {
            if (System.nanoTime() > deadline) throw new IllegalStateException(left + " namespaces of " + env + " left 20 minutes after deleting them");
            Thread.sleep(1000);
        }
    }

    static String row(String env, int objects, String tool, List<Run> first, List<Run> again) {
        Run f = first.get(0);
        Run a = again.get(0);
        return String.format("| %s | %d | %s | %d | %d | %d (%d / %d / %d) | %d (%d / %d / %d) |", env, objects, tool, median(first),
                median(again), f.total(), f.reads(), f.writes(), f.discovery(), a.total(), a.reads(), a.writes(), a.discovery());
    }

    static long median(List<Run> runs) {
        return BenchRuns.median(runs.stream().map(Run::millis).toList());
    }

    static double ratio(long a, long b) {
        return b == 0 ? 0 : (double) a / b;
    }

    static String kubectlVersion() {
        try {
            var p = new ProcessBuilder("kubectl", "version", "--client", "-o", "json").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            var m = java.util.regex.Pattern.compile("\"gitVersion\":\\s*\"([^\"]+)\"").matcher(out);
            return m.find() ? "kubectl " + m.group(1) : "kubectl";
        } catch (IOException | InterruptedException e) {
            return "kubectl";
        }
    }
}
