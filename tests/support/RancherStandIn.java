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
 * A local stand-in for Rancher's v3 API, as far as fetch-kubeconfig uses it:
 * {@code GET /v3/clusters?name=N} and {@code POST /v3/clusters/<id>?action=generateKubeconfig}, both
 * with {@code Authorization: Bearer <token>}. It answers only connections coming from
 * {@code allowedFrom} (the SOCKS proxy's outgoing address) and rejects the rest with 403, so a test
 * can tell the traffic went through the proxy. Every request is recorded for assertions. Over HTTPS
 * with a self-signed certificate made by keytool ({@link #selfSigned}).
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

    /** Rancher cluster name -> id. */
    final Map<String, String> clusters = new ConcurrentHashMap<>();
    /** The token it accepts. */
    volatile String token;
    /** What generateKubeconfig returns in {@code config}. */
    volatile String kubeconfig;
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
                if (apiToken == null || !("Bearer " + apiToken).equals(req.authorization())) {
                    send(ex, 401, Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "message", "Unauthorized", "code", 401));
                } else if (!clusters.containsValue(id)) {
                    send(ex, 404, Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "message", "cluster not found", "code", 404));
                } else {
                    send(ex, 200, Map.of("major", "1", "minor", "30", "gitVersion", API_VERSION, "platform", "linux/amd64"));
                }
                return;
            }
            if (token == null || !("Bearer " + token).equals(req.authorization())) {
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
                for (var e : clusters.entrySet()) {
                    if (name == null || name.equals(e.getKey())) {
                        data.add(Map.of("id", e.getValue(), "name", e.getKey(), "type", "cluster", "state", "active"));
                    }
                }
                var answer = new LinkedHashMap<String, Object>();
                answer.put("type", "collection");
                answer.put("resourceType", "cluster");
                answer.put("data", data);
                send(ex, 200, answer);
                return;
            }
            if ("POST".equals(req.method()) && path.startsWith("/v3/clusters/") && "action=generateKubeconfig".equals(query)) {
                String id = path.substring("/v3/clusters/".length());
                if (!clusters.containsValue(id)) {
                    send(ex, 404, Map.of("type", "error", "status", 404, "message", "cluster " + id + " not found"));
                    return;
                }
                if (generateAnswerOverride != null) {
                    sendRaw(ex, 200, generateAnswerOverride);
                    return;
                }
                send(ex, 200, Map.of("type", "generateKubeconfigOutput", "config", kubeconfig));
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
