import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * A stand-in for atticd's API (no atticd binary can run here): {@code GET /nix-cache-info} and
 * {@code GET|POST /_api/v1/cache-config/{cache}} as zhaofengli/attic server/src/api/v1 answers them,
 * error bodies {@code {"code", "error", "message"}} included. Every cache-config request must carry a
 * Bearer token that verifies — with auth0's java-jwt, not the nimbus-jose-jwt gfw signs with — against
 * the HMAC key the supplier returns (the bytes the cluster Secret's base64 text decodes to), is not
 * expired, and grants the permission the route needs in the {@code https://jwt.attic.rs/v1} claim
 * (any permission to discover a cache, {@code cc} to create one). POST bodies are checked field by
 * field against CreateCacheRequest.
 */
final class AtticStandIn implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final Supplier<String> signingKeyBase64;
    /** Cache name to its public key. */
    final Map<String, String> caches = new ConcurrentHashMap<>();
    /** "METHOD path status" of every request. */
    final List<String> requests = new CopyOnWriteArrayList<>();
    /** Bodies of accepted POSTs. */
    final List<Map<String, Object>> created = new CopyOnWriteArrayList<>();
    /** When set, every cache-config request answers this status with an InternalServerError body. */
    volatile Integer failWith;

    AtticStandIn(Supplier<String> signingKeyBase64) {
        this.signingKeyBase64 = signingKeyBase64;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        String method = x.getRequestMethod();
        int status;
        try {
            if (method.equals("GET") && path.equals("/nix-cache-info")) {
                status = send(x, 200, "text/x-nix-cache-info", "WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n");
            } else if (path.startsWith("/_api/v1/cache-config/")) {
                status = cacheConfig(x, method, path.substring("/_api/v1/cache-config/".length()));
            } else {
                status = error(x, 404, "NotFound", "The requested route does not exist.");
            }
        } catch (RuntimeException e) {
            status = error(x, 500, "InternalServerError", "stand-in: " + e);
        }
        requests.add(method + " " + path + " " + status);
    }

    private int cacheConfig(HttpExchange x, String method, String cache) throws IOException {
        if (failWith != null) return error(x, failWith, "InternalServerError", "The server encountered an internal error or misconfiguration.");
        String auth = x.getRequestHeaders().getFirst("Authorization");
        DecodedJWT jwt;
        try {
            if (auth == null || !auth.startsWith("Bearer ")) throw new JWTVerificationException("no bearer token");
            byte[] key = Base64.getDecoder().decode(signingKeyBase64.get());
            jwt = JWT.require(Algorithm.HMAC256(key)).build().verify(auth.substring(7));
        } catch (JWTVerificationException | IllegalArgumentException e) {
            return error(x, 401, "Unauthorized", "Unauthorized.");
        }
        Map<String, Object> perms = permissions(jwt, cache);
        if (perms.isEmpty()) return error(x, 401, "Unauthorized", "Unauthorized.");
        if (method.equals("GET")) {
            String pk = caches.get(cache);
            if (pk == null) return error(x, 404, "NoSuchCache", "The requested cache does not exist.");
            var body = new LinkedHashMap<String, Object>();
            body.put("substituter_endpoint", "http://attic.example/" + cache);
            body.put("api_endpoint", "http://attic.example/");
            body.put("public_key", pk);
            body.put("is_public", false);
            body.put("store_dir", "/nix/store");
            body.put("priority", 41);
            body.put("upstream_cache_key_names", List.of("cache.nixos.org-1"));
            body.put("retention_period", "Global");
            return send(x, 200, "application/json", JSON.writeValueAsString(body));
        }
        if (method.equals("POST")) {
            if (!Integer.valueOf(1).equals(perms.get("cc"))) return error(x, 403, "AccessError", "Access error: PermissionDenied");
            @SuppressWarnings("unchecked")
            Map<String, Object> body = JSON.readValue(x.getRequestBody().readAllBytes(), Map.class);
            boolean valid = body.keySet().equals(java.util.Set.of("keypair", "is_public", "store_dir", "priority", "upstream_cache_key_names"))
                    && "Generate".equals(body.get("keypair")) && body.get("is_public") instanceof Boolean
                    && body.get("store_dir") instanceof String && body.get("priority") instanceof Integer
                    && body.get("upstream_cache_key_names") instanceof List;
            if (!valid) return error(x, 400, "RequestError", "General request error: invalid CreateCacheRequest " + body);
            if (caches.containsKey(cache)) return error(x, 400, "CacheAlreadyExists", "The cache already exists.");
            byte[] pk = new byte[32];
            new SecureRandom().nextBytes(pk);
            caches.put(cache, cache + ":" + Base64.getEncoder().encodeToString(pk));
            created.add(body);
            return send(x, 200, "application/json", "");
        }
        return error(x, 405, "RequestError", "method not allowed");
    }

    /** The permissions the token grants for {@code cache}: exact name first, then patterns with '*'. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> permissions(DecodedJWT jwt, String cache) {
        Map<String, Object> ns = jwt.getClaim("https://jwt.attic.rs/v1").asMap();
        if (ns == null || !(ns.get("caches") instanceof Map<?, ?> caches)) return Map.of();
        if (caches.get(cache) instanceof Map<?, ?> exact) return (Map<String, Object>) exact;
        for (var e : caches.entrySet()) {
            String pattern = String.valueOf(e.getKey());
            if (pattern.contains("*") && cache.matches(java.util.regex.Pattern.quote(pattern).replace("*", "\\E.*\\Q")) && e.getValue() instanceof Map<?, ?> m) {
                return (Map<String, Object>) m;
            }
        }
        return Map.of();
    }

    private static int error(HttpExchange x, int code, String error, String message) throws IOException {
        return send(x, code, "application/json", JSON.writeValueAsString(Map.of("code", code, "error", error, "message", message)));
    }

    private static int send(HttpExchange x, int code, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        x.sendResponseHeaders(code, b.length == 0 ? -1 : b.length);
        if (b.length > 0) {
            try (var out = x.getResponseBody()) {
                out.write(b);
            }
        }
        x.close();
        return code;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
