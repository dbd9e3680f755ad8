// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES ExitCode.java
//SOURCES GfwException.java
//SOURCES Output.java
//SOURCES SecretInput.java

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Proxy;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * A small HTTP(S) client for JSON APIs (Rancher, GitLab) that really goes through a SOCKS5 or HTTP
 * proxy. It uses {@link HttpURLConnection} because {@code java.net.http.HttpClient} silently ignores a
 * SOCKS proxy and connects directly.
 *
 * <p>Every failure to get an answer becomes a {@link GfwException} with one line naming the service,
 * the route and what to do: proxy down, connection refused, timeout, unknown host, untrusted TLS
 * certificate ({@link ExitCode#UNAVAILABLE}), a redirect ({@link ExitCode#REMOTE_ERROR}). HTTP error
 * statuses are returned to the caller, who knows what a 401 or 404 means for its request. The bearer
 * token is never part of any message.
 *
 * <p>Proxies: {@code socks5://} and {@code socks5h://} (the proxy resolves names; Java's
 * HttpURLConnection asks the local resolver first and hands the proxy the host name when that fails —
 * the usual case for an internal host off-site), {@code socks://}, {@code http://}.
 */
final class Http {

    /** The largest answer gfw reads from a server (its own client's and the API server's): more is the remote side's error (79). */
    static final long MAX_ANSWER = 16L * 1024 * 1024;

    /**
     * A proxy URL taken apart; {@code origin} says where it came from (a flag, a variable, a file field).
     * {@code url} is for messages: user and password, if any, are masked there; {@code value} is the
     * URL as given (with a scheme), for handing on to fabric8 and Helm.
     */
    record ProxySpec(String url, Proxy.Type type, String host, int port, boolean remoteDns, String origin, String userInfo, String value) {
        Proxy toJava() {
            return new Proxy(type, new InetSocketAddress(host, port));
        }

        /** The same proxy as kubectl accepts it in a kubeconfig's {@code proxy-url} (no socks5h: Go's socks5 always lets the proxy resolve). */
        String kubeconfigUrl() {
            return (type == Proxy.Type.SOCKS ? "socks5" : "http") + "://" + (userInfo == null ? "" : userInfo + "@")
                    + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }

        /** {@link #kubeconfigUrl()} for messages: credentials masked. */
        String kubeconfigUrlShown() {
            String k = kubeconfigUrl();
            return userInfo == null ? k : k.replace(userInfo + "@", "****@");
        }

        @Override
        public String toString() {
            return url;
        }
    }

    /**
     * Parses a proxy URL; null, blank and {@code none} mean no proxy (null). A bad URL is a usage
     * error naming {@code origin}.
     */
    static ProxySpec proxy(String url, String origin) {
        if (url == null || url.isBlank() || url.trim().equalsIgnoreCase("none")) return null;
        String u = url.trim();
        URI uri;
        try {
            uri = URI.create(u.contains("://") ? u : "http://" + u);
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.USAGE, origin + ": '" + u + "' is not a proxy URL; use e.g. socks5h://localhost:1080 or none");
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        Proxy.Type type;
        int defaultPort;
        switch (scheme) {
            case "socks5", "socks5h", "socks" -> { type = Proxy.Type.SOCKS; defaultPort = 1080; }
            case "http" -> { type = Proxy.Type.HTTP; defaultPort = 80; }
            case "https" -> { type = Proxy.Type.HTTP; defaultPort = 443; }
            default -> throw new GfwException(ExitCode.USAGE, origin + ": proxy scheme '" + scheme
                    + "' is not supported; use socks5h://, socks5:// or http:// (e.g. socks5h://localhost:1080), or none");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new GfwException(ExitCode.USAGE, origin + ": '" + u + "' has no host; use e.g. socks5h://localhost:1080");
        }
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port = uri.getPort() > 0 ? uri.getPort() : defaultPort;
        String userInfo = uri.getRawUserInfo();
        String shown = userInfo == null ? u : u.replace(userInfo + "@", "****@");
        return new ProxySpec(shown, type, host, port, !"socks5".equals(scheme), origin, userInfo, u.contains("://") ? u : "http://" + u);
    }

    static boolean isLoopback(String url) {
        if (url == null) return false;
        try {
            String host = URI.create(url).getHost();
            return host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1"));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Where a request goes: through {@code proxy}, or directly when it is null; {@code reason} says
     * which rule decided, for messages ("--proxy", "HTTPS_PROXY", "a loopback address is never proxied").
     */
    record Route(ProxySpec proxy, String reason) {
        /** "through proxy socks5h://localhost:1080 (HTTPS_PROXY)", or "no proxy: NO_PROXY names rancher.example.com". */
        String describe() {
            return proxy == null ? "no proxy: " + reason : "through proxy " + proxy.url() + " (" + proxy.origin() + ")";
        }
    }

    /**
     * The one rule for which proxy a request to {@code url} uses, for every caller (the API server,
     * Rancher, GitLab, chart repositories), in kubectl's order, first match wins:
     * <ol>
     * <li>{@code --proxy} ({@code proxyOption}; {@code none} means none);</li>
     * <li>the kubeconfig cluster's {@code proxy-url} ({@code kubeconfigProxy}; only for the API server);</li>
     * <li>a loopback address ({@code localhost}, {@code 127.*}, {@code ::1}: a port-forward) is never proxied;</li>
     * <li>{@code NO_PROXY}/{@code no_proxy} naming the host: no proxy;</li>
     * <li>{@code HTTPS_PROXY}/{@code https_proxy} (for http:// URLs too, as curl does for gfw's purposes);</li>
     * <li>under GitLab CI ({@code GITLAB_CI=true}) no proxy: the agent needs none;</li>
     * <li>the environment's {@code cluster.proxy} ({@code environmentProxy}, named {@code environmentProxyOrigin}).</li>
     * </ol>
     * {@code variables} is the process environment (tests pass their own). A bad proxy URL is a usage
     * error naming where it came from.
     */
    static Route route(String url, String proxyOption, String kubeconfigProxy, String environmentProxy, String environmentProxyOrigin,
                       java.util.Map<String, String> variables) {
        if (proxyOption != null) {
            ProxySpec p = proxy(proxyOption, "--proxy");
            return new Route(p, p == null ? "--proxy none" : "--proxy");
        }
        if (kubeconfigProxy != null && !kubeconfigProxy.isBlank()) return new Route(proxy(kubeconfigProxy, "the kubeconfig's proxy-url"), "proxy-url");
        if (isLoopback(url)) return new Route(null, "a loopback address is never proxied");
        String noProxy = variable(variables, "NO_PROXY", "no_proxy");
        if (noProxyMatches(noProxy, url)) return new Route(null, "NO_PROXY names " + host(url));
        String https = variable(variables, "HTTPS_PROXY", "https_proxy");
        if (https != null) {
            String origin = variables.get("HTTPS_PROXY") != null && !variables.get("HTTPS_PROXY").isBlank() ? "HTTPS_PROXY" : "https_proxy";
            ProxySpec p = proxy(https, origin);
            return new Route(p, origin);
        }
        if ("true".equals(variables.get("GITLAB_CI"))) return new Route(null, "GitLab CI: the agent needs no proxy");
        if (environmentProxy != null && !environmentProxy.isBlank()) {
            ProxySpec p = proxy(environmentProxy, environmentProxyOrigin);
            return new Route(p, p == null ? environmentProxyOrigin + " is none" : environmentProxyOrigin);
        }
        return new Route(null, "none configured");
    }

    private static String variable(java.util.Map<String, String> variables, String upper, String lower) {
        String v = variables.get(upper);
        if (v == null || v.isBlank()) v = variables.get(lower);
        return v == null || v.isBlank() ? null : v;
    }

    private static String host(String url) {
        try {
            return URI.create(url).getHost();
        } catch (IllegalArgumentException e) {
            return url;
        }
    }

    /** Go's NO_PROXY rules: comma-separated hosts or domains ({@code .example.com}, {@code example.com}, {@code *}), ports ignored. */
    static boolean noProxyMatches(String noProxy, String url) {
        if (noProxy == null || noProxy.isBlank()) return false;
        String host;
        try {
            host = URI.create(url).getHost();
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (host == null) return false;
        host = host.toLowerCase(Locale.ROOT);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        for (String entry : noProxy.split(",")) {
            String e = entry.trim().toLowerCase(Locale.ROOT).replaceFirst(":\\d+$", "");
            if (e.isEmpty()) continue;
            if (e.equals("*")) return true;
            if (e.startsWith("*")) e = e.substring(1);
            if (host.equals(e) || (e.startsWith(".") ? host.endsWith(e) : host.endsWith("." + e))) return true;
        }
        return false;
    }

    /**
     * What to do when {@code proxy} does not work, only ever where a proxy is involved ("" without one):
     * for a local SOCKS port the tunnel to open, {@code ssh -D PORT <jumphost>} with the environment's
     * {@code cluster.jumphost} ({@code jumphostOrigin} names that field), or --proxy none on-site.
     */
    static String proxyHint(ProxySpec proxy, String jumphost, String jumphostOrigin) {
        if (proxy == null) return "";
        if (proxy.type() == Proxy.Type.SOCKS && isLoopback("socks://" + (proxy.host().contains(":") ? "[" + proxy.host() + "]" : proxy.host()))) {
            if (jumphost == null || jumphost.isBlank()) {
                return "open the SOCKS tunnel with 'ssh -D " + proxy.port() + "' to your jump host (" + jumphostOrigin
                        + " names none), or pass --proxy none when on-site";
            }
            return "open the tunnel with 'ssh -D " + proxy.port() + " " + jumphost + "' (" + jumphostOrigin + "), or pass --proxy none when on-site";
        }
        return "check the proxy " + proxy.url() + ", or pass --proxy none when on-site";
    }

    // ---- waiting: say what for -------------------------------------------------------------------

    /** After this long without an answer, stderr says what gfw is waiting for. */
    static final Duration WAIT_NOTICE_AFTER = Duration.ofSeconds(2);

    private static java.util.concurrent.ScheduledExecutorService waitTimer;
    /** What a notice was printed for: once each (a slow server gets one line, and another one its own). */
    private static final java.util.Set<String> WAIT_SAID = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static synchronized java.util.concurrent.ScheduledExecutorService waitTimer() {
        if (waitTimer == null) {
            waitTimer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "gfw-wait-notice");
                t.setDaemon(true);
                return t;
            });
        }
        return waitTimer;
    }

    /**
     * Starts the clock of one wait: unless closed within {@link #WAIT_NOTICE_AFTER}, one line
     * "waiting for WHAT ..." goes to stderr (once per WHAT: a slow server gets one line, not one per
     * request, and a second slow service its own). Close it when the answer came: a wait left open
     * would announce a server nobody waits for any more.
     */
    static AutoCloseable waitNotice(String what) {
        if (WAIT_SAID.contains(what)) return () -> {};
        var pending = waitTimer().schedule(() -> {
            if (WAIT_SAID.add(what)) System.err.println("waiting for " + what + " ...");
        }, WAIT_NOTICE_AFTER.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        return () -> pending.cancel(false);
    }

    /** An answer: status, body (bytes; {@link #body()} as UTF-8), content type and headers. */
    record Response(int status, byte[] bytes, String contentType, Map<String, List<String>> headers) {
        Response(int status, byte[] bytes, String contentType) {
            this(status, bytes, contentType, Map.of());
        }

        /** The first value of header {@code name} (any case), or null. */
        String header(String name) {
            for (var e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) return e.getValue().get(0);
            }
            return null;
        }

        boolean ok() {
            return status >= 200 && status < 300;
        }

        String body() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** A client for one service; configure it, then {@link #get} / {@link #post}. Not thread-safe to configure. */
    static final class Client {
        private final String service;
        private ProxySpec proxy;
        private java.util.function.Function<String, Route> router;
        private String jumphost;
        private String jumphostOrigin = "cluster.jumphost";
        private Duration timeout = Duration.ofSeconds(30);
        private String timeoutFlag = "--request-timeout";
        private String bearer;
        private String secretHeader;
        private String secretHeaderValue;
        private SSLSocketFactory tls;
        private boolean insecure;
        private int redirects;
        private String accept = "application/json";
        private long maxBytes = MAX_ANSWER;

        /** {@code service}: how messages name the other side, e.g. "Rancher". */
        Client(String service) {
            this.service = service;
        }

        /** One proxy for every request (null: direct), as {@link Http#route} chose it. */
        Client proxy(ProxySpec proxy) {
            this.proxy = proxy;
            this.router = null;
            return this;
        }

        /** The route of each request by its URL (redirects may lead to another host): usually a call of {@link Http#route}. */
        Client routes(java.util.function.Function<String, Route> router) {
            this.router = router;
            return this;
        }

        /** The environment's jump host, for the advice when a proxy does not work ({@link Http#proxyHint}). */
        Client jumphost(String jumphost, String origin) {
            this.jumphost = jumphost;
            this.jumphostOrigin = origin;
            return this;
        }

        /** Per request (connect, and each read); {@code flag} is what a message tells the user to raise. */
        Client timeout(Duration timeout, String flag) {
            this.timeout = timeout;
            this.timeoutFlag = flag;
            return this;
        }

        Client timeout(Duration timeout) {
            return timeout(timeout, timeoutFlag);
        }

        /** Sends {@code Authorization: Bearer <token>}; the token is masked in every message. */
        Client bearer(String token) {
            this.bearer = token;
            Output.secretSent(token);
            return this;
        }

        /** Sends {@code name: value} with a secret value (e.g. GitLab's PRIVATE-TOKEN), masked in every message. */
        Client secretHeader(String name, String value) {
            this.secretHeader = name;
            this.secretHeaderValue = value;
            Output.secretSent(value);
            return this;
        }

        /** Trusts only the certificates in this PEM file (a private CA), like curl's and kubectl's --cacert. */
        Client caCert(Path pemFile, String flag) {
            this.tls = trusting(pemFile, flag);
            return this;
        }

        /** Turns TLS verification off (certificate and host name). The caller warns the user. */
        Client insecure(boolean insecure) {
            this.insecure = insecure;
            if (insecure) this.tls = trustingAnything();
            return this;
        }

        /**
         * Follows up to {@code max} redirects of a GET (chart repositories send archives from a CDN);
         * never with a credential set, which a redirect would carry elsewhere; never from https to http.
         */
        Client followRedirects(int max) {
            this.redirects = max;
            return this;
        }

        /** The Accept header (default application/json) and the largest answer read (default 16 MiB). */
        Client accept(String accept, long maxBytes) {
            this.accept = accept;
            this.maxBytes = maxBytes;
            return this;
        }

        Response get(String url) {
            return send("GET", url, null);
        }

        Response post(String url, String jsonBody) {
            return send("POST", url, jsonBody);
        }

        /** The route a request to {@code url} takes. */
        Route routeOf(String url) {
            if (router != null) return router.apply(url);
            return new Route(proxy, proxy == null ? "none configured" : proxy.origin());
        }

        Response send(String method, String url, String jsonBody) {
            String current = url;
            for (int hop = 0; ; hop++) {
                Object answer = exchange(method, current, jsonBody, hop);
                if (answer instanceof Response r) return r;
                current = (String) answer;
            }
        }

        /** One request: a {@link Response}, or the next URL (a String) when a redirect is followed. */
        private Object exchange(String method, String url, String jsonBody, int hop) {
            URI uri;
            try {
                uri = URI.create(url);
            } catch (IllegalArgumentException e) {
                throw new GfwException(ExitCode.USAGE, service + " URL '" + url + "' is not valid: " + e.getMessage());
            }
            Route chosen = routeOf(url);
            ProxySpec via = chosen.proxy();
            String route = " (" + chosen.describe() + ")";
            if (via != null) checkProxyIsUp(via);
            HttpURLConnection c = null;
            AutoCloseable waiting = waitNotice(service + " at " + origin(uri) + route + ", at most " + human(timeout));
            // The timeout bounds the whole exchange, not each read: a server trickling one byte a second is cut off
            // when it runs out (HttpURLConnection's read timeout alone would wait forever for it).
            var outOfTime = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.ScheduledFuture<?> deadline = null;
            try {
                c = (HttpURLConnection) (via == null ? uri.toURL().openConnection(Proxy.NO_PROXY) : uri.toURL().openConnection(via.toJava()));
                HttpURLConnection conn = c;
                deadline = waitTimer().schedule(() -> {
                    outOfTime.set(true);
                    conn.disconnect();
                }, timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
                c.setConnectTimeout(ms);
                c.setReadTimeout(ms);
                // Redirects are followed here, if at all: HttpURLConnection's own would carry the token along.
                c.setInstanceFollowRedirects(false);
                c.setUseCaches(false);
                c.setRequestMethod(method);
                c.setRequestProperty("Accept", accept);
                c.setRequestProperty("User-Agent", "gfw");
                if (bearer != null) c.setRequestProperty("Authorization", "Bearer " + bearer);
                if (secretHeader != null) c.setRequestProperty(secretHeader, secretHeaderValue);
                if (c instanceof HttpsURLConnection https && tls != null) {
                    https.setSSLSocketFactory(tls);
                    if (insecure) https.setHostnameVerifier((host, session) -> true);
                }
                if (jsonBody != null) {
                    byte[] body = jsonBody.getBytes(StandardCharsets.UTF_8);
                    c.setDoOutput(true);
                    c.setRequestProperty("Content-Type", "application/json");
                    c.setFixedLengthStreamingMode(body.length);
                    try (OutputStream out = c.getOutputStream()) {
                        out.write(body);
                    }
                }
                int status = c.getResponseCode();
                if (status >= 300 && status < 400) {
                    String location = c.getHeaderField("Location");
                    boolean credentials = bearer != null || secretHeader != null;
                    if (location != null && hop < redirects && !credentials && "GET".equals(method)) {
                        URI next = uri.resolve(location);
                        if ("https".equals(uri.getScheme()) && !"https".equals(next.getScheme())) {
                            throw new GfwException(ExitCode.REMOTE_ERROR, service + " at " + origin(uri) + " redirected " + uri.getPath()
                                    + " from https to " + origin(next) + ": refusing to leave TLS");
                        }
                        return next.toString();
                    }
                    throw new GfwException(ExitCode.REMOTE_ERROR, service + " at " + origin(uri) + " redirected " + method + " "
                            + uri.getPath() + " (" + status + ") to " + mask(String.valueOf(location))
                            + (hop >= redirects && redirects > 0 ? " after " + redirects + " redirects" : "") + "; use that address as the URL");
                }
                InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
                byte[] body = in == null ? new byte[0] : readLimited(in, maxBytes);
                return new Response(status, body, c.getContentType(), c.getHeaderFields());
            } catch (GfwException e) {
                throw e;
            } catch (IOException e) {
                if (!outOfTime.get() && !(e instanceof SocketTimeoutException)) throw failure(e, uri, route, via);
                throw new GfwException(ExitCode.UNAVAILABLE, service + " at " + origin(uri) + " did not answer within "
                        + human(timeout) + route + "; check it is up" + hint(via) + ", or raise " + timeoutFlag, e);
            } finally {
                if (deadline != null) deadline.cancel(false);
                closeQuietly(waiting);
                if (c != null) c.disconnect();
            }
        }

        /** An answer over the size limit: the server was reached and said too much ({@link ExitCode#REMOTE_ERROR}, not unreachable). */
        private static final class TooLarge extends IOException {
            TooLarge(long max) {
                super("answer larger than " + (max / (1024 * 1024)) + " MiB");
            }
        }

        /** A failure to get an answer (not a timeout) as one line. */
        private GfwException failure(IOException e, URI uri, String route, ProxySpec via) {
            if (e instanceof TooLarge) {
                return new GfwException(ExitCode.REMOTE_ERROR, service + " at " + origin(uri) + " answered with more than "
                        + (maxBytes / (1024 * 1024)) + " MiB: not the answer gfw asked for; check the URL");
            }
            if (e instanceof UnknownHostException) {
                return new GfwException(ExitCode.UNAVAILABLE, "cannot resolve " + uri.getHost() + " (" + service + ")" + route
                        + (via == null ? "; off-site? use the SOCKS proxy (--proxy socks5h://localhost:1080)" : "; check the URL"), e);
            }
            if (e instanceof SSLException) {
                return new GfwException(ExitCode.UNAVAILABLE, service + " at " + origin(uri) + ": TLS failed: "
                        + mask(rootMessage(e)) + "; if it uses a private CA pass --cacert FILE (PEM), or --insecure-skip-tls-verify "
                        + "to skip the check (not recommended)", e);
            }
            if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
                return new GfwException(ExitCode.UNAVAILABLE, "cannot reach " + service + " at " + origin(uri) + route + ": "
                        + mask(rootMessage(e)) + "; check the URL" + (via == null ? ", VPN or proxy" : " and that the proxy can reach it"), e);
            }
            return new GfwException(ExitCode.UNAVAILABLE, "cannot talk to " + service + " at " + origin(uri) + route + ": "
                    + mask(rootMessage(e)), e);
        }

        /** The proxy hint, only where a proxy is involved. */
        private String hint(ProxySpec via) {
            return via == null ? "" : " and the proxy (" + proxyHint(via, jumphost, jumphostOrigin) + ")";
        }

        /** A closed proxy port looks like any refused connection; checking it first gives the user the right hint. */
        private void checkProxyIsUp(ProxySpec via) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(via.host(), via.port()), (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
            } catch (IOException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "the proxy " + via.url() + " (" + via.origin() + ") is not reachable: "
                        + rootMessage(e) + "; " + proxyHint(via, jumphost, jumphostOrigin), e);
            }
        }

        /** {@code text} with the bearer token masked: for anything taken from an answer into a message. */
        String mask(String text) {
            if (text == null) return "";
            text = Output.redact(text);
            for (String secret : new String[] {bearer, secretHeaderValue}) {
                if (secret != null && !secret.isEmpty()) text = text.replace(secret, "****");
            }
            return text;
        }

        private static byte[] readLimited(InputStream in, long max) throws IOException {
            try (in) {
                var buf = new ByteArrayOutputStream();
                byte[] chunk = new byte[65536];
                int n;
                while ((n = in.read(chunk)) > 0) {
                    buf.write(chunk, 0, n);
                    if (buf.size() > max) throw new TooLarge(max);
                }
                return buf.toByteArray();
            }
        }
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // a notice that could not be cancelled only prints a line
        }
    }

    /** scheme://host[:port] of a URI, for messages (never the query). */
    static String origin(URI uri) {
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "");
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 != 0 ? ms + "ms" : ms % 60_000 != 0 ? (ms / 1000) + "s" : (ms / 60_000) + "m";
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static SSLSocketFactory trusting(Path pemFile, String flag) {
        Collection<? extends Certificate> certs;
        try (InputStream in = Files.newInputStream(pemFile)) {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (IOException e) {
            throw new GfwException(ExitCode.NO_INPUT, flag + " " + pemFile + ": cannot read it (" + SecretInput.reason(e) + ")");
        } catch (GeneralSecurityException e) {
            throw new GfwException(ExitCode.NO_INPUT, flag + " " + pemFile + ": not a PEM certificate file: " + rootMessage(e));
        }
        if (certs.isEmpty()) throw new GfwException(ExitCode.NO_INPUT, flag + " " + pemFile + ": no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)");
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate c : certs) store.setCertificateEntry("ca-" + i++, c);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx.getSocketFactory();
        } catch (GeneralSecurityException | IOException e) {
            throw new GfwException(ExitCode.NO_INPUT, flag + " " + pemFile + ": cannot use it as a trust store: " + rootMessage(e));
        }
    }

    private static SSLSocketFactory trustingAnything() {
        TrustManager all = new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}
            public void checkServerTrusted(X509Certificate[] chain, String authType) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        };
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {all}, null);
            return ctx.getSocketFactory();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private Http() {}
}
