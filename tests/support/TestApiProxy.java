import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A recording, fault-injecting HTTPS proxy in front of the real API server: what no real server
 * gives a test. It terminates TLS (HTTP/1.1 only, so every client speaks one request at a time per
 * connection), records each request (method, path, query, content type, body), answers a request a
 * {@link Fault} matches itself (a status, a stall, a dropped connection), and forwards everything
 * else byte for byte to the server, including upgraded connections (port-forward, exec) and watch
 * streams. The answer direction is piped untouched.
 *
 * <p>Each test that counts requests gets its own proxy, so its log holds only its own commands.
 */
final class TestApiProxy implements AutoCloseable {

    /** One request as a client sent it: path without query, raw query ("" if none), body ("" if none). */
    record Request(String method, String path, String query, String contentType, String body) {
        boolean isMutating() {
            return switch (method) {
                case "POST", "PUT", "PATCH", "DELETE" -> true;
                default -> false;
            };
        }

        /** dryRun=All in the query, or (DELETE) in the DeleteOptions body. */
        boolean isDryRun() {
            return queryParams("dryRun").contains("All") || (method.equals("DELETE") && body.replace(" ", "").contains("\"dryRun\":[\"All\"]"));
        }

        /** First value of a query parameter, URL-decoded, or null. */
        String queryParam(String name) {
            List<String> v = queryParams(name);
            return v.isEmpty() ? null : v.get(0);
        }

        List<String> queryParams(String name) {
            var out = new ArrayList<String>();
            if (query.isEmpty()) return out;
            for (String kv : query.split("&")) {
                int eq = kv.indexOf('=');
                String k = java.net.URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
                if (k.equals(name)) out.add(eq < 0 ? "" : java.net.URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
            }
            return out;
        }

        @Override
        public String toString() {
            return method + " " + path + (query.isEmpty() ? "" : "?" + query);
        }
    }

    /** What to do instead of forwarding a matching request; {@code times} < 0 means every time. */
    static final class Fault {
        final Predicate<Request> matches;
        final int status;
        final String body;
        final long stallMillis;
        final boolean drop;
        int times;

        private Fault(Predicate<Request> matches, int status, String body, long stallMillis, boolean drop, int times) {
            this.matches = matches;
            this.status = status;
            this.body = body;
            this.stallMillis = stallMillis;
            this.drop = drop;
            this.times = times;
        }

        /** Answers {@code status} with a JSON {@code body} (a Status object, say). */
        static Fault answer(Predicate<Request> matches, int status, String body, int times) {
            return new Fault(matches, status, body, 0, false, times);
        }

        /** Holds the request for {@code millis} before forwarding it. */
        static Fault stall(Predicate<Request> matches, long millis, int times) {
            return new Fault(matches, 0, null, millis, false, times);
        }

        /** Closes the connection without an answer. */
        static Fault drop(Predicate<Request> matches, int times) {
            return new Fault(matches, 0, null, 0, true, times);
        }
    }

    /** Matches method and exact path (query ignored). */
    static Predicate<Request> route(String method, String path) {
        return r -> r.method().equals(method) && r.path().equals(path);
    }

    private final String upstreamHost;
    private final int upstreamPort;
    private final SSLServerSocket server;
    private final SSLContext upstreamTls;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-api-proxy");
        t.setDaemon(true);
        return t;
    });
    private final List<Request> log = new CopyOnWriteArrayList<>();
    private final List<Fault> faults = new CopyOnWriteArrayList<>();
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    /**
     * Listens on a free loopback port with the certificate in {@code keyStore} (PKCS#12, password
     * {@code password}) and forwards to {@code upstreamHost:upstreamPort} over TLS (the server's
     * certificate is not checked: it is the test's own, on loopback).
     */
    TestApiProxy(KeyStore keyStore, char[] password, String upstreamHost, int upstreamPort) throws Exception {
        this.upstreamHost = upstreamHost;
        this.upstreamPort = upstreamPort;
        var kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, password);
        var serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        server = (SSLServerSocket) serverTls.getServerSocketFactory().createServerSocket(0, 200, InetAddress.getLoopbackAddress());
        var params = server.getSSLParameters();
        params.setApplicationProtocols(new String[] {"http/1.1"});
        server.setSSLParameters(params);
        upstreamTls = SSLContext.getInstance("TLS");
        upstreamTls.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        }}, null);
        pool.execute(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    List<Request> requests() {
        return List.copyOf(log);
    }

    void resetRequests() {
        log.clear();
    }

    void fault(Fault f) {
        faults.add(f);
    }

    void clearFaults() {
        faults.clear();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                open.add(client);
                pool.execute(() -> serve(client));
            } catch (IOException e) {
                if (closed) return;
            }
        }
    }

    private void serve(Socket client) {
        Socket upstream = null;
        try (client) {
            var in = new BufferedInputStream(client.getInputStream());
            OutputStream toClient = client.getOutputStream();
            OutputStream toUpstream = null;
            while (true) {
                ByteArrayOutputStream head = readHead(in);
                if (head == null) return; // the client closed the connection
                String headText = head.toString(StandardCharsets.ISO_8859_1);
                String[] lines = headText.split("\r\n");
                String[] requestLine = lines[0].split(" ");
                if (requestLine.length < 3) return;
                String method = requestLine[0];
                String target = requestLine[1];
                long length = -1;
                boolean chunked = false;
                boolean upgrade = false;
                String contentType = "";
                for (int i = 1; i < lines.length; i++) {
                    int c = lines[i].indexOf(':');
                    if (c < 0) continue;
                    String name = lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT);
                    String value = lines[i].substring(c + 1).trim();
                    switch (name) {
                        case "content-length" -> length = Long.parseLong(value);
                        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                        case "upgrade" -> upgrade = true;
                        case "content-type" -> contentType = value;
                        default -> { }
                    }
                }
                byte[] body = chunked ? readChunked(in) : readFixed(in, Math.max(length, 0));
                int q = target.indexOf('?');
                var request = new Request(method, q < 0 ? target : target.substring(0, q), q < 0 ? "" : target.substring(q + 1),
                        contentType, new String(chunked ? dechunk(body) : body, StandardCharsets.UTF_8));
                log.add(request);
                Fault fault = take(request);
                if (fault != null) {
                    if (fault.drop) return;
                    if (fault.stallMillis > 0) Thread.sleep(fault.stallMillis);
                    if (fault.status > 0) {
                        byte[] b = fault.body.getBytes(StandardCharsets.UTF_8);
                        synchronized (toClient) {
                            toClient.write(("HTTP/1.1 " + fault.status + " Injected\r\nContent-Type: application/json\r\nContent-Length: "
                                    + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                            toClient.write(b);
                            toClient.flush();
                        }
                        continue;
                    }
                }
                if (upstream == null) {
                    upstream = upstreamTls.getSocketFactory().createSocket(upstreamHost, upstreamPort);
                    var p = ((SSLSocket) upstream).getSSLParameters();
                    p.setApplicationProtocols(new String[] {"http/1.1"});
                    ((SSLSocket) upstream).setSSLParameters(p);
                    open.add(upstream);
                    toUpstream = upstream.getOutputStream();
                    Socket up = upstream;
                    pool.execute(() -> pipe(up, client, toClient));
                }
                toUpstream.write(head.toByteArray());
                toUpstream.write(body);
                toUpstream.flush();
                if (upgrade) {
                    // Port-forward, exec, attach: from here on both directions are opaque streams.
                    in.transferTo(toUpstream);
                    return;
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            // a client or the server went away: the connection ends here, as it would without us
        } finally {
            if (upstream != null) {
                try {
                    upstream.close();
                } catch (IOException ignored) {
                    // closing
                }
                open.remove(upstream);
            }
            open.remove(client);
        }
    }

    private synchronized Fault take(Request r) {
        for (Fault f : faults) {
            if (f.times != 0 && f.matches.test(r)) {
                if (f.times > 0) f.times--;
                return f;
            }
        }
        return null;
    }

    /** The server's answers, unparsed, until it closes. */
    private static void pipe(Socket from, Socket client, OutputStream toClient) {
        byte[] buf = new byte[16384];
        try (InputStream in = from.getInputStream()) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                synchronized (toClient) {
                    toClient.write(buf, 0, n);
                    toClient.flush();
                }
            }
        } catch (IOException ignored) {
            // the server or the client closed
        } finally {
            try {
                client.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /** The request line and headers up to and including the blank line, or null at end of stream. */
    private static ByteArrayOutputStream readHead(InputStream in) throws IOException {
        var out = new ByteArrayOutputStream();
        int state = 0;
        while (true) {
            int b = in.read();
            if (b < 0) return out.size() == 0 ? null : out;
            out.write(b);
            state = switch (state) {
                case 0 -> b == '\r' ? 1 : 0;
                case 1 -> b == '\n' ? 2 : (b == '\r' ? 1 : 0);
                case 2 -> b == '\r' ? 3 : 0;
                case 3 -> b == '\n' ? 4 : 0;
                default -> 0;
            };
            if (state == 4) return out;
            if (out.size() > 1 << 20) throw new IOException("request head over 1 MiB");
        }
    }

    private static byte[] readFixed(InputStream in, long length) throws IOException {
        return in.readNBytes((int) length);
    }

    /** A chunked body exactly as sent (sizes, data, trailers), so it can be forwarded unchanged. */
    private static byte[] readChunked(InputStream in) throws IOException {
        var out = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine(in, out);
            int semi = sizeLine.indexOf(';');
            int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
            if (size == 0) {
                // trailers, then the blank line
                while (!readLine(in, out).isEmpty()) {
                    // skip trailer fields
                }
                return out.toByteArray();
            }
            out.write(in.readNBytes(size));
            readLine(in, out);
        }
    }

    private static byte[] dechunk(byte[] chunked) throws IOException {
        var in = new java.io.ByteArrayInputStream(chunked);
        var out = new ByteArrayOutputStream();
        var sink = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine(in, sink);
            if (sizeLine.isEmpty() && in.available() == 0) return out.toByteArray();
            int semi = sizeLine.indexOf(';');
            int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
            if (size == 0) return out.toByteArray();
            out.write(in.readNBytes(size));
            readLine(in, sink);
        }
    }

    private static String readLine(InputStream in, ByteArrayOutputStream copy) throws IOException {
        var line = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b < 0) throw new IOException("unexpected end of a chunked body");
            copy.write(b);
            if (b == '\n') {
                int len = line.length();
                if (len > 0 && line.charAt(len - 1) == '\r') line.setLength(len - 1);
                return line.toString();
            }
            line.append((char) b);
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException | RuntimeException ignored) {
                // closing
            }
        }
        pool.shutdownNow();
    }
}
