import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.policy.v1.EvictionBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What only a real API server decides, on the objects gfw applies: Pod Security admission at the levels
 * provision-namespaces labels, the runner quota and LimitRange admitting the job pods the runners are sized for,
 * RBAC (SubjectAccessReviews, as {@code kubectl auth can-i --as} asks) for the roles gfw makes, and eviction against
 * the PodDisruptionBudgets gfw makes. Runs on the suite's control plane or any GFW_TEST_KUBECONFIG cluster.
 */
class RealClusterTest {

    static TestCluster api;
    static KubernetesClient kube;
    static String env;
    static String atticNs;
    static String runnerNs;
    static String dashboardNs;

    @BeforeAll
    static void provision() throws Exception {
        api = TestCluster.shared();
        kube = api.client();
        env = ProvisionNamespacesTest.envName("real");
        Path dir = ProvisionNamespacesTest.envDir(env);
        var r = ProvisionNamespacesTest.inProcess(env, dir);
        assertEquals(0, r.exit(), r.toString());
        atticNs = "attic-cache-" + env;
        runnerNs = "gitlab-runners-" + env;
        dashboardNs = "runner-dashboard-" + env;
        // The namespaces' default ServiceAccounts, without which the ServiceAccount admission plugin refuses pods.
        for (String ns : List.of(atticNs, runnerNs)) {
            kube.serviceAccounts().inNamespace(ns).withName("default").waitUntilCondition(sa -> sa != null, 30, TimeUnit.SECONDS);
        }
    }

    static Pod pod(String ns, String name, boolean privileged, Map<String, String> requests) {
        var q = new java.util.LinkedHashMap<String, Quantity>();
        requests.forEach((k, v) -> q.put(k, new Quantity(v)));
        var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("main").withImage("registry.example/job:1")
                .withNewSecurityContext().withPrivileged(privileged).endSecurityContext();
        if (!q.isEmpty()) container.withNewResources().withRequests(q).withLimits(q).endResources();
        return new PodBuilder().withNewMetadata().withName(name).withNamespace(ns).addToLabels("app", name).endMetadata()
                .withNewSpec().withContainers(container.build()).endSpec().build();
    }

    @Test
    void podSecurityRefusesAPrivilegedPodInTheAtticNamespaceAndAdmitsDindsInTheRunners() {
        var refused = org.junit.jupiter.api.Assertions.assertThrows(KubernetesClientException.class,
                () -> kube.resource(pod(atticNs, "privileged", true, Map.of("cpu", "100m", "memory", "128Mi"))).create());
        assertEquals(403, refused.getCode(), refused.getMessage());
        assertTrue(refused.getMessage().contains("violates PodSecurity \"baseline:latest\": privileged"), refused.getMessage());
        // The runner namespace is labelled privileged for the dind runner: its privileged job pods are admitted.
        Pod dind = kube.resource(pod(runnerNs, "dind-job", true, Map.of("cpu", "100m", "memory", "128Mi"))).create();
        assertEquals("dind-job", dind.getMetadata().getName());
        kube.resource(dind).delete();
    }

    @Test
    void theRunnerQuotaAdmitsJobPodsWithTheLimitRangesDefaultsAndRefusesWhatIsOver() {
        // A job pod as the Kubernetes executor makes it when the TOML names no resources: the LimitRange fills them in.
        Pod job = kube.resource(pod(runnerNs, "job-defaults", false, Map.of())).create();
        var resources = job.getSpec().getContainers().get(0).getResources();
        assertTrue(resources.getRequests().containsKey("cpu") && resources.getLimits().containsKey("memory"),
                "LimitRange runner-limits defaulted the job's resources: " + resources);
        kube.resource(job).delete();
        // More than the whole quota at once: refused by ResourceQuota admission, naming the quota.
        Pod big = pod(runnerNs, "too-big", false, Map.of("cpu", "4", "memory", "128Mi")); // 4: the LimitRange's maximum per container
        var containers = new ArrayList<>(big.getSpec().getContainers());
        for (int i = 1; i < 9; i++) containers.add(new io.fabric8.kubernetes.api.model.ContainerBuilder(containers.get(0)).withName("c" + i).build());
        big.getSpec().setContainers(containers); // 9 x 4 CPU: more than the quota's requests.cpu
        var over = org.junit.jupiter.api.Assertions.assertThrows(KubernetesClientException.class, () -> kube.resource(big).create());
        assertEquals(403, over.getCode(), over.getMessage());
        assertTrue(over.getMessage().contains("exceeded quota: runner-quota"), over.getMessage());
    }

    /** {@code kubectl auth can-i} as a user or ServiceAccount, through the real RBAC authorizer. */
    static boolean can(String as, List<String> groups, String verb, String resource, String ns) {
        return can(api, as, groups, verb, resource, ns);
    }

    /** The same on any handle; {@code ns} empty asks about a cluster-scoped resource. */
    static boolean can(TestCluster api, String as, List<String> groups, String verb, String resource, String ns) {
        var argv = new ArrayList<>(List.of("kubectl", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "auth", "can-i", verb, resource, "--as=" + as));
        if (!ns.isEmpty()) argv.addAll(List.of("-n", ns));
        for (String g : groups) argv.add("--as-group=" + g);
        var r = TestSupport.command(argv.toArray(String[]::new)).run();
        assertTrue(r.exit() == 0 || r.exit() == 1, r.toString()); // can-i: 0 yes, 1 no
        return r.exit() == 0;
    }

    @Test
    void theCiJobRoleGrantsExactlyReadingPodsLogsAndEventsOfTheRunnerNamespace() {
        String user = "ci-job";
        List<String> groups = List.of("gitlab:ci_job");
        for (String read : List.of("pods", "pods/log", "events")) {
            for (String verb : List.of("get", "list", "watch")) assertTrue(can(user, groups, verb, read, runnerNs), verb + " " + read);
        }
        for (String[] denied : new String[][] {{"create", "pods"}, {"delete", "pods"}, {"create", "pods/exec"}, {"get", "secrets"},
                {"list", "secrets"}, {"get", "configmaps"}, {"patch", "deployments.apps"}}) {
            assertTrue(!can(user, groups, denied[0], denied[1], runnerNs), "must not " + denied[0] + " " + denied[1]);
        }
        assertTrue(!can(user, groups, "get", "pods", atticNs), "nothing outside the runner namespace");
        assertTrue(!can("someone-else", List.of(), "get", "pods", runnerNs), "only the gitlab:ci_job group");
    }

    @Test
    void aPodDisruptionBudgetLikeAtticsLetsADrainEvictAtTheMinimumScale() {
        String ns = atticNs;
        // One replica behind a Deployment, as Attic at its minimum (a PDB with maxUnavailable needs the pods' controller's scale).
        var template = pod(ns, "attic-one", false, Map.of("cpu", "100m", "memory", "128Mi"));
        kube.resource(new io.fabric8.kubernetes.api.model.apps.DeploymentBuilder().withNewMetadata().withName("attic-one").withNamespace(ns).endMetadata()
                .withNewSpec().withReplicas(1).withNewSelector().addToMatchLabels("app", "attic-one").endSelector()
                .withNewTemplate().withNewMetadata().addToLabels("app", "attic-one").endMetadata().withSpec(template.getSpec()).endTemplate()
                .endSpec().build()).create();
        kube.apps().deployments().inNamespace(ns).withName("attic-one").waitUntilCondition(d -> d != null && d.getStatus() != null
                && Integer.valueOf(1).equals(d.getStatus().getReadyReplicas()), 60, TimeUnit.SECONDS);
        String podName = kube.pods().inNamespace(ns).withLabel("app", "attic-one").list().getItems().get(0).getMetadata().getName();
        // minAvailable 1 over a single replica (what gfw made before): the eviction API refuses every eviction.
        var blocking = kube.resource(new PodDisruptionBudgetBuilder().withNewMetadata().withName("blocking").withNamespace(ns).endMetadata()
                .withNewSpec().withMinAvailable(new IntOrString(1)).withNewSelector().addToMatchLabels("app", "attic-one").endSelector().endSpec().build()).create();
        awaitPdbObserved(ns, "blocking");
        var eviction = new EvictionBuilder().withNewMetadata().withName(podName).withNamespace(ns).endMetadata().build();
        assertTrue(!kube.pods().inNamespace(ns).withName(podName).evict(eviction), "minAvailable 1 at one replica blocks the drain");
        kube.resource(blocking).delete();
        // maxUnavailable 1 (what gfw makes now): the same pod is evicted.
        kube.resource(new PodDisruptionBudgetBuilder().withNewMetadata().withName("drainable").withNamespace(ns).endMetadata()
                .withNewSpec().withMaxUnavailable(new IntOrString(1)).withNewSelector().addToMatchLabels("app", "attic-one").endSelector().endSpec().build()).create();
        awaitPdbObserved(ns, "drainable");
        assertTrue(kube.pods().inNamespace(ns).withName(podName).evict(eviction), "maxUnavailable 1 lets the drain evict it");
    }

    static void awaitPdbObserved(String ns, String name) {
        kube.policy().v1().podDisruptionBudget().inNamespace(ns).withName(name).waitUntilCondition(p -> p != null && p.getStatus() != null
                && p.getStatus().getObservedGeneration() != null && p.getStatus().getObservedGeneration() >= p.getMetadata().getGeneration()
                && p.getStatus().getExpectedPods() != null && p.getStatus().getExpectedPods() == 1, 60, TimeUnit.SECONDS);
    }

    @Test
    void kubectlSeesTheServerThatTheRunnerReportsAndItIsRealKubernetes() {
        Assumptions.assumeTrue(api.isLocal(), "the suite's own control plane");
        String version = kube.getKubernetesVersion().getGitVersion();
        assertTrue(version.matches("v1\\.3[4-9]\\.\\d+"), "a recent Kubernetes: " + version);
        assertTrue(TestCluster.describe().startsWith("cluster: kube-apiserver " + version + " (tests/cluster), etcd v3."), TestCluster.describe());
        var nodes = TestSupport.command("kubectl", "--kubeconfig", api.kubeconfig().toString(), "get", "nodes", "-o", "name").run();
        assertEquals("node/kwok-node-0", nodes.out().strip(), nodes.toString());
    }
}
