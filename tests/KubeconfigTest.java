import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamedContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Choosing the cluster the kubectl way: --kubeconfig, KUBECONFIG, kubeconfig-<env> at the
 * repository root or current directory, ~/.kube/config; --context; the GitLab agent context in
 * CI. Runs `gfw version dev`, which asks the API server for its version.
 */
class KubeconfigTest {

    static final String AGENT_CONTEXT = "gloriousflywheel/projects/kubernetes/gitlab-agents:dev";

    /** A working directory outside the repository holding a copy of the environments. */
    static Path workspace() throws IOException {
        Path dir = TestSupport.tempDir("ws");
        Files.createDirectories(dir.resolve("environments"));
        for (String f : new String[] {"dev.yaml", "prod.yaml"}) {
            Files.copy(TestSupport.repo().resolve("environments").resolve(f), dir.resolve("environments").resolve(f));
        }
        return dir;
    }

    /** The test server's kubeconfig with its context renamed. */
    static Path kubeconfigWithContext(Path dir, String fileName, String context) throws IOException {
        var cfg = Serialization.unmarshal(Files.readString(TestCluster.shared().kubeconfig()), io.fabric8.kubernetes.api.model.Config.class);
        String old = cfg.getCurrentContext();
        for (NamedContext c : cfg.getContexts()) if (c.getName().equals(old)) c.setName(context);
        cfg.setCurrentContext(context);
        Path file = dir.resolve(fileName);
        Files.writeString(file, Serialization.asYaml(cfg));
        return file;
    }

    static void assertReachedServer(TestSupport.Result r, String context) {
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("server v"), r.out());
        assertTrue(r.out().contains("context " + context + ")"), r.out());
    }

    @Test
    void explicitKubeconfigFlag() {
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", TestCluster.shared().kubeconfig().toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigEnvironmentVariable() {
        var r = TestSupport.script("gfw", "version", "dev").env("KUBECONFIG", TestCluster.shared().kubeconfig().toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigFileOfTheEnvironmentInTheWorkingDirectory() throws IOException {
        Path ws = workspace();
        Files.copy(TestCluster.shared().kubeconfig(), ws.resolve("kubeconfig-dev"));
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("HOME", ws.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigFileOfTheEnvironmentAtTheRepositoryRootFromASubdirectory() throws IOException {
        Path ws = workspace();
        Files.copy(TestCluster.shared().kubeconfig(), ws.resolve("kubeconfig-dev"));
        Path sub = Files.createDirectories(ws.resolve("docs/runbooks"));
        var r = TestSupport.script("gfw", "version", "dev").dir(sub).env("HOME", ws.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void homeKubeconfigIsTheLastResort() throws IOException {
        Path ws = workspace();
        Path home = TestSupport.tempDir("home");
        Files.createDirectories(home.resolve(".kube"));
        Files.copy(TestCluster.shared().kubeconfig(), home.resolve(".kube/config"));
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("HOME", home.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void proxyFlagIsCheckedAndNoneWorksInAnyCase() {
        String kc = TestCluster.shared().kubeconfig().toString();
        assertReachedServer(TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc, "--proxy", "NONE").run(), "dev-cluster");
        var bad = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc, "--proxy", "gopher://proxy:70").run();
        assertEquals(ExitCode.USAGE, bad.exit(), bad.toString());
        assertEquals(1, bad.err().lines().count(), bad.err());
        assertTrue(bad.err().startsWith("error: --proxy: proxy scheme 'gopher' is not supported"), bad.err());
    }

    @Test
    void aKubeconfigValueOfTheWrongTypeIsNamedByItsFieldNotEchoed() throws IOException {
        Path file = TestSupport.tempDir("bad-kubeconfig").resolve("config");
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: c
                  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: tok-SENTINEL}
                contexts:
                - name: dev-cluster
                  context: {cluster: c, user: u}
                users:
                - name: u
                  user: {token: t}
                """);
        var e = assertThrows(GfwException.class, () -> KubeClients.parseKubeconfig(file));
        assertEquals(ExitCode.NO_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("clusters[0].cluster.insecure-skip-tls-verify has a value of the wrong type"), e.getMessage());
        assertFalse(e.getMessage().contains("SENTINEL"), e.getMessage());
    }

    @Test
    void noKubeconfigAnywhereIsOneClearLine() throws IOException {
        Path ws = workspace();
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("HOME", ws.toString()).run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), r.err());
        assertTrue(r.err().contains("no kubeconfig for environment dev") && r.err().contains("gfw fetch-kubeconfig dev"), r.err());
    }

    @Test
    void missingKubeconfigFile() {
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", "/nonexistent/kubeconfig-dev").run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("kubeconfig /nonexistent/kubeconfig-dev (from --kubeconfig) does not exist"), r.err());
    }

    @Test
    void unknownContextListsTheKnownOnes() {
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", TestCluster.shared().kubeconfig().toString(),
                "--context", "nope").run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("context 'nope' not found") && r.err().contains("dev-cluster"), r.err());
    }

    @Test
    void gitlabCiSelectsTheAgentContext() throws IOException {
        Path ws = workspace();
        Path kc = kubeconfigWithContext(ws, "agent-kubeconfig", AGENT_CONTEXT);
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("GITLAB_CI", "true").env("KUBECONFIG", kc.toString()).run();
        assertReachedServer(r, AGENT_CONTEXT);

        // Outside CI the same file lacks the environment's context: gfw says which contexts it has.
        var local = TestSupport.script("gfw", "version", "dev").dir(ws).env("KUBECONFIG", kc.toString()).run();
        assertEquals(ExitCode.NO_INPUT, local.exit(), local.toString());
        assertTrue(local.err().contains("context 'dev-cluster' not found") && local.err().contains(AGENT_CONTEXT), local.err());
    }

    @Test
    void unreachableServerIsOneClearLine() throws IOException {
        int port;
        try (var s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path ws = workspace();
        String text = Files.readString(TestCluster.shared().kubeconfig()).replaceAll("server: \\S+", "server: https://127.0.0.1:" + port);
        Path kc = ws.resolve("kubeconfig-dev");
        Files.writeString(kc, text);
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString()).run();
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), r.err());
        assertTrue(r.err().contains("cannot reach the API server"), r.err());
    }

    @Test
    void malformedKubeconfig() throws IOException {
        Path ws = workspace();
        Path kc = ws.resolve("kubeconfig-dev");
        Files.writeString(kc, "clusters: [unclosed\n");
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString()).run();
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("cannot be read as a kubeconfig"), r.err());
    }

    @Test
    void proxyChoiceFollowsKubectl() {
        EnvConfig.Env dev = EnvConfig.load("dev", null);
        String remote = "https://10.0.0.1:6443";
        String local = "https://127.0.0.1:6443";
        String fromKubeconfig = "socks5://kubeconfig:1080";
        String fromEnvVar = "socks5://env-var:1080";
        assertEquals("socks5://flag:1080", KubeClients.chooseProxy(dev, "socks5://flag:1080", fromKubeconfig, remote, fromEnvVar, false));
        assertEquals(null, KubeClients.chooseProxy(dev, "none", fromKubeconfig, remote, fromEnvVar, false));
        assertEquals(fromKubeconfig, KubeClients.chooseProxy(dev, null, fromKubeconfig, remote, fromEnvVar, false), "proxy-url wins over HTTPS_PROXY");
        assertEquals(fromEnvVar, KubeClients.chooseProxy(dev, null, null, remote, fromEnvVar, false));
        assertEquals(null, KubeClients.chooseProxy(dev, null, null, local, fromEnvVar, false), "HTTPS_PROXY skips loopback");
        assertEquals(dev.cluster().proxy(), KubeClients.chooseProxy(dev, null, null, remote, null, false), "the environment's proxy last");
        assertEquals(null, KubeClients.chooseProxy(dev, null, null, remote, null, true), "no environment proxy in GitLab CI");
        assertEquals(null, KubeClients.chooseProxy(dev, null, null, local, null, false), "no environment proxy for a port-forward");
    }

    @Test
    void aKubeconfigProxyUrlCarriesTheTrafficAndTheProxyFlagOverridesIt() throws IOException {
        Path ws = workspace();
        String deadProxy = "socks5://127.0.0.1:" + TestSocksProxy.freePort();
        var cfg = Serialization.unmarshal(Files.readString(TestCluster.shared().kubeconfig()), io.fabric8.kubernetes.api.model.Config.class);
        cfg.getClusters().forEach(c -> c.getCluster().setProxyUrl(deadProxy));
        Path kc = ws.resolve("kubeconfig-dev");
        Files.writeString(kc, Serialization.asYaml(cfg));

        // proxy-url is used even for a loopback server: the dead proxy fails the run, in one line.
        var viaProxy = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString()).run();
        assertEquals(ExitCode.UNAVAILABLE, viaProxy.exit(), viaProxy.toString());
        assertEquals(1, viaProxy.err().lines().filter(l -> l.startsWith("error:")).count(), viaProxy.err());

        // --proxy none wins over the kubeconfig.
        var direct = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString(), "--proxy", "none").run();
        assertReachedServer(direct, "dev-cluster");
    }

    // ---- stalls and permissions (issue 10) --------------------------------------------------------

    /** A server that accepts connections and never answers (a stalled API server or a black-holed tunnel). */
    static final class Silent implements AutoCloseable {
        final java.net.ServerSocket socket;
        final java.util.List<java.net.Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();

        Silent() throws IOException {
            socket = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
            Thread t = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        held.add(socket.accept());
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "silent-server");
            t.setDaemon(true);
            t.start();
        }

        String url() {
            return "https://127.0.0.1:" + socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
            for (var s : held) s.close();
        }
    }

    static Path kubeconfigFor(Path dir, String server, String mode, boolean withToken) throws IOException {
        Path kc = dir.resolve("kubeconfig-" + mode);
        Files.writeString(kc, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\", insecure-skip-tls-verify: true}\n"
                + "contexts:\n- name: dev-cluster\n  context: {cluster: c, user: u}\ncurrent-context: dev-cluster\nusers:\n- name: u\n  user: "
                + (withToken ? "{token: tok-SENTINEL}" : "{username: u}") + "\n");
        Files.setPosixFilePermissions(kc, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
        return kc;
    }

    static java.util.List<String> messages(TestSupport.Result r) {
        return r.err().lines().filter(l -> !l.startsWith("[jbang] ")).toList();
    }

    @Test
    void aStalledServerIsNamedWithItsRouteWithinTheRequestTimeoutAndTheWaitIsSaid() throws IOException {
        try (var silent = new Silent()) {
            Path kc = kubeconfigFor(TestSupport.tempDir("stall"), silent.url(), "rw-------", true);
            long start = System.nanoTime();
            var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString(), "--request-timeout", "3s").run();
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
            String route = silent.url() + " (no proxy: a loopback address is never proxied)";
            assertTrue(messages(r).contains("waiting for the API server at " + route + ", at most 3s per request (--request-timeout) ..."), r.err());
            var errors = messages(r).stream().filter(l -> l.startsWith("error:")).toList();
            assertEquals(1, errors.size(), r.err());
            assertTrue(errors.get(0).startsWith("error: cannot reach the API server at " + route + ": "), r.err());
            assertTrue(errors.get(0).contains("raise --request-timeout (now 3s)"), r.err());
            assertFalse(r.err().contains("ssh -D") || r.err().contains("<jumphost>"), "no proxy is involved: no tunnel advice\n" + r.err());
            assertTrue(seconds < 25, "--request-timeout 3s took " + seconds + " s (JBang start included)");

            // A command that writes: the same line, and nothing reached the server but connection attempts.
            var write = TestSupport.script("provision-namespaces", "dev", "--kubeconfig", kc.toString(), "--request-timeout", "2s").run();
            assertEquals(ExitCode.UNAVAILABLE, write.exit(), write.toString());
            assertTrue(write.err().contains("error: cannot reach the API server at " + route + ": "), write.err());
            assertTrue(write.err().contains("nothing was changed"), write.err());
            assertEquals("", write.out());
        }
    }

    @Test
    void behindAProxyTheErrorNamesItAndAdvisesTheEnvironmentsJumphost() throws IOException {
        var proxy = TestSocksProxy.shared();
        try (var silent = new Silent()) {
            Path kc = kubeconfigFor(TestSupport.tempDir("stall-proxy"), silent.url(), "rw-------", true);
            var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", kc.toString(), "--request-timeout", "2s",
                    "--proxy", proxy.url("socks5h")).run();
            assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
            String error = messages(r).stream().filter(l -> l.startsWith("error:")).findFirst().orElse("");
            assertTrue(error.startsWith("error: cannot reach the API server at " + silent.url() + " (through proxy " + proxy.url("socks5h") + " (--proxy)): "), r.err());
            EnvConfig.Env dev = EnvConfig.load("dev", null);
            assertTrue(error.contains("'ssh -D " + proxy.port() + " " + dev.cluster().jumphost() + "' (environments/dev.yaml cluster.jumphost)"), r.err());
        }
    }

    @Test
    void aKubeconfigWithATokenReadableByOthersWarnsOnceAndOnlyThen() throws IOException {
        Path dir = TestSupport.tempDir("kc-perm");
        String server = TestCluster.shared().url();
        Path shared = kubeconfigFor(dir, server, "rw-r--r--", true);
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", shared.toString(), "--proxy", "none").run();
        assertEquals(List.of("warning: kubeconfig " + shared + " holds a token or key and is readable by others; chmod 600 " + shared),
                messages(r).stream().filter(l -> l.startsWith("warning:")).toList(), r.toString());
        assertFalse(r.err().contains("SENTINEL"), r.err());

        Path group = kubeconfigFor(TestSupport.tempDir("kc-perm2"), server, "rw-r-----", true);
        var g = TestSupport.script("gfw", "version", "dev", "--kubeconfig", group.toString(), "--proxy", "none").run();
        assertTrue(messages(g).contains("warning: kubeconfig " + group + " holds a token or key and is readable by its group; chmod 600 " + group), g.err());

        Path noSecret = kubeconfigFor(TestSupport.tempDir("kc-perm3"), server, "rw-r--r--", false);
        Path private600 = kubeconfigFor(TestSupport.tempDir("kc-perm4"), server, "rw-------", true);
        for (Path quiet : List.of(noSecret, private600)) {
            var q = TestSupport.script("gfw", "version", "dev", "--kubeconfig", quiet.toString(), "--proxy", "none").run();
            assertTrue(messages(q).stream().noneMatch(l -> l.startsWith("warning:")), q.err());
        }
    }

    @Test
    void anUnreadableKubeconfigSaysWhy() throws IOException {
        Path dir = TestSupport.tempDir("kc-why");
        Path latin1 = dir.resolve("latin1");
        Files.write(latin1, "apiVersion: v1\n# caf\u00e9\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        var notUtf8 = TestSupport.script("gfw", "version", "dev", "--kubeconfig", latin1.toString()).run();
        assertEquals(ExitCode.NO_INPUT, notUtf8.exit(), notUtf8.toString());
        assertEquals(List.of("error: kubeconfig " + latin1 + " is not UTF-8 text (a binary file, or another encoding); save it as UTF-8"), messages(notUtf8));

        var directory = TestSupport.script("gfw", "version", "dev", "--kubeconfig", dir.toString()).run();
        assertEquals(ExitCode.NO_INPUT, directory.exit(), directory.toString());
        assertTrue(messages(directory).get(0).startsWith("error: kubeconfig " + dir + " (from --kubeconfig) is a directory;"), directory.err());
        assertFalse(notUtf8.err().contains("Input length"), notUtf8.err());
    }
}
