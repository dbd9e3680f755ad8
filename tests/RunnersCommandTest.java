import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * runners, as processes through ./jbang against the test API server (rollouts and pods, real Helm) and the GitLab
 * stand-in: what they print, their exit codes, the GitLab requests they send (and do not send) and the cluster state
 * they leave. Each test deploys the docker runner type with deploy-runners first, which records the runner id on the
 * token Secret.
 */
class RunnersCommandTest {

    /** A runner namespace with rollouts, the docker runner deployed into it, and a GitLab stand-in that knows it. */
    record Deployed(TestCluster api, String ns, Path envDir, GitLabStandIn gitlab, long runnerId) {}

    static Deployed deployDocker(String prefix, UnaryOperator<String> edit) {
        return deployDocker(prefix, edit, g -> {});
    }

    /** The same, with the GitLab stand-in set up by {@code setup} first (groups, token expiry...). */
    static Deployed deployDocker(String prefix, UnaryOperator<String> edit, java.util.function.Consumer<GitLabStandIn> setup) {
        TestCluster api = TestCluster.shared();
        String ns = prefix + "-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.namespaceWithRollouts(api, ns, TestCluster.Readiness.ready());
        Path dir = RunnerFixtures.envDir(ns, edit);
        var gitlab = new GitLabStandIn();
        setup.accept(gitlab);
        var r = RunnerFixtures.deploy(dir, gitlab, "docker");
        assertEquals(0, r.exit(), r.toString());
        Secret s = api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get();
        long id = Long.parseLong(s.getMetadata().getAnnotations().get("gfw.gloriousflywheel.dev/runner-id"));
        assertEquals(gitlab.ids.get(0), id);
        gitlab.requests.clear();
        return new Deployed(api, ns, dir, gitlab, id);
    }

    /** {@code ./jbang scripts/runners.java dev SUBCOMMAND args... --env-dir … --kubeconfig … --gitlab-url … --gitlab-token-file …}. */
    static TestSupport.Result runners(Deployed d, String subcommand, String... args) {
        var argv = new ArrayList<>(List.of("dev", subcommand));
        argv.addAll(List.of(args));
        argv.addAll(List.of("--env-dir", d.envDir().toString(), "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context()));
        if (!List.of("history", "rollback").contains(subcommand)) { // Helm only: no GitLab options
            argv.addAll(List.of("--gitlab-url", d.gitlab().url(), "--gitlab-token-file", d.gitlab().tokenFile.toString()));
        }
        return TestSupport.script("runners", argv.toArray(String[]::new)).run();
    }

    static String[] concat(String[] a, String[] b) {
        var all = new ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }

    static List<String> errors(TestSupport.Result r) {
        return r.err().lines().filter(l -> l.startsWith("error:")).toList();
    }

    static List<String> lines(GitLabStandIn gitlab) {
        return gitlab.requests.stream().map(GitLabStandIn.Req::line).toList();
    }

    @Test
    void statusPauseResumeAndDrainGoByTheStoredRunnerId() throws Exception {
        Deployed d = deployDocker("runners-ops", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            // A second runner in GitLab with the same description: gfw must not care (it goes by id).
            gitlab.addRunner(gitlab.runners.get(d.runnerId()).description, "online");

            var status = runners(d, "status", "docker", "-o", "json");
            assertEquals(0, status.exit(), status.toString());
            JsonNode row = RunnerFixtures.JSON.readTree(status.out()).get(0);
            assertEquals("gitlab-runner-docker", row.path("release").asText());
            assertEquals(1, row.path("revision").asInt());
            assertEquals("deployed", row.path("status").asText());
            assertEquals("gitlab-runner-0.86.0", row.path("chart").asText());
            assertTrue(row.path("podsReady").asInt() > 0 && row.path("podsReady").asInt() == row.path("pods").asInt(), row.toString());
            assertTrue(row.path("hpa").asText().endsWith("/3"), row.toString());
            assertEquals(d.runnerId(), row.path("runnerId").asLong());
            assertTrue(row.path("online").asBoolean());
            assertFalse(row.path("paused").asBoolean());
            assertEquals("online", row.path("gitlabStatus").asText());
            assertEquals("17.11.0", row.path("version").asText());
            // The stand-in's runner keeps contacting GitLab (each look refreshes it): the row's contact is the one read then.
            assertFalse(java.time.Instant.parse(row.path("contactedAt").asText()).isAfter(java.time.Instant.parse(gitlab.runners.get(d.runnerId()).contactedAt)), row.toString());
            assertEquals(0, row.path("runningJobs").asInt());
            assertEquals(List.of("GET " + runner, "GET " + runner + "/jobs", "GET " + runner + "/managers"), lines(gitlab));
            // Its managers (GET /runners/:id/managers): one manager pod contacted GitLab with the token.
            assertEquals(1, row.path("managers").size(), row.toString());
            assertEquals("17.11.0", row.path("managers").get(0).path("version").asText());
            assertTrue(row.path("managers").get(0).path("systemId").asText().startsWith("r_"), row.toString());
            for (var req : gitlab.requests) assertEquals(GitLabStandIn.ACCESS_TOKEN, req.privateToken());

            // All types: the ones not deployed say so, and the exit code is 80.
            var wide = runners(d, "status", "-o", "wide");
            assertEquals(ExitCode.CHECK_FAILED, wide.exit(), wide.toString());
            assertTrue(wide.out().lines().anyMatch(l -> l.matches("dind +- +not installed +0/0 .* unknown .*")), wide.out());
            String header = wide.out().lines().findFirst().orElse("");
            assertTrue(header.matches("TYPE +REVISION +STATUS +READY +HPA +RUNNER +ONLINE +PAUSED +GITLAB +JOBS +CHART +VERSION +CONTACTED +TOKEN EXPIRES +MANAGERS"), wide.out());
            assertTrue(wide.out().lines().anyMatch(l -> l.startsWith("docker ") && l.contains(" never ")), wide.out()); // the token does not expire
            assertTrue(wide.out().lines().anyMatch(l -> l.startsWith("docker ") && l.contains(" " + d.runnerId() + " ") && l.contains("17.11.0")), wide.out());

            // pause: one PUT with {"paused": true}; the second pause reads and sends no PUT.
            gitlab.requests.clear();
            var pause = runners(d, "pause", "docker");
            assertEquals(0, pause.exit(), pause.toString());
            assertTrue(pause.out().contains("paused"), pause.out());
            assertEquals(List.of("GET " + runner, "PUT " + runner), lines(gitlab));
            assertEquals("{\"paused\":true}", gitlab.requests.get(1).body());
            assertEquals("application/json", gitlab.requests.get(1).contentType());
            assertTrue(gitlab.paused(d.runnerId()));
            gitlab.requests.clear();
            var again = runners(d, "pause", "docker", "-o", "json");
            assertEquals(0, again.exit(), again.toString());
            assertEquals("unchanged", RunnerFixtures.JSON.readTree(again.out()).get(0).path("action").asText());
            assertEquals(List.of("GET " + runner), lines(gitlab));

            // resume --dry-run says what it would do and sends no PUT; resume then does.
            gitlab.requests.clear();
            var dry = runners(d, "resume", "--all", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("would be resumed"), dry.out());
            assertEquals(List.of(), gitlab.writes());
            assertTrue(gitlab.paused(d.runnerId()));
            var resume = runners(d, "resume", "docker");
            assertEquals(0, resume.exit(), resume.toString());
            assertFalse(gitlab.paused(d.runnerId()));
            assertEquals("{\"paused\":false}", gitlab.requests.get(gitlab.requests.size() - 1).body());

            // drain: pauses, then waits; a job that never ends is exit 80 with progress on stderr, the runner stays paused.
            gitlab.runners.get(d.runnerId()).runningJobs.add(4711L);
            var stuck = runners(d, "drain", "docker", "--timeout", "3s", "--poll", "500ms");
            assertEquals(ExitCode.CHECK_FAILED, stuck.exit(), stuck.toString());
            assertTrue(stuck.err().contains("docker (runner " + d.runnerId() + "): 1 running job [4711]"), stuck.err());
            assertEquals(List.of("error: drain timed out after 3 s: docker (runner " + d.runnerId() + ") still runs jobs [4711];"
                    + " the runners stay paused (resume with 'gfw runners dev resume TYPE')"), errors(stuck));
            assertTrue(gitlab.paused(d.runnerId()));
            // A job that ends after a few looks: drained, exit 0.
            gitlab.runners.get(d.runnerId()).jobsFinishAfterPolls = 2;
            var drained = runners(d, "drain", "docker", "--timeout", "30s", "--poll", "200ms");
            assertEquals(0, drained.exit(), drained.toString());
            assertTrue(drained.out().contains("drained"), drained.out());
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void statusWatchPrintsAgainWhenGitLabsStateChanges() throws Exception {
        Deployed d = deployDocker("runners-watch", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            var cmd = TestSupport.script("runners", "dev", "status", "docker", "--watch", "--env-dir", d.envDir().toString(),
                    "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString());
            Process p = new ProcessBuilder(cmd.command).directory(TestSupport.repo().toFile()).redirectErrorStream(false).start();
            try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                var seen = new ArrayList<String>();
                String row = readUntil(out, seen, l -> l.startsWith("docker "));
                assertTrue(row.matches("docker +1 +deployed +\\d+/\\d+ .* " + d.runnerId() + " +true +false +online +0"), row);
                gitlab.paused.add(d.runnerId()); // someone pauses it in GitLab's UI
                String again = readUntil(out, seen, l -> l.startsWith("docker ") && l.contains(" true ") && !l.equals(row));
                // GitLab's REST status of a paused runner is "paused" (deprecated_rest_status), its online flag stays true
                assertTrue(again.matches("docker +1 +deployed .* " + d.runnerId() + " +true +true +paused +0"), again);
                assertEquals(2, seen.stream().filter(l -> l.startsWith("TYPE ")).count(), "printed once per change: " + seen);
            } finally {
                p.descendants().forEach(ProcessHandle::destroy);
                p.destroy();
                p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }

    /** Reads lines (kept in {@code seen}) until one matches; fails after 120 s or at the end of the output. */
    static String readUntil(java.io.BufferedReader out, List<String> seen, java.util.function.Predicate<String> match) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline) {
            String line = out.readLine();
            if (line == null) throw new AssertionError("output ended: " + seen);
            seen.add(line);
            if (match.test(line)) return line;
        }
        throw new AssertionError("no matching line in " + seen);
    }

    @Test
    void gitLabErrorsAreOneLineWithTheirCodesAndProductionNeedsYes() throws Exception {
        Deployed d = deployDocker("runners-errors", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            record Case(String method, int status, int exit, String says) {}
            for (Case c : List.of(new Case("PUT", 403, ExitCode.AUTH, "(403 403 Forbidden)"),
                    new Case("GET", 404, ExitCode.NOT_FOUND, "(404 404 Not found)"),
                    new Case("PUT", 500, ExitCode.REMOTE_ERROR, "(500 500 Internal Server Error)"))) {
                gitlab.clearFailures();
                gitlab.fail(c.method(), runner, c.status());
                var r = TestSupport.inProcess(new Runners(), "dev", "pause", "docker", "--env-dir", d.envDir().toString(), "--kubeconfig",
                        d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                        "--gitlab-token-file", gitlab.tokenFile.toString());
                assertEquals(c.exit(), r.exit(), r.toString());
                assertEquals(1, errors(r).size(), r.toString());
                assertTrue(errors(r).get(0).contains(c.says()) && errors(r).get(0).contains("runner " + d.runnerId()), r.toString());
            }
            // 401: a wrong token, never echoed.
            gitlab.clearFailures();
            Path wrong = TestSupport.tempDir("wrong-token").resolve("token");
            java.nio.file.Files.writeString(wrong, "glpat-wrong-one\n");
            java.nio.file.Files.setPosixFilePermissions(wrong, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            var unauthorized = TestSupport.inProcess(new Runners(), "dev", "pause", "docker", "--env-dir", d.envDir().toString(), "--kubeconfig",
                    d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", wrong.toString());
            assertEquals(ExitCode.AUTH, unauthorized.exit(), unauthorized.toString());
            assertEquals(1, errors(unauthorized).size(), unauthorized.toString());
            assertTrue(errors(unauthorized).get(0).contains("401"), unauthorized.toString());
            assertFalse(unauthorized.err().contains("glpat-wrong-one"), unauthorized.toString());
            // A GitLab that does not answer within --request-timeout: 69, one line.
            gitlab.fail("GET", runner, 0);
            var stalled = TestSupport.inProcess(new Runners(), "dev", "pause", "docker", "--env-dir", d.envDir().toString(), "--kubeconfig",
                    d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString(), "--request-timeout", "1s");
            assertEquals(ExitCode.UNAVAILABLE, stalled.exit(), stalled.toString());
            assertEquals(1, errors(stalled).size(), stalled.toString());
            gitlab.clearFailures();

            // status: GitLab unreadable is "unknown" with the reason, and exit 80, not a made-up state.
            gitlab.fail("GET", runner, 500);
            var unknown = TestSupport.inProcess(new Runners(), "dev", "status", "-o", "json", "--env-dir", d.envDir().toString(), "--kubeconfig",
                    d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString());
            assertEquals(ExitCode.CHECK_FAILED, unknown.exit(), unknown.toString());
            JsonNode row = RunnerFixtures.JSON.readTree(unknown.out()).get(0);
            assertEquals("unknown", row.path("gitlabStatus").asText());
            assertTrue(row.path("online").isNull(), row.toString());
            assertTrue(row.path("gitlabError").asText().contains("500"), row.toString());
            gitlab.clearFailures();

            // No GitLab token at all: the cluster part is shown, GitLab's says it was not read; exit 80, no GitLab request.
            gitlab.requests.clear();
            var noToken = TestSupport.script("runners", "dev", "status", "docker", "-o", "json", "--env-dir", d.envDir().toString(),
                    "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url()).run();
            assertEquals(ExitCode.CHECK_FAILED, noToken.exit(), noToken.toString());
            JsonNode unread = RunnerFixtures.JSON.readTree(noToken.out()).get(0);
            assertEquals("deployed", unread.path("status").asText());
            assertEquals(d.runnerId(), unread.path("runnerId").asLong());
            assertEquals("unknown", unread.path("gitlabStatus").asText());
            assertEquals("not read: GITLAB_TOKEN is not set", unread.path("gitlabError").asText());
            assertEquals(List.of(), lines(gitlab));

            // A token Secret without the runner id (made before gfw recorded it): 68 with the kubectl line that adds it.
            d.api().client().secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").edit(x -> {
                x.getMetadata().getAnnotations().remove(RunnerValues.RUNNER_ID_ANNOTATION);
                return x;
            });
            gitlab.requests.clear();
            var noId = TestSupport.inProcess(new Runners(), "dev", "drain", "docker", "--dry-run", "--env-dir", d.envDir().toString(),
                    "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString());
            assertEquals(ExitCode.NOT_FOUND, noId.exit(), noId.toString());
            assertEquals(1, errors(noId).size(), noId.toString());
            assertTrue(errors(noId).get(0).contains("has no annotation gfw.gloriousflywheel.dev/runner-id: gfw finds runners by it, never by description")
                    && errors(noId).get(0).contains("kubectl -n " + d.ns() + " annotate secret gitlab-runner-docker-token gfw.gloriousflywheel.dev/runner-id=ID"),
                    noId.toString());
            assertEquals(List.of(), lines(gitlab));

            // A token Secret that gfw 0.1.0 annotated (its older key) is still found by that id.
            d.api().client().secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").edit(x -> {
                x.getMetadata().getAnnotations().put(RunnerValues.LEGACY_RUNNER_ID_ANNOTATION, String.valueOf(d.runnerId()));
                return x;
            });
            var legacy = TestSupport.inProcess(new Runners(), "dev", "drain", "docker", "--dry-run", "--env-dir", d.envDir().toString(),
                    "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context(), "--gitlab-url", gitlab.url(),
                    "--gitlab-token-file", gitlab.tokenFile.toString());
            assertEquals(0, legacy.exit(), legacy.toString());
            assertTrue(lines(gitlab).stream().anyMatch(l -> l.contains("/api/v4/runners/" + d.runnerId())), lines(gitlab).toString());
            assertEquals(List.of(), gitlab.writes());
            d.api().client().secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").edit(x -> {
                x.getMetadata().getAnnotations().remove(RunnerValues.LEGACY_RUNNER_ID_ANNOTATION);
                x.getMetadata().getAnnotations().put(RunnerValues.RUNNER_ID_ANNOTATION, String.valueOf(d.runnerId()));
                return x;
            });

            // drain --dry-run: says what it would pause and what runs now, pauses nothing, does not wait.
            gitlab.runners.get(d.runnerId()).runningJobs.add(99L);
            var dryDrain = runners(d, "drain", "docker", "--dry-run", "--timeout", "1h");
            assertEquals(0, dryDrain.exit(), dryDrain.toString());
            assertTrue(dryDrain.out().contains("would be paused"), dryDrain.out());
            assertTrue(dryDrain.err().contains("docker: running jobs now [99]"), dryDrain.err());
            assertEquals(List.of(), gitlab.writes());
            gitlab.runners.get(d.runnerId()).runningJobs.clear();

            // Production: refused without -y before any GitLab request.
            RunnerFixtures.editEnv(d.envDir(), "production", "true");
            gitlab.requests.clear();
            var refused = runners(d, "pause", "--all");
            assertEquals(ExitCode.REFUSED, refused.exit(), refused.toString());
            assertTrue(errors(refused).get(0).contains("production"), refused.toString());
            assertEquals(List.of(), lines(gitlab));
            var confirmed = runners(d, "pause", "--all", "-y");
            assertEquals(0, confirmed.exit(), confirmed.toString());
            assertTrue(gitlab.paused(d.runnerId()));
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void historyAndRollbackRestoreTheValuesWithRealHelmAndUnstickAPendingRelease() throws Exception {
        Deployed d = deployDocker("runners-rollback", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            var helm = RunnerFixtures.helm(d.api());
            Object concurrent1 = helm.get(d.ns(), "gitlab-runner-docker").values().get("concurrent");
            RunnerFixtures.editEnv(d.envDir(), "runners[0].concurrent", "5"); // within the runner quota at maxReplicas
            assertEquals(0, RunnerFixtures.deploy(d.envDir(), gitlab, "docker").exit());
            gitlab.requests.clear(); // the deploy paused and resumed the runner around its upgrade (RunnerDrain)
            assertEquals(5, helm.get(d.ns(), "gitlab-runner-docker").values().get("concurrent"));

            var history = runners(d, "history", "docker", "-o", "json");
            assertEquals(0, history.exit(), history.toString());
            JsonNode h = RunnerFixtures.JSON.readTree(history.out());
            assertEquals(2, h.size());
            assertEquals("superseded", h.get(0).path("status").asText());
            assertEquals("deployed", h.get(1).path("status").asText());

            var dry = runners(d, "rollback", "docker", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("would roll back: revision 2 -> 1"), dry.out());
            assertTrue(dry.out().contains("concurrent: 5 -> " + concurrent1), dry.out());
            assertEquals(2, RunnerFixtures.history(d.api(), d.ns(), "gitlab-runner-docker").size());

            // A revision Helm does not have, and --unstick on a release that is not stuck: refused, nothing changed.
            String[] cluster = {"--env-dir", d.envDir().toString(), "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context()};
            var missing = TestSupport.inProcess(new Runners(), concat(new String[] {"dev", "rollback", "docker", "--to", "9"}, cluster));
            assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
            assertEquals(List.of("error: release gitlab-runner-docker has no revision 9 (it has 1, 2); see 'gfw runners dev history docker'"),
                    errors(missing));
            var notStuck = TestSupport.inProcess(new Runners(), concat(new String[] {"dev", "rollback", "docker", "--unstick"}, cluster));
            assertEquals(ExitCode.USAGE, notStuck.exit(), notStuck.toString());
            assertTrue(errors(notStuck).get(0).contains("gitlab-runner-docker is deployed (revision 2)"), notStuck.toString());
            assertEquals(2, RunnerFixtures.history(d.api(), d.ns(), "gitlab-runner-docker").size());

            var back = runners(d, "rollback", "docker", "--timeout", "30s");
            assertEquals(0, back.exit(), back.toString());
            assertEquals(List.of("1 superseded Install complete", "2 superseded Upgrade complete", "3 deployed Rollback to 1"),
                    RunnerFixtures.history(d.api(), d.ns(), "gitlab-runner-docker"));
            assertEquals(concurrent1, helm.get(d.ns(), "gitlab-runner-docker").values().get("concurrent"));
            Deployment dep = d.api().client().apps().deployments().inNamespace(d.ns()).withName("gitlab-runner-docker").get();
            assertEquals(dep.getSpec().getReplicas(), dep.getStatus().getReadyReplicas(), "rollback returned before the rollout was ready");

            // An upgrade interrupted mid-way (pending-upgrade): refused with the way out, then --unstick.
            assertEquals(0, RunnerFixtures.deploy(d.envDir(), gitlab, "docker").exit()); // revision 4: concurrent 5 again
            gitlab.requests.clear();
            RunnerFixtures.setReleaseStatus(d.api(), d.ns(), "gitlab-runner-docker", 4, "pending-upgrade");
            var refused = runners(d, "rollback", "docker");
            assertEquals(ExitCode.CONFLICT, refused.exit(), refused.toString());
            assertTrue(errors(refused).get(0).contains("rollback docker --unstick"), refused.toString());
            var unstuck = runners(d, "rollback", "docker", "--unstick", "--timeout", "30s");
            assertEquals(0, unstuck.exit(), unstuck.toString());
            List<String> after = RunnerFixtures.history(d.api(), d.ns(), "gitlab-runner-docker");
            // Helm supersedes the last revision on the next upgrade, whatever it was; the description tells what happened.
            assertTrue(after.get(3).matches("4 (failed|superseded) Interrupted pending-upgrade .*"), after.toString());
            assertEquals("5 deployed Rollback to 3", after.get(4));
            assertEquals(concurrent1, helm.get(d.ns(), "gitlab-runner-docker").values().get("concurrent"));
            assertEquals(List.of(), lines(gitlab).stream().filter(l -> l.contains("/runners/")).toList()); // Helm only, no GitLab
        }
    }

    @Test
    void rotateTokenStoresTheNewTokenRestartsThePodsAndNeverPrintsIt() throws Exception {
        Deployed d = deployDocker("runners-rotate", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            var client = d.api().client();
            String podsBefore = client.pods().inNamespace(d.ns()).withLabel("app", "gitlab-runner-docker").list().getItems().get(0).getMetadata().getName();
            String tokenBefore = RunnerFixtures.decode(client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").get()
                    .getData().get("runner-token"));
            var dry = runners(d, "rotate-token", "docker", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("would reset its token"), dry.out());
            assertEquals(List.of(), gitlab.writes());
            assertEquals(tokenBefore, RunnerFixtures.decode(client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").get()
                    .getData().get("runner-token")));

            gitlab.reconnectAfterPolls = 2;
            var r = runners(d, "rotate-token", "docker", "--timeout", "30s");
            assertEquals(0, r.exit(), r.toString());
            assertEquals(1, gitlab.resetTokens.size());
            String token = gitlab.resetTokens.get(0);
            Secret s = client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").get();
            assertEquals(token, RunnerFixtures.decode(s.getData().get("runner-token")));
            assertEquals(String.valueOf(d.runnerId()), s.getMetadata().getAnnotations().get(RunnerValues.RUNNER_ID_ANNOTATION));
            assertFalse(r.out().contains(token) || r.err().contains(token), "token printed:\n" + r);
            assertTrue(r.out().contains("runner " + d.runnerId() + " (gitlab-runner-docker): token rotated"), r.out());
            assertTrue(lines(gitlab).contains("POST " + runner + "/reset_authentication_token"), lines(gitlab).toString());
            Deployment dep = client.apps().deployments().inNamespace(d.ns()).withName("gitlab-runner-docker").get();
            assertNotNull(dep.getSpec().getTemplate().getMetadata().getAnnotations().get(RunnerFleet.RESTARTED_AT));
            var pods = client.pods().inNamespace(d.ns()).withLabel("app", "gitlab-runner-docker").list().getItems();
            assertTrue(pods.stream().noneMatch(p -> p.getMetadata().getName().equals(podsBefore)) || pods.size() > 1, "no new pods");

            // GitLab never sees it again: exit 80, the runner id and its state named, the token still not printed.
            gitlab.reconnectAfterPolls = -1;
            var lost = runners(d, "rotate-token", "docker", "--timeout", "3s");
            assertEquals(ExitCode.CHECK_FAILED, lost.exit(), lost.toString());
            assertEquals(1, errors(lost).size(), lost.toString());
            assertTrue(errors(lost).get(0).contains("runner " + d.runnerId() + " (gitlab-runner-docker): new token stored")
                    && errors(lost).get(0).contains("GitLab has not heard from it since the reset"), lost.toString());
            assertFalse(lost.out().contains(gitlab.resetTokens.get(1)) || lost.err().contains(gitlab.resetTokens.get(1)), lost.toString());

            // GitLab refuses the reset: the old token stays, nothing stored, the runner id named.
            gitlab.fail("POST", runner + "/reset_authentication_token", 403);
            var refused = runners(d, "rotate-token", "docker");
            assertEquals(ExitCode.AUTH, refused.exit(), refused.toString());
            assertTrue(errors(refused).get(0).contains("runner " + d.runnerId() + " (gitlab-runner-docker) keeps its old token"), refused.toString());
            assertEquals(gitlab.resetTokens.get(1), RunnerFixtures.decode(client.secrets().inNamespace(d.ns())
                    .withName("gitlab-runner-docker-token").get().getData().get("runner-token")));
            gitlab.clearFailures();

            // Reset, but the Secret cannot take the new token (another field manager owns it): the state is named.
            client.resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName("gitlab-runner-docker-token")
                    .withNamespace(d.ns()).endMetadata().addToData("runner-token", RunnerValues.base64("glrt-someone-elses")).build())
                    .fieldManager("someone-else").forceConflicts().serverSideApply();
            var unstored = runners(d, "rotate-token", "docker", "--timeout", "10s");
            assertEquals(ExitCode.CONFLICT, unstored.exit(), unstored.toString());
            assertEquals(1, errors(unstored).size(), unstored.toString());
            assertTrue(errors(unstored).get(0).startsWith("error: runner " + d.runnerId() + " (gitlab-runner-docker) has a new token that could not be stored in Secret "
                    + d.ns() + "/gitlab-runner-docker-token"), unstored.toString());
            assertTrue(errors(unstored).get(0).contains("GitLab no longer accepts, so it goes offline; run rotate-token again"), unstored.toString());
            assertEquals(3, gitlab.resetTokens.size());
            assertFalse(unstored.err().contains(gitlab.resetTokens.get(2)) || unstored.out().contains(gitlab.resetTokens.get(2)), unstored.toString());
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void prunesOnlyGfwsUnreferencedRunnersOfTheEnvironmentsOwnGroupAndLeavesEveryOtherAlone() throws Exception {
        // The environment's group is a subgroup: GET /groups/:id/runners also lists the parent group's runners
        // (belonging_to_group_and_ancestors), some of which another team's gfw made with the same environment names.
        long[] team = new long[1];
        Deployed d = deployDocker("runners-prune", t -> EnvFile.of(t).set("organization.group", "gloriousflywheel/team").text(),
                g -> team[0] = g.addGroup("gloriousflywheel/team"));
        try (var gitlab = d.gitlab()) {
            assertEquals(team[0], gitlab.runners.get(d.runnerId()).groupId, "deploy-runners created the runner in the environment's group");
            var parentsGfw = gitlab.addRunner("gitlab-runner-nix (dev, dev-cluster)", "stale", GitLabStandIn.GROUP_ID);
            var parentsStale = gitlab.addRunner("old laptop runner", "stale", GitLabStandIn.GROUP_ID);
            var stale = gitlab.addRunner("someone's runner", "stale", team[0]);
            var never = gitlab.addRunner("registered, never started", "never_contacted", team[0]);
            var orphanNever = gitlab.addRunner("gitlab-runner-rocky8 (dev, dev-cluster)", "never_contacted", team[0]);
            var orphanStale = gitlab.addRunner("gitlab-runner-nix (dev, dev-cluster)", "stale", team[0]);
            var otherCluster = gitlab.addRunner("gitlab-runner-nix (dev, other-cluster)", "stale", team[0]);
            // more than a page (GitLab gives at most 100 a page): the rest come through X-Next-Page
            var many = new ArrayList<Long>();
            for (int i = 0; i < 105; i++) many.add(gitlab.addRunner("fleet runner " + i, "online", GitLabStandIn.GROUP_ID).id);

            var list = runners(d, "prune", "-o", "json");
            assertEquals(0, list.exit(), list.toString());
            JsonNode rows = RunnerFixtures.JSON.readTree(list.out());
            var action = new java.util.HashMap<Long, String>();
            var reason = new java.util.HashMap<Long, String>();
            for (JsonNode row : rows) {
                action.put(row.path("runner").asLong(), row.path("action").asText());
                reason.put(row.path("runner").asLong(), row.path("reason").asText());
            }
            assertEquals(113, rows.size(), "every listed runner has its row: " + rows);
            assertTrue(action.keySet().containsAll(many), "the second page was read");
            for (var e : action.entrySet()) {
                boolean ours = e.getKey() == orphanNever.id || e.getKey() == orphanStale.id;
                assertEquals(ours ? "would be deleted" : "left alone", e.getValue(), "runner " + e.getKey() + ": " + reason.get(e.getKey()));
            }
            assertTrue(reason.get(parentsGfw.id).startsWith("owned by group " + GitLabStandIn.GROUP_ID + ", not gloriousflywheel/team"), reason.toString());
            assertEquals("not created by gfw for dev on dev-cluster", reason.get(parentsStale.id));
            assertEquals("not created by gfw for dev on dev-cluster", reason.get(stale.id));
            assertEquals("not created by gfw for dev on dev-cluster", reason.get(never.id));
            assertEquals("not created by gfw for dev on dev-cluster", reason.get(otherCluster.id));
            assertEquals("in use: Secret gitlab-runner-docker-token holds its token", reason.get(d.runnerId()));
            // what it says of the contact comes from the runner's details (the list entity has no contacted_at)
            assertEquals("created by gfw for dev, no token Secret references it; never_contacted, never contacted GitLab", reason.get(orphanNever.id));
            assertEquals("created by gfw for dev, no token Secret references it; stale, last contact " + orphanStale.contactedAt, reason.get(orphanStale.id));
            assertTrue(lines(gitlab).contains("GET /api/v4/runners/" + orphanStale.id), lines(gitlab).toString());
            assertTrue(list.err().contains("2 runners to prune in group gloriousflywheel/team; 111 left alone; nothing deleted: pass --yes"), list.err());
            assertEquals(List.of(), gitlab.writes());

            var dry = runners(d, "prune", "--yes", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertEquals(List.of(), gitlab.writes());

            // GitLab refuses one deletion: that row says so, the other is deleted, exit 77.
            gitlab.fail("DELETE", "/api/v4/runners/" + orphanNever.id, 403);
            var partly = runners(d, "prune", "--yes", "-o", "json");
            assertEquals(ExitCode.AUTH, partly.exit(), partly.toString());
            var partAction = new java.util.HashMap<Long, String>();
            for (JsonNode row : RunnerFixtures.JSON.readTree(partly.out())) partAction.put(row.path("runner").asLong(), row.path("action").asText());
            assertEquals("deleted", partAction.get(orphanStale.id));
            assertTrue(partAction.get(orphanNever.id).startsWith("failed: GitLab refused to delete runner " + orphanNever.id + " (403"), partAction.toString());
            assertTrue(gitlab.runners.containsKey(orphanNever.id));
            gitlab.clearFailures();
            gitlab.requests.clear();

            var yes = runners(d, "prune", "--yes");
            assertEquals(0, yes.exit(), yes.toString());
            assertEquals(List.of("DELETE /api/v4/runners/" + orphanNever.id), gitlab.writes());
            for (var kept : List.of(parentsGfw, parentsStale, stale, never, otherCluster)) assertTrue(gitlab.runners.containsKey(kept.id), "deleted " + kept.description);
            assertTrue(gitlab.runners.containsKey(d.runnerId()), "the runner a token Secret references was deleted");
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void eachCommandSaysWhichScopesItNeedsAndGitLabsTokenErrorsAsGitLabSaysThem() throws Exception {
        Deployed d = deployDocker("runners-scopes", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            java.util.function.BiFunction<String, String[], TestSupport.Result> as = (token, args) -> {
                var argv = new ArrayList<>(List.of(args));
                argv.addAll(List.of("--env-dir", d.envDir().toString(), "--kubeconfig", d.api().kubeconfig().toString(), "--context", d.api().context(),
                        "--gitlab-url", gitlab.url(), "--gitlab-token-file", GitLabStandIn.tokenFile(token).toString()));
                return TestSupport.inProcess(new Runners(), argv.toArray(String[]::new));
            };
            // create_runner opens only POST /user/runners: status is refused with GitLab's OAuth body, named as such.
            String createOnly = gitlab.token("create_runner");
            var status = as.apply(createOnly, new String[] {"dev", "status", "docker"});
            assertEquals(ExitCode.CHECK_FAILED, status.exit(), status.toString());
            assertTrue(status.err().contains("GITLAB_TOKEN lacks the scope to read runner " + d.runnerId() + " (403 insufficient_scope: GitLab lists manage_runner,api,read_api for this route)"), status.err());
            assertTrue(status.err().contains("runners status needs a token with read_api, manage_runner or api, of a user with the Owner role on the group"), status.err());
            // manage_runner covers /runners/:id: status and pause work with it...
            String manage = gitlab.token("manage_runner");
            assertEquals(0, as.apply(manage, new String[] {"dev", "status", "docker"}).exit());
            var pause = as.apply(manage, new String[] {"dev", "pause", "docker"});
            assertEquals(0, pause.exit(), pause.toString());
            // ...but not GET /groups/:path, prune's first call
            var prune = as.apply(manage, new String[] {"dev", "prune"});
            assertEquals(ExitCode.AUTH, prune.exit(), prune.toString());
            assertTrue(errors(prune).get(0).contains("(403 insufficient_scope: GitLab lists api,read_api for this route) on GET " + gitlab.url() + "/api/v4/groups/gloriousflywheel")
                    && errors(prune).get(0).contains("runners prune needs a token with api, or read_api + manage_runner"), prune.toString());
            // read_api alone cannot pause
            var readOnly = as.apply(gitlab.token("read_api"), new String[] {"dev", "resume", "docker"});
            assertEquals(ExitCode.AUTH, readOnly.exit(), readOnly.toString());
            assertTrue(errors(readOnly).get(0).contains("runners pause/resume/drain/rotate-token needs a token with manage_runner or api"), readOnly.toString());
            // expired and revoked tokens: GitLab's invalid_token, said as GitLab says it
            String expired = gitlab.token("api");
            gitlab.expiredTokens.add(expired);
            var exp = as.apply(expired, new String[] {"dev", "pause", "docker"});
            assertEquals(ExitCode.AUTH, exp.exit(), exp.toString());
            assertTrue(errors(exp).get(0).contains("(401 invalid_token: Token is expired. You can either do re-authorization or token refresh.)")
                    && errors(exp).get(0).contains("GitLab says the token is expired"), exp.toString());
            String revoked = gitlab.token("api");
            gitlab.revokedTokens.add(revoked);
            var rev = as.apply(revoked, new String[] {"dev", "pause", "docker"});
            assertTrue(errors(rev).get(0).contains("GitLab says the token is revoked"), rev.toString());
            assertFalse((exp.err() + rev.err() + status.err()).contains(expired) || rev.err().contains(revoked), "a token was printed");
        }
    }

    @Test
    void rateLimitsAndPassingGitLabFailuresAreRetriedWithinTheTime() throws Exception {
        Deployed d = deployDocker("runners-429", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            // 429 twice with Retry-After: 1, then the PUT goes through
            gitlab.throttle("PUT", runner, 2, 1);
            var pause = runners(d, "pause", "docker");
            assertEquals(0, pause.exit(), pause.toString());
            assertTrue(gitlab.paused(d.runnerId()));
            assertTrue(pause.err().contains("GitLab answered 429 (rate limited) to pause runner " + d.runnerId() + "; retrying in 1 s (Retry-After)"), pause.err());
            assertEquals(3, lines(gitlab).stream().filter(l -> l.equals("PUT " + runner)).count(), lines(gitlab).toString());
            // a passing 502/503 on a GET: retried with back-off
            gitlab.requests.clear();
            gitlab.fail("GET", runner, 503, 1);
            gitlab.fail("GET", runner + "/jobs", 502, 2);
            var status = runners(d, "status", "docker", "-o", "json");
            assertEquals(0, status.exit(), status.toString());
            assertEquals("paused", RunnerFixtures.JSON.readTree(status.out()).get(0).path("gitlabStatus").asText());
            // rotate-token: the reset (a POST) throttled once is retried within --timeout; nothing is left half done
            gitlab.clearFailures();
            gitlab.throttle("POST", runner + "/reset_authentication_token", 1, 1);
            var rotated = runners(d, "rotate-token", "docker", "--timeout", "30s");
            assertEquals(0, rotated.exit(), rotated.toString());
            assertEquals(1, gitlab.resetTokens.size());
            // a POST is not repeated after a 5xx (it may have been done): one line, 79
            gitlab.fail("POST", runner + "/reset_authentication_token", 502, 1);
            gitlab.requests.clear();
            var failed = runners(d, "rotate-token", "docker", "--timeout", "30s");
            assertEquals(ExitCode.REMOTE_ERROR, failed.exit(), failed.toString());
            assertTrue(errors(failed).get(0).contains("keeps its old token"), failed.toString());
            assertEquals(1, lines(gitlab).stream().filter(l -> l.equals("POST " + runner + "/reset_authentication_token")).count(), lines(gitlab).toString());
            // throttled longer than --timeout allows: said at once, not waited for
            gitlab.clearFailures();
            gitlab.throttle("GET", runner + "/jobs", 100, 3600);
            long t0 = System.nanoTime();
            var drain = runners(d, "drain", "docker", "--timeout", "5s");
            assertEquals(ExitCode.REMOTE_ERROR, drain.exit(), drain.toString());
            assertTrue(errors(drain).get(0).contains("GitLab answered 429 (rate limited) to list the running jobs of runner " + d.runnerId())
                    && errors(drain).get(0).contains("asks to wait 3600 s more: no time left (--timeout 5 s)"), drain.toString());
            assertTrue(System.nanoTime() - t0 < 60_000_000_000L, "waited for the Retry-After");
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void theTokensExpiryIsRecordedAndWarnedAboutBeforeGitLabRunnerRotatesItItself() throws Exception {
        Deployed d = deployDocker("runners-expiry", UnaryOperator.identity(), g -> g.tokenLifetime = java.time.Duration.ofDays(30));
        try (var gitlab = d.gitlab()) {
            var client = d.api().client();
            Secret s = client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").get();
            java.time.Instant expires = java.time.Instant.parse(s.getMetadata().getAnnotations().get("gfw.gloriousflywheel.dev/token-expires-at"));
            assertTrue(Math.abs(java.time.Duration.between(java.time.Instant.now().plus(java.time.Duration.ofDays(30)), expires).toMinutes()) < 10, expires.toString());
            assertNotNull(s.getMetadata().getAnnotations().get("gfw.gloriousflywheel.dev/token-obtained-at"));
            var ok = runners(d, "status", "docker", "-o", "json");
            assertEquals(0, ok.exit(), ok.toString());
            assertEquals(expires.toString(), RunnerFixtures.JSON.readTree(ok.out()).get(0).path("tokenExpiresAt").asText());

            // 25 of 30 days gone: past gitlab-runner's own rotation (75%), so the Secret's token may be stale: warned, with the way out
            java.util.function.BiConsumer<java.time.Instant, java.time.Instant> record = (obtained, until) ->
                    client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").edit(x -> {
                        x.getMetadata().getAnnotations().put("gfw.gloriousflywheel.dev/token-obtained-at", obtained.toString());
                        x.getMetadata().getAnnotations().put("gfw.gloriousflywheel.dev/token-expires-at", until.toString());
                        return x;
                    });
            var now = java.time.Instant.now();
            record.accept(now.minus(java.time.Duration.ofDays(20)), now.plus(java.time.Duration.ofDays(10)));
            var soon = runners(d, "status", "docker");
            assertEquals(0, soon.exit(), soon.toString());
            assertTrue(soon.err().contains("gitlab-runner rotates it itself at") && soon.err().contains("run 'gfw runners dev rotate-token docker' before then"), soon.err());
            record.accept(now.minus(java.time.Duration.ofDays(30)), now.minus(java.time.Duration.ofHours(1)));
            var expired = runners(d, "status", "docker", "-o", "json");
            assertEquals(ExitCode.CHECK_FAILED, expired.exit(), expired.toString());
            assertTrue(RunnerFixtures.JSON.readTree(expired.out()).get(0).path("tokenWarning").asText().contains("GitLab no longer accepts the Secret's token"), expired.out());

            // rotate-token records the new expiry (--force-conflicts: this test wrote the annotations as another field manager)
            var rotated = runners(d, "rotate-token", "docker", "--timeout", "30s", "--force-conflicts");
            assertEquals(0, rotated.exit(), rotated.toString());
            var after = client.secrets().inNamespace(d.ns()).withName("gitlab-runner-docker-token").get().getMetadata().getAnnotations();
            assertTrue(java.time.Instant.parse(after.get("gfw.gloriousflywheel.dev/token-expires-at")).isAfter(now.plus(java.time.Duration.ofDays(29))), after.toString());
            assertEquals(0, runners(d, "status", "docker").exit());
        }
    }

    // ---- issue 22: GitLab-side settings, drain before upgrades, reap, smoke ------------------------------------------

    /** deploy-runners of the docker type again, with the GitLab stand-in and the test's environment directory. */
    static TestSupport.Result redeploy(Deployed d, String... rest) {
        var args = new ArrayList<>(List.of("docker"));
        args.addAll(List.of(rest));
        return RunnerFixtures.deploy(d.envDir(), d.gitlab(), args.toArray(String[]::new));
    }

    @Test
    void aTagEditReachesGitLabWithOnePutAndARerunSendsNone() throws Exception {
        Deployed d = deployDocker("runners-tags", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            assertEquals(List.of("docker", "linux", "amd64"), gitlab.runners.get(d.runnerId()).tags);
            RunnerFixtures.editEnv(d.envDir(), "runners[0].tags", "[docker, linux, amd64, large]");
            var r = redeploy(d);
            assertEquals(0, r.exit(), r.toString());
            assertEquals(List.of("PUT " + runner), gitlab.writes(), gitlab.requests.toString());
            GitLabStandIn.Req put = gitlab.requests.stream().filter(q -> q.method().equals("PUT")).findFirst().orElseThrow();
            assertEquals("{\"tag_list\":[\"docker\",\"linux\",\"amd64\",\"large\"]}", put.body());
            assertEquals(List.of("docker", "linux", "amd64", "large"), gitlab.runners.get(d.runnerId()).tags);
            assertTrue(r.out().contains("gitlab runner tag_list: [docker, linux, amd64] -> [docker, linux, amd64, large]"), r.out());
            assertEquals(List.of(), gitlab.problems);

            // The same file again: GitLab is read, nothing is sent.
            gitlab.requests.clear();
            var again = redeploy(d);
            assertEquals(0, again.exit(), again.toString());
            assertEquals(List.of(), gitlab.writes(), gitlab.requests.toString());

            // Drift made in GitLab's UI (run untagged switched on) is put back with one PUT of that field.
            gitlab.runners.get(d.runnerId()).runUntagged = true;
            gitlab.requests.clear();
            assertEquals(0, redeploy(d).exit());
            assertEquals(List.of("PUT " + runner), gitlab.writes());
            assertEquals("{\"run_untagged\":false}", gitlab.requests.stream().filter(q -> q.method().equals("PUT")).findFirst().orElseThrow().body());
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void theStandInRejectsWhatGitLabRejects() throws Exception {
        try (var gitlab = new GitLabStandIn()) {
            var r = gitlab.addRunner("x", "online");
            var http = java.net.http.HttpClient.newHttpClient();
            java.util.function.BiFunction<String, String, java.net.http.HttpResponse<String>> put = (path, body) -> {
                try {
                    return http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(gitlab.url() + path))
                            .header("PRIVATE-TOKEN", GitLabStandIn.ACCESS_TOKEN).header("Content-Type", "application/json")
                            .method("PUT", java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            String path = "/api/v4/runners/" + r.id;
            assertEquals(400, put.apply(path, "{}").statusCode());
            assertEquals(400, put.apply(path, "{\"access_level\":\"everyone\"}").statusCode());
            var tooShort = put.apply(path, "{\"maximum_timeout\":60}");
            assertEquals(400, tooShort.statusCode());
            assertTrue(tooShort.body().contains("needs to be at least 10 minutes"), tooShort.body());
            assertEquals(400, put.apply(path, "{\"paused\":true,\"active\":true}").statusCode());
            assertEquals(200, put.apply(path, "{\"tag_list\":\"a,b\",\"maximum_timeout\":3600}").statusCode());
            assertEquals(List.of("a", "b"), r.tags);
        }
    }

    @Test
    void anUpgradeThatRestartsPodsWaitsForTheRunningJobAndANoOpPausesNothing() throws Exception {
        Deployed d = deployDocker("runners-drain-up", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            String runner = "/api/v4/runners/" + d.runnerId();
            var g = gitlab.runners.get(d.runnerId());
            g.runningJobs.add(4711L);
            g.jobsFinishAfterPolls = 2; // the job ends while gfw waits
            RunnerFixtures.editEnv(d.envDir(), "runners[0].concurrent", "3");
            var r = redeploy(d);
            assertEquals(0, r.exit(), r.toString());
            List<String> seen = lines(gitlab);
            int pause = seen.indexOf("PUT " + runner);
            int resume = seen.lastIndexOf("PUT " + runner);
            assertTrue(pause >= 0 && resume > pause, seen.toString());
            assertTrue(seen.subList(pause, resume).stream().filter(l -> l.equals("GET " + runner + "/jobs")).count() >= 2, seen.toString());
            var puts = gitlab.requests.stream().filter(q -> q.method().equals("PUT")).map(GitLabStandIn.Req::body).toList();
            assertEquals(List.of("{\"paused\":true}", "{\"paused\":false}"), puts);
            assertFalse(gitlab.paused(d.runnerId()));
            assertTrue(r.err().contains("1 running job [4711]"), r.err());
            assertTrue(r.err().contains("resumed in GitLab"), r.err());
            assertTrue(r.out().matches("(?s).*gitlab-runner-docker\\s+upgraded\\s+2\\s.*"), r.out());

            // Nothing changed: no pause, no PUT.
            gitlab.requests.clear();
            var noop = redeploy(d);
            assertEquals(0, noop.exit(), noop.toString());
            assertEquals(List.of(), gitlab.writes());

            // A job that never ends: the upgrade is refused after --drain-timeout and the runner resumed.
            g.runningJobs.add(4712L);
            g.jobsFinishAfterPolls = -1;
            RunnerFixtures.editEnv(d.envDir(), "runners[0].concurrent", "2");
            var busy = redeploy(d, "--drain-timeout", "2s");
            assertEquals(ExitCode.CHECK_FAILED, busy.exit(), busy.toString());
            assertTrue(busy.err().contains("still runs jobs [4712] after --drain-timeout 2 s"), busy.err());
            assertFalse(gitlab.paused(d.runnerId()));
            assertEquals(List.of("2 deployed Upgrade complete"), RunnerFixtures.history(d.api(), d.ns(), "gitlab-runner-docker").subList(1, 2));
        }
    }

    @Test
    void reapListsStuckJobPodsAndDeletesThemWithYes() throws Exception {
        TestCluster api = TestCluster.shared();
        String ns = "runners-reap-" + RunnerFixtures.SEQ.incrementAndGet();
        RunnerFixtures.createNamespace(api, ns);
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            var project = gitlab.addProject("gloriousflywheel/app");
            var done = gitlab.addJob(project, "failed", null);
            var running = gitlab.addJob(project, "running", null);
            var c = api.client();
            java.util.function.BiFunction<String, java.util.Map<String, String>, io.fabric8.kubernetes.api.model.Pod> pod = (name, ann) ->
                    c.pods().inNamespace(ns).resource(new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName(name)
                            .withAnnotations(ann).withFinalizers(name.endsWith("terminating") ? List.of("gfw.test/hold") : List.of()).endMetadata().withNewSpec().addToNodeSelector("gfw-test/no-such-node", "true")
                            .addNewContainer().withName("build").withImage("alpine").endContainer().endSpec().build()).create();
            pod.apply("runner-a-pending", java.util.Map.of("job.runner.gitlab.com/id", "1", "project.runner.gitlab.com/id", String.valueOf(project.id),
                    "job.runner.gitlab.com/timeout", "1s"));
            pod.apply("runner-b-ended", java.util.Map.of("job.runner.gitlab.com/id", String.valueOf(done.id), "project.runner.gitlab.com/id", String.valueOf(project.id)));
            pod.apply("runner-c-running", java.util.Map.of("job.runner.gitlab.com/id", String.valueOf(running.id), "project.runner.gitlab.com/id", String.valueOf(project.id)));
            pod.apply("not-a-job-pod", java.util.Map.of());
            pod.apply("runner-d-terminating", java.util.Map.of("job.runner.gitlab.com/id", "4", "project.runner.gitlab.com/id", String.valueOf(project.id)));
            c.pods().inNamespace(ns).withName("runner-d-terminating").delete(); // its finalizer keeps it Terminating
            Thread.sleep(2000); // past runner-a's 1 s timeout
            var d = new Deployed(api, ns, dir, gitlab, 0);
            try {
                var list = runners(d, "reap", "-o", "json");
                assertEquals(0, list.exit(), list.toString());
                JsonNode rows = RunnerFixtures.JSON.readTree(list.out());
                assertEquals(List.of("runner-a-pending", "runner-b-ended", "runner-d-terminating"),
                        java.util.stream.StreamSupport.stream(rows.spliterator(), false).map(n -> n.path("pod").asText()).toList(), list.out());
                assertTrue(rows.get(0).path("reason").asText().contains("longer than the job's timeout (1 s)"), rows.toString());
                assertEquals("its GitLab job is failed", rows.get(1).path("reason").asText());
                assertEquals("Terminating", rows.get(2).path("phase").asText());
                for (JsonNode n : rows) assertEquals("would be deleted", n.path("action").asText());
                assertEquals(5, c.pods().inNamespace(ns).list().getItems().size(), "a listing deleted something");

                api.resetRequests();
                var reap = runners(d, "reap", "-y");
                assertEquals(0, reap.exit(), reap.toString());
                assertNull(c.pods().inNamespace(ns).withName("runner-a-pending").get());
                assertNull(c.pods().inNamespace(ns).withName("runner-b-ended").get());
                assertNotNull(c.pods().inNamespace(ns).withName("runner-c-running").get());
                assertNotNull(c.pods().inNamespace(ns).withName("not-a-job-pod").get());
                assertTrue(reap.out().contains("force-deleted"), reap.out());
                if (api.isLocal()) {
                    assertTrue(api.requests().stream().anyMatch(q -> q.toString().contains("DELETE") && q.toString().contains("runner-d-terminating")),
                            api.requests().toString());
                }
            } finally {
                c.pods().inNamespace(ns).withName("runner-d-terminating").patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                        io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE), "{\"metadata\":{\"finalizers\":null}}");
            }
        }
    }

    @Test
    void smokeRunsOneJobThroughGitLabAndSaysPassOrFailWithTheJobUrl() throws Exception {
        Deployed d = deployDocker("runners-smoke", UnaryOperator.identity());
        try (var gitlab = d.gitlab()) {
            var project = gitlab.addProject("gloriousflywheel/runner-smoke");
            var pass = runners(d, "smoke", "docker", "--poll", "200ms", "--timeout", "20s", "-o", "json");
            assertEquals(0, pass.exit(), pass.toString());
            JsonNode row = RunnerFixtures.JSON.readTree(pass.out()).get(0);
            assertEquals("pass", row.path("result").asText(), pass.out());
            assertTrue(row.path("job").asText().startsWith(gitlab.url() + "/gloriousflywheel/runner-smoke/-/jobs/"), row.toString());
            GitLabStandIn.Req create = gitlab.requests.stream().filter(q -> q.method().equals("POST")).findFirst().orElseThrow();
            assertEquals("/api/v4/projects/gloriousflywheel%2Frunner-smoke/pipeline", create.path());
            JsonNode body = RunnerFixtures.JSON.readTree(create.body());
            assertEquals("main", body.path("ref").asText());
            assertEquals("GFW_SMOKE_TYPE", body.path("variables").get(0).path("key").asText());
            assertEquals("docker", body.path("variables").get(0).path("value").asText());
            assertEquals("docker", body.path("variables").get(1).path("value").asText());
            assertEquals(List.of(), gitlab.problems);

            gitlab.jobOutcome.put(d.runnerId(), "failed");
            var fail = runners(d, "smoke", "docker", "--poll", "200ms", "--timeout", "20s");
            assertEquals(ExitCode.CHECK_FAILED, fail.exit(), fail.toString());
            assertTrue(fail.out().lines().anyMatch(l -> l.startsWith("docker ") && l.contains(" fail ") && l.contains("/-/jobs/")
                    && l.contains("the job failed on runner " + d.runnerId())), fail.out());

            // A paused runner takes no job: fail after the timeout, the job still pending.
            gitlab.jobOutcome.clear();
            gitlab.paused.add(d.runnerId());
            var none = runners(d, "smoke", "docker", "--poll", "200ms", "--timeout", "2s");
            assertEquals(ExitCode.CHECK_FAILED, none.exit(), none.toString());
            assertTrue(none.out().contains("no runner took the job after 2 s"), none.out());
        }
    }
}
