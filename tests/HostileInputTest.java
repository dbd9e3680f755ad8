import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * What a new user's hostile or careless input does, run as processes the way a user runs them: long
 * input, huge and foreign files, Kubernetes' name limits, control characters, many problems, an
 * internal error, and the order of checks. Each case checks the exit code, stderr (one clear line,
 * never a stack trace or the file's content) and that nothing was written.
 */
class HostileInputTest {

    static final String SENTINEL = "SECRET-SENTINEL-7f3a";

    /** No stack trace, no JBang-style failure: what every stderr here must not hold. */
    static void assertNoTrace(TestSupport.Result r) {
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in thread") || r.err().contains("StackOverflowError"), r.toString());
        assertTrue(r.exit() != 1, "1 is JBang's code, never gfw's: " + r);
    }

    /** stderr's lines without JBang's own (a first run builds the script: "[jbang] Building jar ..."). */
    static List<String> errLines(TestSupport.Result r) {
        return r.err().lines().filter(l -> !l.startsWith("[jbang] ")).toList();
    }

    /** Every file under dir with its size and modification time: equal before and after means nothing was written. */
    static Map<String, String> snapshot(Path dir) throws IOException {
        var m = new TreeMap<String, String>();
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.toList()) {
                m.put(dir.relativize(p).toString(), Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        ? Files.size(p) + "@" + Files.getLastModifiedTime(p) : "dir-or-link");
            }
        }
        return m;
    }

    @Test
    void longConnectionStringsAreParsedNotCrashedOn() {
        // 2,000 characters overflowed the stack of a regex with nested repetition.
        var longPassword = TestSupport.script("cnpg-connstr", "--decode").stdin("postgresql://u:" + "x".repeat(2000) + "@h/db\n").run();
        assertEquals(0, longPassword.exit(), longPassword.toString());
        assertNoTrace(longPassword);
        assertTrue(longPassword.out().contains("host               h"), longPassword.out());
        assertFalse(longPassword.out().contains("x".repeat(50)), "the password stays masked");

        // Many '@' (the lenient reading looks for the last '@' before a host): linear, and no trace.
        var manyAts = TestSupport.script("cnpg-connstr", "--decode").stdin("postgresql://u:" + "@".repeat(60_000) + "@h/db\n").run();
        assertEquals(0, manyAts.exit(), manyAts.toString());
        assertNoTrace(manyAts);

        // Over 64 KiB: refused in one line, nothing on stdout.
        var huge = TestSupport.script("cnpg-connstr", "--decode").stdin("postgresql://u:" + "x".repeat(70_000) + "@h/db\n").run();
        assertEquals(ExitCode.USAGE, huge.exit(), huge.toString());
        assertEquals(List.of("error: --decode: the input on stdin is over 64 KiB: not a connection string (those are a few hundred characters)"),
                errLines(huge));
        assertEquals("", huge.out());
    }

    @Test
    void validateChecksEveryFileWhateverOneFileDoes() throws IOException {
        Path dir = TestSupport.tempDir("hostile-envs");
        // a: a DNS-subdomain field of 2,000 labels (overflowed the regex and aborted every later file).
        EnvFile.dev().set("environment", "a").set("attic.secret", "a.".repeat(2000) + "a").writeTo(dir, "a");
        // b: a namespace name over the 63 characters of a DNS label.
        EnvFile.dev().set("environment", "b").set("namespaces.attic.name", "n".repeat(64)).writeTo(dir, "b");
        // c: over 1 MiB (a comment, so that it is otherwise valid).
        Files.writeString(dir.resolve("c.yaml"), EnvFile.dev().set("environment", "c").text() + "# " + "z".repeat(1 << 20) + "\n");
        // d: valid, checked after all of the above.
        EnvFile.dev().set("environment", "d").writeTo(dir, "d");
        // e: a symlink to a file that is not an environment file and holds a secret.
        Path secret = TestSupport.tempDir("hostile-secret").resolve("shadow");
        Files.writeString(secret, "root:" + SENTINEL + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        Files.createSymbolicLink(dir.resolve("e.yaml"), secret);
        // f: 30 unknown fields: 20 are listed, then how many more.
        var f = EnvFile.dev().set("environment", "f");
        for (int i = 0; i < 30; i++) f = f.add("", "junk" + i, "x");
        f.writeTo(dir, "f");
        // g: a value with a terminal escape sequence and 500 characters.
        EnvFile.dev().set("environment", "g").set("status", "\"\\e[31m" + "q".repeat(500) + "\"").writeTo(dir, "g");
        // i: not UTF-8; j: an unknown key of 1,000 characters, twice (named once, cut).
        Files.write(dir.resolve("i.yaml"), new byte[] {'a', ':', ' ', (byte) 0xff, (byte) 0xfe, '\n'});
        String longKey = "k".repeat(1000);
        Files.writeString(dir.resolve("j.yaml"), EnvFile.dev().set("environment", "j").text() + longKey + ": 1\n" + longKey + ": 2\n");
        // k: a value for a pattern with nested repetition (cache.garbageCollection.interval), 12,000 characters.
        EnvFile.dev().set("environment", "k").set("cache.garbageCollection.interval", "\"" + "1 h ".repeat(3000) + "1 h\"").writeTo(dir, "k");
        // h: a YAML mapping of another tool, with a secret in it.
        Files.writeString(dir.resolve("h.yaml"), "services:\n  db:\n    password: " + SENTINEL + "\n" + "other: " + SENTINEL + "\n");
        var before = snapshot(dir);

        var r = TestSupport.script("gfw", "validate", "--env-dir", dir.toString()).run();
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertNoTrace(r);
        assertEquals(snapshot(dir), before, "validate wrote nothing");
        assertTrue(r.out().contains("d.yaml: ok (active)"), "the valid file after the bad ones is checked: " + r);
        List<String> lines = errLines(r);
        assertTrue(lines.stream().allMatch(l -> l.startsWith("error: ")), r.err());
        assertTrue(lines.stream().allMatch(l -> l.length() < 300), "no line carries a whole value: " + r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("a.yaml:" + EnvFile.dev().line("attic.secret") + ":11 ")
                && l.endsWith("attic.secret: is 4001 characters long; Kubernetes allows at most 253 in a DNS subdomain")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("b.yaml:") && l.endsWith("namespaces.attic.name: is 64 characters long; Kubernetes allows at most 63 in a DNS label")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.endsWith("c.yaml is over 1 MiB: not a gfw environment file (those are a few KiB); refusing to read it")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.endsWith("e.yaml is not a gfw environment file (it has no 'cluster' mapping at the top level); see environments/README.md for the schema")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.endsWith("h.yaml is not a gfw environment file (it has no 'cluster' mapping at the top level); see environments/README.md for the schema")), r.err());
        assertFalse(r.err().contains(SENTINEL) || r.out().contains(SENTINEL), "a foreign file's content never appears: " + r);
        List<String> fLines = lines.stream().filter(l -> l.contains("f.yaml") || l.contains("… and ")).toList();
        assertEquals(21, fLines.size(), r.err());
        assertEquals("error: … and 10 more problems", fLines.get(20));
        String g = lines.stream().filter(l -> l.contains("g.yaml")).findFirst().orElseThrow();
        assertFalse(r.err().contains("\u001b"), "control characters are escaped, not sent to the terminal");
        assertTrue(g.contains("status: '\\u001b[31m" + "q".repeat(35) + "…' is not allowed; use one of active, planned"), g);
        assertTrue(lines.stream().anyMatch(l -> l.endsWith("i.yaml is not UTF-8 text: not a gfw environment file")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("j.yaml:") && l.contains(" '" + "k".repeat(40) + "…': unknown field")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("k.yaml:") && l.endsWith("cache.garbageCollection.interval: is 12003 characters long:"
                + " not a duration like \"12 hours\" (at most 1024 characters are read)")), r.err());
        assertEquals(9, lines.size() - fLines.size(), "one line for each other bad file (a, b, c, e, g, h, i, j, k): " + r.err());
    }

    @Test
    void anEnvArgumentThatIsAPathToAnyFileIsNotEchoed() throws IOException {
        Path secret = TestSupport.tempDir("hostile-path").resolve("shadow");
        Files.writeString(secret, "root:" + SENTINEL + ":19000:0:99999:7:::\n");
        // As `provision-namespaces ../../../etc/shadow` would: a relative path out of the repository.
        String relative = TestSupport.repo().relativize(secret).toString();
        var before = snapshot(secret.getParent());
        var r = TestSupport.script("provision-namespaces", relative, "--dry-run=client").run();
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertNoTrace(r);
        assertEquals(1, errLines(r).size(), r.err());
        assertTrue(errLines(r).get(0).startsWith("error: ") && r.err().contains("is not a gfw environment file"), r.err());
        assertFalse(r.err().contains(SENTINEL), r.err());
        assertEquals("", r.out());
        assertEquals(before, snapshot(secret.getParent()));
    }

    @Test
    void anEnvironmentNameIsADnsLabel() {
        var tooLong = TestSupport.script("provision-namespaces", "e".repeat(64), "--dry-run=client").run();
        assertEquals(ExitCode.CONFIG, tooLong.exit(), tooLong.toString());
        assertEquals(List.of("error: environment name is 64 characters long; Kubernetes allows at most 63 in a DNS label"
                + "; an environment name is a DNS label: lower-case letters, digits and '-' (e.g. dev)"), errLines(tooLong));
        var control = TestSupport.script("cnpg-connstr", "Dev\u001b[2J" + "x".repeat(40)).run();
        assertEquals(ExitCode.CONFIG, control.exit(), control.toString());
        assertFalse(control.err().contains("\u001b"), control.err());
        assertTrue(control.err().contains("'Dev\\u001b[2J" + "x".repeat(33) + "…' is not valid"), control.err());
        assertEquals("", tooLong.out() + control.out());
    }

    @Test
    void aBadFlagValueIsQuotedCutAndEscaped() {
        var r = TestSupport.script("provision-namespaces", "dev", "--dry-run=\u001b[2J" + "y".repeat(300)).run();
        assertEquals(ExitCode.USAGE, r.exit(), r.toString());
        assertNoTrace(r);
        List<String> lines = errLines(r);
        assertEquals(1, lines.size(), r.err());
        assertFalse(r.err().contains("\u001b"), r.err());
        assertTrue(lines.get(0).contains("'\\u001b[2J" + "y".repeat(36) + "…'"), r.err());
        assertTrue(lines.get(0).length() < 200, r.err());
        var timeout = TestSupport.script("deploy-runners", "dev", "--timeout", "z".repeat(500)).run();
        assertEquals(ExitCode.USAGE, timeout.exit(), timeout.toString());
        assertEquals(List.of("error: --timeout " + "z".repeat(40) + "… is not a duration above zero; use e.g. 30s, 5m, 1h30m or 500ms"),
                errLines(timeout));
        assertEquals("", r.out() + timeout.out());
    }

    @Test
    void anInternalErrorIsOneLineAndExit70NotJbangs1() throws IOException {
        Path dir = TestSupport.tempDir("hostile-boom");
        Path script = dir.resolve("boom.java");
        Files.writeString(script, """
                ///usr/bin/env jbang "$0" "$@" ; exit $?
                //SOURCES %s
                import picocli.CommandLine.Command;
                @Command(name = "boom")
                class boom implements java.util.concurrent.Callable<Integer> {
                    public static void main(String... args) {
                        System.exit(Cli.run(new boom(), args));
                    }
                    public Integer call() {
                        return deeper(0); // a StackOverflowError: an Error, which picocli passes through
                    }
                    int deeper(int n) { return deeper(n + 1) + 1; }
                }
                """.formatted(TestSupport.repo().resolve("lib/cli/Cli.java")));
        var cmd = TestSupport.command(TestSupport.repo().resolve("jbang").toString(), script.toString());
        var r = cmd.run();
        assertEquals(ExitCode.INTERNAL, r.exit(), r.toString());
        assertEquals(List.of("error: internal error: java.lang.StackOverflowError (a bug in gfw; set GFW_DEBUG=1 for the stack trace)"),
                errLines(r));
        assertEquals("", r.out());
    }

    @Test
    void deployRunnersWithoutATokenStopsBeforeDownloadingTheChart() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = "runners-order-" + TestCluster.randomHex(3);
        api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        Path dir = EnvFile.dev().set("namespaces.runners.name", ns).writeTo(TestSupport.tempDir("order-env"), "dev");
        List<String> chartRequests = new CopyOnWriteArrayList<>();
        HttpServer charts = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        charts.createContext("/", ex -> {
            chartRequests.add(ex.getRequestURI().toString());
            ex.sendResponseHeaders(404, -1);
            ex.close();
        });
        charts.start();
        Path cache = TestSupport.tempDir("order-cache");
        try {
            if (api.isLocal()) api.resetRequests();
            // No GITLAB_TOKEN (TestSupport removes it) and no token Secret: a runner would have to be created.
            var r = TestSupport.script("deploy-runners", "dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--chart-repo", "http://127.0.0.1:" + charts.getAddress().getPort() + "/charts")
                    .env("XDG_CACHE_HOME", cache.toString()).env("GFW_CACHE_DIR", System.getProperty("user.home") + "/.cache/gfw").run();
            assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
            assertNoTrace(r);
            List<String> lines = errLines(r);
            assertEquals(1, lines.size(), r.err());
            assertTrue(lines.get(0).startsWith("error: GITLAB_TOKEN is not set") && lines.get(0).contains("gitlab-runner-docker"), r.err());
            assertEquals(List.of(), chartRequests, "the chart is not downloaded before the token is known");
            assertFalse(Files.exists(cache.resolve("gfw/charts")), "nothing cached");
            if (api.isLocal()) assertEquals(0, api.mutatingRequests(), "nothing written: " + api.requests());
            assertEquals("", r.out());
        } finally {
            charts.stop(0);
        }
    }
}
