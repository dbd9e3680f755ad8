// What this file needs (bench/health.java sources it):
//SOURCES TestCluster.java
//SOURCES AtticStandIn.java
//SOURCES DashboardAppStandIn.java
//SOURCES CnpgStatus.java
//SOURCES ../../lib/env/EnvConfig.java
//SOURCES ../../lib/cache/CacheObjects.java
//SOURCES ../../lib/cache/AtticTokens.java
//SOURCES ../../lib/dashboard/DashboardObjects.java
//SOURCES Conflicts.java

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * What health reads besides the namespace layout and the runners, on the test API server (rollouts on in its
 * namespaces): the CloudNativePG operator's Deployment, a Cluster whose status and instance pod are written as the
 * operator would, Attic as deploy-cache applies it (lib/cache/CacheObjects) with the Attic stand-in behind its Service (the
 * service proxy) and its pod (a port-forward), the dashboard as deploy-dashboard applies it (lib/dashboard/DashboardObjects:
 * ConfigMap, Role and RoleBinding on the runner namespace, Deployment, Service) with the app's stand-in behind its Service
 * ({@link DashboardAppStandIn}, which reads those objects as the real pod would), and the HPA status the autoscaler would write. Used by the health tests and bench/health.java.
 */
final class HealthPlatform implements AutoCloseable {

    static final String CNPG_API = "postgresql.cnpg.io/v1";

    final TestCluster api;
    final EnvConfig.Env env;
    /** The key of Secret attic-jwt-signing, which the Attic stand-in verifies tokens with. */
    final String signingKey = AtticTokens.newSigningKey(new java.security.SecureRandom());
    final AtticStandIn attic = new AtticStandIn(() -> signingKey);
    final DashboardAppStandIn dashboard;

    HealthPlatform(TestCluster api, EnvConfig.Env env) {
        this.api = api;
        this.env = env;
        this.dashboard = new DashboardAppStandIn(api.client(), env.namespaces().dashboard().name(), false);
    }

    KubernetesClient client() {
        return api.client();
    }

    /** The operator, the database, Attic with its cache and the dashboard, all ready; rollouts on in their namespaces and the runners'. */
    HealthPlatform install() {
        String atticNs = env.namespaces().attic().name();
        String dashboardNs = env.namespaces().dashboard().name();
        String operatorNs = env.cnpg().operatorNamespace();
        if (client().namespaces().withName(operatorNs).get() == null) {
            client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(operatorNs).endMetadata().build()).create();
        }
        for (String ns : List.of(atticNs, env.namespaces().runners().name(), dashboardNs, operatorNs)) api.rollouts(ns, TestCluster.Readiness.ready());

        client().resource(deployment(operatorNs, "cnpg-cloudnative-pg", Map.of("app.kubernetes.io/name", "cloudnative-pg"), 1)).create();
        client().resource(CacheObjects.signingSecret(env, atticNs, signingKey)).create();
        // The nix runner's job pods mount the CI cache token (what 'attic-token ENV --ci' writes), good for 90 days.
        if (env.runners().stream().anyMatch(r -> CiCacheToken.RUNNER_TYPE.equals(r.type()))) {
            client().resource(CiCacheToken.secret(env, "test-ci-token", Instant.now().plus(90, ChronoUnit.DAYS), env.attic().cache() + ":test-public-key")).create();
        }
        if (!env.cache().storage().s3()) client().resource(CacheObjects.storage(env, atticNs)).create(); // the pods mount it: no claim, no scheduling
        client().resource(CacheObjects.server(env, atticNs, "test")).create();
        client().resource(CacheObjects.service(env, atticNs)).create();
        attic.caches.put(env.attic().cache(), env.attic().cache() + ":test-public-key");
        var dashboardSecrets = new DashboardObjects.Secrets("glpat-test", "session-test", null);
        for (var o : DashboardObjects.objects(env, dashboardNs, dashboardSecrets)) {
            if (!(o instanceof io.fabric8.kubernetes.api.model.ServiceAccount)) client().resource(o).create();
        }
        // kwok forwards the pods' ports to the stand-ins (health reaches both through port-forwards).
        api.serviceBackend(atticNs, env.attic().targetPort(), java.net.URI.create("http://127.0.0.1:" + attic.port()));
        api.serviceBackend(dashboardNs, env.dashboard().port(), dashboard.uri());
        dashboard.start(); // the app's pod starts once its objects are there
        database(healthyClusterStatus());
        return this;
    }

    /** The Cluster attic-pg (1 instance) with {@code status}, and its instance pod attic-pg-1, ready. */
    void database(Map<String, Object> status) {
        var spec = new LinkedHashMap<String, Object>();
        spec.put("instances", env.cnpg().instances());
        GenericKubernetesResource cluster = new GenericKubernetesResourceBuilder().withApiVersion(CNPG_API).withKind("Cluster")
                .withNewMetadata().withName(env.cnpg().cluster()).withNamespace(env.namespaces().attic().name()).endMetadata()
                .addToAdditionalProperties("spec", spec).build();
        client().genericKubernetesResources(CNPG_API, "Cluster").inNamespace(env.namespaces().attic().name()).resource(cluster).create();
        clusterStatus(status);
        client().resource(CnpgStatus.instancePod(env.namespaces().attic().name(), env.cnpg().cluster(), 1)).create();
    }

    /** Writes the Cluster's status through the status subresource, as the operator does. */
    void clusterStatus(Map<String, Object> status) {
        var r = client().genericKubernetesResources(CNPG_API, "Cluster").inNamespace(env.namespaces().attic().name());
        GenericKubernetesResource live = r.withName(env.cnpg().cluster()).get();
        live.getAdditionalProperties().put("status", status);
        r.resource(live).updateStatus();
    }

    /** What the operator reports for a healthy single-instance cluster; its server certificate good for 90 days. */
    Map<String, Object> healthyClusterStatus() {
        return clusterStatus("Cluster in healthy state", 1, Instant.now().plus(90, ChronoUnit.DAYS));
    }

    Map<String, Object> clusterStatus(String phase, int readyInstances, Instant certificateExpiry) {
        return CnpgStatus.status(env.cnpg().cluster(), phase, env.cnpg().instances(), readyInstances, certificateExpiry);
    }

    /** What the HPA controller writes for a runner's HPA. */
    void autoscalerStatus(String type, int current, int desired) {
        String runnerNs = env.namespaces().runners().name();
        var hpas = client().autoscaling().v2().horizontalPodAutoscalers().inNamespace(runnerNs);
        // The control plane's HPA controller writes this status too (every sync).
        Conflicts.retry(() -> {
            HorizontalPodAutoscaler h = hpas.withName("gitlab-runner-" + type + "-hpa").get();
            h.setStatus(new io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerStatusBuilder()
                    .withCurrentReplicas(current).withDesiredReplicas(desired).build());
            hpas.resource(h).updateStatus();
        });
    }

    /** Pods of a Deployment's template whose labels hold {@code key=value}. */
    static Predicate<JsonNode> templateLabelled(String key, String value) {
        return t -> value.equals(t.path("metadata").path("labels").path(key).asText());
    }

    static Deployment deployment(String ns, String name, Map<String, String> labels, int replicas) {
        return new DeploymentBuilder().withNewMetadata().withName(name).withNamespace(ns).withLabels(labels).endMetadata()
                .withNewSpec().withReplicas(replicas).withNewSelector().withMatchLabels(labels).endSelector()
                .withNewTemplate().withNewMetadata().withLabels(labels).endMetadata()
                .withNewSpec().addNewContainer().withName(name).withImage("registry.example/" + name + ":1").endContainer().endSpec()
                .endTemplate().endSpec().build();
    }

    static io.fabric8.kubernetes.api.model.Service service(String ns, String name, Map<String, String> selector, int port, int targetPort) {
        return new ServiceBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withSelector(selector).addNewPort().withName("http").withPort(port).withTargetPort(new IntOrString(targetPort)).endPort()
                .endSpec().build();
    }

    @Override
    public void close() {
        attic.close();
        dashboard.close();
    }
}
