// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS io.fabric8:kubernetes-httpclient-vertx:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../core/SecretInput.java

import io.fabric8.kubernetes.api.model.NamedContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.LocalPortForward;
import io.fabric8.kubernetes.client.impl.BaseClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Builds the Kubernetes client for an environment, choosing kubeconfig, context and proxy the way
 * kubectl users expect:
 * <ul>
 * <li>kubeconfig: {@code --kubeconfig}, then {@code KUBECONFIG} (first file of the list), then
 * {@code kubeconfig-<env>} in the current directory or the repository root, then {@code ~/.kube/config};</li>
 * <li>context: {@code --context}, then under GitLab CI ({@code GITLAB_CI=true}) the agent context
 * {@code {org}/projects/kubernetes/gitlab-agents:{env}}, then the environment's {@code cluster.context};</li>
 * <li>proxy: {@link Http#route}, the one rule of every gfw request, with the kubeconfig cluster's
 * {@code proxy-url} and the environment's {@code cluster.proxy}.</li>
 * </ul>
 */
final class KubeClients {

    static {
        quietLogging();
    }

    /** fabric8 logs through SLF4J; without a provider SLF4J prints three warning lines on every run (a client dry run too). */
    static void quietLogging() {
        if (System.getProperty("slf4j.internal.verbosity") == null) System.setProperty("slf4j.internal.verbosity", "ERROR");
    }

    /** What to connect to, and why: {@code kubeconfigSource} says which rule picked the file. */
    record Target(Path kubeconfig, String kubeconfigSource, String context, String server, String proxy, String route, String advice) {
        /** {@code route}: how it is reached, for messages ({@link Http.Route#describe}); {@code advice}: what to do when the proxy fails ("" without one). */
        Target(Path kubeconfig, String kubeconfigSource, String context, String server, String proxy) {
            this(kubeconfig, kubeconfigSource, context, server, proxy, proxy == null ? "no proxy" : "through proxy " + proxy,
                    proxy == null ? "" : "check the proxy, or pass --proxy none when on-site");
        }
    }

    static boolean inGitLabCi() {
        return "true".equals(System.getenv("GITLAB_CI"));
    }

    /** Finds the kubeconfig file and context, without connecting. */
    static Target resolve(EnvConfig.Env env, String kubeconfigOption, String contextOption, String proxyOption) {
        Path kubeconfig;
        String source;
        String fromEnv = System.getenv("KUBECONFIG");
        if (kubeconfigOption != null) {
            kubeconfig = Path.of(kubeconfigOption);
            source = "--kubeconfig";
        } else if (fromEnv != null && !fromEnv.isBlank()) {
            kubeconfig = Path.of(fromEnv.split(java.io.File.pathSeparator)[0]);
            source = "KUBECONFIG";
        } else {
            kubeconfig = defaultKubeconfig(env.name());
            source = kubeconfig == null ? null : "default";
        }
        if (kubeconfig == null) {
            throw new GfwException(ExitCode.NO_INPUT, "no kubeconfig for environment " + env.name()
                    + ": looked for kubeconfig-" + env.name() + " in the current directory and the repository root, and ~/.kube/config; "
                    + "run 'gfw fetch-kubeconfig " + env.name() + "' or pass --kubeconfig FILE");
        }
        if (!Files.isReadable(kubeconfig) || Files.isDirectory(kubeconfig)) {
            String why = !Files.exists(kubeconfig) ? "does not exist" : Files.isDirectory(kubeconfig) ? "is a directory" : "cannot be read (permission denied)";
            throw new GfwException(ExitCode.NO_INPUT, "kubeconfig " + kubeconfig + " (from " + source
                    + ") " + why + "; run 'gfw fetch-kubeconfig " + env.name() + "' or pass --kubeconfig FILE");
        }
        io.fabric8.kubernetes.api.model.Config parsed = parseKubeconfig(kubeconfig);
        String context = contextOption != null ? contextOption
                : inGitLabCi() ? env.cluster().ciAgentContext() : env.cluster().context();
        List<String> names = new ArrayList<>();
        NamedContext chosen = null;
        for (NamedContext c : parsed.getContexts() == null ? List.<NamedContext>of() : parsed.getContexts()) {
            names.add(c.getName());
            if (c.getName().equals(context)) chosen = c;
        }
        if (chosen == null) {
            throw new GfwException(ExitCode.NO_INPUT, "context '" + context + "' not found in kubeconfig " + kubeconfig
                    + " (contexts: " + (names.isEmpty() ? "none" : String.join(", ", names)) + "); pass --context NAME"
                    + (inGitLabCi() ? " or check the GitLab agent is shared with this project" : ""));
        }
        String server = null;
        String kubeconfigProxy = null;
        String clusterName = chosen.getContext() == null ? null : chosen.getContext().getCluster();
        if (parsed.getClusters() != null) {
            for (var c : parsed.getClusters()) {
                if (c.getName().equals(clusterName) && c.getCluster() != null) {
                    server = c.getCluster().getServer();
                    kubeconfigProxy = c.getCluster().getProxyUrl();
                }
            }
        }
        Http.Route route = route(env, proxyOption, kubeconfigProxy, server, System.getenv());
        if (holdsCredentials(parsed) && WARNED.add(kubeconfig.toAbsolutePath().normalize())) {
            SecretInput.warnIfReadableByOthers(kubeconfig, "kubeconfig " + kubeconfig + " holds a token or key and");
        }
        return new Target(kubeconfig, source, context, server, route.proxy() == null ? null : route.proxy().value(), route.describe(),
                Http.proxyHint(route.proxy(), env.cluster().jumphost(), env.file() + " cluster.jumphost"));
    }

    /** Kubeconfigs already warned about (a run may resolve twice). */
    private static final Set<Path> WARNED = ConcurrentHashMap.newKeySet();

    /** A token, a client key or a password in the file itself (not a token file or exec plugin elsewhere). */
    static boolean holdsCredentials(io.fabric8.kubernetes.api.model.Config parsed) {
        if (parsed.getUsers() == null) return false;
        for (var u : parsed.getUsers()) {
            var a = u.getUser();
            if (a == null) continue;
            if (notBlank(a.getToken()) || notBlank(a.getClientKeyData()) || notBlank(a.getPassword())) return true;
        }
        return false;
    }

    private static boolean notBlank(String s) {
        return s != null && !s.isBlank();
    }

    /** The route to the API server at {@code server}: {@link Http#route} with the environment's cluster.proxy. */
    static Http.Route route(EnvConfig.Env env, String proxyOption, String kubeconfigProxy, String server, Map<String, String> variables) {
        return Http.route(server, proxyOption, kubeconfigProxy, env.cluster().proxy(), env.file() + " cluster.proxy", variables);
    }

    /** The proxy URL {@link #route} picks, from these inputs alone (for tests of the order). */
    static String chooseProxy(EnvConfig.Env env, String proxyOption, String kubeconfigProxy, String server, String https, boolean gitlabCi) {
        var variables = new java.util.HashMap<String, String>();
        if (https != null) variables.put("HTTPS_PROXY", https);
        if (gitlabCi) variables.put("GITLAB_CI", "true");
        Http.ProxySpec p = route(env, proxyOption, kubeconfigProxy, server, variables).proxy();
        return p == null ? null : p.value();
    }

    /** kubeconfig-&lt;env&gt; in the current directory, then in the repository root, then ~/.kube/config. */
    static Path defaultKubeconfig(String envName) {
        Path here = Path.of("kubeconfig-" + envName);
        if (Files.isRegularFile(here)) return here;
        Path atRoot = environmentKubeconfig(envName);
        if (Files.isRegularFile(atRoot)) return atRoot;
        // $HOME first, as kubectl does (Java's user.home ignores it).
        String homeDir = System.getenv("HOME") != null ? System.getenv("HOME") : System.getProperty("user.home");
        Path home = Path.of(homeDir, ".kube", "config");
        return Files.isRegularFile(home) ? home : null;
    }

    /**
     * Where kubeconfig-&lt;env&gt; belongs (fetch-kubeconfig writes it there): the repository root, the
     * first directory from here up holding environments/ or .git; outside a repository, here.
     */
    static Path environmentKubeconfig(String envName) {
        Path cwd = Path.of("").toAbsolutePath();
        for (Path dir = cwd; dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("environments")) || Files.isDirectory(dir.resolve(".git"))) {
                return cwd.relativize(dir.resolve("kubeconfig-" + envName));
            }
        }
        return Path.of("kubeconfig-" + envName);
    }

    static io.fabric8.kubernetes.api.model.Config parseKubeconfig(Path file) {
        try {
            String text = SecretInput.utf8(Files.readAllBytes(file), "kubeconfig " + file);
            var cfg = Serialization.unmarshal(text, io.fabric8.kubernetes.api.model.Config.class);
            if (cfg == null) throw new IllegalArgumentException("empty file");
            return cfg;
        } catch (GfwException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new GfwException(ExitCode.NO_INPUT, "kubeconfig " + file + " cannot be read as a kubeconfig: "
                    + why(e) + "; fetch a fresh one with 'gfw fetch-kubeconfig ENV'");
        }
    }

    /** Jackson quotes the offending value ("from String \"...\""), which may be a credential: name the field instead. */
    private static String why(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof com.fasterxml.jackson.databind.JsonMappingException m && !m.getPath().isEmpty()) {
                var path = new StringBuilder();
                for (var ref : m.getPath()) {
                    if (ref.getFieldName() != null) path.append(path.length() == 0 ? "" : ".").append(ref.getFieldName());
                    else path.append('[').append(ref.getIndex()).append(']');
                }
                return path + " has a value of the wrong type";
            }
        }
        return GfwException.firstLine(e.getMessage());
    }

    /**
     * A Secret's data as text: {@code data} base64-decoded (UTF-8), {@code stringData} as is (it wins,
     * as on the server). A value that is not base64 is a {@link ExitCode#REMOTE_ERROR} naming the key
     * and {@code where} (e.g. "secret x in namespace y"), never the value. Null Secret: empty map.
     */
    static Map<String, String> secretData(io.fabric8.kubernetes.api.model.Secret s, String where) {
        var out = new java.util.LinkedHashMap<String, String>();
        if (s == null) return out;
        if (s.getData() != null) {
            for (var e : s.getData().entrySet()) {
                try {
                    out.put(e.getKey(), e.getValue() == null ? "" : new String(java.util.Base64.getDecoder().decode(e.getValue()), java.nio.charset.StandardCharsets.UTF_8));
                } catch (IllegalArgumentException ex) {
                    throw new GfwException(ExitCode.REMOTE_ERROR, where + ": key '" + e.getKey() + "' is not valid base64");
                }
            }
        }
        if (s.getStringData() != null) out.putAll(s.getStringData());
        return out;
    }

    /**
     * The kind does not exist on this cluster (its CRD is not installed): a 404, or fabric8's discovery finding no such
     * apiVersion and kind before it sends anything.
     */
    /** CustomResourceDefinitions as plain maps: a CRD's schema is large, and fabric8's typed model of it costs much CPU to build. */
    static final io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext CRD = new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
            .withGroup("apiextensions.k8s.io").withVersion("v1").withKind("CustomResourceDefinition").withPlural("customresourcedefinitions")
            .withNamespaced(false).build();

    /** Whether CRD {@code name} exists (one GET, read as a plain map, not into fabric8's typed model of its schema). */
    static boolean crdExists(KubernetesClient client, String name) {
        return client.genericKubernetesResources(CRD).withName(name).get() != null;
    }

    static boolean noSuchKind(KubernetesClientException e) {
        return e.getCode() == 404 || String.valueOf(e.getMessage()).startsWith("Could not find the metadata for the given apiVersion and kind");
    }

    /** Turns a fabric8 error into one line saying what happened and what to do. */
    static GfwException fromKubernetes(KubernetesClientException k) {
        int code = k.getCode();
        String reason = k.getStatus() != null && k.getStatus().getMessage() != null ? k.getStatus().getMessage() : GfwException.firstLine(k.getMessage());
        if (code == 401) return new GfwException(ExitCode.AUTH, "the API server rejected the credentials (401): " + reason
                + "; the kubeconfig token may have expired, fetch a new one with 'gfw fetch-kubeconfig ENV'", k);
        // A real API server takes a request without credentials as system:anonymous and forbids it (403, not 401).
        if (code == 403 && reason.contains("\"system:anonymous\"")) return new GfwException(ExitCode.AUTH, "the API server got no credentials it "
                + "accepts and treated the request as anonymous (403): " + reason + "; the kubeconfig user has no token or certificate: "
                + "fetch one with 'gfw fetch-kubeconfig ENV'", k);
        if (code == 403) return new GfwException(ExitCode.AUTH, "forbidden (403): " + reason, k);
        if (code == 404) return new GfwException(ExitCode.NOT_FOUND, "not found (404): " + reason, k);
        if (code == 409) return new GfwException(ExitCode.CONFLICT, "conflict (409): " + reason
                + "; re-run with --force-conflicts to take over the fields", k);
        if (code >= 500) return new GfwException(ExitCode.REMOTE_ERROR, "the API server failed (" + code + "): " + reason, k);
        if (code > 0) return new GfwException(ExitCode.REMOTE_ERROR, "the API server answered " + code + ": " + reason, k);
        Throwable cause = k;
        while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
        Target t = lastConnected;
        String where = t == null || t.server() == null ? "" : " at " + t.server() + " (" + t.route() + ")";
        String advice = t == null ? "check the network, VPN or proxy"
                : t.advice().isEmpty() ? "check the server address, the network or VPN" : t.advice();
        // It was reached and answered, with something that is not the Kubernetes API's JSON (an HTML login page, a
        // proxy's error page, garbage, a string over Jackson's limits): the remote side's answer is unusable, not unreachable.
        for (Throwable c = k; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof TooLarge) {
                return new GfwException(ExitCode.REMOTE_ERROR, "the API server" + where + " " + c.getMessage()
                        + ": not the answer gfw asked for; is the kubeconfig's server address the API server, not a web page or a proxy?", k);
            }
            if (c instanceof com.fasterxml.jackson.core.JsonProcessingException) {
                return new GfwException(ExitCode.REMOTE_ERROR, "the API server" + where + " answered with something that is not Kubernetes JSON ("
                        + Output.clip(GfwException.firstLine(c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage()))
                        + "); is the kubeconfig's server address the API server, not a web page or a proxy?", k);
            }
        }
        if (cause instanceof java.net.ConnectException || cause instanceof java.net.UnknownHostException || cause instanceof java.net.SocketTimeoutException
                || cause instanceof java.util.concurrent.TimeoutException || cause instanceof java.io.IOException) {
            String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : GfwException.firstLine(cause.getMessage());
            boolean slow = cause instanceof java.net.SocketTimeoutException || cause instanceof java.util.concurrent.TimeoutException || why.contains("timed out");
            return new GfwException(ExitCode.UNAVAILABLE, "cannot reach the API server" + where + ": " + why + "; " + advice
                    + (slow && t != null ? ", or raise --request-timeout (now " + Http.human(lastTimeout) + ")" : ""), k);
        }
        return new GfwException(ExitCode.UNAVAILABLE, "cannot talk to the API server" + where + ": " + GfwException.firstLine(k.getMessage()), k);
    }

    /** The target of the latest connect(): fabric8's errors do not say which server they were about. */
    private static volatile Target lastConnected;
    private static volatile java.time.Duration lastTimeout = java.time.Duration.ofSeconds(30);

    /** kubectl's default --request-timeout. */
    static final java.time.Duration DEFAULT_REQUEST_TIMEOUT = java.time.Duration.ofSeconds(30);

    /** Connects (lazily: fabric8 opens connections on the first request), waiting at most 30 s per request. */
    static KubernetesClient connect(Target target) {
        return connect(target, DEFAULT_REQUEST_TIMEOUT);
    }

    /** Connects; {@code requestTimeout} bounds each request (--request-timeout), the connection at most 10 s of it. */
    static KubernetesClient connect(Target target, java.time.Duration requestTimeout) {
        Config config;
        try {
            config = Config.fromKubeconfig(target.context(), target.kubeconfig().toFile());
        } catch (RuntimeException e) {
            throw new GfwException(ExitCode.NO_INPUT, "kubeconfig " + target.kubeconfig() + ": " + GfwException.firstLine(e.getMessage()));
        }
        // The proxy is gfw's choice alone (resolve() already weighed the kubeconfig's proxy-url): none
        // means none, even when fabric8 read a proxy-url. fabric8's clients speak SOCKS5 for socks5://
        // (socks5h:// is the same to them: the proxy resolves).
        String proxy = target.proxy() == null ? null : target.proxy().replaceFirst("^socks5h://", "socks5://");
        config.setHttpsProxy(proxy);
        config.setHttpProxy(proxy);
        // Fail fast and clearly rather than hang: a few retries with back-off, then an error.
        int ms = (int) Math.min(Integer.MAX_VALUE, requestTimeout.toMillis());
        config.setConnectionTimeout(Math.min(10_000, ms));
        config.setRequestTimeout(ms);
        // Connection attempts (a server that accepts and never answers fails each after the connect
        // timeout) stay within --request-timeout: 10 s each, at most 4.
        config.setRequestRetryBackoffLimit(Math.max(0, Math.min(3, ms / Math.min(10_000, ms) - 1)));
        config.setRequestRetryBackoffInterval(250);
        lastConnected = target;
        lastTimeout = requestTimeout;
        Vertx vertx = newVertx();
        KubernetesClient client;
        var waitNotice = new WaitNotice("the API server at " + target.server() + " (" + target.route() + "), at most "
                + Http.human(requestTimeout) + " per request (--request-timeout)");
        try {
            client = new KubernetesClientBuilder().withConfig(config).withHttpClientFactory(new VertxHttpClientFactory(vertx))
                    .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("gfw-wait-notice", waitNotice)
                            .addOrReplaceInterceptor("gfw-answer-limit", new AnswerLimit(Http.MAX_ANSWER))).build();
        } catch (RuntimeException | Error e) {
            vertx.close();
            throw e;
        }
        // fabric8 leaves a Vert.x it was given open: close it with the client (closables run after the HTTP client).
        AutoCloseable closer = () -> {
            waitNotice.cancelAll();
            closeVertx(vertx);
        };
        OPEN_VERTX.put(vertx, closer); // fabric8 holds closables weakly
        if (client instanceof BaseClient base) base.addToCloseable(closer);
        return client;
    }

    /** An answer of the API server over {@link Http#MAX_ANSWER}: it was reached and said too much (79, not 69). */
    static final class TooLarge extends java.io.IOException {
        TooLarge(long max) {
            super("answered with more than " + (max / (1024 * 1024)) + " MiB");
        }
    }

    /**
     * Bounds each answer's body as gfw's own client does ({@link Http#MAX_ANSWER}): fabric8 7.9 reads an answer whole
     * (OperationSupport.handleResponse sends for byte[]) and then parses a body that is not a JSON object as YAML, which
     * takes minutes for 17 MiB. Each chunk passes through the consumer this interceptor wraps
     * (StandardHttpClient.consumeBytesOnce); throwing there makes Vert.x reset the stream and fail the body
     * (VertxHttpRequest.consumeBytes: {@code resp.request().reset(); result.done().completeExceptionally(e)}); the body's
     * future is failed with {@link TooLarge} before that, so the request ends with it, before anything is parsed. Watches ({@code watch=true}) and pod logs stream on
     * purpose, as long as they like: not bounded.
     */
    static final class AnswerLimit implements io.fabric8.kubernetes.client.http.Interceptor {
        private final long max;

        AnswerLimit(long max) {
            this.max = max;
        }

        static boolean streams(io.fabric8.kubernetes.client.http.HttpRequest request) {
            URI uri = request.uri();
            String query = uri.getRawQuery() == null ? "" : "&" + uri.getRawQuery() + "&";
            return query.contains("&watch=true&") || query.contains("&watch=1&") || uri.getRawPath().endsWith("/log");
        }

        @Override
        public io.fabric8.kubernetes.client.http.AsyncBody.Consumer<List<java.nio.ByteBuffer>> consumer(
                io.fabric8.kubernetes.client.http.AsyncBody.Consumer<List<java.nio.ByteBuffer>> consumer, io.fabric8.kubernetes.client.http.HttpRequest request) {
            if (streams(request)) return consumer;
            var read = new java.util.concurrent.atomic.AtomicLong();
            return new io.fabric8.kubernetes.client.http.AsyncBody.Consumer<>() {
                @Override
                public void consume(List<java.nio.ByteBuffer> value, io.fabric8.kubernetes.client.http.AsyncBody body) throws Exception {
                    long n = 0;
                    for (var b : value) n += b.remaining();
                    if (read.addAndGet(n) > max) {
                        // The body fails with TooLarge first: the reset that follows the throw would fail it with
                        // Vert.x's "Stream reset" (its exception handler runs within reset()), saying nothing.
                        var tooLarge = new TooLarge(max);
                        body.done().completeExceptionally(tooLarge);
                        throw tooLarge;
                    }
                    consumer.consume(value, body);
                }

                /** As fabric8's HttpLoggingInterceptor wraps a consumer: what it wraps stays reachable. */
                @Override
                public <U> U unwrap(Class<U> target) {
                    U self = io.fabric8.kubernetes.client.http.AsyncBody.Consumer.super.unwrap(target);
                    return self != null ? self : consumer.unwrap(target);
                }
            };
        }
    }

    /** Says on stderr what a request waits for once it takes longer than ~2 s ({@link Http#waitNotice}). */
    private static final class WaitNotice implements io.fabric8.kubernetes.client.http.Interceptor {
        private final String what;
        private final Map<java.util.UUID, AutoCloseable> pending = new ConcurrentHashMap<>();

        WaitNotice(String what) {
            this.what = what;
        }

        /**
         * The clock starts here, not in {@code before}: fabric8 7.4's StandardHttpClient consumeBytesOnce rebuilds the
         * request (a new id) after each interceptor's {@code before}, and hands the request it really sends only to
         * {@code consumer}, {@code after} and the failure callbacks. Keyed by the id {@code before} saw, no wait ever
         * ended, and each fired while gfw already waited for something else (a stalled GitLab). Watches (web sockets)
         * do not come here: they wait on purpose.
         */
        @Override
        public io.fabric8.kubernetes.client.http.AsyncBody.Consumer<List<java.nio.ByteBuffer>> consumer(
                io.fabric8.kubernetes.client.http.AsyncBody.Consumer<List<java.nio.ByteBuffer>> consumer, io.fabric8.kubernetes.client.http.HttpRequest request) {
            AutoCloseable earlier = pending.put(request.id(), Http.waitNotice(what));
            if (earlier != null) Http.closeQuietly(earlier);
            return consumer;
        }

        @Override
        public void after(io.fabric8.kubernetes.client.http.HttpRequest request, io.fabric8.kubernetes.client.http.HttpResponse<?> response,
                          io.fabric8.kubernetes.client.http.AsyncBody.Consumer<List<java.nio.ByteBuffer>> consumer) {
            done(request);
        }

        @Override
        public void afterConnectionFailure(io.fabric8.kubernetes.client.http.HttpRequest request, Throwable failure) {
            done(request);
        }

        /**
         * An answer that is not 2xx (a 404 of a GET that finds nothing, a 409): fabric8 7.4's StandardHttpClient
         * consumeBytesOnce calls {@code after} only when an interceptor's afterFailure asks for a retry, so the wait ends
         * here; otherwise its notice would fire seconds later, while gfw waits for something else (GitLab).
         */
        @Override
        public CompletableFuture<Boolean> afterFailure(io.fabric8.kubernetes.client.http.HttpRequest.Builder builder,
                                                       io.fabric8.kubernetes.client.http.HttpResponse<?> response, RequestTags tags) {
            done(response == null ? null : response.request());
            return CompletableFuture.completedFuture(false);
        }

        private void done(io.fabric8.kubernetes.client.http.HttpRequest request) {
            AutoCloseable c = request == null ? null : pending.remove(request.id());
            if (c != null) Http.closeQuietly(c);
        }

        /** fabric8 calls no interceptor when a request finally fails: the client's close ends every wait. */
        void cancelAll() {
            for (var id : List.copyOf(pending.keySet())) {
                AutoCloseable c = pending.remove(id);
                if (c != null) Http.closeQuietly(c);
            }
        }
    }

    // ---- Vert.x lifecycle: a fast exit ----------------------------------------------------------
    // fabric8 closes the Vert.x it creates without waiting, so at exit its event-loop thread is still
    // blocked in epoll, and HotSpot's exit waits up to 300 ms for threads in native code: ~40% of a
    // cached `gfw version ENV` (see bench/README.md). So each client gets a Vert.x made here, with the
    // options fabric8 uses, closed with the client; a shutdown hook waits (at most 1 s) for those closes.

    private static final Map<Vertx, AutoCloseable> OPEN_VERTX = new ConcurrentHashMap<>();
    private static final Set<CompletableFuture<Void>> CLOSING_VERTX = ConcurrentHashMap.newKeySet();

    /** A Vert.x as fabric8's VertxHttpClientBuilder creates it (JDK DNS resolver, no file caching, daemon threads). */
    private static Vertx newVertx() {
        registerExitWait();
        String key = "vertx.disableDnsResolver";
        String before = System.getProperty(key);
        System.setProperty(key, "true");
        try {
            return Vertx.vertx(new VertxOptions()
                    .setFileSystemOptions(new FileSystemOptions().setFileCachingEnabled(false).setClassPathResolvingEnabled(false))
                    .setUseDaemonThread(true));
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }

    private static void closeVertx(Vertx vertx) {
        if (OPEN_VERTX.remove(vertx) == null) return;
        CompletableFuture<Void> closing = vertx.close().toCompletionStage().toCompletableFuture();
        CLOSING_VERTX.add(closing);
        closing.whenComplete((v, e) -> CLOSING_VERTX.remove(closing));
    }

    private static boolean exitWaitRegistered;

    private static synchronized void registerExitWait() {
        if (exitWaitRegistered) return;
        exitWaitRegistered = true;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Vertx v : List.copyOf(OPEN_VERTX.keySet())) closeVertx(v); // clients nobody closed
            try {
                CompletableFuture.allOf(CLOSING_VERTX.toArray(CompletableFuture[]::new)).get(1, TimeUnit.SECONDS);
            } catch (Exception e) {
                // exit anyway: a slow close only costs time
            }
        }, "gfw-vertx-close"));
    }


    // ---- port-forwards -----------------------------------------------------------------------------

    /**
     * Runs {@code use} with the host and port of a port-forward to {@code pod}'s {@code port} through the API server
     * (the kubeconfig's route, a SOCKS proxy included), bound to loopback on a free port — fabric8's portForward(port)
     * alone listens on every interface — and closes it afterwards. A forward that cannot be opened is UNAVAILABLE,
     * naming the pod.
     */
    static <T> T throughPortForward(KubernetesClient client, Pod pod, int port, java.util.function.BiFunction<String, Integer, T> use) {
        String ns = pod.getMetadata().getNamespace();
        String name = pod.getMetadata().getName();
        java.net.InetAddress loopback = java.net.InetAddress.getLoopbackAddress();
        try (LocalPortForward forward = client.pods().inNamespace(ns).withName(name).portForward(port, loopback, 0)) {
            return use.apply(loopback.getHostAddress(), forward.getLocalPort());
        } catch (IOException e) {
            throw new GfwException(ExitCode.UNAVAILABLE, "port-forward to pod " + name + " -n " + ns + " failed: " + e.getMessage());
        }
    }

    /** The number of {@code pod}'s container port named {@code name}, else {@code fallback}. */
    static int containerPort(Pod pod, String name, int fallback) {
        if (pod.getSpec() != null && pod.getSpec().getContainers() != null) {
            for (var c : pod.getSpec().getContainers()) {
                if (c.getPorts() == null) continue;
                for (var p : c.getPorts()) if (name.equals(p.getName()) && p.getContainerPort() != null) return p.getContainerPort();
            }
        }
        return fallback;
    }

    private KubeClients() {}
}
