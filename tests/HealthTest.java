import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * gfw health as a user runs it (a process through ./jbang) against a deployed test environment ({@link HealthFixtures}):
 * a healthy one is all ok with exit 0, read with one LIST per kind and namespace whatever the number of pods and no
 * write; a crash-looping runner pod, an unready Attic Deployment, a degraded CNPG Cluster each give their row and exit
 * code; GitLab rows are unknown (never ok) without a token, with GitLab unreachable or without the runner id; warnings
 * alone are DEGRADED (81); --wait returns once the environment became healthy.
 */
class HealthTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** "component/check" to the row, from -o json. */
    static Map<String, JsonNode> rows(TestSupport.Result r) throws IOException {
        JsonNode doc = JSON.readTree(r.out());
        var out = new LinkedHashMap<String, JsonNode>();
        for (JsonNode row : doc.path("checks")) out.put(row.path("component").asText() + "/" + row.path("check").asText(), row);
        return out;
    }

    static String status(Map<String, JsonNode> rows, String key) {
        JsonNode row = rows.get(key);
        if (row == null) throw new AssertionError("no row " + key + " in " + rows.keySet());
        return row.path("status").asText();
    }

    static Map<String, String> notOk(Map<String, JsonNode> rows) {
        return rows.entrySet().stream().filter(e -> !e.getValue().path("status").asText().equals("ok"))
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().path("status").asText() + ": " + e.getValue().path("detail").asText(),
                        (a, b) -> a, TreeMap::new));
    }

    @Test
    void aHealthyEnvironmentIsAllOkReadWithOneListPerKindAndNamespaceWhateverThePodCount() throws Exception {
        try (var f = new HealthFixtures().deploy()) {
            f.api.resetRequests();
            var r = f.healthWithToken("-o", "json").run();
            assertEquals(0, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals(Map.of(), notOk(rows), r.toString());
            for (String key : List.of("namespaces/" + f.atticNs, "namespaces/" + f.runnerNs, "namespaces/" + f.dashboardNs,
                    "database/cluster attic-pg", "database/instances", "database/primary", "database/pods", "database/server certificate",
                    "database/operator", "cache/deployment attic", "cache/GET /", "cache/cache main", "runners/docker release", "runners/docker pods",
                    "runners/docker hpa", "runners/docker pdb", "runners/docker gitlab", "runners/nix gitlab", "runners/capacity", "dashboard/deployment runner-dashboard",
                    "dashboard/GET /api/health", "dashboard/GET /api/k8s/hpa")) {
                assertEquals("ok", status(rows, key), key + " in " + r.out());
            }
            assertTrue(rows.get("runners/docker gitlab").path("detail").asText().matches("runner [0-9]+: online, contacted \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z"),
                    rows.get("runners/docker gitlab").toString());
            assertEquals("the token does not expire (GitLab set no expiry)", rows.get("runners/docker token").path("detail").asText());
            assertTrue(rows.get("runners/docker release").path("detail").asText().contains("revision 1, deployed"), r.out());
            assertTrue(r.err().contains("dev: healthy ("), r.err());
            // Both through port-forwards, at the same time: in either order.
            assertEquals(List.of("GET / 200", "GET /_api/v1/cache-config/main 200"), f.attic.requests.stream().sorted().toList(),
                    "Attic reached once for its page, once with a token for the cache, each through a port-forward");
            assertEquals(List.of("GET /api/health", "GET /api/k8s/hpa"), f.dashboard.requests.stream().sorted().toList());
            assertTrue(rows.get("dashboard/GET /api/k8s/hpa").path("detail").asText().startsWith("the cluster's data (2 autoscalers)"), r.out());

            List<TestCluster.Request> first = f.api.requests();
            assertEquals(0, first.stream().filter(TestCluster.Request::isMutating).count(), "health is read-only: " + first);
            Map<String, Long> perPath = first.stream().collect(Collectors.groupingBy(TestCluster.Request::path, TreeMap::new, Collectors.counting()));
            // Port-forwards (one per HTTP check) are no reads; every read is sent once.
            perPath.forEach((path, n) -> assertTrue(path.endsWith("/portforward") || n == 1L, path + " read more than once: " + perPath));
            assertTrue(perPath.containsKey("/api/v1/namespaces/" + f.runnerNs + "/pods"), perPath.toString());
            assertTrue(first.stream().noneMatch(q -> q.path().matches(".*/pods/[^/]+")), "no GET of a single pod: " + first);
            assertTrue(first.stream().noneMatch(q -> q.path().matches("/api|/apis(/[^/]+){0,2}")), "no discovery: " + first);

            // Twice the runner pods (within the autoscalers' bounds: the real HPA controller would scale back): the same requests.
            for (String type : HealthFixtures.TYPES) {
                f.client().apps().deployments().inNamespace(f.runnerNs).withName("gitlab-runner-" + type).scale(2);
            }
            // The controllers make the pods and kwok makes them ready.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (f.client().pods().inNamespace(f.runnerNs).list().getItems().stream().filter(HealthTest::ready).count() < 4 && System.nanoTime() < until) {
                Thread.sleep(200);
            }
            assertEquals(4, f.client().pods().inNamespace(f.runnerNs).list().getItems().stream().filter(HealthTest::ready).count());
            f.api.resetRequests();
            var again = f.healthWithToken("-o", "json").run();
            assertEquals(0, again.exit(), again.toString());
            assertEquals(first.stream().map(HealthTest::anyPod).sorted().toList(), f.api.requests().stream().map(HealthTest::anyPod).sorted().toList());
            assertTrue(rows(again).get("runners/docker pods").path("detail").asText().startsWith("2/2 ready"), again.out());

            // The table: one row per check, kubectl-style headers; wide adds what each check read.
            var table = f.healthWithToken().run();
            assertEquals(0, table.exit(), table.toString());
            assertTrue(table.out().lines().findFirst().orElse("").matches("COMPONENT +CHECK +STATUS +DETAIL"), table.out());
            assertEquals(rows.size() + 1, table.out().lines().count(), table.out());
            var yaml = f.healthWithToken("-o", "yaml", "--only", "dashboard").run();
            assertEquals(0, yaml.exit(), yaml.toString());
            assertTrue(yaml.out().startsWith("environment: dev\nstatus: healthy\nexitCode: 0\n"), yaml.out());
            var wide = f.healthWithToken("-o", "wide", "--only", "cache").run();
            assertEquals(0, wide.exit(), wide.toString());
            // atticd's page at "/" through a port-forward (it has no /nix-cache-info outside a cache).
            assertTrue(wide.out().lines().anyMatch(l -> l.matches(".*GET / through a port-forward to pod attic-[a-z0-9]+-[a-z0-9]+$")), wide.out());
            assertFalse(wide.out().contains("runners"), "--only cache: " + wide.out());
        }
    }

    @Test
    void aCrashLoopingRunnerPodFailsItsRowAndExits80() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.api.rollouts(f.runnerNs, TestCluster.Readiness.crashLooping(TestCluster.label("app"), "gitlab-runner-docker", 7));
            var r = f.healthWithToken("-o", "json").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("fail", status(rows, "runners/docker pods"));
            String detail = rows.get("runners/docker pods").path("detail").asText();
            assertTrue(detail.contains("crash-looping: gitlab-runner-docker-") && detail.contains("7 restarts, CrashLoopBackOff"), detail);
            assertEquals("ok", status(rows, "runners/nix pods"), "the other runner is unaffected");
            assertTrue(r.err().contains("dev: failing ("), r.err());
        }
    }

    @Test
    void anUnreadyAtticDeploymentFailsAndNothingReachesIt() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.api.rollouts(f.atticNs, TestCluster.Readiness.notReady(TestCluster.label("app.kubernetes.io/name"), "attic"));
            var r = f.healthWithToken("-o", "json", "--only", "cache").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("fail", status(rows, "cache/deployment attic"));
            assertTrue(rows.get("cache/deployment attic").path("detail").asText().startsWith("0/1 ready"), r.out());
            // No ready pod to forward to: the page cannot be asked, which health says instead of guessing.
            assertEquals("unknown", status(rows, "cache/GET /"));
            assertEquals("no answer through a port-forward: no ready Attic pod to ask through a port-forward", rows.get("cache/GET /").path("detail").asText(), r.out());
            assertEquals(List.of(), f.attic.requests, "no ready pod: no port-forward reaches Attic");
            assertEquals("unknown", status(rows, "cache/cache main"));
            assertEquals("no ready Attic pod to ask through a port-forward", rows.get("cache/cache main").path("detail").asText());
        }
    }

    @Test
    void aMissingCacheFailsAndATokenAtticRefusesIsUnknown() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.attic.caches.clear();
            var r = f.healthWithToken("-o", "json", "--only", "cache").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            JsonNode row = rows(r).get("cache/cache main");
            assertEquals("fail", row.path("status").asText(), r.out());
            assertTrue(row.path("detail").asText().contains("Attic has no cache main") && row.path("detail").asText().contains("gfw deploy-cache dev"), row.toString());
            assertEquals("ok", status(rows(r), "cache/GET /"));

            // a signing key the pods do not use: Attic refuses the token, so whether the cache exists is not known
            f.client().resource(CacheObjects.signingSecret(f.env, f.atticNs, AtticTokens.newSigningKey(new java.security.SecureRandom()))).update();
            var refused = f.healthWithToken("-o", "json", "--only", "cache").run();
            assertEquals(ExitCode.DEGRADED, refused.exit(), refused.toString());
            JsonNode unknown = rows(refused).get("cache/cache main");
            assertEquals("unknown", unknown.path("status").asText(), refused.out());
            assertTrue(unknown.path("detail").asText().contains("Attic refused a token signed with Secret attic-jwt-signing (401)"), unknown.toString());
        }
    }

    @Test
    void aDegradedCnpgClusterShowsItsPhaseAndInstances() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.clusterStatus(f.clusterStatus("Failing over", 0, Instant.now().plus(90, ChronoUnit.DAYS)));
            var r = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("fail", status(rows, "database/cluster attic-pg"));
            assertTrue(rows.get("database/cluster attic-pg").path("detail").asText().contains("Failing over"), r.out());
            assertEquals("fail", status(rows, "database/instances"));
            assertEquals("0/1 ready", rows.get("database/instances").path("detail").asText());
            assertEquals("ok", status(rows, "database/operator"));
        }
    }

    @Test
    void namespaceDriftIsCountedAndATerminatingNamespaceFails() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            var policies = f.client().network().v1().networkPolicies().inNamespace(f.runnerNs);
            policies.withName("allow-same-namespace").delete();
            f.client().resourceQuotas().inNamespace(f.runnerNs).withName("runner-quota")
                    .edit(q -> { q.getSpec().getHard().put("pods", new io.fabric8.kubernetes.api.model.Quantity("99")); return q; });
            // A namespace being deleted: a finalizer on an object in it holds it Terminating, as a slow controller would.
            f.client().configMaps().inNamespace(f.dashboardNs).resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                    .withNewMetadata().withName("held").withFinalizers("gfw.test/hold").endMetadata().build()).create();
            f.client().namespaces().withName(f.dashboardNs).delete();
            try {
                f.client().namespaces().withName(f.dashboardNs).waitUntilCondition(
                        n -> n != null && "Terminating".equals(n.getStatus().getPhase()), 30, java.util.concurrent.TimeUnit.SECONDS);
            var r = f.healthWithToken("-o", "json", "--only", "namespaces").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("ok", status(rows, "namespaces/" + f.atticNs));
            assertEquals("warn", status(rows, "namespaces/" + f.runnerNs));
            String detail = rows.get("namespaces/" + f.runnerNs).path("detail").asText();
            assertTrue(detail.matches("Active; 2 of [0-9]+ objects drift from .*dev.yaml \\(1 missing, 1 differ\\); 'gfw provision-namespaces dev --diff' lists them"), detail);
            assertFalse(detail.contains("allow-same-namespace"), "counted, not listed: " + detail);
            assertEquals("fail", status(rows, "namespaces/" + f.dashboardNs));
            assertTrue(rows.get("namespaces/" + f.dashboardNs).path("detail").asText().startsWith("Terminating"), r.out());
            } finally {
                f.client().configMaps().inNamespace(f.dashboardNs).withName("held").edit(c -> { c.getMetadata().setFinalizers(List.of()); return c; });
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void withBackupsConfiguredArchivingAndTheLastBackupAreChecked() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            var clusters = f.client().genericKubernetesResources(HealthFixtures.CNPG_API, "Cluster").inNamespace(f.atticNs);
            var live = clusters.withName("attic-pg").get();
            ((Map<String, Object>) live.getAdditionalProperties().get("spec")).put("backup",
                    Map.of("barmanObjectStore", Map.of("destinationPath", "s3://backups/attic"), "retentionPolicy", "30d"));
            clusters.resource(live).update();
            Map<String, Object> status = f.healthyClusterStatus();
            status.put("conditions", List.of(CnpgStatus.condition("Ready", "True", "ClusterIsReady", "Cluster is Ready"),
                    CnpgStatus.condition("ContinuousArchiving", "False", "ContinuousArchivingFailing", "unexpected failure invoking barman-cloud-wal-archive")));
            status.put("lastSuccessfulBackup", Instant.now().minus(3, ChronoUnit.DAYS).toString());
            f.clusterStatus(status);
            var r = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("fail", status(rows, "database/continuous archiving"));
            assertTrue(rows.get("database/continuous archiving").path("detail").asText().contains("barman-cloud-wal-archive"), r.out());
            assertEquals("warn", status(rows, "database/last backup"));
            assertTrue(rows.get("database/last backup").path("detail").asText().startsWith("3 d 0 h ago"), r.out());

            status.put("conditions", List.of(CnpgStatus.condition("ContinuousArchiving", "True", "ContinuousArchivingSuccess", "Continuous archiving is working")));
            status.put("lastSuccessfulBackup", Instant.now().minus(2, ChronoUnit.HOURS).toString());
            f.clusterStatus(status);
            var ok = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(0, ok.exit(), ok.toString());
            assertEquals("ok", status(rows(ok), "database/last backup"));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void withBackupsThroughTheBarmanCloudPluginArchivingAndTheObjectStoresLastBackupAreChecked() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.api.ensureCrd(DeployCacheTest.crd("barmancloud.cnpg.io", "ObjectStore", "objectstores"));
            var clusters = f.client().genericKubernetesResources(HealthFixtures.CNPG_API, "Cluster").inNamespace(f.atticNs);
            var live = clusters.withName("attic-pg").get();
            ((Map<String, Object>) live.getAdditionalProperties().get("spec")).put("plugins", List.of(Map.of("name", "barman-cloud.cloudnative-pg.io",
                    "isWALArchiver", true, "parameters", Map.of("barmanObjectName", "attic-pg-backup"))));
            clusters.resource(live).update();
            Map<String, Object> status = f.healthyClusterStatus();
            status.put("conditions", List.of(CnpgStatus.condition("ContinuousArchiving", "True", "ContinuousArchivingSuccess", "Continuous archiving is working")));
            f.clusterStatus(status);
            // No ObjectStore yet: the Cluster archives to one that does not exist.
            var none = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(ExitCode.CHECK_FAILED, none.exit(), none.toString());
            assertEquals("fail", status(rows(none), "database/last backup"));
            assertTrue(rows(none).get("database/last backup").path("detail").asText().contains("ObjectStore attic-pg-backup"), none.out());

            // What the plugin writes: the recovery window per server (the Cluster's name), with the last backup's time
            // (plugin-barman-cloud api/v1/objectstore_types.go); CNPG sets no status.lastSuccessfulBackup for plugins.
            var stores = f.client().genericKubernetesResources("barmancloud.cnpg.io/v1", "ObjectStore").inNamespace(f.atticNs);
            stores.resource(new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder().withApiVersion("barmancloud.cnpg.io/v1").withKind("ObjectStore")
                    .withNewMetadata().withName("attic-pg-backup").withNamespace(f.atticNs).endMetadata()
                    .addToAdditionalProperties("spec", Map.of("configuration", Map.of("destinationPath", "s3://backups/attic"), "retentionPolicy", "30d")).build()).create();
            var store = stores.withName("attic-pg-backup").get();
            store.getAdditionalProperties().put("status", Map.of("serverRecoveryWindow", Map.of("attic-pg", Map.of(
                    "firstRecoverabilityPoint", Instant.now().minus(20, ChronoUnit.DAYS).toString(),
                    "lastSuccessfulBackupTime", Instant.now().minus(3, ChronoUnit.DAYS).toString()))));
            stores.resource(store).updateStatus();
            var old = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(ExitCode.DEGRADED, old.exit(), old.toString());
            assertEquals("ok", status(rows(old), "database/continuous archiving"));
            assertEquals("warn", status(rows(old), "database/last backup"));
            assertTrue(rows(old).get("database/last backup").path("detail").asText().startsWith("3 d 0 h ago"), old.out());

            store = stores.withName("attic-pg-backup").get();
            store.getAdditionalProperties().put("status", Map.of("serverRecoveryWindow", Map.of("attic-pg", Map.of(
                    "lastSuccessfulBackupTime", Instant.now().minus(2, ChronoUnit.HOURS).toString()))));
            stores.resource(store).updateStatus();
            var ok = f.healthWithToken("-o", "json", "--only", "database").run();
            assertEquals(0, ok.exit(), ok.toString());
            assertEquals("ok", status(rows(ok), "database/last backup"));
        }
    }

    @Test
    void aDashboardServingItsBuiltInMockDataFailsAlthoughItsHealthSaysOk() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            // The Role gfw 0.1.0 made: no get on the runner namespace's object, so client.ts isAvailable() is false and every
            // /api/k8s route answers MOCK data, while /api/health stays 200 ok. A new pod reads it (the app caches the answer).
            var roles = f.client().rbac().roles().inNamespace(f.runnerNs);
            var role = roles.withName("runner-dashboard-read").get();
            role.setRules(role.getRules().stream().filter(r -> !r.getResources().contains("namespaces")).toList());
            roles.resource(role).update();
            f.dashboard.restart();
            var r = f.healthWithToken("-o", "json", "--only", "dashboard").run();
            assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("ok", status(rows, "dashboard/GET /api/health"));
            assertEquals("fail", status(rows, "dashboard/GET /api/k8s/hpa"));
            assertTrue(rows.get("dashboard/GET /api/k8s/hpa").path("detail").asText().startsWith("serving its built-in mock data (\"available\": false):"
                    + " it could not GET namespace " + f.runnerNs + " with its ServiceAccount"), r.out());

            // An answer without the field is not taken for the app's.
            f.dashboard.answer("/api/k8s/hpa", 200, "application/json", "{\"hpas\":[]}");
            var other = f.healthWithToken("-o", "json", "--only", "dashboard").run();
            assertEquals(ExitCode.CHECK_FAILED, other.exit(), other.toString());
            assertTrue(rows(other).get("dashboard/GET /api/k8s/hpa").path("detail").asText().startsWith("200 but no \"available\" field"), other.out());
        }
    }

    @Test
    void warningsAloneAreDegradedExit81() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            // a server certificate CloudNativePG failed to renew, and a paused runner: warnings, nothing failed
            f.clusterStatus(f.clusterStatus("Cluster in healthy state", 1, Instant.now().plus(3, ChronoUnit.DAYS)));
            f.gitlab.paused.add(f.gitlab.ids.get(0));
            var r = f.healthWithToken("-o", "json").run();
            assertEquals(ExitCode.DEGRADED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals(Map.of("database/server certificate", "warn", "runners/docker gitlab", "warn"),
                    notOk(rows).entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().split(":")[0])), r.out());
            assertTrue(rows.get("database/server certificate").path("detail").asText().contains("should have renewed"), r.out());
            assertTrue(r.err().contains("dev: degraded ("), r.err());
            assertEquals("degraded", JSON.readTree(r.out()).path("status").asText());
        }
    }

    @Test
    void aPendingReleaseAndAnAutoscalerAtItsMaximumWarnAForbiddenListIsUnknown() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            RunnerFixtures.setReleaseStatus(f.api, f.runnerNs, "gitlab-runner-docker", 1, "pending-upgrade");
            f.platform.autoscalerStatus("nix", 3, 3); // dev.yaml: nix maxReplicas 3
            // RBAC's answer for a user without list on PDBs, injected by the test proxy for this one request.
            f.api.fail("GET", "/apis/policy/v1/namespaces/" + f.runnerNs + "/poddisruptionbudgets", 403,
                    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,"
                            + "\"message\":\"poddisruptionbudgets.policy is forbidden: User \\\"ci\\\" cannot list resource \\\"poddisruptionbudgets\\\"\"}", 1);
            var r = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.DEGRADED, r.exit(), r.toString());
            Map<String, JsonNode> rows = rows(r);
            assertEquals("warn", status(rows, "runners/docker release"));
            assertTrue(rows.get("runners/docker release").path("detail").asText().contains("revision 1, pending-upgrade"), r.out());
            // An HPA at its maximum is no warning: it scales manager pods on their own cpu/memory, not on jobs (capacity says that).
            // (The control plane's own HPA controller may rewrite "current" meanwhile: only the bound and the note are asserted.)
            assertEquals("ok", status(rows, "runners/nix hpa"));
            assertTrue(rows.get("runners/nix hpa").path("detail").asText().matches("current \\d, desired 3, max 3 \\(manager pods, by their cpu/memory; job load: see capacity\\)"),
                    rows.get("runners/nix hpa").toString());
            for (String type : HealthFixtures.TYPES) {
                JsonNode pdb = rows.get("runners/" + type + " pdb");
                assertEquals("unknown", pdb.path("status").asText(), r.out());
                assertTrue(pdb.path("detail").asText().startsWith("could not read it: forbidden (403)"), pdb.toString());
            }
            assertEquals("ok", status(rows, "runners/docker hpa"));
        }
    }

    @Test
    void gitLabsOnlineFlagAloneIsNotAliveAndAnExpiringTokenWarnsAnExpiredOneFails() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            // GitLab keeps `online` for 2 h after the last contact (ONLINE_CONTACT_TIMEOUT): 100 min without one is not ok
            var docker = f.gitlab.runners.get(f.gitlab.ids.get(0));
            docker.alive = false;
            docker.contactedAt = GitLabStandIn.TIME.format(Instant.now().minus(100, ChronoUnit.MINUTES));
            var quiet = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.DEGRADED, quiet.exit(), quiet.toString());
            JsonNode row = rows(quiet).get("runners/docker gitlab");
            assertEquals("warn", row.path("status").asText(), quiet.out());
            assertTrue(row.path("detail").asText().matches("runner " + docker.id + ": online, contacted " + java.util.regex.Pattern.quote(docker.contactedAt)
                    + " \\(1 h 4[01] min ago\\): GitLab keeps a runner online for 2 h after its last contact, .*"), row.toString());
            docker.alive = true;

            // the token's expiry, as recorded on the Secret: warned before gitlab-runner's own rotation at 75% of its life, failed once expired
            java.util.function.BiConsumer<Instant, Instant> record = (obtained, until) -> f.client().secrets().inNamespace(f.runnerNs)
                    .withName("gitlab-runner-nix-token").edit(x -> {
                        x.getMetadata().getAnnotations().put("gfw.gloriousflywheel.dev/token-obtained-at", obtained.toString());
                        x.getMetadata().getAnnotations().put("gfw.gloriousflywheel.dev/token-expires-at", until.toString());
                        return x;
                    });
            Instant now = Instant.now();
            record.accept(now.minus(1, ChronoUnit.DAYS), now.plus(29, ChronoUnit.DAYS));
            assertEquals(0, f.healthWithToken("--only", "runners").run().exit());
            record.accept(now.minus(18, ChronoUnit.DAYS), now.plus(12, ChronoUnit.DAYS));
            var soon = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.DEGRADED, soon.exit(), soon.toString());
            assertEquals(Map.of("runners/nix token", "warn"), notOk(rows(soon)).entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().split(":")[0])), soon.out());
            assertTrue(rows(soon).get("runners/nix token").path("detail").asText().endsWith("only that replica gets the new one: run 'gfw runners dev rotate-token nix' before then"),
                    soon.out());
            record.accept(now.minus(30, ChronoUnit.DAYS), now.minus(1, ChronoUnit.HOURS));
            var expired = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.CHECK_FAILED, expired.exit(), expired.toString());
            assertEquals("fail", status(rows(expired), "runners/nix token"));
        }
    }

    @Test
    void gitlabRowsAreUnknownWithTheReasonWhenGitLabCannotBeAsked() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            f.gitlab.requests.clear(); // deploy-runners read the runners' settings: only health's requests count here
            var noToken = f.health("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.DEGRADED, noToken.exit(), noToken.toString());
            for (String type : HealthFixtures.TYPES) {
                JsonNode row = rows(noToken).get("runners/" + type + " gitlab");
                assertEquals("unknown", row.path("status").asText(), noToken.out());
                assertTrue(row.path("detail").asText().contains("no GitLab token (set GITLAB_TOKEN or --gitlab-token-file)"), row.toString());
            }
            assertTrue(f.gitlab.requests.stream().noneMatch(q -> q.path().startsWith("/api/v4/runners/")), "GitLab not asked without a token");

            // what GitLab says decides the row: a stale runner fails, found by the id on its Secret
            var staled = f.gitlab.runners.get(f.gitlab.ids.get(0)).state("stale");
            var stale = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.CHECK_FAILED, stale.exit(), stale.toString());
            JsonNode staleRow = rows(stale).get("runners/docker gitlab");
            assertEquals("fail", staleRow.path("status").asText(), stale.out());
            assertEquals("runner " + f.gitlab.ids.get(0) + ": stale, contacted " + staled.contactedAt, staleRow.path("detail").asText());
            assertTrue(f.gitlab.requests.stream().anyMatch(q -> q.line().equals("GET /api/v4/runners/" + f.gitlab.ids.get(0))
                    && GitLabStandIn.ACCESS_TOKEN.equals(q.privateToken())), "looked up by id with the token: " + f.gitlab.requests);

            // the id missing from a token Secret: unknown, and that runner is not looked up by anything else
            f.client().secrets().inNamespace(f.runnerNs).withName("gitlab-runner-nix-token")
                    .edit(s -> { s.getMetadata().getAnnotations().remove(RunnerValues.RUNNER_ID_ANNOTATION); return s; });
            f.gitlab.close(); // and GitLab unreachable
            var down = f.healthWithToken("-o", "json", "--only", "runners").run();
            assertEquals(ExitCode.DEGRADED, down.exit(), down.toString());
            JsonNode docker = rows(down).get("runners/docker gitlab");
            assertEquals("unknown", docker.path("status").asText(), down.out());
            assertTrue(docker.path("detail").asText().contains(f.gitlab.url()), docker.toString());
            JsonNode nix = rows(down).get("runners/nix gitlab");
            assertEquals("unknown", nix.path("status").asText());
            assertTrue(nix.path("detail").asText().contains("has no runner id (annotation " + RunnerValues.RUNNER_ID_ANNOTATION), nix.toString());
            assertEquals("ok", status(rows(down), "runners/docker pods"), "the cluster's rows still read");
        }
    }

    @Test
    void waitReturnsOnceTheEnvironmentBecameHealthy() throws Exception {
        try (var f = new HealthFixtures().deploy()) {
            f.api.rollouts(f.atticNs, TestCluster.Readiness.notReady(TestCluster.label("app.kubernetes.io/name"), "attic"));
            f.api.resetRequests();
            CompletableFuture<TestSupport.Result> waiting = CompletableFuture.supplyAsync(
                    () -> f.healthWithToken("--only", "cache,database", "--wait", "90s").run());
            // once the waiting run has reported the unready Attic, the pods become ready
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (f.attic.requests.isEmpty() && f.api.requests().stream().noneMatch(q -> q.path().equals("/api/v1/namespaces/" + f.atticNs + "/pods"))
                    && System.nanoTime() < until) {
                Thread.sleep(200);
            }
            Thread.sleep(2500);
            List<TestCluster.Request> whileWaiting = f.api.requests(); // before rollouts() below, which reads the pods itself
            f.api.rollouts(f.atticNs, TestCluster.Readiness.ready());
            TestSupport.Result r = waiting.get(120, TimeUnit.SECONDS);
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.err().contains("waiting for dev: ") && r.err().contains("cache deployment attic: fail"), r.err());
            assertTrue(r.err().contains("dev: healthy ("), r.err());
            assertTrue(r.out().lines().filter(l -> l.startsWith("cache")).allMatch(l -> l.matches("cache +.* ok +.*")), r.out());
            // It waited with watches (issue 20): the pods were LISTed once, then followed by a WATCH, not LISTed again every 2 s.
            String pods = "/api/v1/namespaces/" + f.atticNs + "/pods";
            List<TestCluster.Request> podReads = whileWaiting.stream().filter(q -> q.method().equals("GET") && q.path().equals(pods)).toList();
            assertEquals(1, podReads.stream().filter(q -> q.query() == null || !q.query().contains("watch=true")).count(), podReads.toString());
            assertTrue(f.api.requests().stream().anyMatch(q -> q.path().equals(pods) && q.query() != null && q.query().contains("watch=true")), podReads.toString());
        }
    }

    @Test
    void watchPrintsTheChecksAgainWhenARowChanges() throws Exception {
        try (var f = new HealthFixtures().deploy()) {
            var argv = new java.util.ArrayList<>(List.of(TestSupport.repo().resolve("jbang").toString(), TestSupport.repo().resolve("scripts/health.java").toString(),
                    "dev", "--env-dir", f.envDir.toString(), "--kubeconfig", f.api.kubeconfig().toString(), "--context", f.api.context(),
                    "--only", "dashboard", "--watch"));
            Process p = new ProcessBuilder(argv).redirectErrorStream(false).start();
            try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                var seen = new java.util.ArrayList<String>();
                CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> out.lines().forEach(seen::add));
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (seen.stream().noneMatch(l -> l.matches("dashboard +GET /api/health +ok .*")) && System.nanoTime() < until) Thread.sleep(100);
                f.dashboard.answer("/api/health", 503, "application/json", "{\"status\":\"down\"}");
                while (seen.stream().noneMatch(l -> l.matches("dashboard +GET /api/health +fail +503 .*")) && System.nanoTime() < until) Thread.sleep(100);
                p.destroy();
                assertTrue(p.waitFor(20, TimeUnit.SECONDS), "--watch ends when interrupted");
                reader.get(10, TimeUnit.SECONDS);
                assertEquals(2, seen.stream().filter(l -> l.startsWith("COMPONENT")).count(), "printed again once, on the change: " + seen);
                assertTrue(seen.stream().anyMatch(l -> l.matches("dashboard +GET /api/health +fail +503 .*")), String.join("\n", seen));
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void refusedAndUnreachableBeforeAnyCheck() throws IOException {
        try (var f = new HealthFixtures()) {
            // an API server that is not there: 69, nothing printed on stdout
            var kc = TestSupport.tempDir("health-kc").resolve("kubeconfig");
            java.nio.file.Files.writeString(kc, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                    + "contexts:\n- name: dev-cluster\n  context: {cluster: c, user: u}\ncurrent-context: dev-cluster\nusers:\n- name: u\n  user: {token: t}\n");
            java.nio.file.Files.setPosixFilePermissions(kc, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            var down = TestSupport.script("health", "dev", "--env-dir", f.envDir.toString(), "--kubeconfig", kc.toString(),
                    "--request-timeout", "3s").run();
            assertEquals(ExitCode.UNAVAILABLE, down.exit(), down.toString());
            assertEquals("", down.out());
            assertTrue(down.err().contains("cannot reach the API server at https://127.0.0.1:1"), down.err());

            java.nio.file.Files.writeString(f.envDir.resolve("dev.yaml"),
                    java.nio.file.Files.readString(f.envDir.resolve("dev.yaml")).replace("status: active", "status: planned"));
            var planned = f.health().run();
            assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
            assertTrue(planned.err().contains("is planned"), planned.err());

            var badOnly = f.health("--only", "cache,web").run();
            assertEquals(ExitCode.USAGE, badOnly.exit(), badOnly.toString());
            assertTrue(badOnly.err().contains("--only web: not a component; use any of namespaces, database, cache, runners, dashboard"), badOnly.err());
        }
    }

    static boolean ready(io.fabric8.kubernetes.api.model.Pod p) {
        return p.getMetadata().getDeletionTimestamp() == null && TestCluster.podReady(p);
    }

    /** A request with the forwarded pod's name left out (which ready pod a port-forward picks is the API's choice). */
    static String anyPod(TestCluster.Request r) {
        return r.toString().replaceAll("/pods/[^/]+/portforward", "/pods/*/portforward");
    }

    @Test
    void capacityIsJobPodsAgainstConcurrentTimesReadyManagersNotTheAutoscaler() throws IOException {
        try (var f = new HealthFixtures().deploy()) {
            var r = f.healthWithToken("-o", "json", "--only", "runners").run();
            JsonNode row = rows(r).get("runners/capacity");
            assertEquals("ok", row.path("status").asText(), r.out());
            var m = java.util.regex.Pattern.compile("^0 of (\\d+) job slots busy \\(concurrent × ready managers: docker 4 × (\\d+), nix 3 × (\\d+)\\)")
                    .matcher(row.path("detail").asText());
            assertTrue(m.find(), row.toString());
            int slots = Integer.parseInt(m.group(1));
            assertEquals(4 * Integer.parseInt(m.group(2)) + 3 * Integer.parseInt(m.group(3)), slots, row.toString());
            // As many job pods as slots (Pending: no node takes them): every slot busy, a warning; the manager pods' HPA says nothing.
            for (int i = 0; i < slots; i++) {
                f.client().pods().inNamespace(f.runnerNs).resource(new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata()
                        .withName("runner-job-" + i).addToAnnotations("job.runner.gitlab.com/id", String.valueOf(100 + i)).endMetadata()
                        .withNewSpec().addToNodeSelector("gfw-test/no-such-node", "true").addNewContainer().withName("build").withImage("alpine")
                        .endContainer().endSpec().build()).create();
            }
            var busy = f.healthWithToken("-o", "json", "--only", "runners").run();
            JsonNode b = rows(busy).get("runners/capacity");
            assertEquals("warn", b.path("status").asText(), busy.out());
            assertTrue(b.path("detail").asText().startsWith(slots + " of " + slots + " job slots busy"), b.toString());
            assertTrue(b.path("detail").asText().endsWith("every slot is busy, new jobs wait"), b.toString());
            assertEquals("ok", status(rows(busy), "runners/docker hpa"));
        }
    }
}
