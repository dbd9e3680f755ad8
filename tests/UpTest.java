import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * up against an empty test API server with the controllers' stand-ins acting as a cluster's would — the CNPG
 * operator (its own Deployment, the database's instance pods and status, the Attic pod; real PostgreSQL behind it),
 * the HPA controller, rollouts in the runner and dashboard namespaces, service-proxy backends and a port-forward for
 * Attic and the dashboard once their pods are ready — the Attic and GitLab stand-ins and real Helm with the fixture
 * runner chart: one environment brought up to healthy, re-run, compared; another stopped in its middle step.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UpTest {

    static TestCluster api;
    static KubernetesClient kube;
    static CnpgOperatorStandIn operator;
    static AtticStandIn attic;
    static GitLabStandIn gitlab;
    /** The dashboard app per environment, behind its Service, reading what deploy-dashboard applied as the real pod would. */
    static final java.util.Map<String, DashboardAppStandIn> dashboards = new java.util.concurrent.ConcurrentHashMap<>();
    static String env;
    static Path envDir;
    static final List<String> NAMESPACES = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        api = TestCluster.shared();
        Assumptions.assumeTrue(api.isLocal(), "the stand-ins behind kwok's port-forwards need the suite's control plane");
        kube = api.client();
        operator = new CnpgOperatorStandIn(kube, TestPostgres.shared());
        env = "up" + TestCluster.randomHex(3);
        envDir = TestSupport.tempDir("up-env");
        writeEnv(env);
        attic = new AtticStandIn(() -> {
            var key = kube.secrets().inNamespace("attic-cache-" + env).withName("attic-jwt-signing").get();
            return key == null ? "" : DeployCacheTest.decode(key, "hs256-secret-base64");
        });
        gitlab = new GitLabStandIn();
        watch(env);
    }

    /**
     * The namespaces of environment {@code name}, before up creates them: the CNPG operator installed in its own
     * namespace and watching Attic's, the HPA controller, rollouts; the Attic and dashboard stand-ins behind their
     * Services (the proxy answers only once a ready pod backs them) and Attic's pod's port-forward.
     */
    static void watch(String name) {
        String atticNs = "attic-cache-" + name;
        for (String ns : List.of(atticNs, "gitlab-runners-" + name, "runner-dashboard-" + name, "cnpg-system-" + name)) NAMESPACES.add(ns);
        operator.installOperator("cnpg-system-" + name);
        operator.watch(atticNs);
        api.rollouts("gitlab-runners-" + name, TestCluster.Readiness.ready());
        api.rollouts("runner-dashboard-" + name, TestCluster.Readiness.ready());
        // kwok forwards the Attic and dashboard pods' ports to the stand-ins.
        api.serviceBackend(atticNs, 8080, java.net.URI.create("http://127.0.0.1:" + attic.port()));
        var dashboard = dashboards.computeIfAbsent(name, n -> new DashboardAppStandIn(kube, "runner-dashboard-" + n));
        api.serviceBackend("runner-dashboard-" + name, 3000, dashboard.uri());
    }

    /** dev.yaml as environment {@code name}, namespaces of its own (the operator's too), one runner type (docker) to keep Helm's share short. */
    static void writeEnv(String name) throws Exception {
        String dev = Files.readString(TestSupport.repo().resolve("environments/dev.yaml"));
        String text = dev.replace("environment: dev\n", "environment: " + name + "\n")
                .replace("    name: gitlab-runners\n", "    name: gitlab-runners-{environment}\n")
                .replace("    name: runner-dashboard\n", "    name: runner-dashboard-{environment}\n")
                .replace("  operatorNamespace: cnpg-system\n", "  operatorNamespace: cnpg-system-{environment}\n");
        int dind = text.indexOf("  - type: dind\n");
        assertTrue(dind > 0 && text.contains("gitlab-runners-{environment}") && text.contains("cnpg-system-{environment}"), "dev.yaml changed shape");
        Files.writeString(envDir.resolve(name + ".yaml"), text.substring(0, dind));
    }

    @AfterAll
    static void tearDown() {
        if (operator != null) operator.close();
        if (attic != null) attic.close();
        if (gitlab != null) gitlab.close();
        dashboards.values().forEach(DashboardAppStandIn::close);
        if (api == null || !api.isLocal()) return;
        for (String ns : NAMESPACES) {
            api.stopRollouts(ns);
            kube.namespaces().withName(ns).delete();
        }
    }

    static TestSupport.Result up(String name, String... more) {
        var args = new ArrayList<>(List.of(name, "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "--chart", RunnerFixtures.FIXTURE.toString(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                "--attic-url", "http://127.0.0.1:" + attic.port()));
        args.addAll(List.of(more));
        if (!args.contains("--timeout")) args.addAll(List.of("--timeout", "60s"));
        return TestSupport.inProcess(new Up(), args.toArray(String[]::new));
    }

    /** Runs {@code run} with the request log reset and the stand-ins paused (their polls and status writes would be in the log). */
    static TestSupport.Result quiet(java.util.function.Supplier<TestSupport.Result> run) {
        operator.paused = true;
        dashboards.values().forEach(d -> d.paused = true);
        try {
            Thread.sleep(300);
            api.resetRequests();
            return run.get();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        } finally {
            operator.paused = false;
            dashboards.values().forEach(d -> d.paused = false);
        }
    }

    @Test
    @Order(1)
    void bringsAnEmptyClusterUpToHealthyThenAReRunSendsNoWrite() {
        var r = up(env);
        assertEquals(0, r.exit(), r.toString());
        // The plan came first, every step in order, each to create from nothing.
        int plan = r.out().indexOf("[namespaces] provision-namespaces");
        int dashboardPlan = r.out().indexOf("[dashboard] deploy-dashboard");
        assertTrue(plan >= 0 && dashboardPlan > plan && r.out().indexOf("[health] health --wait") > dashboardPlan, r.out());
        assertTrue(r.out().contains("+ namespace/attic-cache-" + env), r.out());
        assertTrue(r.out().indexOf("namespace/attic-cache-" + env + " created") > dashboardPlan, "applied after the plan: " + r.out());
        for (String step : Up.STEPS) {
            assertTrue(r.err().contains("== " + step + ": "), step + ": " + r.err());
        }
        assertTrue(r.err().contains(env + ": up (namespaces, cache, database-url, cache-token, runners, dashboard, health)"), r.err());

        // What each step leaves: the database and Attic, the URL secret, the runner release, the dashboard.
        String attic = "attic-cache-" + env;
        assertNotNull(kube.secrets().inNamespace(attic).withName("attic-secrets").get());
        var runner = kube.apps().deployments().inNamespace("gitlab-runners-" + env).withName("gitlab-runner-docker").get().getStatus();
        assertTrue(runner.getAvailableReplicas() != null && runner.getAvailableReplicas() > 0 && runner.getAvailableReplicas().equals(runner.getReplicas()), runner.toString());
        assertEquals(1, kube.apps().deployments().inNamespace("runner-dashboard-" + env).withName("runner-dashboard").get().getStatus().getAvailableReplicas());
        assertTrue(r.out().contains("cache/main created"), r.out());
        // The CI jobs' cache token, which deploy-runners mounts into the nix runner's job pods: written by up, never printed.
        var ciToken = kube.secrets().inNamespace("gitlab-runners-" + env).withName(CiCacheToken.SECRET).get();
        assertNotNull(ciToken, "up writes the CI jobs' cache token");
        String minted = new String(java.util.Base64.getDecoder().decode(ciToken.getData().get("token")), java.nio.charset.StandardCharsets.UTF_8);
        assertFalse(r.out().contains(minted) || r.err().contains(minted), "the CI token is never printed");
        assertTrue(r.out().contains("secret/" + CiCacheToken.SECRET + " -n gitlab-runners-" + env + " created"), r.out());

        // The last step, health --wait, ended with every check ok: each row of its table, by component and check.
        List<List<String>> rows = healthRows(r.out());
        var expected = new ArrayList<String>();
        for (String ns : List.of(attic, "gitlab-runners-" + env, "runner-dashboard-" + env)) expected.add("namespaces/" + ns);
        expected.addAll(List.of("database/cluster attic-pg", "database/instances", "database/primary", "database/pods", "database/server certificate",
                "database/operator", "cache/deployment attic", "cache/GET /", "cache/cache main", "runners/docker release", "runners/docker pods",
                "runners/docker hpa", "runners/docker pdb", "runners/docker gitlab", "runners/docker token", "runners/capacity", "dashboard/deployment runner-dashboard", "dashboard/GET /api/health",
                "dashboard/GET /api/k8s/hpa"));
        assertEquals(expected, rows.stream().map(row -> row.get(0) + "/" + row.get(1)).toList(), r.out());
        for (var row : rows) assertEquals("ok", row.get(2), row + "\n" + r.out());
        assertEquals(List.of("primary", "attic-pg-1 (ready)"), rows.get(5).subList(1, 4).stream().filter(c -> !c.equals("ok")).toList(), rows.get(5).toString());
        assertTrue(rows.get(14).get(3).contains(", max 3 (manager pods"), rows.get(14).toString()); // dev.yaml: docker maxReplicas 3
        assertTrue(rows.get(16).get(3).matches("runner [0-9]+: online, contacted .*"), rows.get(16).toString());
        // The dashboard deploy-dashboard made serves the cluster's data, not its mock data: its ConfigMap and Role are what the app needs.
        var dashboard = dashboards.get(env);
        assertTrue(dashboard.requests.contains("GET /api/health") && dashboard.requests.contains("GET /api/k8s/hpa"), dashboard.requests.toString());
        assertTrue(rows.get(rows.size() - 1).get(3).startsWith("the cluster's data"), rows.get(rows.size() - 1).toString());

        // A second up on the unchanged cluster: the plan says up to date for every step, and no write is sent.
        var again = quiet(() -> up(env));
        assertEquals(0, again.exit(), again.toString());
        assertEquals(0, api.mutatingRequests(), api.requests().stream().filter(TestCluster.Request::isMutating).toList().toString());
        assertTrue(again.err().contains(env + ": up (namespaces, cache, database-url, cache-token, runners, dashboard, health)"), again.err());
        for (String step : List.of("namespaces", "cache", "database-url", "cache-token", "runners", "dashboard")) {
            assertTrue(again.out().lines().anyMatch(l -> l.startsWith("[" + step + "]") && l.endsWith(": up to date")), step + ": " + again.out());
        }
        // It reads each kind once (issue 20): deploy-runners' plan LISTs the runner namespace's Secrets, HPAs and PDBs instead of a GET
        // per token Secret, HPA and PDB, and reads the releases from Helm's records, so no Helm runs (each Helm call asks GET /version);
        // deploy-cache's and deploy-dashboard's plans LIST their kinds instead of a GET per object. At most 80 requests in all.
        List<TestCluster.Request> reads = api.requests();
        assertEquals(List.of(), reads.stream().filter(q -> q.path().equals("/version")
                || q.path().matches("/api.*/namespaces/[^/]+/(secrets|horizontalpodautoscalers|poddisruptionbudgets)/gitlab-runner-.*")
                || q.path().matches("/api.*/namespaces/attic-cache-" + env + "/(configmaps|services|serviceaccounts)/.*")
                || q.path().matches("/apis/apps/v1/namespaces/[^/]+/deployments/.*")).map(q -> q.method() + " " + q.path()).toList());
        assertTrue(reads.size() <= 80, reads.size() + " requests: " + reads.stream().map(q -> q.method() + " " + q.path()).toList());
    }

    /** The rows of health's table in {@code out} (the lines after its header COMPONENT CHECK STATUS DETAIL), split at the header's columns. */
    static List<List<String>> healthRows(String out) {
        List<String> lines = out.lines().toList();
        int header = -1;
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).matches("COMPONENT +CHECK +STATUS +DETAIL")) header = i;
        assertTrue(header >= 0, "no health table: " + out);
        String h = lines.get(header);
        int[] at = {0, h.indexOf("CHECK"), h.indexOf("STATUS"), h.indexOf("DETAIL")};
        var rows = new ArrayList<List<String>>();
        for (String l : lines.subList(header + 1, lines.size())) {
            if (l.isBlank() || l.length() <= at[3]) break;
            rows.add(List.of(l.substring(0, at[1]).strip(), l.substring(at[1], at[2]).strip(), l.substring(at[2], at[3]).strip(), l.substring(at[3]).strip()));
        }
        return rows;
    }

    @Test
    @Order(2)
    void diffIsZeroAfterUpAndDriftAfterAManualQuotaChangeOrAChangedRunner() throws Exception {
        var clean = quiet(() -> up(env, "--diff"));
        assertEquals(0, clean.exit(), clean.toString());
        assertTrue(clean.err().contains("no drift"), clean.err());
        assertEquals(0, api.mutatingRequests(true), api.requests().toString());

        // Someone raises the Attic quota by hand.
        String ns = "attic-cache-" + env;
        ResourceQuota q = kube.resourceQuotas().inNamespace(ns).withName("attic-quota").get();
        q.getSpec().getHard().put("pods", new Quantity("99"));
        q.getMetadata().setManagedFields(null);
        kube.resourceQuotas().inNamespace(ns).resource(q).update();
        var quota = up(env, "--diff");
        assertEquals(ExitCode.DRIFT, quota.exit(), quota.toString());
        assertTrue(quota.out().contains("~ resourcequota/attic-quota -n " + ns), quota.out());
        assertTrue(quota.err().contains("drifted from"), quota.err());

        // The file changes a runner's values: its release is listed.
        Path file = envDir.resolve(env + ".yaml");
        String before = Files.readString(file);
        Files.writeString(file, before.replace("    concurrent: 4\n", "    concurrent: 5\n"));
        try {
            var runner = quiet(() -> up(env, "--diff", "--only", "runners"));
            assertEquals(ExitCode.DRIFT, runner.exit(), runner.toString());
            assertTrue(runner.out().contains("release/gitlab-runner-docker"), runner.out());
            assertEquals(0, api.mutatingRequests(false), api.requests().toString());
        } finally {
            Files.writeString(file, before);
        }
        // up puts the quota back, taking the field over from the hand edit's field manager.
        var fix = up(env, "--only", "namespaces", "--force-conflicts");
        assertEquals(0, fix.exit(), fix.toString());
        assertEquals(new Quantity("20"), kube.resourceQuotas().inNamespace(ns).withName("attic-quota").get().getSpec().getHard().get("pods"));
    }

    @Test
    @Order(3)
    void aFailingMiddleStepStopsThereWithItsCodeAndTheResumeMessage() throws Exception {
        String other = "up" + TestCluster.randomHex(3);
        writeEnv(other);
        watch(other);
        operator.holdUnready.add("attic-cache-" + other); // its database never becomes ready
        var r = up(other, "--timeout", "2s");
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertTrue(r.err().contains("cluster attic-pg in namespace attic-cache-" + other + " was not ready within 2s"), r.err());
        assertTrue(r.err().contains("up: step cache failed (exit 69); done before it: namespaces."), r.err());
        assertTrue(r.err().contains("re-run 'gfw up " + other + "': it resumes safely"), r.err());
        assertFalse(r.err().contains("== runners"), r.err());
        assertNull(kube.apps().deployments().inNamespace("runner-dashboard-" + other).withName("runner-dashboard").get(), "later steps did not run");
    }

    @Test
    @Order(4)
    void dryRunsStopAfterThePlanAndFlagsAreChecked() {
        var client = quiet(() -> TestSupport.inProcess(new Up(), env, "--env-dir", envDir.toString(), "--dry-run=client"));
        assertEquals(0, client.exit(), client.toString());
        assertTrue(client.out().contains("[dashboard] deploy-dashboard: the runner dashboard: 6 objects rendered"), client.out());
        assertTrue(client.out().contains("[runners] deploy-runners: the runner releases, tokens, HPAs, PDBs: 1 releases rendered"), client.out());
        assertEquals(0, api.requests().size(), api.requests().toString());

        var bad = TestSupport.inProcess(new Up(), env, "--env-dir", envDir.toString(), "--only", "cache,nope");
        assertEquals(ExitCode.USAGE, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("unknown step 'nope'"), bad.err());

        var planned = TestSupport.inProcess(new Up(), "prod", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context());
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
    }

    /**
     * A CI job that is no cluster admin: a cluster admin applies what {@code deployer-rbac} prints, then {@code up} runs
     * impersonating a member of the bound group (kubeconfig {@code as}/{@code as-groups}, which fabric8, Helm and kubectl
     * all honour) and brings a new environment up to healthy; the real RBAC authorizer then says exactly what it may not do.
     */
    @Test
    @Order(5)
    void aDeployerBoundByDeployerRbacBringsAnEnvironmentUpWithoutBeingAdmin() throws Exception {
        String name = "dp" + TestCluster.randomHex(3);
        writeEnv(name);
        // As watch(name), with an Attic of its own that knows this environment's signing key.
        String atticNs = "attic-cache-" + name, runnerNs = "gitlab-runners-" + name;
        for (String ns : List.of(atticNs, runnerNs, "runner-dashboard-" + name, "cnpg-system-" + name)) NAMESPACES.add(ns);
        operator.installOperator("cnpg-system-" + name);
        operator.watch(atticNs);
        api.rollouts(runnerNs, TestCluster.Readiness.ready());
        api.rollouts("runner-dashboard-" + name, TestCluster.Readiness.ready());
        var ownAttic = new AtticStandIn(() -> {
            var key = kube.secrets().inNamespace(atticNs).withName("attic-jwt-signing").get();
            return key == null ? "" : DeployCacheTest.decode(key, "hs256-secret-base64");
        });
        TestSupport.closeAtEnd(ownAttic);
        api.serviceBackend(atticNs, 8080, java.net.URI.create("http://127.0.0.1:" + ownAttic.port()));
        var dashboard = dashboards.computeIfAbsent(name, n -> new DashboardAppStandIn(kube, "runner-dashboard-" + n));
        api.serviceBackend("runner-dashboard-" + name, 3000, dashboard.uri());
        String group = "gfw:deployers-" + name;
        var rbac = TestSupport.inProcess(new DeployerRbacCommand(), name, "--env-dir", envDir.toString(), "--group", group);
        assertEquals(0, rbac.exit(), rbac.toString());
        var apply = TestSupport.command("kubectl", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "apply", "-f", "-")
                .stdin(rbac.out()).run();
        assertEquals(0, apply.exit(), apply.toString());

        Path kc = TestSupport.tempDir("deployer").resolve("kubeconfig");
        String admin = Files.readString(api.kubeconfig());
        int user = admin.indexOf("  user:\n", admin.indexOf("users:"));
        assertTrue(user > 0, admin.replaceAll("token: .*", "token: ****"));
        String as = "  user:\n    as: ci-deployer\n    as-groups:\n    - " + group + "\n";
        Files.writeString(kc, admin.substring(0, user) + as + admin.substring(user + "  user:\n".length()));
        var args = new ArrayList<>(List.of(name, "--env-dir", envDir.toString(), "--kubeconfig", kc.toString(), "--context", api.context(),
                "--chart", RunnerFixtures.FIXTURE.toString(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                "--attic-url", "http://127.0.0.1:" + ownAttic.port(), "--timeout", "90s"));
        var r = TestSupport.inProcess(new Up(), args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        for (var row : healthRows(r.out())) assertEquals("ok", row.get(2), row + "\n" + r.out());

        List<String> groups = List.of(group);
        assertTrue(RealClusterTest.can(api, "ci-deployer", groups, "create", "pods", runnerNs), "the runner chart's Role needs it there");
        for (String[] denied : new String[][] {{"create", "namespaces", ""}, {"delete", "namespaces", ""}, {"get", "secrets", "kube-system"},
                {"list", "secrets", "default"}, {"create", "pods", atticNs}, {"create", "pods/exec", atticNs}, {"get", "nodes", ""},
                {"create", "clusterroles", ""}, {"create", "customresourcedefinitions", ""}, {"delete", "clusters.postgresql.cnpg.io", "default"},
                {"patch", "deployments.apps", "kube-system"}, {"bind", "clusterroles", ""}, {"escalate", "roles", atticNs}, {"impersonate", "users", ""}}) {
            assertFalse(RealClusterTest.can(api, "ci-deployer", groups, denied[0], denied[1], denied[2]), "must not " + String.join(" ", denied));
        }
        assertFalse(RealClusterTest.can(api, "ci-deployer", groups, "patch", "namespaces/kube-system", ""), "only its own namespaces");
        assertTrue(RealClusterTest.can(api, "ci-deployer", groups, "patch", "namespaces/" + atticNs, ""), "its own namespaces by name");
    }
}
