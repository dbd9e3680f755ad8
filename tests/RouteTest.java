import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Http.route, the one rule for the proxy of every gfw request, rule by rule in kubectl's order. */
class RouteTest {

    static final String REMOTE = "https://rancher.example.com/v3";
    static final String ENV_PROXY = "socks5h://localhost:1080";

    static Http.Route route(String url, String flag, String proxyUrl, Map<String, String> variables) {
        return Http.route(url, flag, proxyUrl, ENV_PROXY, "dev.yaml cluster.proxy", variables);
    }

    static String origin(Http.Route r) {
        return r.proxy() == null ? null : r.proxy().origin();
    }

    @Test
    void firstMatchWins() {
        var all = Map.of("HTTPS_PROXY", "http://corp:3128", "NO_PROXY", ".example.com", "GITLAB_CI", "true");
        assertEquals("--proxy", origin(route(REMOTE, "socks5://flag:1", "socks5://kc:1", all)));
        assertNull(route(REMOTE, "none", "socks5://kc:1", all).proxy(), "--proxy none overrides everything");
        assertEquals("the kubeconfig's proxy-url", origin(route("https://127.0.0.1:6443", null, "socks5://kc:1", all)), "proxy-url even for loopback");
        assertEquals("a loopback address is never proxied", route("https://127.0.0.1:6443", null, null, Map.of("HTTPS_PROXY", "http://corp:3128")).reason());
        assertNull(route("http://localhost:8080", null, null, Map.of()).proxy(), "not the environment's proxy either");
        assertNull(route("https://[::1]:6443", null, null, Map.of("HTTPS_PROXY", "http://corp:3128")).proxy());
        assertEquals("NO_PROXY names rancher.example.com", route(REMOTE, null, null, all).reason());
        assertNull(route(REMOTE, null, null, Map.of("no_proxy", "rancher.example.com:443", "https_proxy", "http://corp:3128")).proxy(), "lower case, port ignored");
        assertEquals("https_proxy", origin(route(REMOTE, null, null, Map.of("https_proxy", "http://corp:3128"))));
        assertEquals("HTTPS_PROXY", origin(route(REMOTE, null, null, Map.of("HTTPS_PROXY", "http://corp:3128", "https_proxy", "http://other:1"))));
        assertEquals("HTTPS_PROXY", origin(route(REMOTE, null, null, Map.of("HTTPS_PROXY", "http://corp:3128", "GITLAB_CI", "true"))));
        assertEquals("GitLab CI: the agent needs no proxy", route(REMOTE, null, null, Map.of("GITLAB_CI", "true")).reason());
        assertEquals("dev.yaml cluster.proxy", origin(route(REMOTE, null, null, Map.of())));
        assertNull(route(REMOTE, null, null, Map.of("NO_PROXY", "*")).proxy(), "NO_PROXY=* exempts the environment's proxy too");
        assertEquals("no proxy: none configured", Http.route(REMOTE, null, null, null, null, Map.of()).describe());
        assertEquals("through proxy socks5h://localhost:1080 (dev.yaml cluster.proxy)", route(REMOTE, null, null, Map.of()).describe());
    }

    @Test
    void aBadProxyIsAUsageErrorNamingWhereItCameFrom() {
        var e = assertThrows(GfwException.class, () -> route(REMOTE, null, null, Map.of("HTTPS_PROXY", "gopher://x")));
        assertEquals(ExitCode.USAGE, e.exitCode());
        assertTrue(e.getMessage().startsWith("HTTPS_PROXY: proxy scheme 'gopher'"), e.getMessage());
    }

    @Test
    void tunnelAdviceOnlyWhereAProxyIsInvolvedAndWithTheRealJumphost() {
        assertEquals("", Http.proxyHint(null, "bastion.example.com", "dev.yaml cluster.jumphost"));
        var local = Http.proxy("socks5h://localhost:1080", "dev.yaml cluster.proxy");
        assertEquals("open the tunnel with 'ssh -D 1080 bastion.example.com' (dev.yaml cluster.jumphost), or pass --proxy none when on-site",
                Http.proxyHint(local, "bastion.example.com", "dev.yaml cluster.jumphost"));
        String none = Http.proxyHint(local, null, "dev.yaml cluster.jumphost");
        assertTrue(none.contains("ssh -D 1080") && !none.contains("<"), none);
        assertEquals("check the proxy http://corp:3128, or pass --proxy none when on-site", Http.proxyHint(Http.proxy("http://corp:3128", "HTTPS_PROXY"), "j", "x"));
    }
}
