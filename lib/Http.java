// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES ExitCode.java
//SOURCES GfwException.java

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
import java.util.Locale;
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

    /**
     * A proxy URL taken apart; {@code origin} says where it came from (a flag, a variable, a file field).
     * {@code url} is for messages: user and password, if any, are masked there.
     */
    record ProxySpec(String url, Proxy.Type type, String host, int port, boolean remoteDns, String origin, String userInfo) {
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
        return new ProxySpec(shown, type, host, port, !"socks5".equals(scheme), origin, userInfo);
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

    /** An answer: status, body (UTF-8) and content type. */
    record Response(int status, String body, String contentType) {
        boolean ok() {
            return status >= 200 && status < 300;
        }
    }

    /** A client for one service; configure it, then {@link #get} / {@link #post}. Not thread-safe to configure. */
    static final class Client {
        private final String service;
        private ProxySpec proxy;
        private String proxyHint = "";
        private Duration timeout = Duration.ofSeconds(30);
        private String bearer;
        private String secretHeader;
        private String secretHeaderValue;
        private SSLSocketFactory tls;
        private boolean insecure;

        /** {@code service}: how messages name the other side, e.g. "Rancher". */
        Client(String service) {
            this.service = service;
        }

        Client proxy(ProxySpec proxy) {
            this.proxy = proxy;
            return this;
        }

        /** Appended to the "proxy is down" message, e.g. "start it with 'ssh -D 1080 jumphost'". */
        Client proxyHint(String hint) {
            this.proxyHint = hint == null ? "" : hint;
            return this;
        }

        Client timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Sends {@code Authorization: Bearer <token>}; the token is masked in every message. */
        Client bearer(String token) {
            this.bearer = token;
            return this;
        }

        /** Sends {@code name: value} with a secret value (e.g. GitLab's PRIVATE-TOKEN), masked in every message. */
        Client secretHeader(String name, String value) {
            this.secretHeader = name;
            this.secretHeaderValue = value;
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

        Response get(String url) {
            return send("GET", url, null);
        }

        Response post(String url, String jsonBody) {
            return send("POST", url, jsonBody);
        }

        Response send(String method, String url, String jsonBody) {
            URI uri;
            try {
                uri = URI.create(url);
            } catch (IllegalArgumentException e) {
                throw new GfwException(ExitCode.USAGE, service + " URL '" + url + "' is not valid: " + e.getMessage());
            }
            String route = proxy == null ? "" : " through proxy " + proxy.url() + " (" + proxy.origin() + ")";
            if (proxy != null) checkProxyIsUp();
            HttpURLConnection c = null;
            try {
                c = (HttpURLConnection) (proxy == null ? uri.toURL().openConnection() : uri.toURL().openConnection(proxy.toJava()));
                int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
                c.setConnectTimeout(ms);
                c.setReadTimeout(ms);
                // A redirect would carry the token elsewhere; say where it points instead.
                c.setInstanceFollowRedirects(false);
                c.setUseCaches(false);
                c.setRequestMethod(method);
                c.setRequestProperty("Accept", "application/json");
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
                    throw new GfwException(ExitCode.REMOTE_ERROR, service + " at " + origin(uri) + " redirected " + method + " "
                            + uri.getPath() + " (" + status + ") to " + mask(String.valueOf(c.getHeaderField("Location")))
                            + "; use that address as the URL");
                }
                InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
                String body = in == null ? "" : readLimited(in);
                return new Response(status, body, c.getContentType());
            } catch (GfwException e) {
                throw e;
            } catch (SocketTimeoutException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, service + " at " + origin(uri) + " did not answer within "
                        + human(timeout) + route + "; check it is up, or raise --timeout", e);
            } catch (UnknownHostException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cannot resolve " + uri.getHost() + " (" + service + ")" + route
                        + (proxy == null ? "; off-site? use the SOCKS proxy (--proxy socks5h://localhost:1080)" : "; check the URL"), e);
            } catch (SSLException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, service + " at " + origin(uri) + ": TLS failed: "
                        + mask(rootMessage(e)) + "; if it uses a private CA pass --cacert FILE (PEM), or --insecure-skip-tls-verify "
                        + "to skip the check (not recommended)", e);
            } catch (ConnectException | NoRouteToHostException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cannot reach " + service + " at " + origin(uri) + route + ": "
                        + mask(rootMessage(e)) + "; check the URL" + (proxy == null ? ", VPN or proxy" : " and that the proxy can reach it"), e);
            } catch (IOException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cannot talk to " + service + " at " + origin(uri) + route + ": "
                        + mask(rootMessage(e)), e);
            } finally {
                if (c != null) c.disconnect();
            }
        }

        /** A closed proxy port looks like any refused connection; checking it first gives the user the right hint. */
        private void checkProxyIsUp() {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(proxy.host(), proxy.port()), (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
            } catch (IOException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "the proxy " + proxy.url() + " (" + proxy.origin() + ") is not reachable: "
                        + rootMessage(e) + (proxyHint.isEmpty() ? "" : "; " + proxyHint), e);
            }
        }

        /** {@code text} with the bearer token masked: for anything taken from an answer into a message. */
        String mask(String text) {
            if (text == null) return "";
            for (String secret : new String[] {bearer, secretHeaderValue}) {
                if (secret != null && !secret.isEmpty()) text = text.replace(secret, "****");
            }
            return text;
        }

        private static String readLimited(InputStream in) throws IOException {
            try (in) {
                var buf = new ByteArrayOutputStream();
                byte[] chunk = new byte[8192];
                int n;
                while ((n = in.read(chunk)) > 0) {
                    buf.write(chunk, 0, n);
                    if (buf.size() > 16 * 1024 * 1024) throw new IOException("answer larger than 16 MiB");
                }
                return buf.toString(StandardCharsets.UTF_8);
            }
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
            throw new GfwException(ExitCode.NO_INPUT, flag + " " + pemFile + ": cannot read it: " + rootMessage(e));
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
