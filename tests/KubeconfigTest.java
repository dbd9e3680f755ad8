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
        var cfg = Serialization.unmarshal(Files.readString(TestApiServer.shared().kubeconfig()), io.fabric8.kubernetes.api.model.Config.class);
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
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", TestApiServer.shared().kubeconfig().toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigEnvironmentVariable() {
        var r = TestSupport.script("gfw", "version", "dev").env("KUBECONFIG", TestApiServer.shared().kubeconfig().toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigFileOfTheEnvironmentInTheWorkingDirectory() throws IOException {
        Path ws = workspace();
        Files.copy(TestApiServer.shared().kubeconfig(), ws.resolve("kubeconfig-dev"));
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("HOME", ws.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void kubeconfigFileOfTheEnvironmentAtTheRepositoryRootFromASubdirectory() throws IOException {
        Path ws = workspace();
        Files.copy(TestApiServer.shared().kubeconfig(), ws.resolve("kubeconfig-dev"));
        Path sub = Files.createDirectories(ws.resolve("docs/runbooks"));
        var r = TestSupport.script("gfw", "version", "dev").dir(sub).env("HOME", ws.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void homeKubeconfigIsTheLastResort() throws IOException {
        Path ws = workspace();
        Path home = TestSupport.tempDir("home");
        Files.createDirectories(home.resolve(".kube"));
        Files.copy(TestApiServer.shared().kubeconfig(), home.resolve(".kube/config"));
        var r = TestSupport.script("gfw", "version", "dev").dir(ws).env("HOME", home.toString()).run();
        assertReachedServer(r, "dev-cluster");
    }

    @Test
    void proxyFlagIsCheckedAndNoneWorksInAnyCase() {
        String kc = TestApiServer.shared().kubeconfig().toString();
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
        var r = TestSupport.script("gfw", "version", "dev", "--kubeconfig", TestApiServer.shared().kubeconfig().toString(),
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
        String text = Files.readString(TestApiServer.shared().kubeconfig()).replaceAll("server: \\S+", "server: https://127.0.0.1:" + port);
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
        var cfg = Serialization.unmarshal(Files.readString(TestApiServer.shared().kubeconfig()), io.fabric8.kubernetes.api.model.Config.class);
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
}
