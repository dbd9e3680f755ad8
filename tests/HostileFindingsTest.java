import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The hostile-input findings of issue 20, each run as a process the way a new user runs it: the exit code, stderr,
 * and that nothing was written, sent or leaked.
 */
class HostileFindingsTest {

    /** A token of the shape GitLab hands out, that no message may show. */
    static final String TOKEN = "glpat-HOSTILE-" + TestCluster.randomHex(8);

    /** A GitLab that answers every request with {@code handler}; records what it was asked. */
    static final class FakeGitLab implements AutoCloseable {
        final HttpServer server;
        final List<String> requests = new CopyOnWriteArrayList<>();

        interface Handler {
            void handle(HttpExchange ex) throws IOException;
        }

        FakeGitLab(Handler handler) throws IOException {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/", ex -> {
                requests.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath());
                try {
                    handler.handle(ex);
                } finally {
                    ex.close();
                }
            });
            server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
            server.start();
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort();
        }

        List<String> writes() {
            return requests.stream().filter(r -> !r.startsWith("GET ")).toList();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    static void answer(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    /** A runner namespace holding only the docker type's token Secret, with {@code runnerId} as its runner-id annotation. */
    static String runnerNamespace(String prefix, String runnerId) {
        TestCluster api = TestCluster.shared();
        String ns = prefix + "-" + TestCluster.randomHex(3);
        api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        api.client().resource(new SecretBuilder().withNewMetadata().withName("gitlab-runner-docker-token").withNamespace(ns)
                .addToAnnotations("gfw.gloriousflywheel.dev/runner-id", runnerId).endMetadata()
                .addToStringData("runner-token", "glrt-not-a-real-token").addToStringData("runner-registration-token", "").build()).create();
        return ns;
    }

    static List<String> cluster(TestCluster api, Path envDir, String... args) {
        var argv = new ArrayList<>(List.of(args));
        argv.addAll(List.of("--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context()));
        return argv;
    }

    static TestSupport.Result runners(String ns, FakeGitLab gitlab, String... args) {
        TestCluster api = TestCluster.shared();
        Path env = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        var argv = cluster(api, env, args);
        argv.addAll(List.of("--gitlab-url", gitlab.url(), "--gitlab-token-file", GitLabStandIn.tokenFile(TOKEN).toString()));
        return TestSupport.script("runners", argv.toArray(String[]::new)).run();
    }

    static TestSupport.Result health(String ns, FakeGitLab gitlab, String... args) {
        TestCluster api = TestCluster.shared();
        Path env = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        var argv = cluster(api, env, args);
        argv.addAll(List.of("--gitlab-url", gitlab.url(), "--gitlab-token-file", GitLabStandIn.tokenFile(TOKEN).toString()));
        return TestSupport.script("health", argv.toArray(String[]::new)).run();
    }

    // ---- a GitLab error body echoing PRIVATE-TOKEN ------------------------------------------------

    @Test
    void aGitLabErrorEchoingTheTokenNeverPrintsIt() throws IOException {
        String ns = runnerNamespace("echo", "4711");
        // A proxy or a GitLab in trouble that puts the request's headers into its error body.
        try (var gitlab = new FakeGitLab(ex -> answer(ex, 403, "{\"message\":\"403 Forbidden - PRIVATE-TOKEN "
                + ex.getRequestHeaders().getFirst("PRIVATE-TOKEN") + " lacks the role\"}"))) {
            var pause = runners(ns, gitlab, "dev", "pause", "docker");
            assertEquals(ExitCode.AUTH, pause.exit(), pause.toString());
            assertFalse(pause.toString().contains(TOKEN), "the token is masked: " + pause);
            assertTrue(pause.err().contains("PRIVATE-TOKEN **** lacks the role"), pause.err());
            assertEquals(List.of(), gitlab.writes());
            for (String format : List.of("table", "wide", "json")) {
                var h = health(ns, gitlab, "dev", "--only", "runners", "-o", format);
                HostileInputTest.assertNoTrace(h);
                assertFalse(h.toString().contains(TOKEN), "the token is masked in health -o " + format + ": " + h);
                assertTrue(h.out().contains("****"), h.out());
            }
        }
    }

    // ---- a runner-id annotation too big for a long --------------------------------------------------

    @Test
    void aRunnerIdTooBigForALongIsNoRunnerIdNotACrash() throws IOException {
        String huge = "9".repeat(30);
        String ns = runnerNamespace("bigid", huge);
        try (var gitlab = new FakeGitLab(ex -> answer(ex, 404, "{\"message\":\"404 Not found\"}"))) {
            for (String cmd : List.of("pause", "prune")) {
                var r = cmd.equals("pause") ? runners(ns, gitlab, "dev", "pause", "docker") : runners(ns, gitlab, "dev", "prune", "--dry-run");
                HostileInputTest.assertNoTrace(r);
                assertTrue(r.exit() != ExitCode.INTERNAL, r.toString());
                assertFalse(r.err().contains("NumberFormatException"), r.err());
            }
            var pause = runners(ns, gitlab, "dev", "pause", "docker");
            assertEquals(ExitCode.NOT_FOUND, pause.exit(), pause.toString());
            assertTrue(pause.err().contains("has no runner id in its annotation gfw.gloriousflywheel.dev/runner-id ('" + "9".repeat(30) + "')"), pause.err());
            assertFalse(gitlab.requests.stream().anyMatch(q -> q.startsWith("GET /api/v4/runners/")), "no runner asked for: " + gitlab.requests);
            assertEquals(List.of(), gitlab.writes());

            var h = health(ns, gitlab, "dev", "--only", "runners", "-o", "json");
            HostileInputTest.assertNoTrace(h);
            assertTrue(h.exit() != ExitCode.INTERNAL, h.toString());
            var rows = RunnerFixtures.JSON.readTree(h.out());
            boolean found = false;
            for (var row : rows.isArray() ? rows : rows.path("checks")) {
                if (row.path("check").asText().equals("docker gitlab")) {
                    found = true;
                    assertEquals("unknown", row.path("status").asText(), row.toString());
                }
            }
            assertTrue(found, "the report is whole, with a docker gitlab row: " + h.out());
        }
    }

    // ---- attic-token: --validity and -n are usage errors before any request --------------------------

    @Test
    void atticTokenValidityAndNamespaceAreCheckedBeforeAnyRequest() {
        TestCluster api = TestCluster.shared();
        if (api.isLocal()) api.resetRequests();
        String kube = api.kubeconfig().toString();
        List<List<String>> cases = List.of(
                List.of("--validity", "99999999999999999999d"),
                List.of("--validity", "99999999999999999999d", "--force"),
                List.of("--validity", "9999999999999999w", "--force"),
                List.of("--validity", "2000000d", "--force"),
                List.of("--validity", "3d", "-n", "a/../b"),
                List.of("--validity", "3d", "-n", "ns\u001b[2J"),
                List.of("--validity", "3d", "-n", "n".repeat(5000)));
        for (List<String> c : cases) {
            var argv = new ArrayList<>(List.of("dev", "--sub", "ci", "--pull", "main", "--kubeconfig", kube, "--context", api.context()));
            argv.addAll(c);
            var r = TestSupport.script("attic-token", argv.toArray(String[]::new)).run();
            assertEquals(ExitCode.USAGE, r.exit(), r.toString());
            HostileInputTest.assertNoTrace(r);
            assertEquals(1, HostileInputTest.errLines(r).size(), r.err());
            assertFalse(r.err().contains("\u001b"), r.err());
            assertTrue(r.err().length() < 400, r.err());
            assertEquals("", r.out());
        }
        if (api.isLocal()) assertEquals(List.of(), api.requests(), "no request before a usage error");
    }

    // ---- attic-token --decode: escaped text, exp 1e30, a token not yet valid ------------------------

    static String signed(String key, Map<String, Object> claims) throws Exception {
        var b = new com.nimbusds.jose.Payload(RunnerFixtures.JSON.writeValueAsString(claims));
        var jws = new com.nimbusds.jose.JWSObject(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.HS256), b);
        jws.sign(new com.nimbusds.jose.crypto.MACSigner(Base64.getDecoder().decode(key)));
        return jws.serialize();
    }

    static TestSupport.Result decode(String ns, String token) {
        TestCluster api = TestCluster.shared();
        return TestSupport.script("attic-token", "dev", "--decode", "-n", ns, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context())
                .stdin(token + "\n").run();
    }

    @Test
    void atticTokenDecodeEscapesTheTokensTextAndReadsItsTimesAsAtticdDoes() throws Exception {
        TestCluster api = TestCluster.shared();
        String ns = "decode-" + TestCluster.randomHex(3);
        api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        String key = AtticTokens.newSigningKey(new SecureRandom());
        api.client().resource(new SecretBuilder().withNewMetadata().withName("attic-jwt-signing").withNamespace(ns).endMetadata()
                .addToStringData("hs256-secret-base64", key).build()).create();
        long now = System.currentTimeMillis() / 1000;
        String claim = "https://jwt.attic.rs/v1";

        // A crafted sub and cache name that would clear the screen and fake a verdict.
        String fake = "\u001b[2J\u001b[Hsignature: verifies against secret attic-jwt-signing\n";
        var crafted = decode(ns, signed(key, Map.of("sub", fake, "exp", now + 3600, "nbf", now - 60,
                claim, Map.of("caches", Map.of("m\u001b[31m", Map.of("r", 1))))));
        assertFalse(crafted.toString().contains("\u001b"), "no escape sequence reaches the terminal: " + crafted);
        assertTrue(crafted.out().contains("subject: \\u001b[2J\\u001b[Hsignature: verifies against secret attic-jwt-signing\\u000a")
                || crafted.out().contains("subject: \\u001b[2J\\u001b[Hsignature: verifies against secret attic-jwt-signing\\n"), crafted.out());
        assertEquals(1, crafted.out().lines().filter(l -> l.startsWith("signature:")).count(), crafted.out());
        assertEquals(ExitCode.CHECK_FAILED, crafted.exit(), crafted.toString()); // the cache name is not Attic's

        // exp 1e30: atticd cannot read it (a JSON float); it is not 1969.
        var far = decode(ns, signed(key, Map.of("sub", "t", "exp", 1e30, "nbf", now - 60, claim, Map.of("caches", Map.of("main", Map.of("r", 1))))));
        assertFalse(far.out().contains("1969"), far.out());
        assertTrue(far.out().contains("expires: unreadable (exp is 1.0E30, not a whole number of seconds: atticd cannot read the token)"), far.out());
        assertEquals(ExitCode.CHECK_FAILED, far.exit(), far.toString());

        // Not valid for 30 more days: atticd ignores it today, so it is no usable token: exit 80, not 0.
        var later = decode(ns, signed(key, Map.of("sub", "t", "exp", now + 90 * 86400L, "nbf", now + 30 * 86400L,
                claim, Map.of("caches", Map.of("main", Map.of("r", 1))))));
        assertTrue(later.out().contains("(NOT YET VALID)"), later.out());
        assertEquals(ExitCode.CHECK_FAILED, later.exit(), later.toString());
        assertTrue(later.err().contains("atticd treats this token as no token (it is not valid before (nbf)"), later.err());
        api.client().namespaces().withName(ns).delete();
    }

    // ---- credentials in organization.gitlabUrl and --gitlab-url -----------------------------------------

    @Test
    void credentialsInAGitLabUrlAreRefusedAndNeverShown() throws IOException {
        String password = "hunter2-" + TestCluster.randomHex(4);
        Path dir = EnvFile.dev().set("organization.gitlabUrl", "https://alice:" + password + "@gitlab.example.com").writeTo(TestSupport.tempDir("cred-url"), "dev");
        var validate = TestSupport.script("gfw", "validate", "dev", "--env-dir", dir.toString()).run();
        assertEquals(ExitCode.CONFIG, validate.exit(), validate.toString());
        HostileInputTest.assertNoTrace(validate);
        assertFalse(validate.toString().contains(password), validate.toString());
        assertTrue(validate.err().contains("organization.gitlabUrl: holds credentials"), validate.err());

        // The dashboard would have put it into its ConfigMap as GITLAB_URL: refused before anything is printed or written.
        var dashboard = TestSupport.script("deploy-dashboard", "dev", "--env-dir", dir.toString(), "--dry-run=client").run();
        assertEquals(ExitCode.CONFIG, dashboard.exit(), dashboard.toString());
        assertFalse(dashboard.toString().contains(password), dashboard.toString());
        assertEquals("", dashboard.out());

        // --gitlab-url with credentials: a usage error before any request, the password not echoed.
        String ns = runnerNamespace("credurl", "4711");
        try (var gitlab = new FakeGitLab(ex -> answer(ex, 200, "{}"))) {
            TestCluster api = TestCluster.shared();
            Path env = RunnerFixtures.envDir(ns, UnaryOperator.identity());
            var argv = cluster(api, env, "dev", "status", "docker");
            argv.addAll(List.of("--gitlab-url", gitlab.url().replace("http://", "http://alice:" + password + "@"),
                    "--gitlab-token-file", GitLabStandIn.tokenFile(TOKEN).toString()));
            var r = TestSupport.script("runners", argv.toArray(String[]::new)).run();
            HostileInputTest.assertNoTrace(r);
            assertEquals(ExitCode.USAGE, r.exit(), r.toString());
            assertFalse((r.out() + r.err()).contains(password), r.toString()); // argv holds it, as the user typed it
            assertTrue(r.err().contains("holds credentials"), r.toString());
            assertEquals(List.of(), gitlab.requests);
        }
    }

    // ---- --request-timeout bounds the whole exchange; the wait notice names what is waited for --------

    @Test
    void aTricklingGitLabIsCutOffAtTheRequestTimeoutAndNamedInTheNotice() throws IOException {
        String ns = runnerNamespace("trickle", "4711");
        // Headers at once, then one byte a second for two minutes: each read is quick, the answer never ends.
        try (var gitlab = new FakeGitLab(ex -> {
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, 0);
            try {
                for (int i = 0; i < 120; i++) {
                    ex.getResponseBody().write(' ');
                    ex.getResponseBody().flush();
                    Thread.sleep(1000);
                }
            } catch (InterruptedException | IOException e) {
                // the client hung up: what it should do
            }
        })) {
            long start = System.nanoTime();
            var r = runners(ns, gitlab, "dev", "pause", "docker", "--request-timeout", "3s");
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
            HostileInputTest.assertNoTrace(r);
            assertTrue(seconds < 30, "bounded by --request-timeout 3s (and the JVM's start), took " + seconds + " s: " + r);
            assertTrue(r.err().contains("GitLab at " + gitlab.url() + " did not answer within 3s"), r.err());
            // What is waited for is GitLab, not the API server that answered long ago.
            assertFalse(r.err().contains("waiting for the API server"), r.err());
            assertTrue(r.err().contains("waiting for GitLab at " + gitlab.url()), r.err());
            assertEquals(List.of(), gitlab.writes());
        }
    }

    // ---- an API server answering HTML, garbage, too much, or 500 to everything ----------------------

    /** A kubeconfig whose one cluster is {@code server}, with a token. */
    static Path kubeconfigFor(String server) throws IOException {
        Path f = TestSupport.tempDir("fake-api").resolve("config");
        java.nio.file.Files.writeString(f, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: fake
                  cluster:
                    server: %s
                users:
                - name: fake
                  user:
                    token: kube-token-not-shown
                contexts:
                - name: fake
                  context:
                    cluster: fake
                    user: fake
                current-context: fake
                """.formatted(server));
        java.nio.file.Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    @Test
    void anApiServerAnsweringSomethingUnusableWasReachedExit79() throws IOException {
        // 17 MiB of a page that is no JSON object: fabric8 7.9 would read it whole and parse it as YAML for minutes;
        // gfw's client stops reading at 16 MiB (Http's limit).
        byte[] huge = new byte[17 * 1024 * 1024];
        java.util.Arrays.fill(huge, (byte) 'a');
        byte[] page = "<!DOCTYPE html><html><body>".getBytes(StandardCharsets.UTF_8);
        System.arraycopy(page, 0, huge, 0, page.length);
        Map<String, byte[]> bodies = Map.of(
                "html", "<!DOCTYPE html><html><body>Please log in</body></html>".getBytes(StandardCharsets.UTF_8),
                "garbage", "{\"kind\": \"Secret\", \"data\": [[[".getBytes(StandardCharsets.UTF_8),
                "17 MiB", huge);
        for (var e : bodies.entrySet()) {
            try (var api = new FakeGitLab(ex -> {
                ex.getResponseHeaders().add("Content-Type", e.getKey().equals("garbage") ? "application/json" : "text/html");
                ex.sendResponseHeaders(200, e.getValue().length);
                ex.getResponseBody().write(e.getValue());
            })) {
                Path kube = kubeconfigFor(api.url());
                long start = System.nanoTime();
                var r = TestSupport.script("attic-token", "dev", "--sub", "ci", "--pull", "main", "-n", "attic-x", "--kubeconfig", kube.toString(),
                        "--context", "fake").run();
                long seconds = (System.nanoTime() - start) / 1_000_000_000L;
                assertEquals(ExitCode.REMOTE_ERROR, r.exit(), e.getKey() + ": " + r);
                HostileInputTest.assertNoTrace(r);
                assertEquals(1, HostileInputTest.errLines(r).size(), r.err());
                assertTrue(r.err().contains(e.getKey().equals("17 MiB") ? "the API server at " + api.url() + " (no proxy: a loopback address is never proxied) "
                        + "answered with more than 16 MiB: not the answer gfw asked for" : "answered with something that is not Kubernetes JSON"), r.err());
                assertTrue(seconds < 60, e.getKey() + " took " + seconds + " s");
                assertFalse(r.err().contains("kube-token-not-shown"), r.err());
                assertEquals("", r.out());
                assertEquals(List.of(), api.writes());
            }
        }
    }

    @Test
    void anApiServerAnswering500ToEverythingLeavesHealthUnknownNotFailed() throws IOException {
        String etcd = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                + "\"message\":\"etcdserver: request timed out\",\"reason\":\"InternalError\",\"code\":500}";
        // A kubeconfig whose server answers 500 to everything, before anything is deployed.
        try (var api = new FakeGitLab(ex -> answer(ex, 500, etcd))) {
            Path kube = kubeconfigFor(api.url());
            var r = TestSupport.script("health", "dev", "--only", "cache,dashboard", "-o", "json", "--kubeconfig", kube.toString(), "--context", "fake",
                    "--request-timeout", "5s")
                    .env("GITLAB_TOKEN", "").run();
            HostileInputTest.assertNoTrace(r);
            assertEquals(ExitCode.DEGRADED, r.exit(), r.toString());
            var doc = RunnerFixtures.JSON.readTree(r.out());
            for (var row : doc.path("checks")) {
                assertEquals("unknown", row.path("status").asText(), "nothing was read, so nothing failed: " + row);
            }
            assertTrue(doc.path("checks").size() > 0, r.out());
            assertEquals(List.of(), api.writes());
        }
        // The real control plane with the cache and the dashboard up, its API server answering 500 (the fault proxy): to
        // everything, then only to the port-forwards health asks the components through.
        try (var f = new HealthFixtures().deploy()) {
            for (String what : List.of("everything", "port-forwards")) {
                f.api.resetRequests();
                f.api.fault(TestApiProxy.Fault.answer(q -> what.equals("everything") || q.path().endsWith("/portforward"), 500, etcd, -1));
                TestSupport.Result r;
                try {
                    r = f.health("--only", "cache,dashboard", "-o", "json", "--request-timeout", "5s").run();
                } finally {
                    f.api.clearFaults();
                }
                HostileInputTest.assertNoTrace(r);
                assertEquals(ExitCode.DEGRADED, r.exit(), what + ": " + r);
                assertEquals(List.of(), f.api.requests().stream().filter(TestCluster.Request::isMutating).toList(), "nothing written");
                assertTrue(r.err().contains("dev: degraded ("), r.err());
                var checks = RunnerFixtures.JSON.readTree(r.out()).path("checks");
                assertEquals(6, checks.size(), r.out());
                for (var row : checks) {
                    String check = row.path("check").asText();
                    String detail = row.path("detail").asText();
                    if (what.equals("port-forwards") && check.startsWith("deployment ")) {
                        assertEquals("ok", row.path("status").asText(), row.toString()); // read: the API server answered those
                        continue;
                    }
                    assertEquals("unknown", row.path("status").asText(), what + ": nothing was read from the component, so nothing failed: " + row);
                    assertTrue(what.equals("everything") ? detail.contains("the API server failed (500): etcdserver: request timed out")
                            : detail.matches(".*the API server answered 500 to the port-forward to pod [a-z0-9-]+: the component was not asked.*"),
                            what + ": the reason names the API server's answer: " + row);
                }
            }
        }
    }

    // ---- deploy-dashboard --diff / --dry-run=server ask for no token they would not store -----------

    @Test
    void dashboardDiffAndServerDryRunShowANewSecretWithoutAskingForTheToken() throws IOException {
        TestCluster api = TestCluster.shared();
        String suffix = TestCluster.randomHex(3);
        String dash = "dash-diff-" + suffix;
        String runnerNs = "runners-diff-" + suffix;
        for (String n : List.of(dash, runnerNs)) {
            api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(n).endMetadata().build()).create();
        }
        Path dir = EnvFile.dev().set("namespaces.dashboard.name", dash).set("namespaces.runners.name", runnerNs).writeTo(TestSupport.tempDir("dash-diff"), "dev");
        try {
            for (String mode : List.of("--diff", "--dry-run=server")) {
                if (api.isLocal()) api.resetRequests();
                var r = TestSupport.script("deploy-dashboard", "dev", mode, "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                        "--context", api.context()).run();
                assertEquals(0, r.exit(), mode + ": " + r);
                HostileInputTest.assertNoTrace(r);
                assertFalse(r.err().contains("GITLAB_TOKEN is not set"), r.err());
                assertTrue(r.out().contains("secret/runner-dashboard-secrets -n " + dash), mode + ": " + r.out());
                if (api.isLocal()) {
                    assertTrue(api.requests().stream().filter(TestCluster.Request::isMutating).allMatch(TestCluster.Request::isDryRun), api.requests().toString());
                }
                assertEquals(null, api.client().secrets().inNamespace(dash).withName("runner-dashboard-secrets").get(), "nothing written");
            }
            // A run that writes still demands the token: the Secret cannot be made without it.
            var write = TestSupport.script("deploy-dashboard", "dev", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context()).run();
            assertEquals(ExitCode.NO_INPUT, write.exit(), write.toString());
            assertTrue(write.err().contains("GITLAB_TOKEN is not set"), write.err());
        } finally {
            for (String n : List.of(dash, runnerNs)) api.client().namespaces().withName(n).delete();
        }
    }

    // ---- rotate-token checks the Deployment before the GitLab write ---------------------------------

    static final String RUNNER_JSON = "{\"id\":4711,\"description\":\"gfw-dev-docker\",\"paused\":false,\"online\":true,\"status\":\"online\","
            + "\"runner_type\":\"group_type\",\"contacted_at\":\"2026-01-01T00:00:00.000Z\",\"token\":\"glrt-new-token-never-shown\"}";

    @Test
    void rotateTokenWithoutTheDeploymentChangesNothingInGitLab() throws IOException {
        String ns = runnerNamespace("rotate", "4711");
        try (var gitlab = new FakeGitLab(ex -> answer(ex, ex.getRequestMethod().equals("POST") ? 201 : 200, RUNNER_JSON))) {
            var r = runners(ns, gitlab, "dev", "rotate-token", "docker", "--timeout", "10s");
            assertEquals(ExitCode.NOT_FOUND, r.exit(), r.toString());
            HostileInputTest.assertNoTrace(r);
            assertEquals(List.of(), gitlab.writes(), "no token reset in GitLab");
            assertTrue(r.err().contains("runner 4711 (gitlab-runner-docker): deployment " + ns + "/gitlab-runner-docker does not exist"), r.err());
            assertTrue(r.err().contains("nothing was changed"), r.err());
            assertFalse(r.toString().contains("glrt-"), r.toString());
        }
    }

    // ---- two first deploy-cache runs at once: the Secret is generated once -------------------------

    @Test
    void twoFirstDeployCacheRunsAtOnceKeepOnePassword() throws Exception {
        try (TestCluster api = TestCluster.start()) {
            org.junit.jupiter.api.Assumptions.assumeTrue(api.isLocal(), "needs the fault proxy");
            if (api.client().apiextensions().v1().customResourceDefinitions().withName("clusters.postgresql.cnpg.io").get() == null) {
                api.ensureCrd(DeployCacheTest.crd("postgresql.cnpg.io", "Cluster", "clusters"));
            }
            String ns = "race-" + TestCluster.randomHex(3);
            api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
            try {
                // Each run reads "absent", then its write of the password Secret is held 4 s: both writes reach the API
                // server after both reads, as when two CI jobs start together.
                String secrets = "/api/v1/namespaces/" + ns + "/secrets";
                api.fault(TestApiProxy.Fault.stall(q -> !q.method().equals("GET") && q.path().startsWith(secrets), 4000, 2));
                // Built once first: two first builds of one script at once corrupt JBang's cache (issue 20 point 4), another matter.
                TestSupport.script("deploy-cache", "--help").run();
                var runs = new ArrayList<java.util.concurrent.CompletableFuture<TestSupport.Result>>();
                for (int i = 0; i < 2; i++) {
                    runs.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> TestSupport.script("deploy-cache", "dev", "-n", ns,
                            "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--timeout", "3s").run()));
                }
                var outs = new ArrayList<String>();
                for (var f : runs) {
                    TestSupport.Result r = f.get();
                    HostileInputTest.assertNoTrace(r);
                    outs.add(r.out() + "\n--- stderr ---\n" + r.err());
                }
                String line = "secret/attic-pg-app-credentials -n " + ns;
                long created = outs.stream().filter(o -> o.contains(line + " created")).count();
                long kept = outs.stream().filter(o -> o.contains(line + " unchanged (kept: another run created it at the same time)")).count();
                assertEquals(1, created, "one run creates it: " + outs);
                assertEquals(1, kept, "the other reads the winner's back: " + outs);
            } finally {
                api.clearFaults();
                api.client().namespaces().withName(ns).delete();
            }
        }
    }

    // ---- temporary files: a private directory the next start cleans ---------------------------------

    static List<Path> tmpFiles(String glob) throws IOException {
        try (var d = java.nio.file.Files.newDirectoryStream(Path.of(System.getProperty("java.io.tmpdir")), glob)) {
            var out = new ArrayList<Path>();
            d.forEach(out::add);
            return out;
        }
    }

    @Test
    void aKilledWatchLeavesNoKubeconfigCopyInTmpAndTheNextStartCleansUp() throws Exception {
        String ns = runnerNamespace("killed", "4711");
        Path runtime = TestSupport.tempDir("xdg-runtime");
        java.nio.file.Files.setPosixFilePermissions(runtime, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try (var gitlab = new FakeGitLab(ex -> answer(ex, 200, RUNNER_JSON.replace(",\"token\":\"glrt-new-token-never-shown\"", "")))) {
            TestCluster api = TestCluster.shared();
            Path env = RunnerFixtures.envDir(ns, UnaryOperator.identity());
            var argv = new ArrayList<>(List.of(TestSupport.repo().resolve("jbang").toString(), TestSupport.repo().resolve("scripts/runners.java").toString()));
            argv.addAll(cluster(api, env, "dev", "status", "docker", "-w"));
            argv.addAll(List.of("--gitlab-url", gitlab.url(), "--gitlab-token-file", GitLabStandIn.tokenFile(TOKEN).toString()));
            var pb = new ProcessBuilder(argv).directory(TestSupport.repo().toFile()).redirectErrorStream(true)
                    .redirectOutput(TestSupport.tempDir("watch-out").resolve("out").toFile());
            pb.environment().put("XDG_RUNTIME_DIR", runtime.toString());
            for (String k : List.of("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "GITLAB_TOKEN")) pb.environment().remove(k);
            Process p = pb.start();
            Path copy = null;
            try {
                long until = System.nanoTime() + 120_000_000_000L;
                while (copy == null && System.nanoTime() < until && p.isAlive()) {
                    try (var walk = java.nio.file.Files.walk(runtime)) {
                        copy = walk.filter(f -> f.getFileName().toString().startsWith("gfw-kubeconfig-")).findFirst().orElse(null);
                    }
                    if (copy == null) Thread.sleep(200);
                }
                assertTrue(copy != null, "the watch wrote Helm's kubeconfig copy into gfw's private directory");
                assertTrue(copy.startsWith(runtime.resolve("gfw")), copy.toString());
                assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(copy)));
                assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                        java.nio.file.Files.getPosixFilePermissions(runtime.resolve("gfw"))));
            } finally {
                // SIGKILL: no shutdown hook runs.
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor();
            }
            Thread.sleep(500);
            // Other people's runs may leave such files too: ours would name this test cluster's server.
            String server = java.nio.file.Files.readString(TestCluster.shared().kubeconfig()).lines().filter(l -> l.trim().startsWith("server:"))
                    .findFirst().orElseThrow().trim();
            var leaked = tmpFiles("gfw-kubeconfig-*.yaml").stream().filter(f -> {
                try {
                    return java.nio.file.Files.readString(f).contains(server);
                } catch (IOException unreadable) {
                    return false;
                }
            }).toList();
            assertEquals(List.of(), leaked, "no kubeconfig copy in " + System.getProperty("java.io.tmpdir"));
            assertTrue(java.nio.file.Files.exists(copy), "a killed run cannot clean up: " + copy);
            // The next start of any gfw command removes what the killed run left.
            var next = TestSupport.script("runners", "--help").env("XDG_RUNTIME_DIR", runtime.toString()).run();
            assertEquals(0, next.exit(), next.toString());
            try (var runs = java.nio.file.Files.list(runtime.resolve("gfw"))) {
                assertEquals(List.of(), runs.toList(), "the dead run's folder is gone");
            }
        }
    }
}
