import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTDecodeException;
import com.auth0.jwt.exceptions.SignatureVerificationException;
import com.auth0.jwt.interfaces.Claim;
import com.auth0.jwt.interfaces.DecodedJWT;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in for atticd (zhaofengli/attic at b7c9056; no atticd binary runs in the tests): its routes, its auth
 * rules, its status codes and error bodies, each citing the upstream file and function it mirrors. Tokens are
 * verified with auth0's java-jwt (signature only), not the nimbus-jose-jwt gfw signs with, and their claims are
 * checked here as jwt-simple and attic's token crate check them. What it does not do: store or serve NARs (no
 * object is ever found), upload, get-missing-paths, garbage collection. Its answers were compared by hand with an
 * atticd built from that commit (sqlite, gfw's server.toml): the same status, content type and body for each
 * route and token case below.
 *
 * <p>Routes (server/src/api/mod.rs {@code get_router}, api/binary_cache.rs {@code get_router}, api/v1/mod.rs
 * {@code get_router}); anything else is the fallback's 404 NotFound (server/src/lib.rs {@code fallback}):
 * <pre>
 *   GET    /                                placeholder page, 200
 *   GET    /{cache}/nix-cache-info          needs pull (r) on a private cache
 *   GET    /{cache}/{hash}.narinfo          (no object here: 404 NoSuchObject)
 *   GET    /{cache}/nar/{hash}.nar          (no object here: 404 NoSuchObject)
 *   GET    /{cache}/attic-cache-info        as GET /_api/v1/cache-config/{cache}
 *   GET    /_api/v1/cache-config/{cache}    needs pull
 *   POST   /_api/v1/cache-config/{cache}    create, needs cc in the token itself
 *   PATCH  /_api/v1/cache-config/{cache}    configure, needs cr (cq for the retention)
 *   DELETE /_api/v1/cache-config/{cache}    destroy, needs cd
 * </pre>
 */
final class AtticStandIn implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    /** attic/src/cache.rs CACHE_NAME_REGEX and CACHE_NAME_PATTERN_REGEX. */
    static final Pattern CACHE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_+-]{0,49}");
    static final Pattern CACHE_NAME_PATTERN = Pattern.compile("[A-Za-z0-9*][A-Za-z0-9_+*-]{0,49}");
    /** attic/src/nix_store/mod.rs STORE_PATH_HASH_REGEX_FRAGMENT. */
    static final Pattern STORE_PATH_HASH = Pattern.compile("[0123456789abcdfghijklmnpqrsvwxyz]{32}");
    /** token/src/util.rs AUTHORIZATION_REGEX. */
    static final Pattern AUTHORIZATION = Pattern.compile("^(?i)((?<bearer>bearer)|(?<basic>basic))(?-i) (?<rest>(.*))$");
    /** token/src/lib.rs CachePermission's serde names. */
    static final List<String> PERMISSION_LETTERS = List.of("r", "w", "d", "cc", "cr", "cq", "cd");

    private final HttpServer server;
    private final Supplier<String> signingKeyBase64;
    /** Cache name to its public key. */
    final Map<String, String> caches = new ConcurrentHashMap<>();
    /** Caches created (or configured) with is_public: anonymous pull. */
    final Set<String> publicCaches = ConcurrentHashMap.newKeySet();
    /** "METHOD path status" of every request. */
    final List<String> requests = new CopyOnWriteArrayList<>();
    /**
     * Per cache, the columns of table {@code cache} that get_cache_config returns and configure_cache sets
     * (server/src/database/entity/cache.rs Model: store_dir, priority, upstream_cache_key_names, retention_period;
     * a NULL retention_period is RetentionPeriodConfig::Global).
     */
    final Map<String, Map<String, Object>> settings = new ConcurrentHashMap<>();
    /** Bodies of accepted PATCHes (configure_cache). */
    final List<Map<String, Object>> configured = new CopyOnWriteArrayList<>();
    /** Bodies of accepted POSTs. */
    final List<Map<String, Object>> created = new CopyOnWriteArrayList<>();
    /** When set, every request that reads the database answers this status with an InternalServerError body (a database error, server/src/error.rs into_clients). */
    volatile Integer failWith;
    /** The server's clock against the test's: negative when the cluster's clock is behind. */
    volatile Duration clockOffset = Duration.ZERO;
    /** server.toml's api-endpoint; null: synthesized from the Host header, as atticd does without it (server/src/lib.rs api_endpoint). */
    volatile String apiEndpoint;

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

    /** An answer: status, content type (null: none), body. */
    private record Answer(int status, String type, String body, Map<String, String> headers) {
        Answer(int status, String type, String body) {
            this(status, type, body, Map.of());
        }
    }

    /** Thrown by a handler: atticd's ServerError as it reaches the client. */
    private static final class Refused extends RuntimeException {
        final Answer answer;

        Refused(Answer answer) {
            super(null, null, false, false);
            this.answer = answer;
        }
    }

    private void handle(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath();
        String method = x.getRequestMethod();
        Answer a;
        try {
            a = route(x, method, path);
        } catch (Refused r) {
            a = r.answer;
        } catch (RuntimeException e) {
            a = error(500, "InternalServerError", "stand-in: " + e); // a stand-in bug, not atticd's behaviour
        }
        requests.add(method + " " + path + " " + a.status());
        send(x, a);
    }

    private Answer route(HttpExchange x, String method, String path) throws IOException {
        // Axum's router (matchit): static segments before parameters; a path no route matches gets the fallback.
        if (path.equals("/")) return only(method, "GET", () -> new Answer(200, "text/html; charset=utf-8", PLACEHOLDER));
        String[] s = path.substring(1).split("/", -1);
        for (String seg : s) if (seg.isEmpty()) return notFound();
        if (s.length == 4 && s[0].equals("_api") && s[1].equals("v1") && s[2].equals("cache-config")) {
            String cache = s[3];
            return switch (method) {
                case "GET" -> getCacheConfig(x, cacheName(cache));
                case "POST" -> createCache(x, cacheName(cache));
                case "PATCH" -> configureCache(x, cacheName(cache));
                case "DELETE" -> destroyCache(x, cacheName(cache));
                default -> methodNotAllowed();
            };
        }
        if (s.length == 3 && s[0].equals("_api") && s[1].equals("v1") && (s[2].equals("get-missing-paths") || s[2].equals("upload-path"))) {
            return error(500, "InternalServerError", "stand-in: " + s[2] + " is not implemented here");
        }
        if (s.length == 2 && s[1].equals("nix-cache-info")) return only(method, "GET", () -> nixCacheInfo(x, cacheName(s[0])));
        if (s.length == 2 && s[1].equals("attic-cache-info")) return only(method, "GET", () -> getCacheConfig(x, cacheName(s[0])));
        if (s.length == 2) return only(method, "GET", () -> storePathInfo(x, cacheName(s[0]), s[1], "narinfo"));
        if (s.length == 3 && s[1].equals("nar")) return only(method, "GET", () -> storePathInfo(x, cacheName(s[0]), s[2], "nar"));
        return notFound();
    }

    @FunctionalInterface
    private interface Handler {
        Answer run() throws IOException;
    }

    /** A route that exists with another method: axum's 405 with an empty body. */
    private static Answer only(String method, String allowed, Handler h) throws IOException {
        if (method.equals(allowed) || (allowed.equals("GET") && method.equals("HEAD"))) return h.run();
        return methodNotAllowed();
    }

    private static Answer methodNotAllowed() {
        return new Answer(405, null, "");
    }

    /** server/src/lib.rs fallback: ErrorKind::NotFound. */
    private static Answer notFound() {
        return error(404, "NotFound", "The URL you requested was not found.");
    }

    /**
     * {@code Path<CacheName>} (attic/src/cache.rs CacheName::deserialize): a name that does not match is axum's
     * path rejection, 400 with a text body (axum extract/path FailedToDeserializePathParams body_text).
     */
    private static String cacheName(String name) {
        if (!CACHE_NAME.matcher(name).matches()) {
            throw new Refused(new Answer(400, "text/plain; charset=utf-8", "Invalid URL: Invalid cache name \"" + name + "\""));
        }
        return name;
    }

    // ---- auth (server/src/access/http.rs, token/src/lib.rs) -------------------------------------

    /**
     * server/src/access/http.rs {@code apply_auth}: the token from {@code Authorization: Bearer T} or Basic auth's
     * password (token/src/util.rs parse_authorization_header), validated by {@code Token::from_jwt}; a token that
     * fails any check is dropped with a debug log and the request goes on as anonymous (null).
     */
    private Map<String, Map<String, Boolean>> token(HttpExchange x) {
        String header = x.getRequestHeaders().getFirst("Authorization");
        if (header == null) return null;
        Matcher m = AUTHORIZATION.matcher(header);
        if (!m.matches()) return null;
        String jwt = m.group("rest");
        if (m.group("basic") != null) {
            try {
                String userPass = new String(Base64.getDecoder().decode(jwt), StandardCharsets.UTF_8);
                int colon = userPass.indexOf(':');
                if (colon < 0) return null;
                jwt = userPass.substring(colon + 1);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return verify(jwt);
    }

    /**
     * token/src/lib.rs {@code Token::from_jwt}: jwt-simple's HS256 {@code verify_token} with
     * {@code time_tolerance: None}, {@code accept_future: false} (jwt-simple 0.11 token.rs verify, claims.rs
     * validate: {@code iat <= now}, {@code now >= nbf}, {@code now <= exp}, no leeway), then the claims deserialized
     * into TokenClaims: {@code "https://jwt.attic.rs/v1"} with {@code caches}, whose keys must be CacheNamePatterns
     * and whose permissions are 0 or 1 (serde_with BoolFromInt). Null for any failure.
     */
    Map<String, Map<String, Boolean>> verify(String token) {
        DecodedJWT jwt;
        try {
            jwt = JWT.decode(token);
        } catch (JWTDecodeException e) {
            return null;
        }
        String typ = jwt.getType();
        if (typ != null && !(typ.equalsIgnoreCase("JWT") || typ.toUpperCase().endsWith("+JWT"))) return null;
        if (!"HS256".equals(jwt.getAlgorithm())) return null;
        try {
            Algorithm.HMAC256(Base64.getDecoder().decode(signingKeyBase64.get())).verify(jwt);
        } catch (SignatureVerificationException | IllegalArgumentException e) {
            return null;
        }
        long now = Instant.now().plus(clockOffset).toEpochMilli();
        Long iat = seconds(jwt.getClaim("iat"));
        Long nbf = seconds(jwt.getClaim("nbf"));
        Long exp = seconds(jwt.getClaim("exp"));
        if (iat != null && iat < 0 || nbf != null && nbf < 0 || exp != null && exp < 0) return null;
        if (iat != null && iat * 1000 > now) return null;      // JWTError::ClockDrift
        if (nbf != null && now < nbf * 1000) return null;      // JWTError::TokenNotValidYet
        if (exp != null && now > exp * 1000) return null;      // JWTError::TokenHasExpired
        Map<String, Object> ns = jwt.getClaim("https://jwt.attic.rs/v1").asMap();
        if (ns == null || !(ns.get("caches") instanceof Map<?, ?> caches)) return null;
        var out = new LinkedHashMap<String, Map<String, Boolean>>();
        for (var e : caches.entrySet()) {
            String pattern = String.valueOf(e.getKey());
            if (!CACHE_NAME_PATTERN.matcher(pattern).matches()) return null; // CacheNamePattern::deserialize
            if (!(e.getValue() instanceof Map<?, ?> perms)) return null;
            var p = new LinkedHashMap<String, Boolean>();
            for (String letter : PERMISSION_LETTERS) {
                Object v = perms.get(letter);
                if (v == null) continue;
                if (!(v instanceof Integer || v instanceof Long) || (((Number) v).longValue() != 0 && ((Number) v).longValue() != 1)) return null;
                p.put(letter, ((Number) v).longValue() == 1);
            }
            out.put(pattern, p);
        }
        return out;
    }

    /** A NumericDate claim: a JSON number (jwt-simple's UnixTimeStamp), else the whole token fails. */
    private static Long seconds(Claim c) {
        if (c == null || c.isMissing() || c.isNull()) return null;
        JsonNode n = c.as(JsonNode.class);
        if (n == null || !n.isNumber()) return -1L;
        return n.asLong();
    }

    /**
     * token/src/lib.rs {@code Token::get_permission_for_cache}: the exact name first, then the first pattern
     * (in the claim's order) that matches (WildMatch: '*' is any run of characters).
     */
    static Map<String, Boolean> permissionFor(Map<String, Map<String, Boolean>> token, String cache) {
        if (token == null) return new LinkedHashMap<>();
        if (token.containsKey(cache)) return new LinkedHashMap<>(token.get(cache));
        for (var e : token.entrySet()) {
            String regex = ("\\Q" + e.getKey() + "\\E").replace("*", "\\E.*\\Q");
            if (cache.matches(regex)) return new LinkedHashMap<>(e.getValue());
        }
        return new LinkedHashMap<>();
    }

    /** CachePermission::can_discover: any permission at all. */
    private static boolean canDiscover(Map<String, Boolean> p) {
        return p.values().stream().anyMatch(Boolean::booleanValue);
    }

    /**
     * The {@code require_*} functions (token/src/lib.rs require_permission_function): a missing permission is
     * PermissionDenied (403 AccessError) when the client may discover the cache, else NoDiscoveryPermission,
     * which reaches the client as 401 Unauthorized (server/src/error.rs into_clients / into_no_discovery_permissions).
     */
    private static void require(Map<String, Boolean> p, String letter) {
        if (Boolean.TRUE.equals(p.get(letter))) return;
        if (canDiscover(p)) throw new Refused(error(403, "AccessError", "Access error: User does not have permission to complete this action."));
        throw new Refused(unauthorized());
    }

    private static Answer unauthorized() {
        return error(401, "Unauthorized", "Unauthorized.");
    }

    /**
     * server/src/access/http.rs {@code AuthState::auth_cache}: the token's permission, the cache looked up (missing:
     * NoSuchCache, 404 to a client that may discover it, else 401), a public cache adds pull, then the route's check.
     */
    private String authCache(HttpExchange x, String cache, String letter, Map<String, Boolean>[] granted) {
        Map<String, Boolean> p = permissionFor(token(x), cache);
        database();
        if (!caches.containsKey(cache)) {
            throw new Refused(canDiscover(p) ? error(404, "NoSuchCache", "The requested cache does not exist.") : unauthorized());
        }
        if (publicCaches.contains(cache)) p.put("r", true); // CachePermission::add_public_permissions
        require(p, letter);
        if (granted != null) granted[0] = p;
        return cache;
    }

    /** A request that reads the database, while the test makes it fail: DatabaseError, sanitized to InternalServerError. */
    private void database() {
        Integer f = failWith;
        if (f != null) throw new Refused(error(f, "InternalServerError", "The server encountered an internal error or misconfiguration."));
    }

    // ---- the routes -------------------------------------------------------------------------------

    /** api/binary_cache.rs {@code get_nix_cache_info}: NixCacheInfo through nix_manifest (bools as 1), X-Attic-Cache-Visibility for a public cache. */
    private Answer nixCacheInfo(HttpExchange x, String cache) {
        authCache(x, cache, "r", null);
        Map<String, String> headers = publicCaches.contains(cache) ? Map.of("X-Attic-Cache-Visibility", "public") : Map.of();
        return new Answer(200, "text/x-nix-cache-info", "WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n", headers);
    }

    /**
     * api/binary_cache.rs {@code get_store_path_info} / {@code get_nar}: the extension must be .narinfo / .nar (else
     * NotFound), the hash valid (StorePathHash::new, an AtticError: 500 with its name and ErrorKind::AtticError's
     * message), then the object is looked up before any permission check; this stand-in holds none, so NoSuchObject.
     */
    private Answer storePathInfo(HttpExchange x, String cache, String path, String extension) {
        String[] parts = path.split("\\.", 2);
        if (parts.length != 2 || !parts[1].equals(extension)) return notFound();
        if (!STORE_PATH_HASH.matcher(parts[0]).matches()) return error(500, "InvalidStorePathHash", "Error from the common components.");
        database();
        return error(404, "NoSuchObject", "The requested object does not exist.");
    }

    /** api/v1/cache_config.rs {@code get_cache_config}: pull needed; attic/src/api/v1/cache_config.rs CacheConfig, None fields left out. */
    private Answer getCacheConfig(HttpExchange x, String cache) throws IOException {
        authCache(x, cache, "r", null);
        String endpoint = apiEndpoint != null ? apiEndpoint : "http://" + x.getRequestHeaders().getFirst("Host") + "/";
        var body = new LinkedHashMap<String, Object>();
        body.put("substituter_endpoint", endpoint + cache);
        body.put("api_endpoint", endpoint);
        body.put("public_key", caches.get(cache));
        body.put("is_public", publicCaches.contains(cache));
        Map<String, Object> row = settings.getOrDefault(cache, Map.of());
        body.put("store_dir", row.getOrDefault("store_dir", "/nix/store"));
        body.put("priority", row.getOrDefault("priority", 41));
        body.put("upstream_cache_key_names", row.getOrDefault("upstream_cache_key_names", List.of("cache.nixos.org-1")));
        // if let Some(period) = cache.retention_period { RetentionPeriodConfig::Period(period as u32) } else { Global }
        Object period = row.get("retention_period");
        body.put("retention_period", period == null ? "Global" : Map.of("Period", period));
        return new Answer(200, "application/json", JSON.writeValueAsString(body));
    }

    /**
     * api/v1/cache_config.rs {@code create_cache}: axum's Json extractor first (415 without
     * {@code Content-Type: application/json}, 400 for bad JSON, 422 when it is not a CreateCacheRequest), then
     * {@code cc} from the token alone (no public grant), then the insert (CacheAlreadyExists, 400). 200, empty body.
     */
    private Answer createCache(HttpExchange x, String cache) throws IOException {
        Map<String, Object> body = json(x);
        Object keypair = body.get("keypair");
        boolean valid = ("Generate".equals(keypair) || keypair instanceof Map<?, ?> k && k.containsKey("Keypair"))
                && body.get("is_public") instanceof Boolean && body.get("store_dir") instanceof String
                && body.get("priority") instanceof Integer && body.get("upstream_cache_key_names") instanceof List<?> names
                && names.stream().allMatch(n -> n instanceof String);
        if (!valid) {
            return new Answer(422, "text/plain; charset=utf-8", "Failed to deserialize the JSON body into the target type: not a CreateCacheRequest");
        }
        require(permissionFor(token(x), cache), "cc");
        database();
        if (caches.containsKey(cache)) return error(400, "CacheAlreadyExists", "The cache already exists.");
        byte[] pk = new byte[32];
        new SecureRandom().nextBytes(pk);
        caches.put(cache, cache + ":" + Base64.getEncoder().encodeToString(pk));
        if (Boolean.TRUE.equals(body.get("is_public"))) publicCaches.add(cache);
        var row = new ConcurrentHashMap<String, Object>();
        row.put("store_dir", body.get("store_dir"));
        row.put("priority", body.get("priority"));
        row.put("upstream_cache_key_names", body.get("upstream_cache_key_names"));
        settings.put(cache, row);
        created.add(body);
        return new Answer(200, null, "");
    }

    /** api/v1/cache_config.rs {@code configure_cache}: cr, and cq for retention_period; nothing to change is a RequestError. */
    @SuppressWarnings("unchecked")
    private Answer configureCache(HttpExchange x, String cache) throws IOException {
        Map<String, Object> body = json(x);
        Map<String, Boolean>[] granted = new Map[1];
        authCache(x, cache, "cr", granted);
        boolean modified = false;
        if (body.get("keypair") != null) {
            byte[] pk = new byte[32];
            new SecureRandom().nextBytes(pk);
            caches.put(cache, cache + ":" + Base64.getEncoder().encodeToString(pk));
            modified = true;
        }
        if (body.get("is_public") instanceof Boolean b) {
            if (b) publicCaches.add(cache); else publicCaches.remove(cache);
            modified = true;
        }
        Map<String, Object> row = settings.computeIfAbsent(cache, k -> new ConcurrentHashMap<>());
        var update = new LinkedHashMap<String, Object>();
        for (String k : List.of("store_dir", "priority", "upstream_cache_key_names")) {
            if (body.get(k) != null) {
                update.put(k, body.get(k));
                modified = true;
            }
        }
        Object retention = body.get("retention_period");
        if (retention != null) {
            require(granted[0], "cq");
            // RetentionPeriodConfig: "Global" sets NULL; {"Period": n} sets n, refused when it does not fit the i32 column.
            if ("Global".equals(retention)) update.put("retention_period", null);
            else if (retention instanceof Map<?, ?> m && m.get("Period") instanceof Number n) {
                if (n.longValue() > Integer.MAX_VALUE) return error(400, "RequestError", "General request error: Invalid retention period");
                update.put("retention_period", n.intValue());
            } else return new Answer(422, "text/plain; charset=utf-8", "Failed to deserialize the JSON body into the target type: retention_period");
            modified = true;
        }
        if (!modified) return error(400, "RequestError", "General request error: No modifiable fields were set.");
        // Cache::update(update): only the fields that were Set change.
        update.forEach((k, v) -> { if (v == null) row.remove(k); else row.put(k, v); });
        configured.add(body);
        return new Answer(200, null, "");
    }

    /** api/v1/cache_config.rs {@code destroy_cache}: cd. */
    private Answer destroyCache(HttpExchange x, String cache) {
        authCache(x, cache, "cd", null);
        caches.remove(cache);
        publicCaches.remove(cache);
        return new Answer(200, null, "");
    }

    /** axum 0.8's Json extractor (json_content_type, then serde_json): its rejections are plain text. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(HttpExchange x) throws IOException {
        String type = x.getRequestHeaders().getFirst("Content-Type");
        String mime = type == null ? "" : type.split(";")[0].trim().toLowerCase();
        if (!(mime.equals("application/json") || mime.startsWith("application/") && mime.endsWith("+json"))) {
            throw new Refused(new Answer(415, "text/plain; charset=utf-8", "Expected request with `Content-Type: application/json`"));
        }
        Object parsed;
        try {
            parsed = JSON.readValue(x.getRequestBody().readAllBytes(), Object.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new Refused(new Answer(400, "text/plain; charset=utf-8", "Failed to parse the request body as JSON: " + e.getOriginalMessage()));
        }
        if (!(parsed instanceof Map<?, ?> m)) {
            throw new Refused(new Answer(422, "text/plain; charset=utf-8", "Failed to deserialize the JSON body into the target type: expected a map"));
        }
        return (Map<String, Object>) m;
    }

    /** server/src/error.rs ErrorResponse: {"code", "error", "message"} in that order, as JSON. */
    private static Answer error(int code, String error, String message) {
        var m = new LinkedHashMap<String, Object>();
        m.put("code", code);
        m.put("error", error);
        m.put("message", message);
        try {
            return new Answer(code, "application/json", JSON.writeValueAsString(m));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** server/src/api/placeholder.html, abridged (its title is what gfw's health looks for). */
    static final String PLACEHOLDER = "<!doctype html>\n<html>\n<head>\n  <title>Attic Binary Cache</title>\n</head>\n<body>\n<pre>$ attic push</pre>\n</body>\n</html>\n";

    private static void send(HttpExchange x, Answer a) throws IOException {
        byte[] b = a.body().getBytes(StandardCharsets.UTF_8);
        if (a.type() != null) x.getResponseHeaders().set("Content-Type", a.type());
        a.headers().forEach((k, v) -> x.getResponseHeaders().set(k, v));
        boolean head = x.getRequestMethod().equals("HEAD");
        x.sendResponseHeaders(a.status(), b.length == 0 || head ? -1 : b.length);
        if (b.length > 0 && !head) {
            try (var out = x.getResponseBody()) {
                out.write(b);
            }
        }
        x.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
