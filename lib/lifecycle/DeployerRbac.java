// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../namespaces/NamespaceLayout.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../kube/Manifests.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.api.model.rbac.SubjectBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The least-privilege RBAC for whoever runs {@code gfw up ENV} without being a cluster admin (a CI job
 * through the GitLab agent, a deploy ServiceAccount): what a cluster admin applies once, and what gfw's
 * commands then need, found by running {@code up} as that subject against a real API server
 * (tests/UpTest) and nothing more.
 *
 * <ul>
 *   <li>The environment's namespaces themselves, with their Pod Security labels: the subject may patch
 *       them but not create or delete namespaces (create cannot be limited to names).</li>
 *   <li>ClusterRole {@code gfw-deployer} bound by a RoleBinding in each of the environment's namespaces:
 *       the kinds gfw and the runner chart create (and Helm's release Secrets), read-only pods, logs,
 *       events and ReplicaSets (rollout waits), port-forwards (gfw reaches Attic and the dashboard
 *       through one).</li>
 *   <li>Role {@code gfw-deployer-runner-chart} in the runner namespace: what the runner chart's Role grants
 *       ({@link RunnerValues#RBAC_RULES}). Kubernetes lets a subject create a Role only with permissions it
 *       holds itself (RBAC escalation prevention), and those are the only ones that let it start pods
 *       and exec into them, so they are granted there and nowhere else.</li>
 *   <li>ClusterRole {@code gfw-deployer-ENV} (cluster scope): get/patch of the environment's namespaces
 *       by name; list of namespaces and of the layout's kinds in all namespaces (provision-namespaces'
 *       inventory and --prune find an environment's objects wherever they are, health counts drift);
 *       get of the operator's CRDs by name.</li>
 *   <li>Role {@code gfw-deployer-ENV} in the operator's namespace: read its Deployment and pods (health's
 *       operator row). Installing the operator (--install-operator) stays an admin's task: it creates
 *       CRDs and ClusterRoles.</li>
 * </ul>
 */
final class DeployerRbac {

    static final String NAMESPACED_ROLE = "gfw-deployer";
    static final String RUNNER_CHART_ROLE = "gfw-deployer-runner-chart";
    static final List<String> ALL = List.of("get", "list", "watch", "create", "update", "patch", "delete");
    static final List<String> READ = List.of("get", "list", "watch");

    /** Who is bound: a group (e.g. the GitLab agent's {@code gitlab:project_env:ID:ENV}), a user or a ServiceAccount. */
    record Who(String kind, String name, String namespace) {
        static Who group(String name) {
            return new Who("Group", name, null);
        }

        static Who user(String name) {
            return new Who("User", name, null);
        }

        static Who serviceAccount(String namespace, String name) {
            return new Who("ServiceAccount", name, namespace);
        }

        /**
         * The group the GitLab agent puts a CI job in when its configuration says {@code access_as: ci_job: {}} and
         * the job deploys to environment {@code env} (gitlab-agent doc/kubernetes_ci_access.md, "Impersonation":
         * {@code gitlab:project_env:<project id>:<environment slug>}).
         */
        static Who gitlabProjectEnvironment(long projectId, String env) {
            return group("gitlab:project_env:" + projectId + ":" + env);
        }

        Subject subject() {
            var b = new SubjectBuilder().withKind(kind).withName(name);
            if (namespace != null) b.withNamespace(namespace);
            else b.withApiGroup("rbac.authorization.k8s.io");
            return b.build();
        }
    }

    /** The rules gfw needs inside each namespace of the environment. */
    static List<PolicyRule> namespacedRules() {
        return List.of(
                rule("", List.of("configmaps", "limitranges", "persistentvolumeclaims", "resourcequotas", "secrets", "serviceaccounts", "services"), ALL),
                rule("", List.of("events", "pods", "pods/log"), READ),
                // kubectl and fabric8 open a port-forward with a GET upgraded to a stream; the API server asks for create (1.30+) or get.
                rule("", List.of("pods/portforward"), List.of("get", "create")),
                rule("apps", List.of("deployments"), ALL),
                rule("apps", List.of("replicasets"), READ),
                rule("autoscaling", List.of("horizontalpodautoscalers"), ALL),
                rule("batch", List.of("jobs"), ALL),
                rule("networking.k8s.io", List.of("ingresses", "networkpolicies"), ALL),
                rule("policy", List.of("poddisruptionbudgets"), ALL),
                rule("rbac.authorization.k8s.io", List.of("rolebindings", "roles"), ALL),
                rule("postgresql.cnpg.io", List.of("backups", "clusters", "scheduledbackups"), ALL),
                rule("barmancloud.cnpg.io", List.of("objectstores"), ALL));
    }

    /** The rules gfw needs at cluster scope for environment {@code env}. */
    static List<PolicyRule> clusterRules(EnvConfig.Env env) {
        List<String> names = env.allNamespaces().stream().map(EnvConfig.NamespaceSpec::name).toList();
        var layoutKinds = new ArrayList<String>();
        var layoutGroups = new ArrayList<String>();
        for (Class<? extends HasMetadata> kind : NamespaceLayout.NAMESPACED_KINDS) {
            layoutKinds.add(HasMetadata.getPlural(kind));
            String group = HasMetadata.getGroup(kind);
            if (!layoutGroups.contains(group)) layoutGroups.add(group);
        }
        return List.of(
                new PolicyRuleBuilder().withApiGroups("").withResources("namespaces").withResourceNames(names).withVerbs("get", "patch", "update").build(),
                rule("", List.of("namespaces"), List.of("list")),
                new PolicyRuleBuilder().withApiGroups(layoutGroups).withResources(layoutKinds.stream().sorted().toList()).withVerbs("list").build(),
                new PolicyRuleBuilder().withApiGroups("apiextensions.k8s.io").withResources("customresourcedefinitions")
                        .withResourceNames("clusters.postgresql.cnpg.io", "objectstores.barmancloud.cnpg.io").withVerbs("get").build());
    }

    /** Everything a cluster admin applies once (kubectl apply -f -) so that {@code who} may run gfw up for {@code env}. */
    static List<HasMetadata> render(EnvConfig.Env env, Who who) {
        var out = new ArrayList<HasMetadata>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) out.add(NamespaceLayout.namespace(env, ns));
        String clusterName = NAMESPACED_ROLE + "-" + env.name();
        // Shared by every environment on the cluster: no environment label.
        var shared = meta(env, NAMESPACED_ROLE, null);
        shared.getLabels().remove(Manifests.ENVIRONMENT_LABEL);
        out.add(new ClusterRoleBuilder().withMetadata(shared).withRules(namespacedRules()).build());
        out.add(new ClusterRoleBuilder().withMetadata(meta(env, clusterName, null)).withRules(clusterRules(env)).build());
        out.add(new ClusterRoleBindingBuilder().withMetadata(meta(env, clusterName, null)).withSubjects(who.subject())
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName(clusterName).endRoleRef().build());
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            out.add(new RoleBindingBuilder().withMetadata(meta(env, NAMESPACED_ROLE, ns.name())).withSubjects(who.subject())
                    .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName(NAMESPACED_ROLE).endRoleRef().build());
        }
        String runners = env.namespaces().runners().name();
        out.add(new RoleBuilder().withMetadata(meta(env, RUNNER_CHART_ROLE, runners)).withRules(runnerChartRules()).build());
        out.add(new RoleBindingBuilder().withMetadata(meta(env, RUNNER_CHART_ROLE, runners)).withSubjects(who.subject())
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(RUNNER_CHART_ROLE).endRoleRef().build());
        String operatorNs = env.cnpg() == null ? null : env.cnpg().operatorNamespace();
        if (operatorNs != null && !names(env).contains(operatorNs)) {
            out.add(new RoleBuilder().withMetadata(meta(env, clusterName, operatorNs))
                    .withRules(rule("apps", List.of("deployments"), READ), rule("", List.of("pods"), READ)).build());
            out.add(new RoleBindingBuilder().withMetadata(meta(env, clusterName, operatorNs)).withSubjects(who.subject())
                    .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(clusterName).endRoleRef().build());
        }
        return out;
    }

    /** The runner chart's Role rules ({@link RunnerValues#RBAC_RULES}) as PolicyRules. */
    @SuppressWarnings("unchecked")
    static List<PolicyRule> runnerChartRules() {
        var out = new ArrayList<PolicyRule>();
        for (Map<String, Object> r : RunnerValues.RBAC_RULES) {
            out.add(new PolicyRuleBuilder().withApiGroups((List<String>) r.get("apiGroups")).withResources((List<String>) r.get("resources"))
                    .withVerbs((List<String>) r.get("verbs")).build());
        }
        return out;
    }

    private static List<String> names(EnvConfig.Env env) {
        return env.allNamespaces().stream().map(EnvConfig.NamespaceSpec::name).toList();
    }

    private static PolicyRule rule(String group, List<String> resources, List<String> verbs) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resources).withVerbs(verbs).build();
    }

    private static io.fabric8.kubernetes.api.model.ObjectMeta meta(EnvConfig.Env env, String name, String namespace) {
        var b = new ObjectMetaBuilder().withName(name).withLabels(Manifests.managed(env));
        if (namespace != null) b.withNamespace(namespace);
        return b.build();
    }
}
