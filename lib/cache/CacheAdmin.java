// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Http.java
//SOURCES ../core/Output.java
//SOURCES AtticTokens.java
//SOURCES AtticApi.java
//SOURCES ../database/DbAdmin.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code gfw cache}'s story against atticd (zhaofengli/attic at b7c9056): the cache's configuration through
 * {@code GET /_api/v1/cache-config/{cache}} and changes through {@code PATCH} of the same route
 * (server/src/api/v1/cache_config.rs get_cache_config, configure_cache; the JSON of attic/src/api/v1/cache_config.rs
 * CacheConfig: {@code is_public}, {@code priority}, {@code upstream_cache_key_names}, {@code retention_period} as
 * {@code "Global"} or {@code {"Period": seconds}}), and the usage Attic's API does not give, read from its database
 * (server/src/database/entity: tables {@code cache}, {@code object}, {@code nar}, {@code chunkref}, {@code chunk}).
 */
final class CacheAdmin {

    /** What {@code cache configure} may change; null: leave as it is. */
    record Change(Boolean isPublic, Integer priority, Long retentionSeconds, Boolean retentionGlobal, List<String> upstreamKeys) {
        boolean empty() {
            return isPublic == null && priority == null && retentionSeconds == null && retentionGlobal == null && upstreamKeys == null;
        }
    }

    static final String CONFIG_PATH = "/_api/v1/cache-config/";

    /** A token for one call: pull (r), configure (cr) and, for the retention, cq (token/src/lib.rs CachePermission). */
    static String token(String signingKey, String cache, boolean retention) {
        var perms = new ArrayList<>(List.of("r", "cr"));
        if (retention) perms.add("cq");
        return AtticTokens.mint(signingKey, "gfw-cache", Instant.now(), AtticTokens.CALL_VALIDITY, Map.of(cache, perms));
    }

    /** GET /_api/v1/cache-config/{cache}: the CacheConfig JSON as a map. */
    static Map<String, Object> config(Http.Client http, String base, String via, String cache) {
        Http.Response r = http.get(base + CONFIG_PATH + cache);
        if (!r.ok()) throw AtticApi.error("GET " + CONFIG_PATH + cache, r, via, http);
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = Output.JSON.readValue(r.body(), Map.class);
            return m;
        } catch (IOException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + " answered GET " + CONFIG_PATH + cache + " with something other than JSON");
        }
    }

    /** What {@code cache info} shows, in a fixed order. */
    static Map<String, Object> info(String cache, Map<String, Object> config) {
        var m = new LinkedHashMap<String, Object>();
        m.put("cache", cache);
        m.put("public", config.get("is_public"));
        m.put("priority", config.get("priority"));
        m.put("retention", retention(config.get("retention_period")));
        m.put("upstreamKeys", config.get("upstream_cache_key_names"));
        m.put("storeDir", config.get("store_dir"));
        m.put("publicKey", config.get("public_key"));
        m.put("substituter", config.get("substituter_endpoint"));
        m.put("apiEndpoint", config.get("api_endpoint"));
        return m;
    }

    /** RetentionPeriodConfig as words: "global" (the server's default-retention-period), "none" (0: no time-based GC), or e.g. "30 d". */
    static String retention(Object value) {
        if ("Global".equals(value)) return "global";
        if (value instanceof Map<?, ?> m && m.get("Period") instanceof Number n) return n.longValue() == 0 ? "none" : seconds(n.longValue());
        return value == null ? "" : String.valueOf(value);
    }

    static String seconds(long s) {
        if (s % 86_400 == 0) return s / 86_400 + "d";
        if (s % 3600 == 0) return s / 3600 + "h";
        if (s % 60 == 0) return s / 60 + "m";
        return s + "s";
    }

    private static final Pattern RETENTION = Pattern.compile("(\\d{1,10})([smhdw])");

    /** {@code --retention}: "global", or N followed by s, m, h, d or w (0 disables time-based GC); at most 2^31-1 s (an i32 column). */
    static Long parseRetention(String text) {
        if (text.equals("global")) return null;
        Matcher m = RETENTION.matcher(text);
        if (!m.matches()) throw new GfwException(ExitCode.USAGE, "--retention " + Output.quote(text) + ": give global, or a number with s, m, h, d or w (e.g. 30d)");
        long unit = switch (m.group(2)) { case "s" -> 1; case "m" -> 60; case "h" -> 3600; case "d" -> 86_400; default -> 604_800; };
        long s = Long.parseLong(m.group(1)) * unit;
        if (s > Integer.MAX_VALUE) throw new GfwException(ExitCode.USAGE, "--retention " + text + " is over 2147483647 seconds (atticd keeps it as a 32-bit number)");
        return s;
    }

    /** The PATCH body for what differs from {@code live} (empty: nothing to send), and the differences as lines. */
    static Map<String, Object> patch(Map<String, Object> live, Change c, List<String> diff) {
        var body = new LinkedHashMap<String, Object>();
        if (c.isPublic() != null && !c.isPublic().equals(live.get("is_public"))) {
            body.put("is_public", c.isPublic());
            diff.add("public: " + live.get("is_public") + " -> " + c.isPublic());
        }
        if (c.priority() != null && !(live.get("priority") instanceof Number n && n.intValue() == c.priority())) {
            body.put("priority", c.priority());
            diff.add("priority: " + live.get("priority") + " -> " + c.priority());
        }
        Object wanted = Boolean.TRUE.equals(c.retentionGlobal()) ? "Global" : c.retentionSeconds() == null ? null : Map.of("Period", c.retentionSeconds());
        if (wanted != null && !retention(wanted).equals(retention(live.get("retention_period")))) {
            body.put("retention_period", wanted);
            diff.add("retention: " + retention(live.get("retention_period")) + " -> " + retention(wanted));
        }
        if (c.upstreamKeys() != null && !c.upstreamKeys().equals(live.get("upstream_cache_key_names"))) {
            body.put("upstream_cache_key_names", c.upstreamKeys());
            diff.add("upstreamKeys: " + live.get("upstream_cache_key_names") + " -> " + c.upstreamKeys());
        }
        return body;
    }

    /**
     * PATCH /_api/v1/cache-config/{cache} (configure_cache: 200 with an empty body). HttpURLConnection, which
     * {@link Http} uses for its SOCKS support, refuses the PATCH method; the JDK's HttpClient sends it, but ignores a
     * SOCKS proxy silently (platform-facts.md), so a route through a proxy is refused here rather than bypassed.
     */
    static void configure(Http.Client http, String token, String base, String via, String cache, Map<String, Object> body, java.time.Duration timeout) {
        String url = base + CONFIG_PATH + cache;
        Http.Route route = http.routeOf(url);
        if (route.proxy() != null) {
            throw new GfwException(ExitCode.USAGE, "cannot send PATCH to Attic " + via + " through proxy " + route.describe()
                    + " (Java's HTTP client for PATCH does not use SOCKS proxies): leave out --attic-url, and gfw goes through a port-forward");
        }
        var client = java.net.http.HttpClient.newBuilder().proxy(java.net.http.HttpClient.Builder.NO_PROXY).connectTimeout(timeout).build();
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).timeout(timeout)
                .header("Content-Type", "application/json").header("Accept", "application/json").header("User-Agent", "gfw")
                .header("Authorization", "Bearer " + token)
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString(Output.json(body))).build();
        java.net.http.HttpResponse<byte[]> answer;
        try {
            answer = client.send(request, java.net.http.HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new GfwException(ExitCode.UNAVAILABLE, "cannot talk to Attic " + via + ": " + GfwException.firstLine(String.valueOf(e.getMessage())), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GfwException(ExitCode.UNAVAILABLE, "interrupted while talking to Attic " + via);
        }
        if (answer.statusCode() / 100 != 2) {
            var r = new Http.Response(answer.statusCode(), answer.body(), answer.headers().firstValue("Content-Type").orElse(null));
            throw AtticApi.error("PATCH " + CONFIG_PATH + cache, r, via, http);
        }
    }

    // ---- usage, from Attic's database ---------------------------------------------------------------

    /**
     * Store paths (objects of the cache), the NARs they hold and their size, the chunks of those NARs (deduplicated:
     * each once) with their size before and after compression ({@code chunk_size}, {@code file_size}), the last upload
     * ({@code object.created_at}), and the same for the whole server. Read-only SQL in a read-only transaction.
     */
    static final String CACHE_USAGE = """
            with c as (select id from cache where name = ? and deleted_at is null),
                 o as (select nar_id, created_at from object where cache_id in (select id from c)),
                 n as (select id, nar_size from nar where id in (select nar_id from o)),
                 k as (select distinct ch.id, ch.chunk_size, ch.file_size from chunkref r join chunk ch on ch.id = r.chunk_id
                       where r.nar_id in (select id from n))
            select (select count(*) from c), (select count(*) from o), (select count(*) from n), (select coalesce(sum(nar_size), 0) from n),
                   (select count(*) from k), (select coalesce(sum(chunk_size), 0) from k), (select coalesce(sum(file_size), 0) from k),
                   (select max(created_at) from o),
                   (select count(*) from chunk), (select coalesce(sum(file_size), 0) from chunk)""";

    static Map<String, Object> usage(DbAdmin.Route route, String cache, long timeoutSeconds) {
        var props = new Properties();
        props.setProperty("user", route.user());
        props.setProperty("password", route.password());
        props.setProperty("sslmode", route.sslmode());
        props.setProperty("connectTimeout", String.valueOf(Math.min(15, timeoutSeconds)));
        props.setProperty("socketTimeout", String.valueOf(timeoutSeconds));
        props.setProperty("ApplicationName", "gfw cache usage");
        props.setProperty("readOnly", "true");
        String url = "jdbc:postgresql://" + route.host() + ":" + route.port() + "/" + route.database();
        try (var conn = DriverManager.getConnection(url, props)) {
            conn.setAutoCommit(false);
            try (var st = conn.createStatement()) {
                st.execute("set transaction read only");
            }
            try (var ps = conn.prepareStatement(CACHE_USAGE)) {
                ps.setString(1, cache);
                try (var rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) == 0) {
                        throw new GfwException(ExitCode.NOT_FOUND, "cache " + cache + " is not in Attic's database (" + route + "); 'gfw deploy-cache' creates it");
                    }
                    var m = new LinkedHashMap<String, Object>();
                    m.put("cache", cache);
                    m.put("storePaths", rs.getLong(2));
                    m.put("nars", rs.getLong(3));
                    m.put("narBytes", rs.getLong(4));
                    m.put("chunks", rs.getLong(5));
                    m.put("chunkBytes", rs.getLong(6));
                    m.put("storedBytes", rs.getLong(7));
                    var last = rs.getObject(8, java.time.OffsetDateTime.class);
                    m.put("lastUpload", last == null ? null : last.toInstant().toString());
                    m.put("serverChunks", rs.getLong(9));
                    m.put("serverStoredBytes", rs.getLong(10));
                    conn.rollback();
                    return m;
                }
            }
        } catch (SQLException e) {
            String state = Objects.toString(e.getSQLState(), "");
            if (state.startsWith("28")) throw new GfwException(ExitCode.AUTH, "Attic's database refused the owner's credentials (" + route + "): " + GfwException.firstLine(e.getMessage()), e);
            if (state.equals("42P01")) throw new GfwException(ExitCode.REMOTE_ERROR, "Attic's tables are missing in database " + route.database() + " (" + GfwException.firstLine(e.getMessage()) + "): have atticd's migrations run?", e);
            if (state.startsWith("08")) throw new GfwException(ExitCode.UNAVAILABLE, "cannot reach Attic's database (" + route + "): " + GfwException.firstLine(e.getMessage()), e);
            throw new GfwException(ExitCode.REMOTE_ERROR, "reading usage from Attic's database failed: " + GfwException.firstLine(e.getMessage()) + " (SQLSTATE " + state + ")", e);
        }
    }

    /** 1536 -> "1.5 KiB". */
    static String bytes(long n) {
        if (n < 1024) return n + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int i = -1;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(java.util.Locale.ROOT, "%.1f %s", v, units[i]);
    }

    private CacheAdmin() {}
}
