// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.4.0
//SOURCES ExitCode.java
//SOURCES GfwException.java
//SOURCES Http.java
//SOURCES Output.java
//SOURCES EnvConfig.java
//SOURCES AtticTokens.java
//SOURCES CacheObjects.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.LocalPortForward;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Attic's own API, as deploy-cache uses it after the rollout (zhaofengli/attic server/src/api/v1):
 * {@code GET /nix-cache-info} for health, {@code GET /_api/v1/cache-config/{cache}} (404 NoSuchCache when
 * absent; includes {@code public_key}), {@code POST /_api/v1/cache-config/{cache}} with a
 * CreateCacheRequest to create it. Requests carry a short-lived token gfw mints for the call.
 */
final class AtticApi {

    /** What the check found: how Attic was reached, whether the cache was created now, its key and substituter URL. */
    record CacheInfo(String via, String cache, boolean created, String publicKey, String substituter) {}

    /**
     * Checks the server answers, creates the environment's cache if absent, prints its public key and
     * the nix.conf lines. {@code url} null: through a port-forward to a ready Attic pod.
     */
    static CacheInfo ensureCache(KubernetesClient client, EnvConfig.Env env, String ns, String signingKey, String url, Http.Client http) {
        if (url != null) return run(env, url.replaceAll("/+$", ""), "at " + url, signingKey, http);
        Pod pod = readyPod(client, ns);
        String name = pod.getMetadata().getName();
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (LocalPortForward forward = client.pods().inNamespace(ns).withName(name).portForward(env.attic().targetPort(), loopback, 0)) {
            return run(env, "http://" + loopback.getHostAddress() + ":" + forward.getLocalPort(), "through a port-forward to pod " + name, signingKey, http);
        } catch (IOException e) {
            throw new GfwException(ExitCode.UNAVAILABLE, "port-forward to pod " + name + " -n " + ns + " failed: " + e.getMessage());
        }
    }

    private static Pod readyPod(KubernetesClient client, String ns) {
        List<Pod> pods = client.pods().inNamespace(ns).withLabels(CacheObjects.selector("server")).list().getItems();
        for (Pod p : pods) {
            if (p.getStatus() == null || p.getStatus().getConditions() == null) continue;
            boolean ready = p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
            if (ready && p.getMetadata().getDeletionTimestamp() == null) return p;
        }
        throw new GfwException(ExitCode.NOT_FOUND, "no ready Attic pod in namespace " + ns + " (label app.kubernetes.io/component=server) to check"
                + " the cache through; see 'kubectl -n " + ns + " get pods -l app.kubernetes.io/name=attic', or pass --attic-url");
    }

    /** {@code http}: on gfw's one proxy rule (a port-forward's loopback address is never proxied). */
    private static CacheInfo run(EnvConfig.Env env, String base, String via, String signingKey, Http.Client http) {
        String cache = env.attic().cache();
        Http.Response health = http.get(base + "/nix-cache-info");
        if (health.status() != 200 || !health.body().contains("StoreDir")) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered GET /nix-cache-info with " + health.status()
                    + " (expected 200 with StoreDir); check the attic pods' logs");
        }
        String token = AtticTokens.mint(signingKey, "gfw-deploy-cache", Instant.now(), Duration.ofMinutes(5), Map.of(cache, List.of("r", "cc", "cr")));
        http.bearer(token);
        String path = "/_api/v1/cache-config/" + cache;
        Http.Response got = http.get(base + path);
        boolean created = false;
        if (got.status() == 404) {
            var body = new LinkedHashMap<String, Object>();
            body.put("keypair", "Generate");
            body.put("is_public", env.cache().isPublic());
            body.put("store_dir", "/nix/store");
            body.put("priority", 41);
            body.put("upstream_cache_key_names", List.of("cache.nixos.org-1"));
            Http.Response post = http.post(base + path, Output.json(body));
            if (!post.ok()) throw error("POST " + path, post, via, http);
            created = true;
            got = http.get(base + path);
        }
        if (!got.ok()) throw error("GET " + path, got, via, http);
        Map<?, ?> config;
        try {
            config = Output.JSON.readValue(got.body(), Map.class);
        } catch (IOException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered GET " + path + " with something other than JSON");
        }
        Object key = config.get("public_key");
        if (!(key instanceof String publicKey) || publicKey.isBlank()) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + ": cache " + cache + " has no public_key in GET " + path);
        }
        String substituter = config.get("substituter_endpoint") instanceof String s && !s.isBlank() ? s : CacheObjects.apiEndpoint(env) + cache;
        return new CacheInfo(via, cache, created, publicKey, substituter);
    }

    /** One line from Attic's error body ({"code", "error", "message"}), never the token. */
    private static GfwException error(String request, Http.Response r, String via, Http.Client http) {
        String detail = "";
        try {
            Map<?, ?> m = Output.JSON.readValue(r.body(), Map.class);
            detail = ": " + m.get("error") + (m.get("message") == null ? "" : " (" + m.get("message") + ")");
        } catch (IOException | RuntimeException e) {
            detail = r.body().isBlank() ? "" : ": " + GfwException.firstLine(r.body());
        }
        detail = http.mask(detail);
        if (r.status() == 401 || r.status() == 403) {
            return new GfwException(ExitCode.AUTH, "Attic " + via + " rejected gfw's token for " + request + " (" + r.status() + detail
                    + "); do the attic pods read ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64 from secret " + AtticTokens.SIGNING_SECRET
                    + "? ('gfw attic-token ENV --decode' tells whether a token matches the key)");
        }
        return new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered " + request + " with " + r.status() + detail);
    }

    private AtticApi() {}
}
