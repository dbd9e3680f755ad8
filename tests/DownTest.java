import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * down as a user runs it (a process through ./jbang) against a deployed test environment ({@link HealthFixtures}:
 * namespaces, database, Attic, dashboard, docker and nix runners with their GitLab runners in the stand-in): the plan
 * first; dashboard, runner releases with their GitLab runners, and Attic go; the database, the volume and their Secrets
 * stay unless --delete-data, which goes only once the environment's name is typed (never on -y alone); namespaces only
 * with --namespaces; a re-run sends nothing, to the API server or GitLab.
 */
class DownTest {

    static TestSupport.Cmd down(HealthFixtures f, String... args) {
        var argv = new ArrayList<>(List.of("dev"));
        argv.addAll(List.of(args));
        argv.addAll(List.of("--env-dir", f.envDir.toString(), "--kubeconfig", f.api.kubeconfig().toString(), "--context", f.api.context(),
                "--gitlab-url", f.gitlab.url(), "--gitlab-token-file", f.gitlab.tokenFile.toString()));
        return TestSupport.script("down", argv.toArray(String[]::new));
    }

    static List<String> gitlabLines(HealthFixtures f) {
        return f.gitlab.requests.stream().map(GitLabStandIn.Req::line).toList();
    }

    static boolean exists(HealthFixtures f, String ns, String kind, String name) {
        return switch (kind) {
            case "deployment" -> f.client().apps().deployments().inNamespace(ns).withName(name).get() != null;
            case "secret" -> f.client().secrets().inNamespace(ns).withName(name).get() != null;
            case "pvc" -> {
                var p = f.client().persistentVolumeClaims().inNamespace(ns).withName(name).get();
                yield p != null && p.getMetadata().getDeletionTimestamp() == null;
            }
            case "cluster" -> f.client().genericKubernetesResources(HealthFixtures.CNPG_API, "Cluster").inNamespace(ns).withName(name).get() != null;
            case "namespace" -> {
                var n = f.client().namespaces().withName(name).get();
                yield n != null && n.getMetadata().getDeletionTimestamp() == null;
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @Test
    void downLeavesTheDataAndARerunSendsNothing() {
        try (var f = new HealthFixtures().deploy()) {
            List<Long> runnerIds = new ArrayList<>();
            for (String type : HealthFixtures.TYPES) {
                var s = f.client().secrets().inNamespace(f.runnerNs).withName("gitlab-runner-" + type + "-token").get();
                runnerIds.add(Long.parseLong(s.getMetadata().getAnnotations().get(RunnerValues.RUNNER_ID_ANNOTATION)));
            }
            // The CI jobs' cache token (up and attic-token --ci write it; the fixtures have it): down takes it too, up mints it again.
            assertTrue(exists(f, f.runnerNs, "secret", CiCacheToken.SECRET), "the fixtures hold the CI token");
            f.gitlab.requests.clear();

            // The plan alone: nothing sent anywhere.
            f.api.resetRequests();
            var dry = down(f, "--dry-run").run();
            assertEquals(0, dry.exit(), dry.toString());
            assertEquals(0, f.api.mutatingRequests(true), f.api.requests().toString());
            assertEquals(List.of(), gitlabLines(f));
            for (String want : List.of("deployment/runner-dashboard", "helm release gitlab-runner-docker", "gitlab runner " + runnerIds.get(0) + " (docker)",
                    "deployment/attic", "secret/gitlab-runner-nix-token", "secret/" + CiCacheToken.SECRET)) {
                assertTrue(dry.out().lines().anyMatch(l -> l.contains(want) && l.contains("would delete")), want + "\n" + dry.out());
            }
            assertTrue(dry.out().lines().anyMatch(l -> l.contains("cluster/attic-pg") && l.contains("keep (kept without --delete-data)")), dry.out());
            assertTrue(dry.out().lines().anyMatch(l -> l.contains("namespace/" + f.atticNs) && l.contains("keep")), dry.out());

            // --diff: 82 while something is left.
            var diff = down(f, "--diff").run();
            assertEquals(ExitCode.DRIFT, diff.exit(), diff.toString());

            // down: dashboard, runners (in GitLab too), Attic; the data and the namespaces stay.
            var r = down(f).run();
            assertEquals(0, r.exit(), r.toString());
            assertEquals(List.of("DELETE /api/v4/runners/" + runnerIds.get(0), "DELETE /api/v4/runners/" + runnerIds.get(1)), gitlabLines(f));
            for (long id : runnerIds) assertFalse(f.gitlab.runners.containsKey(id), "runner " + id + " deleted in GitLab");
            assertFalse(exists(f, f.dashboardNs, "deployment", "runner-dashboard"));
            assertFalse(exists(f, f.atticNs, "deployment", "attic"));
            assertFalse(exists(f, f.runnerNs, "secret", "gitlab-runner-docker-token"));
            assertFalse(exists(f, f.runnerNs, "secret", CiCacheToken.SECRET), "the CI token goes with the runners");
            assertTrue(RunnerFixtures.helm(f.api).get(f.runnerNs, "gitlab-runner-docker") == null, "release uninstalled");
            assertTrue(exists(f, f.atticNs, "cluster", "attic-pg"), "the database stays");
            assertTrue(exists(f, f.atticNs, "secret", AtticTokens.SIGNING_SECRET), "the signing key stays");
            assertTrue(exists(f, f.atticNs, "pvc", CacheObjects.STORAGE_PVC), "Attic's volume stays");
            for (String ns : List.of(f.atticNs, f.runnerNs, f.dashboardNs)) assertTrue(exists(f, "", "namespace", ns), ns);

            // Again: nothing to do, no write to the API server, no request to GitLab.
            f.gitlab.requests.clear();
            f.api.resetRequests();
            var again = down(f).run();
            assertEquals(0, again.exit(), again.toString());
            assertEquals(0, f.api.mutatingRequests(true), f.api.requests().stream().filter(TestCluster.Request::isMutating).toList().toString());
            assertEquals(List.of(), gitlabLines(f));
            assertTrue(again.err().contains("nothing to take down"), again.err());
            assertEquals(0, down(f, "--diff").run().exit(), "--diff: nothing left");
        }
    }

    @Test
    void deleteDataGoesOnlyOnceTheNameIsTyped() {
        try (var f = new HealthFixtures().deploy()) {
            f.gitlab.requests.clear();
            f.api.resetRequests();
            // A wrong name, or none (-y does not answer it): refused before any write.
            for (var cmd : List.of(down(f, "--delete-data").stdin("prod\n"), down(f, "--delete-data", "-y").stdin(""))) {
                var r = cmd.run();
                assertEquals(ExitCode.REFUSED, r.exit(), r.toString());
                assertTrue(r.err().contains("Type the environment's name (dev)"), r.err());
                assertTrue(r.err().contains("nothing was deleted"), r.err());
            }
            assertEquals(0, f.api.mutatingRequests(true), f.api.requests().stream().filter(TestCluster.Request::isMutating).toList().toString());
            assertEquals(List.of(), gitlabLines(f));
            assertTrue(exists(f, f.dashboardNs, "deployment", "runner-dashboard"));

            // Typed: everything but the namespaces goes.
            var r = down(f, "--delete-data").stdin("dev\n").run();
            assertEquals(0, r.exit(), r.toString());
            assertFalse(exists(f, f.atticNs, "cluster", "attic-pg"), "the database is gone");
            assertFalse(exists(f, f.atticNs, "secret", AtticTokens.SIGNING_SECRET), "the signing key is gone");
            assertFalse(exists(f, f.atticNs, "pvc", CacheObjects.STORAGE_PVC), "Attic's volume is gone (or going)");
            for (String ns : List.of(f.atticNs, f.runnerNs, f.dashboardNs)) assertTrue(exists(f, "", "namespace", ns), ns);

            // --namespaces: they go too, and the name is not asked again (no data is left to delete).
            var ns = down(f, "--namespaces").run();
            assertEquals(0, ns.exit(), ns.toString());
            for (String n : List.of(f.runnerNs, f.dashboardNs)) assertFalse(exists(f, "", "namespace", n), n);
            assertTrue(exists(f, "", "namespace", f.atticNs), "the Attic namespace needs --delete-data too");
            assertNotNull(ns.out());
        }
    }

    @Test
    void productionNeedsYesAndPlannedIsRefused() throws Exception {
        java.nio.file.Path dir = TestSupport.tempDir("down-env");
        String dev = java.nio.file.Files.readString(TestSupport.repo().resolve("environments/dev.yaml"));
        java.nio.file.Files.writeString(dir.resolve("prod.yaml"), dev.replace("environment: dev", "environment: prod").replace("production: false", "production: true"));
        java.nio.file.Files.writeString(dir.resolve("planned.yaml"), dev.replace("environment: dev", "environment: planned").replace("status: active", "status: planned"));
        var prod = TestSupport.script("down", "prod", "--env-dir", dir.toString(), "--kubeconfig", "/nonexistent").run();
        assertEquals(ExitCode.REFUSED, prod.exit(), prod.toString());
        assertTrue(prod.err().contains("is production"), prod.err());
        var planned = TestSupport.script("down", "planned", "--env-dir", dir.toString(), "--kubeconfig", "/nonexistent").run();
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        assertTrue(planned.err().contains("is planned"), planned.err());
        assertNull(null);
    }
}
