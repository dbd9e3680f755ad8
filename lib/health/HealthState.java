// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../cache/AtticTokens.java
//SOURCES ../cache/CacheObjects.java
//SOURCES ../dashboard/DashboardObjects.java
//SOURCES ../namespaces/NamespaceLayout.java
//SOURCES ../kube/ListWatches.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * What health reads from the API server, each source once: one LIST per kind and namespace (however many
 * pods there are), the namespaces first (they also tell whether the server answers at all), the rest at
 * once, 8 at a time; and the HTTP checks of Attic and the dashboard through port-forwards to a ready pod
 * of each (as {@code kubectl port-forward} reaches them). A read that fails keeps its reason, so
 * that the checks built on it say {@code unknown} with that reason instead of guessing.
 */
final class HealthState {

    /** The CNPG Cluster type named in full, so that fabric8 need not ask the discovery API for its plural (one request less). */
    static final io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext CNPG_CLUSTER = new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
            .withGroup("postgresql.cnpg.io").withVersion("v1").withKind("Cluster").withPlural("clusters").withNamespaced(true).build();
    /** The Barman Cloud plugin's ObjectStore, which holds the last backup's time when backups go through the plugin. */
    static final io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext BARMAN_OBJECT_STORE = new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
            .withGroup("barmancloud.cnpg.io").withVersion("v1").withKind("ObjectStore").withPlural("objectstores").withNamespaced(true).build();
    /** The label the CloudNativePG chart puts on the operator's Deployment and pods. */
    static final String CNPG_OPERATOR_LABEL = "app.kubernetes.io/name";
    static final String CNPG_OPERATOR_NAME = "cloudnative-pg";

    /** A LIST: its items, or why they could not be read ({@code code}: the HTTP status, 0 without one). */
    record Read<T>(List<T> items, String error, int code, String source) {
        boolean ok() {
            return error == null;
        }
    }

    /** A GET through a port-forward: status and body, or why no answer came. */
    record HttpRead(int status, String body, String error, String source) {
        boolean answered() {
            return error == null;
        }
    }

    final EnvConfig.Env env;
    final Read<Namespace> namespaces;
    private final Map<String, CompletableFuture<?>> reads = new LinkedHashMap<>();

    /** A read started earlier, by its key: it holds the type it was started with. */
    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<Read<T>> started(String key) {
        return (CompletableFuture<Read<T>>) reads.get(key);
    }

    private HealthState(EnvConfig.Env env, Read<Namespace> namespaces) {
        this.env = env;
        this.namespaces = namespaces;
    }

    /**
     * Reads what the checks of {@code components} need. An API server that cannot be reached, or that
     * rejects the credentials, stops here (exit 69, 77): there is nothing to report then.
     */
    static HealthState read(KubernetesClient client, EnvConfig.Env env, Set<String> components, Duration requestTimeout, Http.Client attic) {
        return read(client, env, components, requestTimeout, attic, null);
    }

    /**
     * As above, with every LIST through {@code lists} (null: straight to the API server): health --wait keeps them
     * current with watches between its rounds (lib/kube/ListWatches), so a round after the first costs no LIST.
     */
    static HealthState read(KubernetesClient client, EnvConfig.Env env, Set<String> components, Duration requestTimeout, Http.Client attic,
                            ListWatches lists) {
        Read<Namespace> namespaces;
        try {
            namespaces = new Read<>(lists == null ? client.namespaces().list().getItems() : lists.list("namespaces", client.namespaces()), null, 200, "namespaces");
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            if (g.exitCode() == ExitCode.UNAVAILABLE || e.getCode() == 401) throw g;
            namespaces = new Read<>(List.of(), g.getMessage(), e.getCode(), "namespaces");
        }
        var state = new HealthState(env, namespaces);
        ExecutorService pool = Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "health-read");
            t.setDaemon(true);
            return t;
        });
        try {
            state.start(client, components, requestTimeout, attic, pool, lists);
            for (CompletableFuture<?> f : state.reads.values()) f.join();
        } finally {
            pool.shutdownNow();
        }
        return state;
    }

    @SuppressWarnings("unchecked")
    /** A LIST of {@code op}: through {@code lists} when given (source {@code key}), else straight to the API server. */
    private static <T extends HasMetadata> List<T> listed(ListWatches lists, String key,
            io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable<T, ? extends io.fabric8.kubernetes.api.model.KubernetesResourceList<T>, ?> op) {
        return lists == null ? op.list().getItems() : lists.list(key, op);
    }

    private static <T extends HasMetadata> List<HasMetadata> layoutList(KubernetesClient client, ListWatches lists, Class<T> kind, Map<String, String> selector) {
        return new java.util.ArrayList<>(listed(lists, "layout/" + kind.getSimpleName(), client.resources(kind).inAnyNamespace().withLabels(selector)));
    }

    private void start(KubernetesClient client, Set<String> components, Duration requestTimeout, Http.Client atticHttp, ExecutorService pool,
                       ListWatches lists) {
        String attic = env.namespaces().attic().name();
        String runners = env.namespaces().runners().name();
        String dashboard = env.namespaces().dashboard().name();
        if (components.contains("namespaces")) {
            Map<String, String> selector = NamespaceLayout.selector(env);
            for (Class<? extends HasMetadata> kind : NamespaceLayout.NAMESPACED_KINDS) {
                String plural = HasMetadata.getPlural(kind);
                list(pool, "layout/" + kind.getSimpleName(), plural + " -l " + NamespaceLayout.OWNER_LABEL + "=" + NamespaceLayout.OWNER + " (all namespaces)",
                        () -> layoutList(client, lists, kind, selector));
            }
        }
        if (components.contains("database") || components.contains("cache")) {
            list(pool, "pods/" + attic, "pods -n " + attic, () -> listed(lists, "pods/" + attic, client.pods().inNamespace(attic)));
        }
        if (components.contains("database")) {
            list(pool, "clusters/" + attic, "clusters.postgresql.cnpg.io -n " + attic,
                    () -> listed(lists, "clusters/" + attic, client.genericKubernetesResources(CNPG_CLUSTER).inNamespace(attic)));
            // The plugin's ObjectStores, only once a Cluster is read that names the Barman Cloud plugin (no request otherwise).
            CompletableFuture<Read<GenericKubernetesResource>> clusters = this.<GenericKubernetesResource>started("clusters/" + attic);
            String storesSource = "objectstores.barmancloud.cnpg.io -n " + attic;
            reads.put("objectstores/" + attic, clusters.thenApplyAsync(c -> c.items().stream().noneMatch(HealthState::usesBarmanPlugin)
                    ? new Read<GenericKubernetesResource>(List.of(), null, 200, storesSource)
                    : readNow(storesSource, () -> listed(lists, "objectstores/" + attic, client.genericKubernetesResources(BARMAN_OBJECT_STORE).inNamespace(attic))), pool));
            String operator = env.cnpg().operatorNamespace();
            list(pool, "deployments/" + operator, "deployments -n " + operator + " -l " + CNPG_OPERATOR_LABEL + "=" + CNPG_OPERATOR_NAME,
                    () -> listed(lists, "deployments/" + operator, client.apps().deployments().inNamespace(operator).withLabel(CNPG_OPERATOR_LABEL, CNPG_OPERATOR_NAME)));
        }
        if (components.contains("cache")) {
            list(pool, "deployments/" + attic, "deployments -n " + attic, () -> listed(lists, "deployments/" + attic, client.apps().deployments().inNamespace(attic)));
            // Attic is asked through port-forwards to a ready pod, once the pods are read: what a user's own
            // port-forward reaches, through the SOCKS proxy as from CI, on clusters whose API server cannot reach
            // pod IPs (its service proxy would fail there) and with the Authorization header kept (the service
            // proxy drops it).
            CompletableFuture<Read<Pod>> pods = this.<Pod>started("pods/" + attic);
            reads.put("http/attic", pods.thenApplyAsync(p -> podGet(client, attic, p, CacheObjects.selector("server"), "Attic",
                    env.attic().targetPort(), CacheObjects.PROBE_PATH, requestTimeout), pool));
            reads.put("http/attic-cache", pods.thenApplyAsync(p -> cacheConfig(client, p, atticHttp), pool));
        }
        if (components.contains("runners")) {
            list(pool, "pods/" + runners, "pods -n " + runners, () -> listed(lists, "pods/" + runners, client.pods().inNamespace(runners)));
            list(pool, "hpa/" + runners, "horizontalpodautoscalers.v2.autoscaling -n " + runners,
                    () -> listed(lists, "hpa/" + runners, client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(runners)));
            list(pool, "quota/" + runners, "resourcequotas -n " + runners, () -> listed(lists, "quota/" + runners, client.resourceQuotas().inNamespace(runners)));
            list(pool, "pdb/" + runners, "poddisruptionbudgets -n " + runners,
                    () -> listed(lists, "pdb/" + runners, client.policy().v1().podDisruptionBudget().inNamespace(runners)));
            // Helm's release records and the runner token Secrets: one LIST of the namespace's Secrets (values never shown).
            list(pool, "secrets/" + runners, "secrets -n " + runners, () -> listed(lists, "secrets/" + runners, client.secrets().inNamespace(runners)));
        }
        if (components.contains("dashboard")) {
            list(pool, "deployments/" + dashboard, "deployments -n " + dashboard,
                    () -> listed(lists, "deployments/" + dashboard, client.apps().deployments().inNamespace(dashboard)));
            list(pool, "pods/" + dashboard, "pods -n " + dashboard, () -> listed(lists, "pods/" + dashboard, client.pods().inNamespace(dashboard)));
            CompletableFuture<Read<Pod>> pods = this.<Pod>started("pods/" + dashboard);
            for (String[] read : new String[][] {{"http/dashboard", "/api/health"}, {"http/dashboard-k8s", "/api/k8s/hpa"}}) {
                reads.put(read[0], pods.thenApplyAsync(p -> podGet(client, dashboard, p, DashboardObjects.selector(), "dashboard",
                        env.dashboard().port(), read[1], requestTimeout), pool));
            }
        }
    }

    /** The dashboard's Deployment and Service (deploy-dashboard creates them under this name). */
    static final String DASHBOARD = "runner-dashboard";

    private <T> void list(ExecutorService pool, String key, String source, Supplier<List<T>> call) {
        if (reads.containsKey(key)) return; // one LIST per kind and namespace, even when two components share it
        reads.put(key, CompletableFuture.supplyAsync(() -> readNow(source, call), pool));
    }

    private static <T> Read<T> readNow(String source, Supplier<List<T>> call) {
        try {
            return new Read<>(call.get(), null, 200, source);
        } catch (KubernetesClientException e) {
            return new Read<T>(List.of(), KubeClients.fromKubernetes(e).getMessage(), e.getCode(), source);
        } catch (RuntimeException e) {
            return new Read<T>(List.of(), GfwException.firstLine(String.valueOf(e)), 0, source);
        }
    }

    /** A Cluster whose {@code spec.plugins} names the Barman Cloud plugin. */
    private static boolean usesBarmanPlugin(GenericKubernetesResource cluster) {
        return cluster.getAdditionalProperties().get("spec") instanceof Map<?, ?> spec && spec.get("plugins") instanceof List<?> plugins
                && plugins.stream().anyMatch(p -> p instanceof Map<?, ?> m && CacheObjects.BARMAN_PLUGIN.equals(m.get("name")));
    }

    /** A ready pod of {@code pods} with the labels of {@code selector}, or null. */
    private static Pod readyPod(Read<Pod> pods, Map<String, String> selector) {
        return pods.items().stream().filter(p -> p.getMetadata().getLabels() != null && p.getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
                .filter(p -> p.getMetadata().getDeletionTimestamp() == null && p.getStatus() != null && p.getStatus().getConditions() != null
                        && p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus())))
                .findFirst().orElse(null);
    }

    /** {@code GET path} without credentials through a port-forward to port {@code port} of a ready pod of {@code selector}. */
    private static HttpRead podGet(KubernetesClient client, String ns, Read<Pod> pods, Map<String, String> selector, String what, int port, String path,
            Duration timeout) {
        if (!pods.ok()) return new HttpRead(0, "", "could not read the " + what + " pods to reach it through: " + pods.error(), pods.source());
        Pod pod = readyPod(pods, selector);
        if (pod == null) return new HttpRead(0, "", "no ready " + what + " pod to ask through a port-forward", pods.source());
        String source = "GET " + path + " through a port-forward to pod " + pod.getMetadata().getName();
        var loopback = java.net.InetAddress.getLoopbackAddress();
        try (var forward = client.pods().inNamespace(ns).withName(pod.getMetadata().getName()).portForward(port, loopback, 0)) {
            try {
                var http = java.net.http.HttpClient.newBuilder().connectTimeout(timeout).proxy(java.net.ProxySelector.of(null)).build();
                var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + loopback.getHostAddress() + ":" + forward.getLocalPort() + path))
                        .timeout(timeout).build();
                // The whole exchange is bounded, not each read: a server that trickles its answer still ends within the timeout.
                var r = http.sendAsync(request, java.net.http.HttpResponse.BodyHandlers.ofString())
                        .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
                return new HttpRead(r.statusCode(), r.body() == null ? "" : r.body(), null, source);
            } catch (ExecutionException | RuntimeException e) {
                String refused = refused(forward, pod);
                if (refused != null) return new HttpRead(0, "", refused, source);
                throw e;
            }
        } catch (TimeoutException e) {
            return new HttpRead(0, "", "no answer within " + timeout.toSeconds() + " s (--request-timeout)", source);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            return new HttpRead(0, "", "port-forward to pod " + pod.getMetadata().getName() + ": "
                    + GfwException.firstLine(c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage()), source);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new HttpRead(0, "", "interrupted", source);
        } catch (java.io.IOException | RuntimeException e) {
            return new HttpRead(0, "", "port-forward to pod " + pod.getMetadata().getName() + " failed: " + GfwException.firstLine(String.valueOf(e.getMessage())), source);
        }
    }

    /**
     * Why the API server did not open the port-forward, when that is why no answer came (null otherwise): it refused the
     * upgrade (fabric8's PortForwarderWebsocket.forward hands the failed handshake to PortForwarderWebsocketListener.onError,
     * which records it as a server throwable before it closes the local connection). The component was not asked, so
     * its check is unknown with this reason. An HTTP status that does come back was sent by the pod through the tunnel:
     * the component's own answer.
     */
    static String refused(io.fabric8.kubernetes.client.LocalPortForward forward, Pod pod) {
        for (Throwable t : forward.getServerThrowables()) {
            String to = " to the port-forward to pod " + pod.getMetadata().getName() + ": the component was not asked";
            for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
                if (c instanceof io.fabric8.kubernetes.client.http.WebSocketHandshakeException h) {
                    int code = h.getResponse() == null ? 0 : h.getResponse().code();
                    return "the API server answered " + (code == 0 ? "no upgrade" : String.valueOf(code)) + to;
                }
                if (c instanceof KubernetesClientException k && k.getCode() > 0) {
                    return "the API server answered " + k.getCode() + to + " (" + KubeClients.fromKubernetes(k).getMessage() + ")";
                }
            }
            return "the API server did not open the port-forward to pod " + pod.getMetadata().getName() + ": "
                    + GfwException.firstLine(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
        }
        return null;
    }

    /**
     * {@code GET /_api/v1/cache-config/<cache>} with a pull-only token for that cache, valid for minutes, signed with
     * the key of Secret attic-jwt-signing (read, never shown), through a port-forward to a ready Attic pod.
     */
    private HttpRead cacheConfig(KubernetesClient client, Read<Pod> pods, Http.Client http) {
        String ns = env.namespaces().attic().name();
        String path = "/_api/v1/cache-config/" + env.attic().cache();
        if (!pods.ok()) return new HttpRead(0, "", "could not read the Attic pods to reach it through: " + pods.error(), pods.source());
        Pod pod = readyPod(pods, CacheObjects.selector("server"));
        if (pod == null) return new HttpRead(0, "", "no ready Attic pod to ask through a port-forward", pods.source());
        String source = "GET " + path + " through a port-forward to pod " + pod.getMetadata().getName();
        String key;
        try {
            key = AtticTokens.readSigningKey(client, ns);
        } catch (GfwException e) {
            return new HttpRead(0, "", "no token to ask with: " + e.getMessage(), "secret " + AtticTokens.SIGNING_SECRET + " -n " + ns);
        } catch (KubernetesClientException e) {
            return new HttpRead(0, "", "no token to ask with: " + KubeClients.fromKubernetes(e).getMessage(), "secret " + AtticTokens.SIGNING_SECRET + " -n " + ns);
        }
        String token = AtticTokens.mint(key, "gfw-health", java.time.Instant.now(), AtticTokens.CALL_VALIDITY, Map.of(env.attic().cache(), List.of("r")));
        var loopback = java.net.InetAddress.getLoopbackAddress();
        try (var forward = client.pods().inNamespace(ns).withName(pod.getMetadata().getName()).portForward(env.attic().targetPort(), loopback, 0)) {
            try {
                Http.Response r = http.bearer(token).get("http://" + loopback.getHostAddress() + ":" + forward.getLocalPort() + path);
                return new HttpRead(r.status(), r.body(), null, source);
            } catch (RuntimeException e) {
                String refused = refused(forward, pod);
                if (refused != null) return new HttpRead(0, "", refused, source);
                throw e;
            }
        } catch (GfwException e) {
            return new HttpRead(0, "", e.getMessage(), source);
        } catch (java.io.IOException | RuntimeException e) {
            return new HttpRead(0, "", "port-forward to pod " + pod.getMetadata().getName() + " failed: " + GfwException.firstLine(String.valueOf(e.getMessage())), source);
        }
    }

    @SuppressWarnings("unchecked")
    private <T> Read<T> get(String key) {
        CompletableFuture<?> f = reads.get(key);
        if (f == null) throw new IllegalStateException("health read " + key + " was not started");
        return (Read<T>) f.join();
    }

    Read<HasMetadata> layout(Class<? extends HasMetadata> kind) {
        return get("layout/" + kind.getSimpleName());
    }

    Read<Pod> pods(String ns) {
        return get("pods/" + ns);
    }

    Read<Deployment> deployments(String ns) {
        return get("deployments/" + ns);
    }

    Read<GenericKubernetesResource> clusters(String ns) {
        return get("clusters/" + ns);
    }

    /** The Barman Cloud ObjectStores of the namespace (read only when a Cluster there names the plugin). */
    Read<GenericKubernetesResource> objectStores(String ns) {
        return get("objectstores/" + ns);
    }

    Read<HorizontalPodAutoscaler> hpas(String ns) {
        return get("hpa/" + ns);
    }

    Read<io.fabric8.kubernetes.api.model.ResourceQuota> quotas(String ns) {
        return get("quota/" + ns);
    }

    Read<PodDisruptionBudget> pdbs(String ns) {
        return get("pdb/" + ns);
    }

    Read<Secret> secrets(String ns) {
        return get("secrets/" + ns);
    }

    HttpRead http(String key) {
        return (HttpRead) reads.get("http/" + key).join();
    }
}
