// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Http.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES AtticTokens.java
//SOURCES CacheObjects.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Attic's own API, as deploy-cache uses it after the rollout (zhaofengli/attic server/src/api): {@code GET /}
 * (atticd's placeholder page, 200: the server answers; it has no health route and no {@code /nix-cache-info}
 * outside a cache), {@code GET /_api/v1/cache-config/{cache}} (404 NoSuchCache when absent; includes
 * {@code public_key}, {@code is_public}, {@code substituter_endpoint}), {@code POST /_api/v1/cache-config/{cache}}
 * with a CreateCacheRequest to create it, then {@code GET /{cache}/nix-cache-info}, what Nix asks first. Requests
 * carry a short-lived token gfw mints for the call.
 */
final class AtticApi {

    /** What the check found: how Attic was reached, whether the cache was created now, its key, substituter URL and visibility. */
    record CacheInfo(String via, String cache, boolean created, String publicKey, String substituter, boolean isPublic) {}

    /**
     * Checks the server answers, creates the environment's cache if absent, and reads its public key, substituter
     * and visibility. {@code url} null: through a port-forward to a ready Attic pod.
     */
    static CacheInfo ensureCache(KubernetesClient client, EnvConfig.Env env, String ns, String signingKey, String url, Http.Client http) {
        return through(client, env, ns, url, (base, via) -> run(env, base, via, signingKey, http));
    }

    /** Runs {@code call} with Attic's base URL and how it is reached: {@code url}, or (null) a port-forward to a ready Attic pod, closed afterwards. */
    static <T> T through(KubernetesClient client, EnvConfig.Env env, String ns, String url, java.util.function.BiFunction<String, String, T> call) {
        if (url != null) return call.apply(url.replaceAll("/+$", ""), "at " + url);
        Pod pod = readyPod(client, ns);
        return KubeClients.throughPortForward(client, pod, env.attic().targetPort(),
                (host, port) -> call.apply("http://" + host + ":" + port, "through a port-forward to pod " + pod.getMetadata().getName()));
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
        Http.Response root = http.get(base + CacheObjects.PROBE_PATH);
        if (root.status() != 200) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered GET " + CacheObjects.PROBE_PATH + " with " + root.status()
                    + " (atticd answers 200 there); is it atticd? check the attic pods' logs");
        }
        String token = AtticTokens.mint(signingKey, "gfw-deploy-cache", Instant.now(), AtticTokens.CALL_VALIDITY, Map.of(cache, List.of("r", "cc")));
        http.bearer(token);
        String path = "/_api/v1/cache-config/" + cache;
        Http.Response got = http.get(base + path);
        boolean created = false;
        if (got.status() == 404 && "NoSuchCache".equals(errorName(got))) {
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
        // What Nix asks first (binary_cache.rs get_nix_cache_info): with the token, as a private cache needs it.
        String info = "/" + cache + "/nix-cache-info";
        Http.Response nix = http.get(base + info);
        if (!nix.ok()) throw error("GET " + info, nix, via, http);
        if (nix.body().lines().noneMatch(l -> l.startsWith("StoreDir:"))) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered GET " + info + " without a StoreDir line");
        }
        String substituter = config.get("substituter_endpoint") instanceof String s && !s.isBlank() ? s : CacheObjects.apiEndpoint(env) + cache;
        // Text from the server, printed for people and into nix.conf lines: control characters escaped, as error lines have them.
        return new CacheInfo(via, cache, created, Output.escapeControls(publicKey), Output.escapeControls(substituter), Boolean.TRUE.equals(config.get("is_public")));
    }

    /** The {@code error} field of atticd's error body (server/src/error.rs ErrorResponse), or null. */
    private static String errorName(Http.Response r) {
        try {
            return Output.JSON.readValue(r.body(), Map.class).get("error") instanceof String s ? s : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** One line from Attic's error body ({"code", "error", "message"}), never the token. */
    static GfwException error(String request, Http.Response r, String via, Http.Client http) {
        String detail = "";
        try {
            Map<?, ?> m = Output.JSON.readValue(r.body(), Map.class);
            detail = ": " + m.get("error") + (m.get("message") == null ? "" : " (" + m.get("message") + ")");
        } catch (IOException | RuntimeException e) {
            detail = r.body().isBlank() ? "" : ": " + GfwException.firstLine(r.body());
        }
        detail = http.mask(detail);
        if (r.status() == 401 || r.status() == 403) {
            // atticd ignores a token it cannot validate and answers as to an anonymous client (server/src/access/http.rs apply_auth).
            return new GfwException(ExitCode.AUTH, "Attic " + via + " rejected gfw's token for " + request + " (" + r.status() + detail
                    + "); do the attic pods read ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64 from secret " + AtticTokens.SIGNING_SECRET
                    + "? Is the cluster's clock more than " + AtticTokens.CLOCK_SKEW.toMinutes() + " minutes behind this machine's?"
                    + " ('gfw attic-token ENV --decode' tells whether a token matches the key)");
        }
        return new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered " + request + " with " + r.status() + detail);
    }

    private AtticApi() {}
}
