import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the benchmarks share: finding the repository, and one command run timed against the test API server. */
final class BenchRuns {

    /** One run of a command: its wall time and the requests the server received meanwhile. */
    record Timed(long millis, List<TestCluster.Request> requests) {
        long writes() {
            return requests.stream().filter(TestCluster.Request::isMutating).count();
        }

        long discovery() {
            return requests.stream().filter(r -> !r.isMutating() && isDiscovery(r.path())).count();
        }

        long reads() {
            return requests.size() - writes() - discovery();
        }
    }

    /** Runs {@code command} in the repository, timed, with the server's request log of that run; a failure throws. */
    static Timed run(Path repo, TestCluster server, List<String> command) throws Exception {
        server.resetRequests();
        long t0 = System.nanoTime();
        var pb = new ProcessBuilder(command).directory(repo.toFile()).redirectErrorStream(true);
        pb.environment().put("GFW_CDS_BACKGROUND", "0"); // ./jbang: a run that finds the AppCDS archive missing records it itself, not beside the timed runs
        var p = pb.start();
        // Its output, each line with the milliseconds since the start (GFW_BENCH_TRACE=1 prints them on stderr: where the time goes).
        var lines = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.append(String.format("%6d ms  %s%n", (System.nanoTime() - t0) / 1_000_000, line));
                    }
                }
            } catch (java.io.IOException ignored) {
                // the process ended
            }
        }, "bench-output");
        reader.start();
        if (!p.waitFor(30, TimeUnit.MINUTES)) throw new IllegalStateException("timed out: " + command);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        reader.join(10_000);
        String output;
        synchronized (lines) {
            output = lines.toString();
        }
        if (System.getenv("GFW_BENCH_TRACE") != null) System.err.print("--- " + String.join(" ", command.subList(0, Math.min(3, command.size()))) + "\n" + output);
        if (p.exitValue() != 0) {
            throw new IllegalStateException("exit " + p.exitValue() + ": " + String.join(" ", command) + "\n"
                    + (output.length() > 2000 ? "..." + output.substring(output.length() - 2000) : output));
        }
        return new Timed(ms, server.requests());
    }

    /** Discovery requests: {@code /api}, {@code /apis...}, {@code /openapi...}, {@code /version}. */
    static boolean isDiscovery(String path) {
        return path.startsWith("/openapi") || path.equals("/api") || path.equals("/apis") || path.equals("/version")
                || path.matches("/api/v1|/apis/[^/]+/[^/]+|/apis/[^/]+");
    }

    static long median(List<Long> values) {
        List<Long> v = new ArrayList<>(values);
        v.sort(null);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    /** The repository root: from the working directory up, else from the benchmark's own path. */
    static Path findRepo() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("jbang-catalog.json")) && Files.isDirectory(p.resolve("scripts"))) return p;
        }
        String source = System.getProperty("jbang.source");
        if (source != null) return Path.of(source).toAbsolutePath().getParent().getParent();
        throw new IllegalStateException("run from the gfw repository");
    }

    private BenchRuns() {}
}
