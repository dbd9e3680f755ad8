import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The cluster's policies as Kubernetes really applies them (issue 19, points 8-13): namespace quotas
 * against what the configured workloads need once the LimitRange filled in their defaults, the
 * ingress controller and cert-manager's solver through default-deny, disruption budgets that let a
 * drain evict, PVC changes the API server would refuse, Pod Security against a privileged runner,
 * and byte-identical output from one run to the next.
 */
class PoliciesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static TestSupport.Result validate(String envName, String text) {
        Path dir = TestSupport.tempDir("policies");
        try {
            Files.writeString(dir.resolve(envName + ".yaml"), text);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return TestSupport.inProcess(new gfw(), "validate", envName, "--env-dir", dir.toString());
    }

    static EnvFile prod() {
        return EnvFile.of(ConfigTest.read(TestSupport.repo().resolve("environments/prod.yaml")));
    }

    /** A quota key has dots, which EnvFile's paths cannot name: the one line, replaced (and it must be there). */
    static EnvFile replace(EnvFile f, String from, String to) {
        assertTrue(f.text().contains(from), from);
        return EnvFile.of(f.text().replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to)));
    }

    static void assertRefused(TestSupport.Result r, String... expected) {
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        for (String e : expected) assertTrue(r.err().contains(e), "expected '" + e + "' in: " + r.err());
    }

    // ---- 8. quotas ---------------------------------------------------------------------------

    /** dev's runners as gfw shipped them before (docker 12 jobs x 2-8 managers, ...): 57 pods at the minimum against a quota of 50. */
    @Test
    void runnerQuotaThatCannotHoldTheMinimumScaleIsRefusedWithTheNumbers() {
        String old = replace(EnvFile.dev(), "requests.cpu: \"32\"", "requests.cpu: \"16\"")
                .set("runners[0].concurrent", "12").set("runners[0].autoscaling", "{minReplicas: 2, maxReplicas: 8, cpu: 70, memory: 80}")
                .set("runners[1].concurrent", "6").set("runners[2].concurrent", "4").set("runners[3].concurrent", "4")
                .set("runners[4].concurrent", "6").set("runners[4].autoscaling", "{minReplicas: 2, maxReplicas: 5, cpu: 70, memory: 80}")
                .text();
        var r = validate("dev", old);
        int line = ConfigTest.lineOf(old, "requests.cpu: \"16\"", 0);
        // 2 docker + 1 dind + 1 rocky8 + 1 rocky9 + 2 nix managers (50m each) and their job pods: build + a
        // helper at the LimitRange's defaultRequest 100m: 24x600m + 6x1100m + 4x600m + 4x600m + 12x1100m + 7x50m.
        assertRefused(r, "dev.yaml:" + line + ":21 namespaces.runners.quota.requests.cpu: 16 cannot hold what runs here at their minimum scale",
                "39.35 requests.cpu are needed by 7 manager pods, 50 job pods (docker 2x12, dind 1x6, rocky8 1x4, rocky9 1x4, nix 2x6)",
                "namespaces.runners.quota.pods: 50 cannot hold", "57 pods are needed",
                "namespaces.runners.quota.requests.memory: 32Gi cannot hold", "42112Mi requests.memory are needed");
        assertEquals("", r.out());
    }

    /** The shipped dev quota holds the maximum scale, with little to spare: one CPU less and the maximum no longer fits. */
    @Test
    void theMaximumScaleCountsToo() {
        var r = validate("dev", replace(EnvFile.dev(), "requests.cpu: \"32\"", "requests.cpu: \"26\"").text());
        // at maxReplicas: docker 3x4 jobs x 600m, dind 2x2 x 1100m, rocky8/rocky9 2x2 x 600m, nix 3x3 x 1100m, 12 managers x 50m
        assertRefused(r, "namespaces.runners.quota.requests.cpu: 26 cannot hold what runs here at their maximum scale (every autoscaler at maxReplicas): 26.9 requests.cpu");
        assertEquals(0, validate("dev", replace(EnvFile.dev(), "requests.cpu: \"32\"", "requests.cpu: \"27\"").text()).exit());
    }

    /** prod's Attic quota as shipped before: limits.cpu 16 held 4 of 10 replicas; the rollout's surge pod and the database count too. */
    @Test
    void atticQuotaCountsTheSurgeTheCollectorAndTheDatabase() {
        var r = validate("prod", replace(prod(), "limits.cpu: \"36\"", "limits.cpu: \"16\"").text());
        // 10 replicas + 1 surge + db-migrations + attic-gc at 2 CPU, 3 PostgreSQL instances at 2
        assertRefused(r, "namespaces.attic.quota.limits.cpu: 16 cannot hold what runs here at their maximum scale",
                "32 limits.cpu are needed by 13 Attic pods (10 replicas + 1 rollout surge, 1 db-migrations, 1 attic-gc), 3 PostgreSQL instance pods");
    }

    /** A quota on limits with pods that name none and no LimitRange default: the quota admission refuses those pods. */
    @Test
    void aQuotaOnWhatNoPodNamesIsRefused() {
        EnvFile f = replace(EnvFile.dev(), "      pods: \"50\"\n", "      pods: \"50\"\n      limits.cpu: \"64\"\n");
        f = replace(replace(f, "      default: {cpu: \"1\", memory: 1Gi}\n", ""), "      max: {cpu: \"4\", memory: 8Gi}\n", "");
        var r = validate("dev", f.text());
        assertRefused(r, "namespaces.runners.quota.limits.cpu: the ResourceQuota counts limits.cpu, but job pods name none");
    }

    @Test
    void limitRangeDefaultsAsTheApiServerStoresThem() {
        // SetDefaults_LimitRangeItem: max -> default limit -> default request.
        var lr = new KubeRules.LimitRange(Map.of(), Map.of(), Map.of("cpu", "4"));
        assertEquals(0, new java.math.BigDecimal("4").compareTo(KubeRules.effective(KubeRules.Resources.NONE, lr, "requests", "cpu")));
        // SetDefaults_Pod: a limit without a request is the request.
        var c = new KubeRules.Resources(Map.of(), Map.of("memory", "1Gi"));
        assertEquals(0, KubeRules.parse("1Gi").compareTo(KubeRules.effective(c, KubeRules.LimitRange.NONE, "requests", "memory")));
        assertNull(KubeRules.effective(KubeRules.Resources.NONE, KubeRules.LimitRange.NONE, "limits", "cpu"));
        assertEquals(0, new java.math.BigDecimal("0.25").compareTo(KubeRules.parse("250m")));
    }

    // ---- 9. network policies -----------------------------------------------------------------

    static NetworkPolicy policy(List<HasMetadata> objects, String ns, String name) {
        return objects.stream().filter(o -> o instanceof NetworkPolicy && ns.equals(o.getMetadata().getNamespace())
                && name.equals(o.getMetadata().getName())).map(o -> (NetworkPolicy) o).findFirst().orElse(null);
    }

    @Test
    void theIngressControllerReachesAtticAndCertManagersSolversWhereAnIngressIsConfigured() {
        EnvConfig.Env prod = EnvConfig.load("prod", null);
        List<HasMetadata> objects = ProvisionNamespaces.render(prod);
        NetworkPolicy toAttic = policy(objects, "attic-cache", "allow-ingress-to-attic");
        assertNotNull(toAttic, "prod has cache.ingress: the ingress controller must pass default-deny-ingress");
        var rule = toAttic.getSpec().getIngress().get(0);
        assertEquals("ingress-nginx", rule.getFrom().get(0).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));
        assertEquals(8080, rule.getPorts().get(0).getPort().getIntVal());
        // exactly Attic's server pods, selected as the Deployment selects them
        var server = CacheObjects.server(prod, "attic-cache", "x");
        assertEquals(server.getSpec().getSelector().getMatchLabels(), toAttic.getSpec().getPodSelector().getMatchLabels());
        for (String ns : List.of("attic-cache", "runner-dashboard")) {
            NetworkPolicy solver = policy(objects, ns, "allow-ingress-to-acme-solver");
            assertNotNull(solver, ns + ": cert-manager's HTTP-01 solver pods run in the Ingress's namespace");
            assertEquals(Map.of("acme.cert-manager.io/http01-solver", "true"), solver.getSpec().getPodSelector().getMatchLabels());
            assertEquals(8089, solver.getSpec().getIngress().get(0).getPorts().get(0).getPort().getIntVal());
            assertEquals("ingress-nginx", solver.getSpec().getIngress().get(0).getFrom().get(0).getNamespaceSelector().getMatchLabels()
                    .get("kubernetes.io/metadata.name"));
        }
        // dev configures no Ingress: nothing more is let in
        List<HasMetadata> dev = ProvisionNamespaces.render(EnvConfig.load("dev", null));
        assertNull(policy(dev, "attic-cache-dev", "allow-ingress-to-attic"));
        assertNull(policy(dev, "attic-cache-dev", "allow-ingress-to-acme-solver"));
        assertNull(policy(dev, "runner-dashboard", "allow-ingress-to-acme-solver"));
    }

    // ---- 10. disruption budgets --------------------------------------------------------------

    /**
     * Evictions a PDB allows with every pod healthy, as the disruption controller computes them
     * (pkg/controller/disruption/disruption.go getExpectedPodCount; written here again on purpose).
     */
    static int allowed(PodDisruptionBudget pdb, int replicas) {
        var spec = pdb.getSpec();
        int desired = spec.getMaxUnavailable() != null ? Math.max(0, replicas - spec.getMaxUnavailable().getIntVal()) : spec.getMinAvailable().getIntVal();
        return Math.max(0, replicas - desired);
    }

    @Test
    void everyDisruptionBudgetGfwMakesLetsADrainEvictAtTheMinimumScale() {
        EnvConfig.Env dev = EnvConfig.load("dev", null);
        assertEquals(1, dev.cache().autoscaling().minReplicas());
        PodDisruptionBudget attic = CacheObjects.pdb(dev, "attic-cache-dev");
        assertTrue(allowed(attic, dev.cache().autoscaling().minReplicas()) >= 1, "attic PDB at 1 replica: " + attic.getSpec());
        for (RunnerValues.Release r : RunnerValues.select(dev, List.of())) {
            var pdb = (PodDisruptionBudget) RunnerValues.pdb(r);
            assertTrue(allowed(pdb, r.runner().autoscaling().minReplicas()) >= 1, r.name() + ": " + pdb.getSpec());
        }
    }

    @Test
    void aBudgetThatBlocksEveryEvictionIsRefused() {
        var r = validate("dev", EnvFile.dev().add("cache", "disruptionBudget", "{minAvailable: 1}").text());
        assertRefused(r, "cache.disruptionBudget.minAvailable: allows no eviction while the autoscaler sits at cache.autoscaling.minReplicas 1");
        assertEquals(0, validate("dev", EnvFile.dev().add("cache", "disruptionBudget", "{maxUnavailable: 1}").text()).exit());
    }

    // ---- 11. the storage claim ---------------------------------------------------------------

    @Test
    void localStorageNamesItsAccessModeAndClass() {
        var r = validate("dev", EnvFile.dev().remove("cache.storage.accessMode").text());
        assertRefused(r, "cache.storage.accessMode: is required");
        r = validate("dev", EnvFile.dev().set("cache.storage.accessMode", "ReadWriteOnce").text());
        assertRefused(r, "cache.storage.accessMode: ReadWriteOnce cannot serve cache.autoscaling.maxReplicas 3");
        assertEquals(List.of("ReadWriteMany"), CacheObjects.storage(EnvConfig.load("dev", null), "x").getSpec().getAccessModes());
        assertEquals("longhorn", CacheObjects.storage(EnvConfig.load("dev", null), "x").getSpec().getStorageClassName());
    }

    @Test
    void aClaimChangeTheApiServerWouldRefuseIsSaidFirstNamingTheField() {
        TestCluster api = TestCluster.shared();
        var kube = api.client();
        String ns = "gfw-pvc-" + TestCluster.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        try {
            kube.persistentVolumeClaims().inNamespace(ns).resource(new PersistentVolumeClaimBuilder().withNewMetadata().withName("attic-storage").endMetadata()
                    .withNewSpec().withAccessModes("ReadWriteOnce").withStorageClassName("longhorn")
                    .withNewResources().addToRequests("storage", new Quantity("20Gi")).endResources().endSpec().build()).create();
            api.resetRequests();
            var r = TestSupport.inProcess(new DeployCache(), "dev", "-n", ns, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                    "--timeout", "20s");
            assertRefused(r, "environments/dev.yaml cache.storage.accessMode: ReadWriteMany, but PVC attic-storage in namespace " + ns
                    + " has ReadWriteOnce, and a claim's access modes cannot change after creation");
            assertEquals(1, r.err().lines().count(), r.err());
            assertEquals(0, api.mutatingRequests(), "nothing written");

            var shrink = EnvFile.dev().set("cache.storage.accessMode", "ReadWriteOnce").set("cache.autoscaling", "{minReplicas: 1, maxReplicas: 1, cpu: 70, memory: 80}")
                    .set("cache.storage.size", "10Gi").writeTo(TestSupport.tempDir("pvc"), "dev");
            r = TestSupport.inProcess(new DeployCache(), "dev", "--env-dir", shrink.toString(), "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--timeout", "20s");
            assertRefused(r, "cache.storage.size: 10Gi, but PVC attic-storage", "has 20Gi, and a claim cannot shrink");
        } finally {
            kube.namespaces().withName(ns).delete();
        }
    }

    // ---- 12. Pod Security ---------------------------------------------------------------------

    @Test
    void aPrivilegedRunnerNeedsAPrivilegedNamespace() {
        String text = EnvFile.dev().set("namespaces.runners.podSecurity", "{enforce: baseline, warn: restricted, audit: restricted}").text();
        var r = validate("dev", text);
        assertRefused(r, "dev.yaml:" + ConfigTest.lineOf(text, "privileged: true", 0) + ":17 runners[1].privileged: runner dind runs privileged job pods,"
                + " but namespaces.runners.podSecurity.enforce is 'baseline'");
        assertEquals(1, r.err().lines().count(), r.err());
    }

    // ---- 13. byte-identical output ------------------------------------------------------------

    /** Each command run as a user runs it, several times: the same bytes every time (a JVM's Map.of order changes per process). */
    @Test
    void sameInputSameBytesFromOneProcessToTheNext() {
        Path bad = TestSupport.tempDir("bytes");
        replace(EnvFile.dev(), "      pods: \"50\"\n", "      pods: \"50\"\n      bogus: \"1\"\n").writeTo(bad, "dev");
        List<List<String>> commands = List.of(
                List.of("deploy-cache", "dev", "--dry-run=client", "-o", "yaml"),
                List.of("deploy-cache", "prod", "--dry-run=client", "-o", "json"),
                List.of("deploy-dashboard", "prod", "--dry-run=client", "-o", "yaml"),
                List.of("provision-namespaces", "prod", "--dry-run=client", "-o", "json"),
                List.of("gfw", "validate", "dev", "--env-dir", bad.toString()));
        for (List<String> c : commands) {
            String first = null;
            for (int i = 0; i < 5; i++) {
                var r = TestSupport.script(c.get(0), c.subList(1, c.size()).toArray(String[]::new)).run();
                // stdout is the data; validate's data is its error lines (other commands' stderr may hold timing, e.g. "waiting for the API server")
                String bytes = r.exit() + "\n" + r.out() + (c.get(0).equals("gfw") ? r.err().lines().filter(l -> !l.startsWith("[jbang]")).toList() : "");
                if (first == null) {
                    first = bytes;
                    assertTrue(r.out().length() > 0 || r.err().length() > 0, String.join(" ", c));
                } else {
                    assertEquals(first, bytes, String.join(" ", c) + ": run " + (i + 1) + " printed something else");
                }
            }
        }
    }
}
