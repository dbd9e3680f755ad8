// What this file needs:
//SOURCES HttpStandIn.java

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The runner dashboard (GloriousFlywheel app at 0e2a69c) as its server answers the two routes health asks, reading the
 * cluster the way the real pod would with its ServiceAccount, against the test API server (which enforces no RBAC, so
 * the stand-in applies the Role rules as kube-apiserver's RBAC authorizer would):
 * <ul>
 * <li>{@code GET /api/health}: always 200 {@code {"status":"ok",...}} (app/src/routes/api/health/+server.ts), whatever
 * the app can read;</li>
 * <li>{@code GET /api/k8s/hpa} (app/src/routes/api/k8s/hpa/+server.ts): {@code K8sClient.isAvailable()}
 * (app/src/lib/server/k8s/client.ts) GETs {@code /api/v1/namespaces/<K8S_NAMESPACE>} (default "gitlab-runners") and
 * caches the answer for the life of the process (the module-level {@code k8sClient}: a false is never retried); when
 * not available the route answers {@code {"available": false, "hpas": MOCK_HPA_STATUS}}, built-in mock data. Else it lists
 * autoscaling/v2 HPAs in each of {@code K8S_RUNNER_NAMESPACES} (default "gitlab-runners,arc-runners";
 * {@code Promise.allSettled}: a namespace it may not list is silently left out) and answers
 * {@code {"available": true, "hpas": [...]}} (ARC's autoscalingrunnersets are left out here: errors are swallowed too).</li>
 * </ul>
 * The variables come from the pod template of Deployment {@code runner-dashboard} in its namespace ({@code env} and
 * {@code envFrom} ConfigMaps, as the kubelet would set them), read when the "process" starts: {@link #start}, or (unless
 * made without autoStart) by itself once Deployment runner-dashboard has a ready replica; {@link #restart} starts it again, as a new pod. The identity is
 * {@code system:serviceaccount:<ns>:<serviceAccountName>}: what it may read is asked of the real API server's RBAC
 * authorizer (SubjectAccessReview) when the "process" starts, and the HPAs are listed then too; a request is answered
 * from that. Other paths answer 404; {@link #answer} overrides a path.
 */
final class DashboardAppStandIn implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    /** The first two entries of MOCK_HPA_STATUS (app/src/lib/mocks/metrics.ts), what the route answers when the cluster is not available. */
    static final List<Map<String, Object>> MOCK_HPA_STATUS = List.of(
            mock("runner-docker", "docker", 2, 5, 45, 35, List.of(Map.of("type", "AbleToScale", "status", "True", "reason", "ReadyForNewScale",
                    "message", "recommended size matches current size"))),
            mock("runner-dind", "dind", 1, 3, 25, 40, List.of()));

    private static Map<String, Object> mock(String name, String type, int replicas, int max, int cpu, int memory, List<Map<String, String>> conditions) {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", name);
        m.put("runner_type", type);
        m.put("current_replicas", replicas);
        m.put("desired_replicas", replicas);
        m.put("min_replicas", 1);
        m.put("max_replicas", max);
        m.put("cpu_current", cpu);
        m.put("cpu_target", 70);
        m.put("memory_current", memory);
        m.put("memory_target", 80);
        m.put("conditions", conditions);
        return m;
    }

    private final KubernetesClient kube;
    private final String namespace;
    private final HttpServer server;
    final List<String> requests = new CopyOnWriteArrayList<>();
    final Map<String, HttpStandIn.Answer> answers = new ConcurrentHashMap<>();
    private volatile Boolean available;
    private volatile Map<String, String> env;
    /** The HPAs of the runner namespaces the ServiceAccount may list, read at start; null before. */
    private volatile List<Map<String, Object>> hpas;
    private final Thread starter;
    /** While true the "pod" is not looked for (its polls would be in a test's request log). */
    volatile boolean paused;
    private volatile boolean closed;

    /** Starts by itself once its Deployment has a ready replica. */
    DashboardAppStandIn(KubernetesClient kube, String namespace) {
        this(kube, namespace, true);
    }

    /** {@code autoStart} false: only {@link #start} starts it (a test that counts the API server's requests). */
    DashboardAppStandIn(KubernetesClient kube, String namespace, boolean autoStart) {
        this.kube = kube;
        this.namespace = namespace;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.createContext("/", x -> {
            String path = x.getRequestURI().getPath();
            requests.add(x.getRequestMethod() + " " + path);
            HttpStandIn.Answer a = answers.get(path);
            if (a == null) a = route(path);
            byte[] b = a.body().getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", a.contentType());
            x.sendResponseHeaders(a.status(), b.length == 0 ? -1 : b.length);
            if (b.length > 0) x.getResponseBody().write(b);
            x.close();
        });
        server.start();
        starter = new Thread(() -> {
            while (!closed) {
                if (hpas == null && !paused) {
                    try {
                        Deployment d = kube.apps().deployments().inNamespace(namespace).withName("runner-dashboard").get();
                        if (d != null && d.getStatus() != null && d.getStatus().getReadyReplicas() != null && d.getStatus().getReadyReplicas() > 0) start();
                    } catch (RuntimeException e) {
                        // not there yet
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "dashboard-app-stand-in");
        starter.setDaemon(true);
        if (autoStart) starter.start();
    }

    DashboardAppStandIn answer(String path, int status, String contentType, String body) {
        answers.put(path, new HttpStandIn.Answer(status, contentType, body));
        return this;
    }

    /** A new pod: the variables are read again and the availability asked again. */
    synchronized void restart() {
        env = null;
        available = null;
        hpas = null;
        start();
    }

    /** The process starts: its variables, what the API server would let its ServiceAccount do, and the HPAs it lists. */
    synchronized DashboardAppStandIn start() {
        if (hpas != null) return this;
        Map<String, String> e = env();
        String ns = e.getOrDefault("K8S_NAMESPACE", "gitlab-runners");
        // isAvailable(): GET /api/v1/namespaces/<ns>; ok only when the namespace exists and the ServiceAccount may get it.
        available = allowed("get", "", "namespaces", ns, ns) && kube.namespaces().withName(ns).get() != null;
        var out = new ArrayList<Map<String, Object>>();
        for (String rns : Arrays.stream(e.getOrDefault("K8S_RUNNER_NAMESPACES", "gitlab-runners,arc-runners").split(",")).map(String::trim)
                .filter(x -> !x.isEmpty()).toList()) {
            if (!allowed("list", "autoscaling", "horizontalpodautoscalers", rns, null)) continue; // allSettled: a 403 is left out
            for (HorizontalPodAutoscaler h : kube.autoscaling().v2().horizontalPodAutoscalers().inNamespace(rns).list().getItems()) out.add(hpaStatus(h, rns));
        }
        hpas = out;
        return this;
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private HttpStandIn.Answer route(String path) {
        try {
            if (path.equals("/api/health")) {
                return json(Map.of("status", "ok", "version", "0.1.0", "timestamp", Instant.now().toString()));
            }
            if (path.equals("/api/k8s/hpa")) return hpa();
            return new HttpStandIn.Answer(404, "text/plain", "Not found\n");
        } catch (RuntimeException e) {
            return new HttpStandIn.Answer(500, "text/plain", String.valueOf(e) + "\n");
        }
    }

    private HttpStandIn.Answer hpa() {
        if (hpas == null) return new HttpStandIn.Answer(503, "text/plain", "the app has not started\n");
        if (!available) {
            var body = new LinkedHashMap<String, Object>();
            body.put("available", false);
            body.put("hpas", MOCK_HPA_STATUS);
            return json(body);
        }
        var body = new LinkedHashMap<String, Object>();
        body.put("available", true);
        body.put("hpas", hpas);
        return json(body);
    }

    /** routes/api/k8s/hpa/+server.ts: one HPAStatus per HPA. */
    private static Map<String, Object> hpaStatus(HorizontalPodAutoscaler h, String rns) {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", h.getMetadata().getName());
        m.put("forge", rns.startsWith("arc-") ? "github" : "gitlab");
        m.put("scaling_model", "hpa");
        m.put("current_replicas", h.getStatus() == null ? null : h.getStatus().getCurrentReplicas());
        m.put("desired_replicas", h.getStatus() == null ? null : h.getStatus().getDesiredReplicas());
        m.put("min_replicas", h.getSpec().getMinReplicas());
        m.put("max_replicas", h.getSpec().getMaxReplicas());
        m.put("cpu_current", utilization(h, "cpu"));
        m.put("memory_current", utilization(h, "memory"));
        m.put("conditions", List.of());
        return m;
    }

    private static int utilization(HorizontalPodAutoscaler h, String resource) {
        if (h.getStatus() == null || h.getStatus().getCurrentMetrics() == null) return 0;
        for (MetricStatus m : h.getStatus().getCurrentMetrics()) {
            if (m.getResource() != null && resource.equals(m.getResource().getName()) && m.getResource().getCurrent() != null
                    && m.getResource().getCurrent().getAverageUtilization() != null) {
                return m.getResource().getCurrent().getAverageUtilization();
            }
        }
        return 0;
    }

    /** The pod's environment: the first container's envFrom ConfigMaps, then its env values (later wins, as the kubelet does). */
    private Map<String, String> env() {
        if (env != null) return env;
        var out = new LinkedHashMap<String, String>();
        Deployment d = kube.apps().deployments().inNamespace(namespace).withName("runner-dashboard").get();
        if (d != null) {
            Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
            for (EnvFromSource from : c.getEnvFrom() == null ? List.<EnvFromSource>of() : c.getEnvFrom()) {
                if (from.getConfigMapRef() == null) continue;
                ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(from.getConfigMapRef().getName()).get();
                if (cm != null && cm.getData() != null) out.putAll(cm.getData());
            }
            for (EnvVar v : c.getEnv() == null ? List.<EnvVar>of() : c.getEnv()) if (v.getValue() != null) out.put(v.getName(), v.getValue());
        }
        env = out;
        return out;
    }

    private String serviceAccount() {
        Deployment d = kube.apps().deployments().inNamespace(namespace).withName("runner-dashboard").get();
        String sa = d == null ? null : d.getSpec().getTemplate().getSpec().getServiceAccountName();
        return sa == null || sa.isEmpty() ? "default" : sa;
    }

    /**
     * kube-apiserver's RBAC decision for this pod's ServiceAccount (plugin/pkg/auth/authorizer/rbac/rbac.go
     * RBACAuthorizer.Authorize: the rules of every ClusterRoleBinding, then of every RoleBinding in the request's namespace,
     * whose subjects apply to the user, appliesToUser; a rule allows when RuleAllows: verb, API group, resource and, when the
     * rule names any, the resource name match, with "*" for all; pkg/apis/rbac/v1/evaluation_helpers.go). For
     * {@code GET /api/v1/namespaces/X} the request's namespace is X itself (k8s.io/apiserver requestinfo.go NewRequestInfo),
     * so a Role in X may grant it.
     */
    /**
     * Whether the API server lets the app's ServiceAccount do this: asked of the real RBAC authorizer with a
     * SubjectAccessReview for {@code system:serviceaccount:<ns>:<account>} and its groups, as the pod's own request
     * would be authorized.
     */
    boolean allowed(String verb, String group, String resource, String ns, String name) {
        String sa = serviceAccount();
        var review = new io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder().withNewSpec()
                .withUser("system:serviceaccount:" + namespace + ":" + sa)
                .withGroups("system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated")
                .withNewResourceAttributes().withVerb(verb).withGroup(group).withResource(resource).withNamespace(ns).withName(name).endResourceAttributes()
                .endSpec().build();
        var answer = kube.authorization().v1().subjectAccessReview().create(review);
        return answer.getStatus() != null && Boolean.TRUE.equals(answer.getStatus().getAllowed());
    }

    private static HttpStandIn.Answer json(Object body) {
        try {
            return new HttpStandIn.Answer(200, "application/json", JSON.writeValueAsString(body));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        closed = true;
        starter.interrupt();
        server.stop(0);
    }
}
