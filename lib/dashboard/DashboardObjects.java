// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../env/DashboardConfig.java
//SOURCES ../kube/Manifests.java

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kubernetes objects of the runner dashboard, as deploy-dashboard applies them (upstream's
 * tofu/modules/runner-dashboard): ConfigMap {@code runner-dashboard-config} without a secret, Secret
 * {@code runner-dashboard-secrets}, the ServiceAccount (unless provision-namespaces already owns it),
 * a read-only Role on the runner namespace with its RoleBinding, Deployment {@code runner-dashboard}
 * (non-root, pinned image, a checksum annotation over config and secrets), Service, and an Ingress when
 * {@code dashboard.ingress.host} is set. Pure functions; nothing here talks to a cluster.
 */
final class DashboardObjects {

    static final String NAME = "runner-dashboard";
    static final String CONFIG_MAP = NAME + "-config";
    static final String SECRET = NAME + "-secrets";
    static final String ROLE = NAME + "-read";
    static final String GITLAB_TOKEN = "GITLAB_TOKEN";
    static final String SESSION_SECRET = "SESSION_SECRET";
    static final String OAUTH_CLIENT_ID = "GITLAB_OAUTH_CLIENT_ID";
    static final String OAUTH_CLIENT_SECRET = "GITLAB_OAUTH_CLIENT_SECRET";
    static final String SELECTOR = "app.kubernetes.io/name=" + NAME;

    /** The values of the Secret; {@code oauthClientSecret} null when no OAuth login is configured. */
    record Secrets(String gitlabToken, String sessionSecret, String oauthClientSecret) {}

    private static ObjectMeta meta(EnvConfig.Env env, String ns, String name) {
        return new ObjectMetaBuilder().withName(name).withNamespace(ns).withLabels(Manifests.labels(env, NAME, "dashboard", "deploy-dashboard")).build();
    }

    static Map<String, String> selector() {
        return Manifests.selector(NAME, "dashboard");
    }

    static Map<String, String> config(EnvConfig.Env env) {
        DashboardConfig.App app = env.dashboard().app();
        var data = new TreeMap<String, String>();
        data.put("PORT", String.valueOf(env.dashboard().port()));
        data.put("GITLAB_URL", env.organization().gitlabUrl());
        data.put("GITLAB_GROUP_ID", app.groupId());
        // What the app's K8s client reads (GloriousFlywheel 0e2a69c app/src/lib/server/k8s/client.ts): K8S_NAMESPACE, the
        // namespace whose object it GETs to decide whether the cluster is available (else every /api/k8s/* route answers
        // built-in mock data), default "gitlab-runners"; K8S_RUNNER_NAMESPACES, where it lists pods and HPAs, default
        // "gitlab-runners,arc-runners". It reads no RUNNER_NAMESPACE.
        data.put("K8S_NAMESPACE", env.namespaces().runners().name());
        data.put("K8S_RUNNER_NAMESPACES", env.namespaces().runners().name());
        if (app.oauth() != null) data.put("GITLAB_OAUTH_REDIRECT_URI", app.oauth().redirectUri());
        return data;
    }

    static ConfigMap configMap(EnvConfig.Env env, String ns) {
        return new ConfigMapBuilder().withMetadata(meta(env, ns, CONFIG_MAP)).withData(config(env)).build();
    }

    /** Every value base64 in {@code data}, as the API server stores it, so that read-compare-skip sees equal Secrets as equal. */
    static Secret secret(EnvConfig.Env env, String ns, Secrets s) {
        var data = new TreeMap<String, String>();
        data.put(GITLAB_TOKEN, b64(s.gitlabToken()));
        data.put(SESSION_SECRET, b64(s.sessionSecret()));
        if (env.dashboard().app().oauth() != null) {
            data.put(OAUTH_CLIENT_ID, b64(env.dashboard().app().oauth().clientId()));
            data.put(OAUTH_CLIENT_SECRET, b64(s.oauthClientSecret()));
        }
        return new SecretBuilder().withMetadata(meta(env, ns, SECRET)).withType("Opaque").withData(data).build();
    }

    private static String b64(String v) {
        return Base64.getEncoder().encodeToString(String.valueOf(v).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * sha256 of the ConfigMap's data, the Role's rules and every secret value: a change of any rolls the pods. The rules
     * too, because the app asks once whether it may read the cluster and keeps that answer for the life of the process
     * (client.ts K8sClient.isAvailable caches it, also a "no"): a Role fixed under a running pod would not reach it.
     */
    static String checksum(EnvConfig.Env env, Secrets s) {
        return Manifests.checksum(config(env).toString() + "\n" + role(env).getRules(), s.gitlabToken(), s.sessionSecret(), s.oauthClientSecret());
    }

    /** provision-namespaces creates the ServiceAccounts listed in namespaces.dashboard.serviceAccounts; applying it twice would make each drop the other's fields. */
    static boolean ownsServiceAccount(EnvConfig.Env env) {
        return !env.namespaces().dashboard().serviceAccounts().contains(NAME);
    }

    static ServiceAccount serviceAccount(EnvConfig.Env env, String ns) {
        return new ServiceAccountBuilder().withMetadata(meta(env, ns, NAME)).withAutomountServiceAccountToken(true).build();
    }

    /**
     * Exactly the requests the app's K8s client makes in the runner namespace (client.ts at 0e2a69c): {@code GET
     * /api/v1/namespaces/<K8S_NAMESPACE>} (isAvailable; without it every /api/k8s route serves mock data), and LISTs of pods,
     * events, apps/v1 deployments and autoscaling/v2 horizontalpodautoscalers. A Role in a namespace can grant get on that
     * namespace's own object: for {@code /api/v1/namespaces/X} the request's namespace is X (k8s.io/apiserver
     * pkg/endpoints/request/requestinfo.go NewRequestInfo). The ARC kinds it also asks for (autoscalingrunnersets in
     * ARC_NAMESPACE) are not granted: gfw runs no ARC, and the app ignores that refusal.
     */
    static Role role(EnvConfig.Env env) {
        String runners = env.namespaces().runners().name();
        return new RoleBuilder().withMetadata(meta(env, runners, ROLE)).withRules(
                new PolicyRuleBuilder().withApiGroups("").withResources("namespaces").withResourceNames(runners).withVerbs("get").build(),
                new PolicyRuleBuilder().withApiGroups("").withResources("pods", "events").withVerbs("list").build(),
                new PolicyRuleBuilder().withApiGroups("apps").withResources("deployments").withVerbs("list").build(),
                new PolicyRuleBuilder().withApiGroups("autoscaling").withResources("horizontalpodautoscalers").withVerbs("list").build()).build();
    }

    static RoleBinding roleBinding(EnvConfig.Env env, String ns) {
        return new RoleBindingBuilder().withMetadata(meta(env, env.namespaces().runners().name(), ROLE))
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(ROLE).endRoleRef()
                .addNewSubject().withKind("ServiceAccount").withName(NAME).withNamespace(ns).endSubject().build();
    }

    static Deployment deployment(EnvConfig.Env env, String ns, String checksum) {
        DashboardConfig.App app = env.dashboard().app();
        int port = env.dashboard().port();
        var resources = new ResourceRequirementsBuilder();
        app.resources().requests().forEach((k, v) -> resources.addToRequests(k, new Quantity(v)));
        app.resources().limits().forEach((k, v) -> resources.addToLimits(k, new Quantity(v)));
        var labels = new LinkedHashMap<>(Manifests.labels(env, NAME, "dashboard", "deploy-dashboard"));
        return new DeploymentBuilder().withMetadata(meta(env, ns, NAME))
                .withNewSpec().withReplicas(app.replicas()).withNewSelector().withMatchLabels(selector()).endSelector()
                .withNewTemplate().withNewMetadata().withLabels(labels).addToAnnotations(Manifests.CHECKSUM_ANNOTATION, checksum).endMetadata()
                .withNewSpec().withServiceAccountName(NAME)
                .withNewSecurityContext().withRunAsNonRoot(true).withRunAsUser(1000L).withRunAsGroup(1000L).withFsGroup(1000L)
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().endSecurityContext()
                .addNewContainer().withName(NAME).withImage(app.image())
                .addNewPort().withName("http").withContainerPort(port).withProtocol("TCP").endPort()
                .addNewEnvFrom().withNewConfigMapRef().withName(CONFIG_MAP).endConfigMapRef().endEnvFrom()
                .addNewEnvFrom().withNewSecretRef().withName(SECRET).endSecretRef().endEnvFrom()
                .withResources(resources.build())
                .withNewSecurityContext().withAllowPrivilegeEscalation(false).withRunAsNonRoot(true).withReadOnlyRootFilesystem(true)
                .withNewCapabilities().withDrop("ALL").endCapabilities().endSecurityContext()
                .withNewReadinessProbe().withNewHttpGet().withPath("/api/health").withPort(new IntOrString("http")).endHttpGet().withPeriodSeconds(10).endReadinessProbe()
                .withNewLivenessProbe().withNewHttpGet().withPath("/api/health").withPort(new IntOrString("http")).endHttpGet()
                .withInitialDelaySeconds(15).withPeriodSeconds(20).endLivenessProbe()
                .endContainer().endSpec().endTemplate().endSpec().build();
    }

    static Service service(EnvConfig.Env env, String ns) {
        int port = env.dashboard().port();
        return new ServiceBuilder().withMetadata(meta(env, ns, NAME)).withNewSpec().withType("ClusterIP").withSelector(selector())
                .addNewPort().withName("http").withProtocol("TCP").withPort(port).withTargetPort(new IntOrString(port)).endPort().endSpec().build();
    }

    static Ingress ingress(EnvConfig.Env env, String ns) {
        DashboardConfig.Ingress i = env.dashboard().app().ingress();
        var meta = meta(env, ns, NAME);
        if (i.clusterIssuer() != null) meta.setAnnotations(Map.of("cert-manager.io/cluster-issuer", i.clusterIssuer()));
        var b = new IngressBuilder().withMetadata(meta).withNewSpec();
        if (i.className() != null) b.withIngressClassName(i.className());
        if (i.tlsSecret() != null) b.addNewTl().withHosts(i.host()).withSecretName(i.tlsSecret()).endTl();
        return b.addNewRule().withHost(i.host()).withNewHttp().addNewPath().withPath("/").withPathType("Prefix")
                .withNewBackend().withNewService().withName(NAME).withNewPort().withNumber(env.dashboard().port()).endPort()
                .endService().endBackend().endPath().endHttp().endRule().endSpec().build();
    }

    /** Everything after the Secret, in apply order. */
    static List<HasMetadata> objects(EnvConfig.Env env, String ns, Secrets s) {
        var out = new ArrayList<HasMetadata>();
        out.add(configMap(env, ns));
        if (ownsServiceAccount(env)) out.add(serviceAccount(env, ns));
        out.add(role(env));
        out.add(roleBinding(env, ns));
        out.add(deployment(env, ns, checksum(env, s)));
        out.add(service(env, ns));
        if (env.dashboard().app().ingress().host() != null) out.add(ingress(env, ns));
        return out;
    }

    private DashboardObjects() {}
}
