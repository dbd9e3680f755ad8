import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The values gfw gives the gitlab-runner chart do what gfw intends — checked on the REAL charts GitLab publishes
 * (every {@code gitlab-runner-*.tgz} in {@code $GFW_TEST_CHARTS}, which {@code .ci/run} points at
 * {@code ../shared/charts}) and on the project's fixture, which must render the same: the token volume, the
 * manager's Role (GitLab's documented minimum, not the chart's "everything"), no tags in the pod's environment,
 * an explicitly created ServiceAccount, and the probes deploy-runners' default --timeout is derived from.
 */
class RunnerChartTest {

    /** The charts to check: the fixture always, the real ones when GFW_TEST_CHARTS has them. */
    static List<Path> charts() {
        var out = new ArrayList<Path>();
        out.add(TestCharts.FIXTURE);
        out.addAll(TestCharts.realRunnerCharts());
        return out;
    }

    static Map<String, JsonNode> render(Path chart, RunnerValues.Release r) throws IOException {
        String manifest = new HelmReleases.JvmHelm(null).template(chart, r.namespace(), r.name(), r.values());
        var byKind = new LinkedHashMap<String, JsonNode>();
        for (JsonNode doc : RunnerFixtures.documents(manifest)) byKind.put(doc.path("kind").asText() + "/" + doc.path("metadata").path("name").asText(), doc);
        return byKind;
    }

    @Test
    void valuesHoldOnlyKeysTheChartReads() {
        for (RunnerValues.Release r : RunnerValues.select(RunnerFixtures.dev(), List.of())) {
            Map<String, Object> v = r.values();
            assertEquals(List.of("secret", "config"), List.copyOf(((Map<?, ?>) v.get("runners")).keySet()), r.name());
            assertEquals(Map.of("create", true), v.get("serviceAccount"), r.name());
            assertEquals(RunnerValues.RBAC_RULES, ((Map<?, ?>) v.get("rbac")).get("rules"), r.name());
        }
    }

    @Test
    void everyChartRendersTheTokenVolumeTheMinimalRoleNoTagsAndItsServiceAccount() throws IOException {
        EnvConfig.Env env = RunnerFixtures.dev();
        RunnerValues.Release dind = RunnerValues.select(env, List.of("dind")).get(0);
        JsonNode expectedRules = RunnerFixtures.JSON.valueToTree(RunnerValues.RBAC_RULES);
        for (Path chart : charts()) {
            String which = chart.getFileName().toString();
            Map<String, JsonNode> objects = render(chart, dind);
            JsonNode deploy = objects.get("Deployment/" + dind.name());
            assertNotNull(deploy, which + ": " + objects.keySet());
            JsonNode pod = deploy.path("spec").path("template").path("spec");

            // The token: volumes[2], projected from the Secret gfw manages, both keys.
            JsonNode tokenVolume = pod.path("volumes").path(2);
            assertEquals("projected-secrets", tokenVolume.path("name").asText(), which + ": " + pod.path("volumes"));
            JsonNode secret = tokenVolume.path("projected").path("sources").path(0).path("secret");
            assertEquals(dind.tokenSecret(), secret.path("name").asText(), which);
            assertEquals(List.of("runner-registration-token", "runner-token"), secret.path("items").findValuesAsText("key"), which);

            // No tags reach the runner's environment (RUNNER_TAG_LIST is there, empty): they are GitLab's.
            JsonNode container = pod.path("containers").path(0);
            var env0 = new LinkedHashMap<String, String>();
            container.path("env").forEach(e -> env0.put(e.path("name").asText(), e.path("value").asText()));
            assertEquals("", env0.get("RUNNER_TAG_LIST"), which + ": " + env0);
            assertEquals(env.organization().gitlabUrl(), env0.get("CI_SERVER_URL"), which);
            assertFalse(objects.values().toString().contains("dind,docker"), which + ": the tags are rendered somewhere");

            // The Role: GitLab's documented minimum for the Kubernetes executor, nothing with "*".
            JsonNode role = objects.get("Role/" + dind.name());
            assertNotNull(role, which + ": " + objects.keySet());
            assertEquals(expectedRules, role.path("rules"), which);
            assertFalse(role.path("rules").toString().contains("\"*\""), which + ": " + role.path("rules"));

            // The ServiceAccount the chart creates because gfw says so, used by the pod and bound to the Role.
            assertNotNull(objects.get("ServiceAccount/" + dind.name()), which + ": " + objects.keySet());
            assertEquals(dind.name(), pod.path("serviceAccountName").asText(), which);
            JsonNode binding = objects.get("RoleBinding/" + dind.name());
            assertEquals(dind.name(), binding.path("subjects").path(0).path("name").asText(), which);
            assertEquals(dind.name(), binding.path("roleRef").path("name").asText(), which);

            // The readiness probe deploy-runners' default --timeout counts on.
            JsonNode readiness = container.path("readinessProbe");
            assertEquals(RunnerValues.PROBE_INITIAL_DELAY_SECONDS, readiness.path("initialDelaySeconds").asInt(), which);
            assertEquals(RunnerValues.PROBE_PERIOD_SECONDS, readiness.path("periodSeconds").asInt(), which);
            assertFalse(deploy.path("spec").has("strategy"), which + ": the chart now sets a rollout strategy");
        }
    }

    @Test
    void theChartsFolderHoldsThePinnedVersion() {
        assumeTrue(TestCharts.folder() != null, "GFW_TEST_CHARTS is not set: only the fixture is rendered");
        String pinned = RunnerFixtures.dev().runnerChart().version();
        assertNotNull(TestCharts.realRunnerChart(pinned), "environments/dev.yaml pins gitlab-runner " + pinned + ", which is not in "
                + TestCharts.folder() + ": " + TestCharts.realRunnerCharts());
        assertTrue(TestCharts.isReal(TestCharts.runnerChart()), "the deploy tests should install the real chart");
    }

    @Test
    void theDefaultTimeoutCoversOneProbeCyclePerPodRolledOneAtATime() {
        // 1-3 replicas roll one at a time (maxSurge 1, maxUnavailable 0); 4 in two waves of two; 7 in three of three; 8 in two of four.
        assertEquals(List.of(1, 2, 3, 2, 2, 2, 3, 2), List.of(1, 2, 3, 4, 5, 6, 7, 8).stream().map(RunnerValues::rolloutWaves).toList());
        assertEquals(Duration.ofMinutes(5), RunnerValues.rolloutTimeout(1));
        assertEquals(Duration.ofSeconds(300), RunnerValues.rolloutTimeout(2));
        assertEquals(Duration.ofSeconds(450), RunnerValues.rolloutTimeout(3));
        assertEquals(Duration.ofSeconds(300), RunnerValues.rolloutTimeout(8));
    }

    @Test
    void deployWithoutTimeoutUsesTheDerivedOne() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = "runners-timeout-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.namespaceWithRollouts(api, ns, TestCluster.Readiness.ready());
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.editEnv(dir, "runners[2].autoscaling.maxReplicas", "3");   // rocky8
        RunnerFixtures.editEnv(dir, "runners[2].autoscaling.minReplicas", "3");
        try (var gitlab = new GitLabStandIn()) {
            var r = TestSupport.inProcess(new DeployRunners(), "dev", "rocky8", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                    "--chart", TestCharts.runnerChart().toString());
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.err().contains("installing release gitlab-runner-rocky8 (") && r.err().contains(", timeout 450 s)"), r.err());
        }
    }

    /**
     * On a real API server (GFW_TEST_KUBECONFIG, the lead's control plane): what the rendered Role lets a manager's
     * ServiceAccount do, asked with {@code kubectl auth can-i --as=system:serviceaccount:NS:NAME}. Not on the
     * test API server, which has no authorizer.
     */
    @Test
    void theManagerServiceAccountMayDoOnlyWhatTheExecutorNeeds() throws IOException {
        TestCluster api = TestCluster.shared();
        assumeTrue(TestSupport.command("kubectl", "version", "--client").run().exit() == 0, "needs kubectl on PATH");
        String ns = "runners-rbac-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.createNamespace(api, ns);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        EnvConfig.Env env = EnvConfig.load("dev", dir.toString());
        RunnerValues.Release dind = RunnerValues.select(env, List.of("dind")).get(0);
        for (var e : render(TestCharts.runnerChart(), dind).entrySet()) {
            if (!List.of("ServiceAccount", "Role", "RoleBinding").contains(e.getValue().path("kind").asText())) continue;
            HasMetadata obj = Serialization.unmarshal(e.getValue().toString());
            api.client().resource(obj).inNamespace(ns).create();
        }
        String as = "--as=system:serviceaccount:" + ns + ":" + dind.name();
        // verb, resource, allowed
        var expected = new LinkedHashMap<String, Boolean>();
        expected.put("create pods", true);
        expected.put("create pods/exec", true);
        expected.put("create pods/attach", true);
        expected.put("get pods/log", true);
        expected.put("create secrets", true);
        expected.put("list secrets", false);                   // cannot enumerate the runners' token Secrets
        expected.put("watch secrets", false);
        expected.put("create serviceaccounts/token", false);  // cannot mint ServiceAccount tokens
        expected.put("create pods/portforward", false);
        expected.put("patch configmaps", false);
        expected.put("delete deployments.apps", false);
        expected.put("create namespaces", false);
        expected.put("get pods -n default", false);           // nothing outside the runner namespace
        // The documented limit: the executor needs get on Secrets it names itself, so a known name is readable
        // (another runner's token) until jobs run in a namespace of their own (the chart's runners.jobNamespace).
        expected.put("get secrets/gitlab-runner-docker-token", true);
        var actual = new LinkedHashMap<String, Boolean>();
        for (String q : expected.keySet()) {
            var argv = new ArrayList<>(List.of("kubectl", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "auth", "can-i"));
            // "pods/exec" is a subresource; kubectl reads TYPE/NAME as a resource name, so subresources go in --subresource.
            for (String word : q.split(" ")) {
                var sub = java.util.regex.Pattern.compile("(pods|serviceaccounts)/(exec|attach|log|portforward|token)").matcher(word);
                argv.addAll(sub.matches() ? List.of(sub.group(1), "--subresource=" + sub.group(2)) : List.of(word));
            }
            if (!q.contains(" -n ")) argv.addAll(List.of("-n", ns));
            argv.add(as);
            var r = TestSupport.command(argv.toArray(String[]::new)).run();
            assertTrue(r.out().strip().equals("yes") || r.out().strip().equals("no"), r.toString());
            actual.put(q, r.out().strip().equals("yes"));
        }
        assertEquals(expected, actual);
    }
}
