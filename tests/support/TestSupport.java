import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Runs gfw scripts the way a user does — as processes through ./jbang — or in-process where a
 * test checks logic; finds the repository; cleans up shared services at the end of a run.
 */
final class TestSupport {

    /** What a command did: its exit code, stdout and stderr. */
    record Result(int exit, String out, String err, List<String> command) {
        @Override
        public String toString() {
            return "exit " + exit + " from " + String.join(" ", command) + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
        }
    }

    private static final List<AutoCloseable> AT_END = new CopyOnWriteArrayList<>();

    /** Closes shared servers once the whole run is over. */
    static void closeAtEnd(AutoCloseable c) {
        AT_END.add(c);
    }

    static void shutdown() {
        for (AutoCloseable c : AT_END) {
            try {
                c.close();
            } catch (Exception ignored) {
                // the run is over; a failing close must not hide the results
            }
        }
    }

    /** The repository root: the directory holding jbang-catalog.json, from the working directory up. */
    static Path repo() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("jbang-catalog.json")) && Files.isDirectory(p.resolve("scripts"))) return p;
        }
        throw new IllegalStateException("run the tests from the gfw repository");
    }

    /** A command line to run; {@code run()} waits for it. */
    static final class Cmd {
        final List<String> command = new ArrayList<>();
        final Map<String, String> env = new HashMap<>();
        Path dir = repo();
        String stdin = "";
        long timeoutSeconds = 300;

        Cmd env(String key, String value) {
            env.put(key, value);
            return this;
        }

        Cmd dir(Path d) {
            dir = d;
            return this;
        }

        Cmd stdin(String s) {
            stdin = s;
            return this;
        }

        Cmd timeout(long seconds) {
            timeoutSeconds = seconds;
            return this;
        }

        Result run() {
            try {
                var pb = new ProcessBuilder(command).directory(dir.toFile());
                Map<String, String> e = pb.environment();
                // A developer's own cluster settings must not leak into a test.
                for (String k : List.of("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "GITLAB_CI",
                        "RANCHER_TOKEN", "GITLAB_TOKEN", "GFW_ENVIRONMENTS", "CI_JOB_TOKEN")) {
                    e.remove(k);
                }
                // JBang and the launcher keep caches under HOME: keep them when a test moves HOME.
                if (env.containsKey("HOME")) {
                    e.putIfAbsent("XDG_CACHE_HOME", System.getProperty("user.home") + "/.cache");
                    e.putIfAbsent("JBANG_DIR", System.getProperty("user.home") + "/.jbang");
                }
                e.putAll(env);
                Process p = pb.start();
                CompletableFuture<String> out = drain(p.getInputStream());
                CompletableFuture<String> err = drain(p.getErrorStream());
                try (var in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // the command did not read its stdin
                }
                if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    throw new AssertionError("timed out after " + timeoutSeconds + " s: " + String.join(" ", command)
                            + "\n--- stdout ---\n" + out.getNow("") + "\n--- stderr ---\n" + err.getNow(""));
                }
                return new Result(p.exitValue(), out.get(), err.get(), List.copyOf(command));
            } catch (IOException | InterruptedException | java.util.concurrent.ExecutionException ex) {
                throw new IllegalStateException("cannot run " + command + ": " + ex, ex);
            }
        }

        private static CompletableFuture<String> drain(InputStream s) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(s.readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "";
                }
            });
        }
    }

    /** {@code ./jbang scripts/<script>.java args...}, as a user types it. */
    static Cmd script(String script, String... args) {
        var c = new Cmd();
        c.command.add(repo().resolve("jbang").toString());
        c.command.add(repo().resolve("scripts/" + script + ".java").toString()); // absolute: tests may run elsewhere
        c.command.addAll(List.of(args));
        return c;
    }

    /** Any command, e.g. kubectl. */
    static Cmd command(String... argv) {
        var c = new Cmd();
        c.command.addAll(List.of(argv));
        return c;
    }

    /**
     * Runs a script's command object in this JVM, capturing stdout and stderr — for tests of logic,
     * where starting a JVM per case would only cost time. Serialised: System.out is global.
     */
    static synchronized Result inProcess(Object command, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Cli.run(command, args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        var argv = new ArrayList<String>();
        argv.add(command.getClass().getSimpleName());
        argv.addAll(List.of(args));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8), argv);
    }

    /** A fresh temporary directory, removed at the end of the run. */
    static Path tempDir(String prefix) {
        try {
            Path d = Files.createTempDirectory("gfw-" + prefix);
            closeAtEnd(() -> deleteTree(d));
            return d;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void deleteTree(Path d) throws IOException {
        if (!Files.exists(d)) return;
        try (var walk = Files.walk(d)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private TestSupport() {}
}
