import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.Helm;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Chart downloads go the way of every other gfw request (Http.route, lib/core/Http): through a real SOCKS5
 * proxy (in the test JVM) when the route says so — java.net.http, which fetchChart used before, ignored a
 * SOCKS proxy and connected directly. The chart repository stand-in answers only the proxy's outgoing
 * address, records every request with its peer, and sends the archive through a redirect, as a CDN does.
 */
class ChartDownloadTest {

    static final Path FIXTURE = TestSupport.repo().resolve("tests/fixtures/gitlab-runner");

    record Seen(String path, String from) {}

    static HttpServer repo;
    static final List<Seen> seen = new CopyOnWriteArrayList<>();
    static byte[] archive;
    static TestSocksProxy proxy;

    @BeforeAll
    static void serve() throws IOException {
        proxy = TestSocksProxy.shared();
        Path dir = TestSupport.tempDir("chart-socks");
        new Helm(FIXTURE).packageIt().withDestination(dir).call();
        archive = Files.readAllBytes(dir.resolve("gitlab-runner-0.86.0.tgz"));
        String index = "apiVersion: v1\nentries:\n  gitlab-runner:\n  - name: gitlab-runner\n    version: 0.86.0\n    digest: "
                + HelmReleases.sha256(archive) + "\n    urls:\n    - charts/gitlab-runner-0.86.0.tgz\n";
        repo = HttpServer.create(new InetSocketAddress(0), 0);
        repo.createContext("/", ex -> {
            String from = ex.getRemoteAddress().getAddress().getHostAddress();
            String p = ex.getRequestURI().getPath();
            seen.add(new Seen(p, from));
            if (!from.equals(proxy.outgoingAddress())) {
                ex.sendResponseHeaders(403, -1);
            } else if (p.equals("/index.yaml")) {
                byte[] b = index.getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
            } else if (p.equals("/charts/gitlab-runner-0.86.0.tgz")) {
                ex.getResponseHeaders().add("Location", "/blobs/sha256/" + HelmReleases.sha256(archive));
                ex.sendResponseHeaders(302, -1);
            } else if (p.startsWith("/blobs/")) {
                ex.sendResponseHeaders(200, archive.length);
                ex.getResponseBody().write(archive);
            } else {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        repo.start();
    }

    @AfterAll
    static void stop() {
        repo.stop(0);
    }

    /** The repository by this machine's host name: not a loopback address by its look, so cluster.proxy applies. */
    static String url() throws IOException {
        return "http://" + InetAddress.getLocalHost().getHostName() + ":" + repo.getAddress().getPort();
    }

    @Test
    void theChartComesThroughTheEnvironmentsSocksProxyWithItsRedirect() throws IOException {
        seen.clear();
        Path cache = TestSupport.tempDir("chart-cache");
        var http = new Http.Client("the chart repository")
                .routes(u -> Http.route(u, null, null, proxy.url("socks5h"), "test.yaml cluster.proxy", Map.of()));
        Path fetched = HelmReleases.fetchChart(url(), "gitlab-runner", "0.86.0", cache, http);
        assertTrue(java.util.Arrays.equals(archive, Files.readAllBytes(fetched)), "the archive arrived altered");
        assertEquals(List.of("/index.yaml", "/charts/gitlab-runner-0.86.0.tgz", "/blobs/sha256/" + HelmReleases.sha256(archive)),
                seen.stream().map(Seen::path).toList());
        for (Seen s : seen) assertEquals(proxy.outgoingAddress(), s.from(), "a request came directly: " + seen);
    }

    @Test
    void withoutTheProxyTheRepositoryTurnsTheRequestAway() throws IOException {
        seen.clear();
        var direct = new Http.Client("the chart repository").routes(u -> Http.route(u, "none", null, proxy.url("socks5h"), "x", Map.of()));
        var e = assertThrows(GfwException.class, () -> HelmReleases.fetchChart(url(), "gitlab-runner", "0.86.0", TestSupport.tempDir("c"), direct));
        assertEquals(ExitCode.REMOTE_ERROR, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().contains("HTTP 403"), e.getMessage());
        assertFalse(seen.isEmpty() || seen.get(0).from().equals(proxy.outgoingAddress()), seen.toString());
    }

    @Test
    void deployRunnersFetchesItsChartThroughTheProxyFlag() throws IOException {
        seen.clear();
        Path cacheHome = TestSupport.tempDir("xdg");
        // The runner namespace exists, so that the cluster reads (which come first) pass and the download is reached.
        String ns = "runners-chart-proxy-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.createNamespace(TestCluster.shared(), ns);
        Path envDir = RunnerFixtures.envDir(ns, java.util.function.UnaryOperator.identity());
        // A dead proxy: the run fails, says which proxy, and nothing is downloaded or cached. (Cluster reads come
        // before downloads, issue 10 item 4: the API server's read through that proxy is what fails first.)
        int dead = TestSocksProxy.freePort();
        var down = TestSupport.script("deploy-runners", "dev", "--env-dir", envDir.toString(), "--dry-run=server", "--chart-repo", url(), "--proxy", "socks5h://127.0.0.1:" + dead,
                "--kubeconfig", TestCluster.shared().kubeconfig().toString(), "--context", TestCluster.shared().context())
                .env("XDG_CACHE_HOME", cacheHome.toString()).run();
        assertEquals(ExitCode.UNAVAILABLE, down.exit(), down.toString());
        assertTrue(down.err().contains("through proxy socks5h://127.0.0.1:" + dead + " (--proxy)"), down.err());
        assertTrue(seen.isEmpty(), "reached the repository without the proxy: " + seen);
        assertFalse(Files.exists(cacheHome.resolve("gfw/charts/gitlab-runner-0.86.0.tgz")));

        // The live proxy: the chart arrives through it (the rest of the dry run is DeployRunnersTest's).
        TestSupport.script("deploy-runners", "dev", "--env-dir", envDir.toString(), "--dry-run=server", "--chart-repo", url(), "--proxy", proxy.url("socks5h"),
                "--kubeconfig", TestCluster.shared().kubeconfig().toString(), "--context", TestCluster.shared().context())
                .env("XDG_CACHE_HOME", cacheHome.toString()).run();
        Path cached = cacheHome.resolve("gfw/charts/gitlab-runner-0.86.0.tgz");
        assertTrue(Files.isRegularFile(cached), "not cached: " + seen);
        assertTrue(java.util.Arrays.equals(archive, Files.readAllBytes(cached)));
        assertEquals(3, seen.size(), seen.toString());
        for (Seen s : seen) assertEquals(proxy.outgoingAddress(), s.from(), "a request came directly: " + seen);
    }

    @Test
    void gitLabCallsTakeTheSameRouteAsTheChart() throws IOException {
        seen.clear();
        var http = new Http.Client("GitLab").routes(u -> Http.route(u, proxy.url("socks5h"), null, null, null, Map.of()));
        var api = new GitLabApi(url(), "glpat-SENTINEL", http);
        var e = assertThrows(GfwException.class, () -> api.groupId("gloriousflywheel"));
        assertEquals(ExitCode.NOT_FOUND, e.exitCode(), e.getMessage()); // the stand-in is no GitLab: 404, but reached through the proxy
        assertFalse(e.getMessage().contains("SENTINEL"), e.getMessage());
        assertEquals(List.of(new Seen("/api/v4/groups/gloriousflywheel", proxy.outgoingAddress())), seen);
    }
}
