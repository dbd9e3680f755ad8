import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * deploy-runners installs, upgrades and rolls back with real Helm (helm-java, in the JVM) against the test API
 * server, whose opt-in rollouts make Helm's --wait, --atomic and rollback real: ReplicaSets and Pods that become
 * ready, never do, or crash-loop as each test says. --status reads the records real Helm wrote. Skipped on a real
 * cluster (GFW_TEST_KUBECONFIG): the fixture chart's pods cannot run there.
 */
class DeployRunnersHelmTest {

    static final TestCluster.Readiness READY = TestCluster.Readiness.ready();

    /** The manager's memory limit in a pod template (the runner manager's own container). */
    static String memoryLimit(JsonNode template) {
        return template.path("spec").path("containers").path(0).path("resources").path("limits").path("memory").asText();
    }

    static Predicate<JsonNode> memoryLimitIs(String limit) {
        return t -> memoryLimit(t).equals(limit);
    }

    static String newNamespace(TestCluster api, String prefix, TestCluster.Readiness readiness) {
        String ns = prefix + "-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.namespaceWithRollouts(api, ns, readiness);
        return ns;
    }

    static TestSupport.Result status(TestCluster api, Path dir, String... types) {
        var args = new ArrayList<>(List.of("dev"));
        args.addAll(List.of(types));
        args.addAll(List.of("--status", "-o", "json", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context()));
        return TestSupport.inProcess(new DeployRunners(), args.toArray(String[]::new));
    }

    static List<String> errors(TestSupport.Result r) {
        return r.err().lines().filter(l -> l.startsWith("error:")).toList();
    }

    @Test
    void firstDeployCreatesTheRunnerInGitLabStoresItsTokenAndInstalls() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-first", READY);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            var r = RunnerFixtures.deploy(dir, gitlab, "docker", "dind", "-o", "json");
            assertEquals(0, r.exit(), r.toString());

            // GitLab: the group looked up by path, then one group runner per type with its tags; then each runner's settings
            // read back (they match what it was created with: no PUT).
            assertEquals(List.of("GET /api/v4/groups/gloriousflywheel", "POST /api/v4/user/runners", "POST /api/v4/user/runners",
                            "GET /api/v4/runners/" + gitlab.ids.get(0), "GET /api/v4/runners/" + gitlab.ids.get(1)),
                    gitlab.requests.stream().map(GitLabStandIn.Req::line).toList());
            for (GitLabStandIn.Req req : gitlab.requests) assertEquals(GitLabStandIn.ACCESS_TOKEN, req.privateToken());
            JsonNode docker = RunnerFixtures.JSON.readTree(gitlab.requests.get(1).body());
            assertEquals("group_type", docker.path("runner_type").asText());
            assertEquals(GitLabStandIn.GROUP_ID, docker.path("group_id").asLong());
            assertEquals(List.of("docker", "linux", "amd64"), List.of(RunnerFixtures.JSON.treeToValue(docker.path("tag_list"), String[].class)));
            assertTrue(docker.path("description").asText().contains("gitlab-runner-docker"), docker.toString());
            // Created with every GitLab-side setting of the file (RunnerSettings.wanted), so no PUT follows.
            assertFalse(docker.path("run_untagged").asBoolean(true), docker.toString());
            assertFalse(docker.path("locked").asBoolean(true), docker.toString());
            assertEquals("not_protected", docker.path("access_level").asText(), docker.toString());
            assertEquals(List.of("dind", "privileged", "docker", "linux", "amd64"),
                    List.of(RunnerFixtures.JSON.treeToValue(RunnerFixtures.JSON.readTree(gitlab.requests.get(2).body()).path("tag_list"), String[].class)));

            // The tokens are in the Secrets the chart reads, and nowhere in the output.
            KubernetesClient c = api.client();
            for (int i = 0; i < 2; i++) {
                String release = i == 0 ? "gitlab-runner-docker" : "gitlab-runner-dind";
                Secret s = c.secrets().inNamespace(ns).withName(release + "-token").get();
                assertNotNull(s, release + "-token missing");
                assertEquals(gitlab.tokens.get(i), RunnerFixtures.decode(s.getData().get("runner-token")));
                assertEquals("", RunnerFixtures.decode(s.getData().get("runner-registration-token")));
                assertEquals(String.valueOf(gitlab.ids.get(i)), s.getMetadata().getAnnotations().get(RunnerValues.RUNNER_ID_ANNOTATION));
                assertFalse(r.out().contains(gitlab.tokens.get(i)) || r.err().contains(gitlab.tokens.get(i)), "token leaked:\n" + r);

                // The chart's objects, installed by Helm and rolled out before Helm returned (--wait).
                Deployment d = c.apps().deployments().inNamespace(ns).withName(release).get();
                assertNotNull(d, "deployment " + release);
                var tokenVolume = d.getSpec().getTemplate().getSpec().getVolumes().get(2);   // as in the real chart
                assertEquals("projected-secrets", tokenVolume.getName());
                assertEquals(release + "-token", tokenVolume.getProjected().getSources().get(0).getSecret().getName());
                assertEquals(d.getSpec().getReplicas(), d.getStatus().getReadyReplicas(), "Helm returned before the rollout was ready");
                // Helm's writes carry the field manager Helm takes from the process name (helm-java sets none); besides it only
                // the Deployment controller manages fields (its revision annotation and the status).
                assertEquals(List.of(HelmReleases.JvmHelm.FIELD_MANAGER),
                        d.getMetadata().getManagedFields().stream().map(ManagedFieldsEntry::getManager).filter(m -> !m.equals("kube-controller-manager"))
                                .distinct().toList());
                HorizontalPodAutoscaler hpa = c.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName(release + "-hpa").get();
                assertNotNull(hpa, release + "-hpa");
                assertNotNull(c.policy().v1().podDisruptionBudget().inNamespace(ns).withName(release + "-pdb").get(), release + "-pdb");
                // Helm's own record of it.
                assertEquals(List.of("1 deployed Install complete"), RunnerFixtures.history(api, ns, release));
            }
            JsonNode outcomes = RunnerFixtures.JSON.readTree(r.out());
            assertEquals(List.of("installed", "installed"), outcomes.findValuesAsText("action"));
            assertEquals("created (runner " + gitlab.ids.get(0) + ")", outcomes.get(0).path("token").asText());
            assertEquals(1, outcomes.get(0).path("revision").asInt());

            // --status reads the release records real Helm wrote, and the pods the rollout made.
            var status = status(api, dir, "docker");
            JsonNode st = RunnerFixtures.JSON.readTree(status.out()).get(0);
            assertEquals("gitlab-runner-docker", st.path("release").asText());
            assertEquals(1, st.path("revision").asInt());
            assertEquals("deployed", st.path("status").asText());
            assertEquals("0.86.0", st.path("chartVersion").asText());
            assertEquals("present", st.path("token").asText());
            assertTrue(st.path("hpa").asText().endsWith("(1-3)"), st.toString());
            int replicas = c.apps().deployments().inNamespace(ns).withName("gitlab-runner-docker").get().getSpec().getReplicas();
            assertEquals(replicas, st.path("podsReady").asInt(), st.toString());
            assertEquals(replicas, st.path("pods").asInt(), st.toString());
            assertEquals(0, st.path("restarts").asInt());
            assertEquals(0, status.exit(), status.toString());

            // Pods that crash-loop: no pod is ready, status says so with its exit code and the restarts.
            api.rollouts(ns, TestCluster.Readiness.crashLooping(null, null, 4));
            var down = status(api, dir, "docker");
            JsonNode dst = RunnerFixtures.JSON.readTree(down.out()).get(0);
            assertEquals(0, dst.path("podsReady").asInt());
            assertEquals(4 * replicas, dst.path("restarts").asInt(), dst.toString());
            assertEquals(ExitCode.CHECK_FAILED, down.exit(), down.toString());
            assertTrue(down.err().contains("not every runner release is deployed with a ready pod"), down.err());
        }
    }

    @Test
    void unchangedValuesMeanNoUpgradeAndNoGitLabWrite() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-again", READY);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "rocky9").exit());
            assertEquals(List.of("1 deployed Install complete"), RunnerFixtures.history(api, ns, "gitlab-runner-rocky9"));
            api.resetRequests();

            var again = RunnerFixtures.deploy(dir, gitlab, "rocky9");
            assertEquals(0, again.exit(), again.toString());
            assertEquals(List.of("1 deployed Install complete"), RunnerFixtures.history(api, ns, "gitlab-runner-rocky9"),
                    "an unchanged release was upgraded");
            assertEquals(List.of("POST /api/v4/user/runners"), gitlab.writes(), "the token Secret exists: no runner is created again, no setting sent");
            assertTrue(again.out().matches("(?s).*gitlab-runner-rocky9\\s+unchanged\\s+1\\s.*"), again.out());
            assertEquals(0, api.mutatingRequests(), "an unchanged re-run wrote to the cluster: " + api.requests());

            // A changed value in the environment file: one upgrade, waited for, and the change is named.
            RunnerFixtures.editEnv(dir, "runners[3].concurrent", "3"); // rocky9 (within the runner quota at maxReplicas)
            String before = api.client().apps().deployments().inNamespace(ns).withName("gitlab-runner-rocky9").get()
                    .getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/configmap");
            var changed = RunnerFixtures.deploy(dir, gitlab, "rocky9");
            assertEquals(0, changed.exit(), changed.toString());
            assertEquals(List.of("1 superseded Install complete", "2 deployed Upgrade complete"),
                    RunnerFixtures.history(api, ns, "gitlab-runner-rocky9"));
            assertTrue(changed.out().contains("gitlab-runner-rocky9: concurrent: 2 -> 3"), changed.out());
            assertTrue(changed.out().matches("(?s).*gitlab-runner-rocky9\\s+upgraded\\s+2\\s.*"), changed.out());
            Deployment d = api.client().apps().deployments().inNamespace(ns).withName("gitlab-runner-rocky9").get();
            assertFalse(before.equals(d.getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/configmap")),
                    "the new config did not reach the pod template");
            assertEquals(d.getSpec().getReplicas(), d.getStatus().getUpdatedReplicas());
            assertEquals(d.getSpec().getReplicas(), d.getStatus().getReadyReplicas());
            assertEquals(2, api.client().apps().replicaSets().inNamespace(ns).list().getItems().size(), "one ReplicaSet per template");
        }
    }

    @Test
    void anUpgradeThatNeverBecomesReadyIsRolledBack() throws IOException {
        TestCluster api = TestCluster.shared();
        // A manager limited to 129Mi of memory (just above its 128Mi request: 1Mi, below it, is invalid and the API server refuses
        // the upgrade outright) runs out of memory as it starts: its pods crash-loop and never become ready.
        String ns = newNamespace(api, "runners-rollback", TestCluster.Readiness.crashLooping(".spec.containers.[].resources.limits.memory", "129Mi", 3));
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "docker").exit());
            HelmReleases.Deployed first = RunnerFixtures.helm(api).get(ns, "gitlab-runner-docker");

            RunnerFixtures.editEnv(dir, "runnerChart.manager.limits", "{cpu: 200m, memory: 129Mi}");
            var r = RunnerFixtures.deploy(dir, gitlab, "docker", "--timeout", "6s");
            assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
            List<String> errors = errors(r);
            assertEquals(1, errors.size(), r.err());
            assertTrue(errors.get(0).startsWith("error: release gitlab-runner-docker was not ready within 6 s; Helm rolled it back: "
                    + "revision 3 is revision 1 again: "), r.err());
            assertTrue(errors.get(0).endsWith("check its pods with 'kubectl -n " + ns + " get pods -l app=gitlab-runner-docker' or raise --timeout"), r.err());
            // Progress while Helm waited: which release, pods ready of desired, time spent of the timeout.
            // (The old pod stays ready while the new one crash-loops: a rolling update of one replica keeps it, as the real controller does.)
            assertTrue(r.err().lines().anyMatch(l -> l.matches("  gitlab-runner-docker: [01]/1 pods ready, 1 updated, \\d+ s of 6 s.*")), r.err());

            // Helm's history ends with the rollback; the values and the pod template are the first revision's again.
            List<String> history = RunnerFixtures.history(api, ns, "gitlab-runner-docker");
            assertEquals(3, history.size(), history.toString());
            assertEquals("1 superseded Install complete", history.get(0));
            assertTrue(history.get(1).startsWith("2 failed Upgrade \"gitlab-runner-docker\" failed"), history.toString());
            assertEquals("3 deployed Rollback to 1", history.get(2));
            HelmReleases.Deployed now = RunnerFixtures.helm(api).get(ns, "gitlab-runner-docker");
            assertEquals(first.values(), now.values());
            assertEquals("deployed", now.status());
            Deployment d = api.client().apps().deployments().inNamespace(ns).withName("gitlab-runner-docker").get();
            assertEquals("256Mi", d.getSpec().getTemplate().getSpec().getContainers().get(0).getResources().getLimits().get("memory").toString());
            assertEquals(d.getSpec().getReplicas(), d.getStatus().getReadyReplicas());
        }
    }

    @Test
    void aFirstInstallThatNeverBecomesReadyIsRemoved() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-noinstall", TestCluster.Readiness.notReady());
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            var r = RunnerFixtures.deploy(dir, gitlab, "rocky8", "--timeout", "4s");
            assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
            List<String> errors = errors(r);
            assertEquals(1, errors.size(), r.err());
            assertTrue(errors.get(0).startsWith("error: release gitlab-runner-rocky8 was not ready within 4 s; the failed first install was removed (helm --atomic): "), r.err());
            // No release, no record, none of the chart's objects (their ReplicaSets and pods went with them).
            assertNull(RunnerFixtures.helm(api).get(ns, "gitlab-runner-rocky8"));
            KubernetesClient c = api.client();
            assertEquals(List.of(), c.secrets().inNamespace(ns).withLabel("owner", "helm").list().getItems());
            assertNull(c.apps().deployments().inNamespace(ns).withName("gitlab-runner-rocky8").get());
            assertNull(c.configMaps().inNamespace(ns).withName("gitlab-runner-rocky8").get());
            assertEquals(List.of(), c.apps().replicaSets().inNamespace(ns).list().getItems());
            assertEquals(List.of(), c.pods().inNamespace(ns).list().getItems());
            // The runner token gfw stored stays: the next run uses it instead of registering another runner.
            assertNotNull(c.secrets().inNamespace(ns).withName("gitlab-runner-rocky8-token").get());

            api.rollouts(ns, READY);
            var retry = RunnerFixtures.deploy(dir, gitlab, "rocky8");
            assertEquals(0, retry.exit(), retry.toString());
            assertEquals(1, gitlab.ids.size(), "a second runner was registered");
            assertEquals(List.of("1 deployed Install complete"), RunnerFixtures.history(api, ns, "gitlab-runner-rocky8"));
        }
    }

    @Test
    void aReleaseStuckPendingIsAClearErrorNamingTheWayOut() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-pending", READY);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "nix").exit());
            // A Helm killed during its first install leaves the release pending-install.
            RunnerFixtures.setReleaseStatus(api, ns, "gitlab-runner-nix", 1, "pending-install");
            RunnerFixtures.editEnv(dir, "runners[4].concurrent", "4"); // nix (within the runner quota at maxReplicas)
            api.resetRequests();
            var r = RunnerFixtures.deploy(dir, gitlab, "nix");
            assertEquals(ExitCode.CONFLICT, r.exit(), r.toString());
            String secret = "sh.helm.release.v1.gitlab-runner-nix.v1";
            assertEquals(List.of("error: release gitlab-runner-nix is pending-install (revision 1): another Helm operation is running,"
                    + " or one was interrupted; if none is running, delete that revision's record with 'kubectl -n " + ns
                    + " delete secret " + secret + "' (Helm then sees no release, and installs it anew; with a helm binary: 'helm -n "
                    + ns + " uninstall gitlab-runner-nix'), then run gfw deploy-runners again"), errors(r));
            assertEquals(0, api.mutatingRequests(), "something was written: " + api.requests());
            // A Helm that starts after gfw read the release (a race): Helm's own refusal becomes the same error.
            HelmReleases.Deployed seen = RunnerFixtures.helm(api).get(ns, "gitlab-runner-nix");
            RunnerFixtures.setReleaseStatus(api, ns, "gitlab-runner-nix", 1, "deployed");
            HelmReleases.Deployed before = RunnerFixtures.helm(api).get(ns, "gitlab-runner-nix");
            RunnerFixtures.setReleaseStatus(api, ns, "gitlab-runner-nix", 1, "pending-upgrade");
            GfwException race = org.junit.jupiter.api.Assertions.assertThrows(GfwException.class, () -> RunnerFixtures.helm(api)
                    .upgradeInstall(TestCharts.runnerChart(), ns, "gitlab-runner-nix", before.values(), java.time.Duration.ofSeconds(5), before));
            assertEquals(ExitCode.CONFLICT, race.exitCode());
            assertTrue(race.getMessage().startsWith("release gitlab-runner-nix is pending-upgrade (revision 1): another Helm operation"),
                    race.getMessage());
            assertTrue(race.getMessage().contains("with a helm binary: 'helm -n " + ns + " rollback gitlab-runner-nix'"), race.getMessage());
            assertEquals("pending-install", seen.status());
            RunnerFixtures.setReleaseStatus(api, ns, "gitlab-runner-nix", 1, "pending-install");

            // --status shows what Helm's record says.
            JsonNode st = RunnerFixtures.JSON.readTree(status(api, dir, "nix").out()).get(0);
            assertEquals("pending-install", st.path("status").asText());

            // The way out works: the real kubectl deletes the record, and the next run installs.
            var kubectl = TestSupport.command("kubectl", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                    "-n", ns, "delete", "secret", secret).run();
            assertEquals(0, kubectl.exit(), kubectl.toString());
            var again = RunnerFixtures.deploy(dir, gitlab, "nix");
            assertEquals(0, again.exit(), again.toString());
            assertTrue(again.out().matches("(?s).*gitlab-runner-nix\\s+installed\\s+1\\s.*"), again.out());
            assertEquals("deployed", RunnerFixtures.helm(api).get(ns, "gitlab-runner-nix").status());
        }
    }

    @Test
    void realHelmSeesAnUnchangedReleaseFromTheCommandLine() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-cli", READY);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "docker").exit());
        }
        // The script as users run it, Helm in its JVM reading the release the deploy recorded.
        var r = TestSupport.script("deploy-runners", "dev", "docker", "--dry-run=server", "-o", "json", "--env-dir", dir.toString(),
                "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--chart", TestCharts.runnerChart().toString()).run();
        assertEquals(0, r.exit(), r.toString());
        JsonNode o = RunnerFixtures.JSON.readTree(r.out()).get(0);
        assertEquals("unchanged", o.path("action").asText(), r.toString());
        assertEquals(1, o.path("revision").asInt());
        assertEquals("exists", o.path("token").asText());
        assertEquals("[]", o.path("changes").toString());
    }

    @Test
    void statusWatchRedrawsWhenSomethingChanges() throws Exception {
        TestCluster api = TestCluster.shared();
        String ns = newNamespace(api, "runners-watch", READY);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "docker").exit());
        }
        var usage = TestSupport.inProcess(new DeployRunners(), "dev", "--watch", "--env-dir", dir.toString());
        assertEquals(ExitCode.USAGE, usage.exit(), usage.toString());
        assertTrue(usage.err().contains("--watch goes with --status"), usage.err());

        // As a user runs it: a process that keeps printing until it is interrupted.
        var pb = new ProcessBuilder(TestSupport.repo().resolve("jbang").toString(),
                TestSupport.repo().resolve("scripts/deploy-runners.java").toString(), "dev", "docker", "--status", "-w",
                "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context())
                .redirectErrorStream(true);
        for (String k : List.of("KUBECONFIG", "HTTPS_PROXY", "https_proxy", "GITLAB_CI", "GITLAB_TOKEN")) pb.environment().remove(k);
        Process p = pb.start();
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (var in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = in.readLine()) != null; ) lines.add(l);
            } catch (IOException ignored) {
                // the process was stopped
            }
        });
        reader.start();
        try {
            waitFor(lines, l -> l.matches("gitlab-runner-docker\\s+1\\s+deployed\\s+0\\.86\\.0\\s+1/1\\s+0\\s.*"), p);
            api.rollouts(ns, TestCluster.Readiness.crashLooping(null, null, 5));
            waitFor(lines, l -> l.matches("gitlab-runner-docker\\s+1\\s+deployed\\s+0\\.86\\.0\\s+0/1\\s+5\\s.*"), p);
            assertTrue(p.isAlive(), "--watch ended by itself:\n" + String.join("\n", lines));
            assertEquals(2, lines.stream().filter(l -> l.startsWith("RELEASE ")).count(),
                    "one table per change:\n" + String.join("\n", lines));
        } finally {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void waitFor(List<String> lines, Predicate<String> want, Process p) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (lines.stream().anyMatch(want)) return;
            if (!p.isAlive()) break;
            Thread.sleep(200);
        }
        throw new AssertionError("no such line (process " + (p.isAlive() ? "running" : "ended " + p.exitValue()) + "):\n" + String.join("\n", lines));
    }
}
