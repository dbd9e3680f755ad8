// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/Manifests.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.LimitRangeBuilder;
import io.fabric8.kubernetes.api.model.LimitRangeItemBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The objects of an environment's namespace layout, as {@code environments/<env>.yaml} wants them: the
 * namespaces (app.kubernetes.io labels, the environment and owner labels, Pod Security levels), and in
 * each its ResourceQuota, LimitRange, NetworkPolicies, the CI job Role and RoleBinding in the runner
 * namespace, and the ServiceAccounts. provision-namespaces applies them; health compares the cluster
 * with them.
 */
final class NamespaceLayout {

    static final String MANAGED_BY = Manifests.MANAGED_BY;
    static final String ENVIRONMENT_LABEL = Manifests.ENVIRONMENT_LABEL;
    /** Which gfw command owns an object: --prune only ever touches this layout's objects. */
    static final String OWNER_LABEL = "gfw.gloriousflywheel.dev/owner";
    static final String OWNER = "provision-namespaces";
    static final String CI_JOB_ROLE = "ci-job-runner-access";
    static final String CI_JOB_GROUP = "gitlab:ci_job";

    /** The namespaced kinds of the layout. */
    static final List<Class<? extends HasMetadata>> NAMESPACED_KINDS = List.of(ResourceQuota.class, LimitRange.class,
            NetworkPolicy.class, Role.class, RoleBinding.class, ServiceAccount.class);

    /** Labels that select this environment's layout objects (what --prune deletes from). */
    static Map<String, String> selector(EnvConfig.Env env) {
        var m = new LinkedHashMap<String, String>(Manifests.managed(env));
        m.put(OWNER_LABEL, OWNER);
        return m;
    }

    /** Every object of the layout: the namespaces first, then per namespace its guards, RBAC and service accounts. */
    static List<HasMetadata> render(EnvConfig.Env env) {
        var namespaces = new ArrayList<HasMetadata>();
        var contents = new ArrayList<HasMetadata>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            namespaces.add(namespace(env, ns));
            contents.addAll(contents(env, ns));
        }
        namespaces.addAll(contents);
        return namespaces;
    }

    static Namespace namespace(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var labels = labels(env, ns);
        labels.put("pod-security.kubernetes.io/enforce", ns.podSecurity().enforce());
        labels.put("pod-security.kubernetes.io/warn", ns.podSecurity().warn());
        labels.put("pod-security.kubernetes.io/audit", ns.podSecurity().audit());
        return new NamespaceBuilder().withNewMetadata().withName(ns.name()).withLabels(labels).endMetadata().build();
    }

    static List<HasMetadata> contents(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var out = new ArrayList<HasMetadata>();
        // runner-quota / runner-limits in the runner namespace, attic-quota in Attic's, and so on.
        String prefix = ns.component().endsWith("s") ? ns.component().substring(0, ns.component().length() - 1) : ns.component();
        if (!ns.quota().isEmpty()) {
            var hard = new TreeMap<String, Quantity>();
            ns.quota().forEach((k, v) -> hard.put(k, new Quantity(v)));
            out.add(new ResourceQuotaBuilder().withMetadata(meta(env, ns, prefix + "-quota")).withNewSpec().withHard(hard).endSpec().build());
        }
        EnvConfig.Limits l = ns.limits();
        if (!l.defaultRequest().isEmpty() || !l.defaultLimit().isEmpty() || !l.max().isEmpty()) {
            var item = new LimitRangeItemBuilder().withType("Container");
            if (!l.defaultRequest().isEmpty()) item.withDefaultRequest(quantities(l.defaultRequest()));
            if (!l.defaultLimit().isEmpty()) item.withDefault(quantities(l.defaultLimit()));
            if (!l.max().isEmpty()) item.withMax(quantities(l.max()));
            out.add(new LimitRangeBuilder().withMetadata(meta(env, ns, prefix + "-limits")).withNewSpec().withLimits(item.build()).endSpec().build());
        }
        out.addAll(networkPolicies(env, ns));
        if (ns == env.namespaces().runners()) {
            out.add(new RoleBuilder().withMetadata(meta(env, ns, CI_JOB_ROLE))
                    .addNewRule().withApiGroups("").withResources("pods", "pods/log", "events").withVerbs("get", "list", "watch").endRule()
                    .build());
            out.add(new RoleBindingBuilder().withMetadata(meta(env, ns, CI_JOB_ROLE))
                    .addNewSubject().withKind("Group").withName(CI_JOB_GROUP).withApiGroup("rbac.authorization.k8s.io").endSubject()
                    .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(CI_JOB_ROLE).endRoleRef()
                    .build());
        }
        for (String sa : ns.serviceAccounts()) out.add(new ServiceAccountBuilder().withMetadata(meta(env, ns, sa)).build());
        return out;
    }

    /** cert-manager's HTTP-01 solver pods: their label (pkg/apis/acme/v1 types.go SolverIdentificationLabelKey, set "true" in pkg/issuer/acme/http/pod.go). */
    static final String ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver";
    /** The port the solver listens on (cert-manager pkg/issuer/acme/http/http.go acmeSolverListenPort). */
    static final int ACME_SOLVER_PORT = 8089;

    /**
     * Ingress is denied by default; then allowed between pods of the same namespace (Attic and its
     * database), from the runner namespace to Attic's pod port, from the CloudNativePG operator to the
     * database pods, and from the ingress namespace to the dashboard's port. Where an Ingress is
     * configured (cache.ingress, dashboard.ingress): from the ingress controller's namespace to Attic's
     * server pods on its container port, and, when cert-manager issues its certificate
     * (clusterIssuer), to cert-manager's HTTP-01 solver pods on 8089 — nothing else.
     */
    static List<NetworkPolicy> networkPolicies(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var out = new ArrayList<NetworkPolicy>();
        out.add(new NetworkPolicyBuilder().withMetadata(meta(env, ns, "default-deny-ingress"))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress").endSpec().build());
        out.add(new NetworkPolicyBuilder().withMetadata(meta(env, ns, "allow-same-namespace"))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress")
                .addNewIngress().addNewFrom().withNewPodSelector().endPodSelector().endFrom().endIngress()
                .endSpec().build());
        String ingressNs = env.dashboard().ingressNamespace();
        if (ns == env.namespaces().attic()) {
            out.add(allowFrom(env, ns, "allow-runners-to-attic", env.namespaces().runners().name(), env.attic().targetPort()));
            out.add(allowCnpgOperator(env, ns));
            var ingress = env.cache() == null ? null : env.cache().ingress();
            if (ingress != null && ingress.host() != null) {
                out.add(allowTo(env, ns, "allow-ingress-to-attic", ingressNs, Manifests.selector("attic", "server"), env.attic().targetPort()));
                if (ingress.clusterIssuer() != null) out.add(allowAcmeSolver(env, ns, ingressNs));
            }
        }
        if (ns == env.namespaces().dashboard()) {
            out.add(allowFrom(env, ns, "allow-ingress-to-dashboard", ingressNs, env.dashboard().port()));
            var app = env.dashboard().app();
            if (app != null && app.ingress().host() != null && app.ingress().clusterIssuer() != null) out.add(allowAcmeSolver(env, ns, ingressNs));
        }
        return out;
    }

    /** The ingress controller to cert-manager's HTTP-01 solver pods, which cert-manager starts in the Ingress's namespace. */
    private static NetworkPolicy allowAcmeSolver(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String ingressNs) {
        return allowTo(env, ns, "allow-ingress-to-acme-solver", ingressNs, Map.of(ACME_SOLVER_LABEL, "true"), ACME_SOLVER_PORT);
    }

    /** From {@code fromNamespace} to the pods matching {@code pods}, on one TCP port. */
    private static NetworkPolicy allowTo(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String name, String fromNamespace,
                                         Map<String, String> pods, int port) {
        NetworkPolicyPeer from = new NetworkPolicyPeerBuilder().withNewNamespaceSelector()
                .addToMatchLabels("kubernetes.io/metadata.name", fromNamespace).endNamespaceSelector().build();
        return new NetworkPolicyBuilder().withMetadata(meta(env, ns, name))
                .withNewSpec().withNewPodSelector().withMatchLabels(new LinkedHashMap<>(pods)).endPodSelector().withPolicyTypes("Ingress")
                .addNewIngress().withFrom(from).addNewPort().withProtocol("TCP").withPort(new IntOrString(port)).endPort().endIngress()
                .endSpec().build();
    }

    /** The CloudNativePG operator manages the database pods through ports 8000 (instance manager) and 5432. */
    private static NetworkPolicy allowCnpgOperator(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        NetworkPolicyPeer operator = new NetworkPolicyPeerBuilder()
                .withNewNamespaceSelector().addToMatchLabels("kubernetes.io/metadata.name", env.cnpg().operatorNamespace()).endNamespaceSelector()
                .withNewPodSelector().addToMatchLabels("app.kubernetes.io/name", "cloudnative-pg").endPodSelector().build();
        return new NetworkPolicyBuilder().withMetadata(meta(env, ns, "allow-cnpg-operator"))
                .withNewSpec().withNewPodSelector().addToMatchLabels("cnpg.io/cluster", env.cnpg().cluster()).endPodSelector()
                .withPolicyTypes("Ingress")
                .addNewIngress().withFrom(operator)
                .addNewPort().withProtocol("TCP").withPort(new IntOrString(8000)).endPort()
                .addNewPort().withProtocol("TCP").withPort(new IntOrString(5432)).endPort().endIngress()
                .endSpec().build();
    }

    private static NetworkPolicy allowFrom(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String name, String fromNamespace, int port) {
        NetworkPolicyPeer from = new NetworkPolicyPeerBuilder().withNewNamespaceSelector()
                .addToMatchLabels("kubernetes.io/metadata.name", fromNamespace).endNamespaceSelector().build();
        return new NetworkPolicyBuilder().withMetadata(meta(env, ns, name))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress")
                .addNewIngress().withFrom(from).addNewPort().withProtocol("TCP").withPort(new IntOrString(port)).endPort().endIngress()
                .endSpec().build();
    }

    static Map<String, String> labels(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var m = new LinkedHashMap<String, String>();
        m.put("app.kubernetes.io/name", ns.name());
        m.put("app.kubernetes.io/component", ns.component());
        String org = env.organization() == null ? null : env.organization().name();
        m.put("app.kubernetes.io/part-of", org == null || org.isBlank() ? "gloriousflywheel" : org);
        m.putAll(selector(env));
        return m;
    }

    private static ObjectMeta meta(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String name) {
        return new ObjectMetaBuilder().withName(name).withNamespace(ns.name()).withLabels(labels(env, ns)).build();
    }

    private static Map<String, Quantity> quantities(Map<String, String> m) {
        var out = new TreeMap<String, Quantity>();
        m.forEach((k, v) -> out.put(k, new Quantity(v)));
        return out;
    }

    private NamespaceLayout() {}
}
