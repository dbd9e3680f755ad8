import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * A local stand-in for Rancher's v3 API, as far as fetch-kubeconfig uses it, behaving as rancher/rancher does:
 * <ul>
 * <li>{@code Authorization: Bearer <token>}; a key scoped to one cluster ({@link #keyCluster}) is accepted only on
 * that cluster's paths, else 401 "must authenticate" like an unknown key (pkg/auth/requests/authenticate.go
 * {@code tokenAuthenticator.Authenticate}: "clusterID does not match"; the cluster of a path from
 * pkg/clusterrouter/lookup.go {@code GetClusterID}: /v3/clusters/ID..., /k8s/clusters/ID...).</li>
 * <li>{@code GET /v3/clusters?name=N}: every cluster of that name (names are not unique in Rancher; rancher/cli
 * cmd/common.go {@code Lookup} refuses several); {@code GET /v3/clusters/<id>}.</li>
 * <li>{@code POST /v3/clusters/<id>?action=generateKubeconfig}
 * (pkg/api/norman/customization/cluster/actions_kubeconfig.go {@code GenerateKubeconfigActionHandler}): with the
 * setting {@code kubeconfig-generate-token} true ({@link #generateToken}) a new token per call, named
 * {@code kubeconfig-<user>} plus 5 random characters, TTL {@code kubeconfig-default-token-ttl-minutes} (43200)
 * (actionhandler.go {@code createTokenInput}, pkg/auth/tokens/manager.go {@code EnsureClusterToken}: the value is
 * {@code <name>:<key>}); the file from pkg/kubeconfig/templates.go {@code tokenTemplateText} via kubeconfig.go
 * {@code ForTokenBased} (server {@code https://<request Host>/k8s/clusters/<id>}, the {@code cacerts} setting as
 * certificate-authority-data, cluster, user and context named after the cluster); with the setting false no token
 * and the template's exec user: {@code rancher token --server=<host> --user=<cluster>}. {@link #kubeconfig}, when
 * set, is returned instead (tests that point the file at the test API server).</li>
 * <li>{@code GET /v3/tokens/<name>}: a token it issued, with {@code expiresAt} and {@code ttl}.</li>
 * <li>{@code /k8s/clusters/<id>/version} (Rancher's cluster proxy): with {@link #apiToken} or an issued token.</li>
 * </ul>
 * It answers only connections coming from {@code allowedFrom} (the SOCKS proxy's outgoing address) and rejects the
 * rest with 403, so a test can tell the traffic went through the proxy. Every request is recorded for assertions.
 * Over HTTPS with a self-signed certificate made by keytool ({@link #selfSigned}).
 */
final class RancherStandIn implements AutoCloseable {

    /** One request as received: method, path, raw query, Authorization header, the peer's address. */
    record Request(String method, String path, String query, String authorization, String remoteAddress, String body) {}

    /** A key store and its certificate as PEM: a self-signed server for 127.0.0.1 and localhost. */
    record Tls(Path keyStore, Path certificatePem, SSLContext context) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "rancher-stand-in");
        t.setDaemon(true);
        return t;
    });
    private final String allowedFrom;
    private final String scheme;
    final List<Request> requests = new CopyOnWriteArrayList<>();
    final List<Request> rejected = new CopyOnWriteArrayList<>();

    /** Rancher cluster id -> name, in creation order (names need not be unique). */
    final Map<String, String> clusters = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
    /** The API key it accepts. */
    volatile String token;
    /** The cluster id the API key is scoped to, or null for an unscoped key. */
    volatile String keyCluster;
    /** The user the API key belongs to. */
    static final String USER = "u-gfwtest";
    /** Setting kubeconfig-generate-token (pkg/settings/setting.go, default "true"). */
    volatile boolean generateToken = true;
    /** Setting kubeconfig-default-token-ttl-minutes (pkg/settings/setting.go, default 43200: 30 days). */
    volatile long kubeconfigTtlMinutes = 43200;
    /** Setting cacerts: Rancher's CA in PEM, or null (a publicly trusted certificate). */
    volatile String caCerts;
    /** When set, what generateKubeconfig returns in {@code config} instead of Rancher's template. */
    volatile String kubeconfig;
    /** A kubeconfig token it issued. */
    record Issued(String name, String key, long ttlMillis, java.time.Instant expiresAt) {}
    final Map<String, Issued> issued = new ConcurrentHashMap<>();
    /** When set, the whole body of the generateKubeconfig answer (to send something that is not a kubeconfig). */
    volatile String generateAnswerOverride;
    /** The token of the kubeconfigs it issues: accepted on Rancher's cluster proxy path {@code /k8s/clusters/<id>/version}. */
    volatile String apiToken;
    /** What {@code /k8s/clusters/<id>/version} reports. */
    static final String API_VERSION = "v1.30.4+rke2r1";
    /** Milliseconds to wait before answering (to provoke a timeout). */
    volatile long delayMillis;

    private RancherStandIn(HttpServer server, String scheme, String allowedFrom) {
        this.server = server;
        this.scheme = scheme;
        this.allowedFrom = allowedFrom;
        server.createContext("/", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    /**
     * Plain HTTP on every local address (so also by this machine's host name, {@link #urlByHostName}),
     * answering only connections from {@code allowedFrom}.
     */
    static RancherStandIn http(String allowedFrom) {
        try {
            var s = HttpServer.create(new InetSocketAddress(0), 16);
            return new RancherStandIn(s, "http", allowedFrom);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** HTTPS on 127.0.0.1 with the given certificate. */
    static RancherStandIn https(String allowedFrom, Tls tls) {
        try {
            var s = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
            s.setHttpsConfigurator(new HttpsConfigurator(tls.context()));
            return new RancherStandIn(s, "https", allowedFrom);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A fresh self-signed certificate (CN=localhost, SAN 127.0.0.1 and localhost), made with the JDK's keytool. */
    static Tls selfSigned(Path dir) {
        Path ks = dir.resolve("rancher.p12");
        Path pem = dir.resolve("rancher-ca.pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        var gen = TestSupport.command(keytool, "-genkeypair", "-alias", "rancher", "-keyalg", "EC", "-groupname", "secp256r1",
                "-validity", "2", "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", ks.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit").run();
        if (gen.exit() != 0) throw new IllegalStateException("keytool -genkeypair failed: " + gen);
        var export = TestSupport.command(keytool, "-exportcert", "-rfc", "-alias", "rancher", "-keystore", ks.toString(),
                "-storepass", "changeit", "-file", pem.toString()).run();
        if (export.exit() != 0) throw new IllegalStateException("keytool -exportcert failed: " + export);
        try (InputStream in = java.nio.file.Files.newInputStream(ks)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, "changeit".toCharArray());
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, "changeit".toCharArray());
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return new Tls(ks, pem, ctx);
        } catch (Exception e) {
            throw new IllegalStateException("cannot load " + ks + ": " + e, e);
        }
    }

    /** e.g. http://127.0.0.1:PORT */
    String url() {
        return scheme + "://127.0.0.1:" + server.getAddress().getPort();
    }

    /**
     * The server by this machine's host name: not a loopback address by its look, so HTTPS_PROXY
     * applies to it as to a real Rancher (a loopback URL is never proxied). Only for {@link #http}.
     */
    String urlByHostName() {
        try {
            return scheme + "://" + InetAddress.getLocalHost().getHostName() + ":" + server.getAddress().getPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    void reset() {
        requests.clear();
        rejected.clear();
        generateAnswerOverride = null;
        delayMillis = 0;
        keyCluster = null;
        generateToken = true;
        kubeconfigTtlMinutes = 43200;
    }

    /** pkg/clusterrouter/lookup.go GetClusterID: the cluster a path is about, or "". */
    static String clusterOfPath(String path) {
        String[] parts = path.split("/", -1);
        if (parts.length > 3 && parts[0].isEmpty() && (parts[1].equals("k8s") || parts[1].equals("v3"))
                && (parts[2].equals("clusters") || parts[2].equals("cluster") || parts[2].equals("proxy"))) {
            return parts[3];
        }
        return "";
    }

    private static final String ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    private static String random(int n, String alphabet) {
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        return sb.toString();
    }

    /** pkg/kubeconfig/kubeconfig.go FormatCertString: the first 49 characters, then lines of 76 joined by a YAML escaped line break. */
    static String formatCertString(String certData) {
        if (certData.length() <= 49) return certData;
        var sb = new StringBuilder(certData.substring(0, 49));
        String rest = certData.substring(49);
        for (int i = 0; i < rest.length(); i += 76) sb.append("\\\n      ").append(rest, i, Math.min(rest.length(), i + 76));
        return sb.toString();
    }

    /** pkg/kubeconfig/templates.go tokenTemplateText, as ForTokenBased fills it (one node: Rancher's cluster proxy). */
    private String rancherKubeconfig(String clusterName, String clusterId, String host, String tokenValue) {
        String cert = caCerts == null || caCerts.isEmpty() ? ""
                : formatCertString(java.util.Base64.getEncoder().encodeToString(caCerts.getBytes(StandardCharsets.UTF_8)));
        var sb = new StringBuilder("apiVersion: v1\nkind: Config\nclusters:\n");
        sb.append("- name: \"").append(clusterName).append("\"\n  cluster:\n    server: \"https://").append(host)
                .append("/k8s/clusters/").append(clusterId).append("\"\n");
        if (!cert.isEmpty()) sb.append("    certificate-authority-data: \"").append(cert).append("\"\n");
        sb.append("\nusers:\n- name: \"").append(clusterName).append("\"\n  user:\n");
        if (tokenValue != null) {
            sb.append("    token: \"").append(tokenValue).append("\"\n\n");
        } else {
            sb.append("\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n        - token\n")
                    .append("        - --server=").append(host).append("\n        - --user=").append(clusterName).append("\n")
                    .append("      command: rancher\n");
        }
        sb.append("\ncontexts:\n- name: \"").append(clusterName).append("\"\n  context:\n    user: \"").append(clusterName)
                .append("\"\n    cluster: \"").append(clusterName).append("\"\n\ncurrent-context: \"").append(clusterName).append("\"\n");
        return sb.toString();
    }

    /** An issued token, by its {@code name:key} value, that has not expired; or null. */
    private Issued issuedToken(String authorization) {
        if (authorization == null || !authorization.startsWith("Bearer ")) return null;
        String value = authorization.substring(7);
        int colon = value.indexOf(':');
        if (colon < 0) return null;
        Issued t = issued.get(value.substring(0, colon));
        if (t == null || !t.key().equals(value.substring(colon + 1))) return null;
        return t.expiresAt() != null && t.expiresAt().isBefore(java.time.Instant.now()) ? null : t;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            var req = new Request(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
                    ex.getRequestHeaders().getFirst("Authorization"), ex.getRemoteAddress().getAddress().getHostAddress(), body);
            if (!req.remoteAddress().equals(allowedFrom)) {
                rejected.add(req);
                send(ex, 403, Map.of("type", "error", "status", 403, "message", "direct connection from " + req.remoteAddress()
                        + " refused: only the SOCKS proxy (" + allowedFrom + ") may connect"));
                return;
            }
            requests.add(req);
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            // Rancher proxies each cluster's API under /k8s/clusters/<id>; its kubeconfigs point there.
            if ("GET".equals(req.method()) && req.path().startsWith("/k8s/clusters/") && req.path().endsWith("/version")) {
                String id = req.path().substring("/k8s/clusters/".length(), req.path().length() - "/version".length());
                boolean known = (apiToken != null && ("Bearer " + apiToken).equals(req.authorization())) || issuedToken(req.authorization()) != null;
                if (!known) {
                    send(ex, 401, Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "message", "Unauthorized", "code", 401));
                } else if (!clusters.containsKey(id)) {
                    send(ex, 404, Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "message", "cluster not found", "code", 404));
                } else {
                    send(ex, 200, Map.of("major", "1", "minor", "30", "gitVersion", API_VERSION, "platform", "linux/amd64"));
                }
                return;
            }
            // authenticate.go: an unknown key, or a cluster-scoped key off its cluster's paths: the same 401.
            if (token == null || !("Bearer " + token).equals(req.authorization())
                    || (keyCluster != null && !keyCluster.equals(clusterOfPath(req.path())))) {
                send(ex, 401, Map.of("type", "error", "status", 401, "code", "Unauthorized", "message", "must authenticate"));
                return;
            }
            String path = req.path();
            String query = req.query() == null ? "" : req.query();
            if ("GET".equals(req.method()) && "/v3/clusters".equals(path)) {
                String name = null;
                for (String kv : query.split("&")) {
                    if (kv.startsWith("name=")) name = java.net.URLDecoder.decode(kv.substring(5), StandardCharsets.UTF_8);
                }
                var data = new ArrayList<Map<String, Object>>();
                synchronized (clusters) {
                    for (var e : clusters.entrySet()) {
                        if (name == null || name.equals(e.getValue())) {
                            data.add(Map.of("id", e.getKey(), "name", e.getValue(), "type", "cluster", "state", "active"));
                        }
                    }
                }
                var answer = new LinkedHashMap<String, Object>();
                answer.put("type", "collection");
                answer.put("resourceType", "cluster");
                answer.put("data", data);
                send(ex, 200, answer);
                return;
            }
            if ("GET".equals(req.method()) && path.startsWith("/v3/clusters/") && path.indexOf('/', "/v3/clusters/".length()) < 0 && query.isEmpty()) {
                String id = path.substring("/v3/clusters/".length());
                String name = clusters.get(id);
                if (name == null) {
                    send(ex, 404, Map.of("type", "error", "status", 404, "code", "NotFound", "message", "clusters.management.cattle.io \"" + id + "\" not found"));
                    return;
                }
                send(ex, 200, Map.of("id", id, "name", name, "type", "cluster", "state", "active"));
                return;
            }
            if ("POST".equals(req.method()) && path.startsWith("/v3/clusters/") && "action=generateKubeconfig".equals(query)) {
                String id = path.substring("/v3/clusters/".length());
                String name = clusters.get(id);
                if (name == null) {
                    send(ex, 404, Map.of("type", "error", "status", 404, "message", "cluster " + id + " not found"));
                    return;
                }
                if (generateAnswerOverride != null) {
                    sendRaw(ex, 200, generateAnswerOverride);
                    return;
                }
                String config = kubeconfig;
                if (config == null) {
                    String tokenValue = null;
                    if (generateToken) {
                        // createTokenInput + EnsureClusterToken: GenerateName "kubeconfig-<user>", a 54-character key.
                        String tokenName = "kubeconfig-" + USER + random(5, ALNUM);
                        String key = random(54, ALNUM);
                        long ttl = kubeconfigTtlMinutes * 60_000;
                        issued.put(tokenName, new Issued(tokenName, key, ttl,
                                ttl == 0 ? null : java.time.Instant.now().plusMillis(ttl).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)));
                        tokenValue = tokenName + ":" + key;
                    }
                    String host = ex.getRequestHeaders().getFirst("Host");   // settings.ServerURL empty: the request's Host
                    config = rancherKubeconfig(name, id, host, tokenValue);
                }
                send(ex, 200, Map.of("type", "generateKubeconfigOutput", "config", config));
                return;
            }
            if ("GET".equals(req.method()) && path.startsWith("/v3/tokens/")) {
                Issued t = issued.get(path.substring("/v3/tokens/".length()));
                if (t == null) {
                    send(ex, 404, Map.of("type", "error", "status", 404, "code", "NotFound", "message", "not found"));
                    return;
                }
                var answer = new LinkedHashMap<String, Object>();
                answer.put("type", "token");
                answer.put("id", t.name());
                answer.put("name", t.name());
                answer.put("kind", "kubeconfig");
                answer.put("description", "Kubeconfig token");
                answer.put("userId", USER);
                answer.put("isDerived", true);
                answer.put("ttl", t.ttlMillis());
                answer.put("expiresAt", t.expiresAt() == null ? "" : t.expiresAt().toString());
                answer.put("expired", t.expiresAt() != null && t.expiresAt().isBefore(java.time.Instant.now()));
                send(ex, 200, answer);
                return;
            }
            send(ex, 404, Map.of("type", "error", "status", 404, "message", "not found"));
        }
    }

    private static void send(HttpExchange ex, int status, Object json) throws IOException {
        sendRaw(ex, status, JSON.writeValueAsString(json));
    }

    private static void sendRaw(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
