import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * fetch-kubeconfig against a local Rancher stand-in that answers only connections coming out of a
 * real SOCKS5 proxy (tests/support/TestSocksProxy, outgoing side bound to 127.0.0.7), with a kubeconfig pointing at the
 * shared test API server, so verification really calls /version (through the proxy: proxy-url).
 * Command-line behaviour runs as processes through ./jbang; error cases run in-process.
 */
class FetchKubeconfigTest {

    static final String TOKEN = "token-gfwtest:" + UUID.randomUUID().toString().replace("-", "");
    static final String RANCHER_NAME = "gfw-dev-rancher";
    static final String CLUSTER_ID = "c-m-fk7test";
    static final String AGENT_CONTEXT = "gloriousflywheel/projects/kubernetes/gitlab-agents:dev";

    static TestSocksProxy proxy;
    static RancherStandIn rancher;

    @BeforeAll
    static void start() throws IOException {
        proxy = TestSocksProxy.shared();
        rancher = RancherStandIn.http(proxy.outgoingAddress());
        TestSupport.closeAtEnd(rancher);
        configure(rancher);
    }

    static void configure(RancherStandIn r) throws IOException {
        r.token = TOKEN;
        r.clusters.put(CLUSTER_ID, RANCHER_NAME);
        r.clusters.put("c-m-other", "some-other-cluster");
        r.kubeconfig = rancherKubeconfig(TestCluster.shared().url());
    }

    @BeforeEach
    void reset() throws IOException {
        rancher.reset();
        rancher.apiToken = null;
        rancher.kubeconfig = rancherKubeconfig(TestCluster.shared().url());
    }

    /** The test API server's kubeconfig named the way Rancher names it (context and cluster after the Rancher cluster). */
    static String rancherKubeconfig(String server) throws IOException {
        String text = Files.readString(TestCluster.shared().kubeconfig()).replace(TestCluster.shared().url(), server);
        KubeconfigFile k = KubeconfigFile.parse(text);
        k.renameContext(k.currentContext(), RANCHER_NAME);
        return k.toYaml();
    }

    /** A working directory outside the repository with environments/ whose dev.yaml names the stand-in. */
    static Path workspace(RancherStandIn r) throws IOException {
        Path ws = TestSupport.tempDir("fetch");
        Files.createDirectories(ws.resolve("environments"));
        EnvFile.dev().set("cluster.rancher.url", r.url()).set("cluster.rancher.cluster", RANCHER_NAME).writeTo(ws.resolve("environments"), "dev");
        Files.copy(TestSupport.repo().resolve("environments/prod.yaml"), ws.resolve("environments/prod.yaml"));
        return ws;
    }

    static Path tokenFile(Path dir) throws IOException {
        Path f = dir.resolve("rancher-token");
        Files.writeString(f, TOKEN + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    static String mode(Path file) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }

    static List<String> strayFiles(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList();
        }
    }

    static void assertTokenNotShown(TestSupport.Result r) {
        assertFalse(r.out().contains(TOKEN), "token on stdout:\n" + r);
        assertFalse(r.err().contains(TOKEN), "token on stderr:\n" + r);
        String secretPart = TOKEN.substring(TOKEN.indexOf(':') + 1);
        assertFalse(r.out().contains(secretPart) || r.err().contains(secretPart), "token secret shown:\n" + r);
    }

    static void assertThroughProxy(RancherStandIn r, int expectedRequests) {
        assertTrue(r.rejected.isEmpty(), "direct connections reached the stand-in: " + r.rejected);
        assertEquals(expectedRequests, r.requests.size(), "requests: " + r.requests);
        for (var req : r.requests) assertEquals(proxy.outgoingAddress(), req.remoteAddress(), req.toString());
    }

    // ---- the command line, as processes -----------------------------------------------------------

    /** {@code ./jbang scripts/fetch-kubeconfig.java args...} by absolute paths, so it runs from any directory. */
    static TestSupport.Cmd script(String... args) {
        var argv = new ArrayList<String>(List.of(TestSupport.repo().resolve("jbang").toString(),
                TestSupport.repo().resolve("scripts/fetch-kubeconfig.java").toString()));
        argv.addAll(List.of(args));
        return TestSupport.command(argv.toArray(String[]::new));
    }

    @Test
    void fetchesThroughTheSocksProxyVerifiesAndWritesKubeconfigAtTheRepositoryRoot() throws Exception {
        Path ws = workspace(rancher);
        Path sub = Files.createDirectories(ws.resolve("docs/runbooks"));
        var r = script("dev", "--proxy", proxy.url("socks5h"))
                .env("RANCHER_TOKEN", TOKEN).env("HOME", ws.toString()).dir(sub).run();
        assertEquals(0, r.exit(), r.toString());
        assertTokenNotShown(r);

        // Rancher saw exactly the two API calls, with the token, all through the proxy.
        assertThroughProxy(rancher, 2);
        var list = rancher.requests.get(0);
        assertEquals("GET", list.method());
        assertEquals("/v3/clusters", list.path());
        assertEquals("name=" + RANCHER_NAME, list.query());
        assertEquals("Bearer " + TOKEN, list.authorization());
        var generate = rancher.requests.get(1);
        assertEquals("POST", generate.method());
        assertEquals("/v3/clusters/" + CLUSTER_ID, generate.path());
        assertEquals("action=generateKubeconfig", generate.query());
        assertEquals("Bearer " + TOKEN, generate.authorization());

        // The file: at the repository root (not the working directory), private, renamed, proxied.
        Path file = ws.resolve("kubeconfig-dev");
        assertTrue(Files.isRegularFile(file), "no kubeconfig-dev at the repository root: " + r);
        assertFalse(Files.exists(sub.resolve("kubeconfig-dev")));
        assertEquals("rw-------", mode(file));
        assertEquals(file.toRealPath().toString(), r.out().strip(), "stdout is the written file");
        KubeconfigFile k = KubeconfigFile.read(file);
        assertEquals("dev-cluster", k.currentContext());
        assertEquals(List.of("dev-cluster"), k.contextNames());
        assertEquals("dev-cluster", k.contextField("dev-cluster", "cluster"), "cluster entry renamed with the context");
        assertEquals(TestCluster.shared().url(), k.server("dev-cluster"));
        String text = Files.readString(file);
        assertTrue(text.contains("proxy-url: socks5://127.0.0.1:" + proxy.port()), text);
        assertFalse(text.contains(RANCHER_NAME + "\n"), "Rancher's context name left in the file:\n" + text);
        assertEquals(List.of(), strayFiles(ws));

        // Verified, and the next steps point at the file.
        assertTrue(r.err().contains("Verified: API server "), r.err());
        assertTrue(r.err().contains(TestCluster.shared().client().getKubernetesVersion().getGitVersion()), r.err());
        assertTrue(r.err().contains("export KUBECONFIG=" + file.toRealPath()), r.err());
        assertTrue(r.err().contains("-var k8s_config_path=" + file.toRealPath() + " -var cluster_context=dev-cluster"), r.err());

        // kubectl reads it, and reaches the API server through its proxy-url.
        var current = TestSupport.command("kubectl", "--kubeconfig", file.toString(), "config", "current-context").run();
        assertEquals(0, current.exit(), current.toString());
        assertEquals("dev-cluster", current.out().strip());
        var version = TestSupport.command("kubectl", "--kubeconfig", file.toString(), "get", "--raw", "/version").run();
        assertEquals(0, version.exit(), version.toString());
        assertTrue(version.out().contains("gitVersion"), version.out());
    }

    @Test
    void tokenFromStdinProxyFromHttpsProxyAndTfvarsForAnotherFile() throws Exception {
        Path ws = workspace(rancher);
        Path elsewhere = TestSupport.tempDir("kc-out");
        Path file = elsewhere.resolve("dev.kubeconfig");
        // By host name: HTTPS_PROXY, like kubectl's, is never used for a loopback address.
        var r = script("dev", "--token-file", "-", "--kubeconfig", file.toString(), "-o", "tfvars", "--rancher-url", rancher.urlByHostName())
                .env("HTTPS_PROXY", proxy.url("socks5")).env("HOME", ws.toString()).stdin(TOKEN + "\n").dir(ws).run();
        assertEquals(0, r.exit(), r.toString());
        assertTokenNotShown(r);
        assertThroughProxy(rancher, 2);
        assertEquals("k8s_config_path = \"" + file.toRealPath() + "\"\ncluster_context = \"dev-cluster\"\n", r.out());
        assertEquals("rw-------", mode(file));
        assertFalse(Files.exists(ws.resolve("kubeconfig-dev")), "wrote the default file too");
        assertTrue(r.err().contains("--kubeconfig " + file.toRealPath()), "next steps must name the file for gfw: " + r.err());
    }

    @Test
    void rejectedTokenFailsWithAuthAndKeepsTheOldFileWithoutShowingTheToken() throws Exception {
        Path ws = workspace(rancher);
        Path file = ws.resolve("kubeconfig-dev");
        String old = Files.readString(TestCluster.shared().kubeconfig());
        Files.writeString(file, old);
        String wrong = "token-wrong:" + UUID.randomUUID();
        var r = script("dev", "--proxy", proxy.url("socks5h"))
                .env("RANCHER_TOKEN", wrong).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.AUTH, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), r.err());
        // Rancher's 401 says only "must authenticate": expired and cluster-scoped keys look the same.
        assertTrue(r.err().contains("rejected the token on GET /v3/clusters (401: must authenticate)"), r.err());
        assertTrue(r.err().contains("expired, disabled or deleted") && r.err().contains("--cluster-id"), r.err());
        assertFalse(r.err().contains(wrong) || r.out().contains(wrong), "the rejected token was printed:\n" + r);
        assertEquals(old, Files.readString(file));
        assertEquals(List.of(), strayFiles(ws));
        assertThroughProxy(rancher, 1);
    }

    @Test
    void proxyDownSaysHowToOpenTheTunnelAndWritesNothing() throws Exception {
        Path ws = workspace(rancher);
        int dead = TestSocksProxy.freePort();
        var r = script("dev", "--proxy", "socks5h://127.0.0.1:" + dead)
                .env("RANCHER_TOKEN", TOKEN).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertTrue(r.err().contains("proxy socks5h://127.0.0.1:" + dead + " (--proxy) is not reachable"), r.err());
        assertTrue(r.err().contains("ssh -D " + dead + " jumphost"), r.err());
        assertFalse(Files.exists(ws.resolve("kubeconfig-dev")));
        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty());
        assertTokenNotShown(r);
    }

    @Test
    void noTokenIsRefusedBeforeAnyRequest() throws Exception {
        Path ws = workspace(rancher);
        var r = script("dev", "--proxy", proxy.url("socks5h")).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("RANCHER_TOKEN") && r.err().contains("--token-file"), r.err());
        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty());
        assertFalse(Files.exists(ws.resolve("kubeconfig-dev")));
    }

    @Test
    void gitLabCiSelectsTheAgentContextWithoutCallingRancher() throws Exception {
        Path ws = workspace(rancher);
        Path job = ws.resolve("job-kubeconfig");
        Files.writeString(job, jobKubeconfig());
        Files.setPosixFilePermissions(job, PosixFilePermissions.fromString("rw-------"));
        var r = script("dev", "-o", "tfvars")
                .env("GITLAB_CI", "true").env("KUBECONFIG", job.toString()).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty(), "CI mode called Rancher");
        assertTrue(r.err().contains("GitLab CI mode (GITLAB_CI=true)"), r.err());
        assertTrue(r.err().contains("selected it as current-context"), r.err());
        assertTrue(r.err().contains("Verified: API server"), r.err());
        assertEquals("k8s_config_path = \"" + job.toRealPath() + "\"\ncluster_context = \"" + AGENT_CONTEXT + "\"\n", r.out());
        assertEquals(AGENT_CONTEXT, KubeconfigFile.read(job).currentContext());
        assertEquals(java.util.Set.of(TestCluster.shared().context(), AGENT_CONTEXT), java.util.Set.copyOf(KubeconfigFile.read(job).contextNames()), "other contexts kept");
        assertEquals("rw-------", mode(job));
        assertFalse(Files.exists(ws.resolve("kubeconfig-dev")), "CI mode must not write kubeconfig-dev");
        var kubectl = TestSupport.command("kubectl", "config", "current-context").env("KUBECONFIG", job.toString()).run();
        assertEquals(AGENT_CONTEXT, kubectl.out().strip(), kubectl.toString());
    }

    @Test
    void gitLabCiWithoutTheAgentContextFailsAndChangesNothing() throws Exception {
        Path ws = workspace(rancher);
        Path job = ws.resolve("job-kubeconfig");
        String before = Files.readString(TestCluster.shared().kubeconfig());
        Files.writeString(job, before);
        var r = script("dev")
                .env("GITLAB_CI", "true").env("KUBECONFIG", job.toString()).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("'" + AGENT_CONTEXT + "' is not in KUBECONFIG"), r.err());
        assertTrue(r.err().contains("contexts: " + TestCluster.shared().context()), r.err());
        assertEquals(before, Files.readString(job));
        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty());
    }

    @Test
    void ciFlagSelectsTheAgentContextOfTheGivenFileOnceAndLeavesItAlone() throws Exception {
        Path ws = workspace(rancher);
        Path job = ws.resolve("agent.kubeconfig");
        Files.writeString(job, jobKubeconfig());
        Files.setPosixFilePermissions(job, PosixFilePermissions.fromString("rw-r-----"));
        var first = TestSupport.inProcess(new FetchKubeconfig(), "dev", "--ci", "--env-dir", ws.resolve("environments").toString(),
                "--kubeconfig", job.toString(), "-o", "json");
        assertEquals(0, first.exit(), first.toString());
        assertTrue(first.err().contains("GitLab CI mode (--ci)") && first.err().contains("selected it as current-context"), first.err());
        assertTrue(first.out().contains("\"context\" : \"" + AGENT_CONTEXT + "\"") && first.out().contains("\"ci\" : true"), first.out());
        assertEquals(AGENT_CONTEXT, KubeconfigFile.read(job).currentContext());
        assertEquals("rw-r-----", mode(job), "the job's file keeps its mode");
        assertEquals(List.of(), strayFiles(ws));

        String after = Files.readString(job);
        var second = TestSupport.inProcess(new FetchKubeconfig(), "dev", "--ci", "--no-verify", "--env-dir", ws.resolve("environments").toString(),
                "--kubeconfig", job.toString());
        assertEquals(0, second.exit(), second.toString());
        assertTrue(second.err().contains("already is the current context"), second.err());
        assertEquals(after, Files.readString(job), "an already selected context is not rewritten");
        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty(), "CI mode called Rancher");
    }

    /** What a GitLab agent job sees: another context current, the agent's context pointing at the cluster. */
    static String jobKubeconfig() throws IOException {
        String base = Files.readString(TestCluster.shared().kubeconfig());
        KubeconfigFile k = KubeconfigFile.parse(base);
        String ctx = k.currentContext();
        String cluster = k.contextField(ctx, "cluster");
        String user = k.contextField(ctx, "user");
        return base.replace("contexts:\n", "contexts:\n- name: \"" + AGENT_CONTEXT + "\"\n  context:\n    cluster: " + cluster
                + "\n    user: " + user + "\n");
    }

    // ---- failures, in-process ---------------------------------------------------------------------

    /** Runs in this JVM with --env-dir and --kubeconfig inside {@code ws} and the token from a file. */
    static TestSupport.Result fetch(Path ws, String... extra) throws IOException {
        // --no-ci: these run in the test's JVM, whose environment may say GITLAB_CI=true.
        var args = new ArrayList<>(List.of("dev", "--no-ci", "--env-dir", ws.resolve("environments").toString(),
                "--kubeconfig", ws.resolve("kubeconfig-dev").toString(), "--token-file", tokenFile(ws).toString()));
        args.addAll(List.of(extra));
        return TestSupport.inProcess(new FetchKubeconfig(), args.toArray(String[]::new));
    }

    /** The case fails with {@code exit} and a one-line error containing {@code message}; the old file stays as it was. */
    static TestSupport.Result assertFailsKeepingOldFile(Path ws, int exit, String message, String... extra) throws IOException {
        Path file = ws.resolve("kubeconfig-dev");
        String old = Files.readString(TestCluster.shared().kubeconfig());
        Files.writeString(file, old);
        var r = fetch(ws, extra);
        assertEquals(exit, r.exit(), r.toString());
        var errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
        assertEquals(1, errors.size(), r.err());
        assertTrue(errors.get(0).contains(message), "expected '" + message + "' in: " + errors.get(0));
        assertEquals(old, Files.readString(file), "the old kubeconfig was changed");
        assertEquals(List.of(), strayFiles(ws));
        assertTokenNotShown(r);
        return r;
    }

    @Test
    void unknownClusterIsNotFound() throws IOException {
        Path ws = workspace(rancher);
        rancher.clusters.remove(CLUSTER_ID);
        try {
            assertFailsKeepingOldFile(ws, ExitCode.NOT_FOUND, "has no cluster named '" + RANCHER_NAME + "'", "--proxy", proxy.url("socks5h"));
            assertThroughProxy(rancher, 1);
        } finally {
            rancher.clusters.put(CLUSTER_ID, RANCHER_NAME);
        }
    }

    @Test
    void answersThatAreNotAKubeconfigAreRemoteErrors() throws IOException {
        Path ws = workspace(rancher);
        String[] answers = {
            "<html><body>Rancher login</body></html>",
            "{\"type\":\"generateKubeconfigOutput\"}",
            "{\"config\":\"this: [is not\"}",
            "{\"config\":\"apiVersion: v1\\nkind: Config\\nclusters: []\\n\"}",
            "{\"config\":\"apiVersion: v1\\nkind: Config\\nclusters:\\n- name: a\\n  cluster: {server: https://x}\\ncontexts:\\n- name: a\\n  context: {cluster: b, user: a}\\n\"}",
        };
        String[] messages = {"not JSON", "no 'config' field", "not a usable kubeconfig (not YAML", "not a usable kubeconfig (no clusters)",
            "names cluster b, which is not in the file"};
        for (int i = 0; i < answers.length; i++) {
            rancher.reset();
            rancher.generateAnswerOverride = answers[i];
            assertFailsKeepingOldFile(ws, ExitCode.REMOTE_ERROR, messages[i], "--proxy", proxy.url("socks5h"));
            assertThroughProxy(rancher, 2);
        }
    }

    @Test
    void rancherTooSlowIsATimeout() throws IOException {
        Path ws = workspace(rancher);
        rancher.delayMillis = 5_000;
        assertFailsKeepingOldFile(ws, ExitCode.UNAVAILABLE, "did not answer within 1s", "--proxy", proxy.url("socks5h"), "--timeout", "1s");
    }

    @Test
    void aSlowRancherIsSaidOnStderrAfterAboutTwoSeconds() throws IOException {
        Path ws = workspace(rancher);
        rancher.delayMillis = 3_500;
        var r = script("dev", "--proxy", proxy.url("socks5h"), "--request-timeout", "20s", "--no-verify")
                .env("RANCHER_TOKEN", TOKEN).env("HOME", ws.toString()).dir(ws).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("waiting for Rancher at " + rancher.url() + " (through proxy " + proxy.url("socks5h") + " (--proxy)), at most 20s ..."), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("waiting for")).count(), "one line per run, not per request: " + r.err());
        assertTokenNotShown(r);
    }

    @Test
    void rancherDownBehindAWorkingProxyIsUnavailable() throws IOException {
        Path ws = workspace(rancher);
        String down = "http://127.0.0.1:" + TestSocksProxy.freePort();
        var r = assertFailsKeepingOldFile(ws, ExitCode.UNAVAILABLE, "Rancher at " + down, "--proxy", proxy.url("socks5h"), "--rancher-url", down);
        assertTrue(r.err().contains("through proxy " + proxy.url("socks5h") + " (--proxy)"), r.err());
        assertFalse(r.err().contains("ssh -D"), "the proxy is up: no tunnel hint\n" + r.err());
    }

    @Test
    void withoutTheProxyTheStandInRefusesTheConnection() throws IOException {
        // Proves the other tests' traffic went through the proxy: a direct connection is turned away.
        Path ws = workspace(rancher);
        assertFailsKeepingOldFile(ws, ExitCode.AUTH, "(403", "--proxy", "none");
        assertEquals(1, rancher.rejected.size());
        assertEquals("127.0.0.1", rancher.rejected.get(0).remoteAddress());
        assertTrue(rancher.requests.isEmpty());
    }

    @Test
    void aFileForAnotherClusterIsReplacedOnlyWithForce() throws IOException {
        Path ws = workspace(rancher);
        Path file = ws.resolve("kubeconfig-dev");
        String other = Files.readString(TestCluster.shared().kubeconfig()).replace(TestCluster.shared().url(), "https://10.9.9.9:6443");
        Files.writeString(file, other);
        var r = fetch(ws, "--proxy", proxy.url("socks5h"));
        assertEquals(ExitCode.REFUSED, r.exit(), r.toString());
        assertTrue(r.err().contains("is for another cluster") && r.err().contains("https://10.9.9.9:6443") && r.err().contains("--force"), r.err());
        assertEquals(other, Files.readString(file));

        var forced = fetch(ws, "--proxy", proxy.url("socks5h"), "--force");
        assertEquals(0, forced.exit(), forced.toString());
        assertEquals(TestCluster.shared().url(), KubeconfigFile.read(file).server("dev-cluster"));
        assertEquals("rw-------", mode(file));
    }

    @Test
    void aFileForTheSameClusterIsRefreshedWithoutForce() throws IOException {
        Path ws = workspace(rancher);
        Path file = ws.resolve("kubeconfig-dev");
        Files.writeString(file, Files.readString(TestCluster.shared().kubeconfig()));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        var r = fetch(ws, "--proxy", proxy.url("socks5h"), "-o", "json");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("\"context\" : \"dev-cluster\"") && r.out().contains("\"proxyUrl\" : \"socks5://127.0.0.1:" + proxy.port()), r.out());
        assertTrue(Files.readString(file).contains("proxy-url:"), "not replaced");
        assertEquals("rw-------", mode(file), "a refreshed file is private again");
    }

    @Test
    void aKubeconfigThatDoesNotWorkIsNotSavedUnlessNoVerify() throws IOException {
        Path ws = workspace(rancher);
        String dead = "http://127.0.0.1:" + TestSocksProxy.freePort();
        rancher.kubeconfig = rancherKubeconfig(dead);
        Path file = ws.resolve("kubeconfig-dev");
        var r = fetch(ws, "--proxy", proxy.url("socks5h"), "--force");
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertTrue(r.err().contains("the new kubeconfig does not work") && r.err().contains("--no-verify"), r.err());
        assertFalse(Files.exists(file), "a kubeconfig that failed verification was saved");
        assertEquals(List.of(), strayFiles(ws));

        var saved = fetch(ws, "--proxy", proxy.url("socks5h"), "--no-verify");
        assertEquals(0, saved.exit(), saved.toString());
        assertTrue(saved.err().contains("Not verified (--no-verify)"), saved.err());
        assertEquals(dead, KubeconfigFile.read(file).server("dev-cluster"));
    }

    /** An HTTPS stand-in with a self-signed certificate (made once, by keytool) and the certificate's PEM file. */
    static RancherStandIn https;
    static RancherStandIn.Tls tls;

    static synchronized RancherStandIn httpsRancher() throws IOException {
        if (https == null) {
            tls = RancherStandIn.selfSigned(TestSupport.tempDir("tls"));
            https = RancherStandIn.https(proxy.outgoingAddress(), tls);
            TestSupport.closeAtEnd(https);
            configure(https);
        }
        https.reset();
        https.apiToken = null;
        https.kubeconfig = rancherKubeconfig(TestCluster.shared().url());
        return https;
    }

    @Test
    void verificationAndKubectlReachRanchersClusterProxyThroughTheSocksProxy() throws IOException {
        // Rancher's own kubeconfigs (the stand-in's template, pkg/kubeconfig/templates.go) point at
        // https://<Host>/k8s/clusters/<id> with Rancher's CA and a new kubeconfig token; the stand-in serves /version
        // there and refuses direct connections, so a pass means fabric8 and kubectl both used the proxy-url written
        // into the file. (kubectl sends no bearer token over plain http: hence HTTPS.)
        RancherStandIn r = httpsRancher();
        Path ws = workspace(r);
        r.kubeconfig = null;
        r.caCerts = Files.readString(tls.certificatePem());
        var fetched = fetch(ws, "--proxy", proxy.url("socks5h"), "--cacert", tls.certificatePem().toString(), "-o", "json");
        assertEquals(0, fetched.exit(), fetched.toString());
        assertTrue(fetched.err().contains("Verified: API server " + RancherStandIn.API_VERSION), fetched.err());
        assertEquals(1, r.issued.size(), "one kubeconfig token per generateKubeconfig");
        RancherStandIn.Issued token = r.issued.values().iterator().next();
        String apiToken = token.name() + ":" + token.key();
        assertFalse(fetched.err().contains(token.key()) || fetched.out().contains(token.key()), "the kubeconfig's token was printed");
        assertThroughProxy(r, 4);
        assertEquals("/v3/tokens/" + token.name(), r.requests.get(2).path());
        assertEquals("Bearer " + TOKEN, r.requests.get(2).authorization());
        var version = r.requests.get(3);
        assertEquals("/k8s/clusters/" + CLUSTER_ID + "/version", version.path());
        assertEquals("Bearer " + apiToken, version.authorization());

        // When the token expires: Rancher's default TTL, 30 days, said on stderr, in the file's header and in JSON.
        assertTrue(fetched.err().contains("Token " + token.name() + " expires " + token.expiresAt() + " (in 30 days)"), fetched.err());
        Path file = ws.resolve("kubeconfig-dev");
        assertTrue(Files.readString(file).lines().limit(3).anyMatch(l -> l.contains("expires " + token.expiresAt())), Files.readString(file));
        assertEquals(token.expiresAt().toString(), RunnerFixtures.JSON.readTree(fetched.out()).path("tokenExpiresAt").asText());
        assertEquals(java.time.Duration.ofDays(30).toMillis(), token.ttlMillis());

        KubeconfigFile k = KubeconfigFile.read(file);
        assertEquals("dev-cluster", k.contextField("dev-cluster", "user"), "Rancher's user entry renamed with the context");
        // kubectl get --raw takes the path from the server's root: Rancher's cluster prefix included.
        var kubectl = TestSupport.command("kubectl", "--kubeconfig", file.toString(), "get", "--raw", "/k8s/clusters/" + CLUSTER_ID + "/version").run();
        assertEquals(0, kubectl.exit(), kubectl.toString());
        assertTrue(kubectl.out().contains(RancherStandIn.API_VERSION), kubectl.out());
        assertTrue(r.rejected.isEmpty(), "kubectl connected directly: " + r.rejected);
        var byKubectl = r.requests.subList(4, r.requests.size());
        assertFalse(byKubectl.isEmpty(), "kubectl's request did not arrive");
        for (var req : byKubectl) {
            assertEquals(proxy.outgoingAddress(), req.remoteAddress(), req.toString());
            assertEquals("Bearer " + apiToken, req.authorization());
        }
    }

    @Test
    void severalClustersOfTheNameAreRefusedListingTheirIdsAndClusterIdPicksOne() throws IOException {
        Path ws = workspace(rancher);
        rancher.clusters.put("c-m-twin", RANCHER_NAME);
        try {
            assertFailsKeepingOldFile(ws, ExitCode.REMOTE_ERROR, "has 2 clusters named '" + RANCHER_NAME + "' (" + CLUSTER_ID + ", c-m-twin;",
                    "--proxy", proxy.url("socks5h"));
            assertThroughProxy(rancher, 1);

            rancher.reset();
            var r = fetch(ws, "--proxy", proxy.url("socks5h"), "--cluster-id", CLUSTER_ID, "--force");
            assertEquals(0, r.exit(), r.toString());
            assertEquals(List.of("GET /v3/clusters/" + CLUSTER_ID, "POST /v3/clusters/" + CLUSTER_ID),
                    rancher.requests.stream().map(q -> q.method() + " " + q.path()).toList());

            rancher.reset();
            assertFailsKeepingOldFile(ws, ExitCode.USAGE, "--cluster-id c-m-other is Rancher's cluster 'some-other-cluster', not '" + RANCHER_NAME + "'",
                    "--proxy", proxy.url("socks5h"), "--cluster-id", "c-m-other");
        } finally {
            rancher.clusters.remove("c-m-twin");
        }
    }

    @Test
    void aClusterScopedKeyIsRejectedOnTheListAndWorksWithClusterId() throws IOException {
        Path ws = workspace(rancher);
        rancher.keyCluster = CLUSTER_ID;
        var failed = assertFailsKeepingOldFile(ws, ExitCode.AUTH, "scoped to one cluster", "--proxy", proxy.url("socks5h"));
        assertTrue(failed.err().contains("pass --cluster-id ID"), failed.err());
        rancher.reset();
        rancher.keyCluster = CLUSTER_ID;
        var r = fetch(ws, "--proxy", proxy.url("socks5h"), "--cluster-id", CLUSTER_ID, "--force");
        assertEquals(0, r.exit(), r.toString());
        assertThroughProxy(rancher, 2);
    }

    @Test
    void aRancherThatGeneratesNoTokenGivesAKubeconfigThatRunsTheRancherCli() throws IOException {
        assumeFalse(KubeconfigFetch.onPath("rancher"), "the Rancher CLI is installed here");
        Path ws = workspace(rancher);
        rancher.kubeconfig = null;
        rancher.generateToken = false;
        var failed = assertFailsKeepingOldFile(ws, ExitCode.NO_INPUT, "logs in by running 'rancher token --server=", "--proxy", proxy.url("socks5h"), "--force");
        assertTrue(failed.err().contains("--user=" + RANCHER_NAME + "'") && failed.err().contains("kubeconfig-generate-token"), failed.err());
        assertThroughProxy(rancher, 2);
        assertEquals(Map.of(), rancher.issued, "Rancher created a token although the setting is off");

        var saved = fetch(ws, "--proxy", proxy.url("socks5h"), "--no-verify", "--force");
        assertEquals(0, saved.exit(), saved.toString());
        Path file = ws.resolve("kubeconfig-dev");
        String text = Files.readString(file);
        assertTrue(text.lines().limit(3).anyMatch(l -> l.contains("it holds no token: kubectl runs 'rancher token'")), text);
        assertFalse(text.contains("holds a token"), text);
        assertEquals("rancher", KubeconfigFile.read(file).execCommand("dev-cluster"));
        assertTrue(saved.err().contains("Credentials: no token in the file"), saved.err());
    }

    @Test
    void selfSignedRancherIsRejectedWithoutCacertAndAcceptedWithIt() throws IOException {
        RancherStandIn r = httpsRancher();
        Path ws = workspace(r);
        var untrusted = assertFailsKeepingOldFile(ws, ExitCode.UNAVAILABLE, "TLS failed", "--proxy", proxy.url("socks5h"));
        assertTrue(untrusted.err().contains("--cacert"), untrusted.err());
        assertTrue(r.requests.isEmpty(), "a request got through an untrusted TLS connection");

        var trusted = fetch(ws, "--proxy", proxy.url("socks5h"), "--cacert", tls.certificatePem().toString());
        assertEquals(0, trusted.exit(), trusted.toString());
        assertFalse(trusted.err().contains("insecure"), trusted.err());
        assertThroughProxy(r, 2);
        assertEquals("Bearer " + TOKEN, r.requests.get(1).authorization());

        r.reset();
        var insecure = fetch(ws, "--proxy", proxy.url("socks5h"), "--insecure-skip-tls-verify");
        assertEquals(0, insecure.exit(), insecure.toString());
        assertTrue(insecure.err().contains("warning: --insecure-skip-tls-verify"), insecure.err());
        assertThroughProxy(r, 2);

        Path notPem = Files.writeString(ws.resolve("not.pem"), "hello");
        var bad = fetch(ws, "--proxy", proxy.url("socks5h"), "--cacert", notPem.toString());
        assertEquals(ExitCode.NO_INPUT, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("--cacert " + notPem), bad.err());
    }

    @Test
    void badFlagsAreRefusedBeforeAnyRequestWithoutEchoingSecrets() throws IOException {
        Path ws = workspace(rancher);
        var token = TestSupport.inProcess(new FetchKubeconfig(), "dev", "--no-ci", "--env-dir", ws.resolve("environments").toString(),
                "--token", "s3cr3t-on-the-command-line");
        assertEquals(ExitCode.USAGE, token.exit(), token.toString());
        assertTrue(token.err().contains("--token is not accepted"), token.err());
        assertFalse(token.err().contains("s3cr3t"), token.err());

        var output = fetch(ws, "--proxy", proxy.url("socks5h"), "--output", ws.resolve("kc").toString());
        assertEquals(ExitCode.USAGE, output.exit(), output.toString());
        assertTrue(output.err().contains("use --kubeconfig FILE"), output.err());

        var both = fetch(ws, "--cacert", "x.pem", "--insecure-skip-tls-verify");
        assertEquals(ExitCode.USAGE, both.exit(), both.toString());

        var proxyScheme = fetch(ws, "--proxy", "ftp://127.0.0.1:21");
        assertEquals(ExitCode.USAGE, proxyScheme.exit(), proxyScheme.toString());
        assertTrue(proxyScheme.err().contains("--proxy: proxy scheme 'ftp'"), proxyScheme.err());

        var planned = TestSupport.inProcess(new FetchKubeconfig(), "prod", "--no-ci", "--env-dir", ws.resolve("environments").toString(),
                "--token-file", tokenFile(ws).toString(), "--proxy", proxy.url("socks5h"));
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        assertTrue(planned.err().contains("planned"), planned.err());

        assertTrue(rancher.requests.isEmpty() && rancher.rejected.isEmpty(), "a bad flag still reached Rancher");
        assertFalse(Files.exists(ws.resolve("kubeconfig-dev")));
        assertFalse(Files.exists(ws.resolve("kc")));
    }

    // ---- logic ------------------------------------------------------------------------------------

    @Test
    void proxyOrderFlagThenHttpsProxyThenEnvironment() {
        EnvConfig.Env dev = EnvConfig.load("dev", TestSupport.repo().resolve("environments").toString());
        String remote = "https://rancher.example.com";
        assertEquals("socks5h://localhost:1080", dev.cluster().proxy(), "dev.yaml's proxy changed; adjust this test");

        var flag = KubeconfigFetch.chooseProxy("socks5://127.0.0.1:2000", "http://corp:3128", null, dev, remote);
        assertEquals("--proxy", flag.origin());
        assertEquals(2000, flag.port());
        assertNull(KubeconfigFetch.chooseProxy("none", "http://corp:3128", null, dev, remote), "--proxy none turns every proxy off");

        var https = KubeconfigFetch.chooseProxy(null, "http://corp:3128", null, dev, remote);
        assertEquals("HTTPS_PROXY", https.origin());
        assertEquals(java.net.Proxy.Type.HTTP, https.type());
        assertEquals("http://corp:3128", https.kubeconfigUrl());
        assertNull(KubeconfigFetch.chooseProxy(null, "http://corp:3128", "localhost,.example.com", dev, remote), "NO_PROXY exempts Rancher");

        var env = KubeconfigFetch.chooseProxy(null, null, null, dev, remote);
        assertTrue(env.origin().endsWith("dev.yaml cluster.proxy"), env.origin());
        assertTrue(env.remoteDns());
        assertEquals("socks5://localhost:1080", env.kubeconfigUrl(), "kubectl rejects socks5h in proxy-url");
        assertNull(KubeconfigFetch.chooseProxy(null, null, null, dev, "http://127.0.0.1:8443"), "a port-forwarded Rancher is not proxied");

        var bad = assertThrows(GfwException.class, () -> KubeconfigFetch.chooseProxy(null, "gopher://x", null, dev, remote));
        assertEquals(ExitCode.USAGE, bad.exitCode());
        assertTrue(bad.getMessage().startsWith("HTTPS_PROXY:"), bad.getMessage());
    }

    @Test
    void renamingKeepsEveryReferenceOfRanchersExtraContexts() {
        // Rancher with an authorized cluster endpoint: a second context for a node, sharing the user.
        String yaml = "apiVersion: v1\nkind: Config\nclusters:\n- name: dev\n  cluster: {server: 'https://rancher/k8s/clusters/c-1', certificate-authority-data: QUJD}\n"
                + "- name: dev-node1\n  cluster: {server: 'https://10.0.0.1:6443'}\nusers:\n- name: dev\n  user: {token: 'kubeconfig-u-1:abc'}\n"
                + "contexts:\n- name: dev\n  context: {cluster: dev, user: dev}\n- name: dev-node1\n  context: {cluster: dev-node1, user: dev}\n"
                + "current-context: dev\n";
        KubeconfigFile k = KubeconfigFile.parse(yaml);
        k.renameContext("dev", "dev-cluster");
        k.setProxyUrl("socks5://localhost:1080");
        KubeconfigFile again = KubeconfigFile.parse(k.toYaml());
        assertEquals("dev-cluster", again.currentContext());
        assertEquals(List.of("dev-cluster", "dev-node1"), again.contextNames());
        assertEquals("https://rancher/k8s/clusters/c-1", again.server("dev-cluster"));
        assertEquals("dev-cluster", again.contextField("dev-node1", "user"), "shared user renamed in every context");
        assertEquals("https://10.0.0.1:6443", again.server("dev-node1"));
        String text = k.toYaml();
        assertEquals(2, text.split("proxy-url: socks5://localhost:1080", -1).length - 1, text);
        assertTrue(text.contains("certificate-authority-data: QUJD"), "fields gfw does not know are kept:\n" + text);
    }

    @Test
    void durationsAndHclStrings() {
        assertEquals(java.time.Duration.ofSeconds(30), Cli.duration("30s", "--timeout"));
        assertEquals(java.time.Duration.ofMinutes(2), Cli.duration("2m", "--timeout"));
        assertEquals(java.time.Duration.ofMillis(500), Cli.duration("500ms", "--timeout"));
        assertEquals(java.time.Duration.ofSeconds(7), Cli.duration("7", "--timeout"));
        var bad = assertThrows(GfwException.class, () -> Cli.duration("soon", "--timeout"));
        assertEquals(ExitCode.USAGE, bad.exitCode());
        assertEquals("\"/tmp/a \\\"b\\\" $${x}\"", KubeconfigFetch.hclString("/tmp/a \"b\" ${x}"));
    }
}
