import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** deploy-dashboard against the test API server (rollouts on), as a user runs it: in-process, and once through ./jbang. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeployDashboardTest {

    static TestCluster api;
    static KubernetesClient kube;
    static String env;
    static Path envDir;
    static String ns;
    static String runners;
    static Path tokenFile;
    static final String TOKEN = "glpat-dashboard-" + TestCluster.randomHex(6);

    @BeforeAll
    static void setUp() throws Exception {
        api = TestCluster.shared();
        Assumptions.assumeTrue(api.isLocal(), "rollouts need the suite's control plane (kwok)");
        kube = api.client();
        env = "dash" + TestCluster.randomHex(3);
        ns = "runner-dashboard-" + env;
        runners = "gitlab-runners-" + env;
        envDir = TestSupport.tempDir("dash-env");
        writeEnv(envDir, t -> t);
        for (String n : List.of(ns, runners)) {
            kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(n).endMetadata().build()).create();
        }
        // The ServiceAccount the dashboard runs as, which provision-namespaces creates (namespaces.dashboard.serviceAccounts):
        // without it the API server admits no pod of the Deployment.
        kube.serviceAccounts().inNamespace(ns).resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata()
                .withName("runner-dashboard").withNamespace(ns).endMetadata().build()).create();
        api.rollouts(ns, TestCluster.Readiness.ready());
        tokenFile = envDir.resolve("token");
        Files.writeString(tokenFile, TOKEN + "\n");
        Files.setPosixFilePermissions(tokenFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    @AfterAll
    static void tearDown() {
        if (api == null || !api.isLocal()) return;
        api.stopRollouts(ns);
        for (String n : List.of(ns, runners)) kube.namespaces().withName(n).delete();
    }

    /** dev.yaml as environment {@code env} with namespaces of its own, then {@code edit}ed. */
    static void writeEnv(Path dir, java.util.function.UnaryOperator<String> edit) throws Exception {
        String dev = Files.readString(TestSupport.repo().resolve("environments/dev.yaml"));
        String text = dev.replace("environment: dev\n", "environment: " + env + "\n")
                .replace("    name: gitlab-runners\n", "    name: gitlab-runners-{environment}\n")
                .replace("    name: runner-dashboard\n", "    name: runner-dashboard-{environment}\n");
        assertTrue(text.contains("gitlab-runners-{environment}") && text.contains("runner-dashboard-{environment}"), "dev.yaml changed shape");
        Files.writeString(dir.resolve(env + ".yaml"), edit.apply(text));
    }

    static TestSupport.Result deploy(Path dir, String... more) {
        var args = new ArrayList<>(List.of(env, "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--timeout", "30s"));
        args.addAll(List.of(more));
        return TestSupport.inProcess(new DeployDashboard(), args.toArray(String[]::new));
    }

    static String decode(Secret s, String key) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
    }

    static String checksum() {
        return kube.apps().deployments().inNamespace(ns).withName("runner-dashboard").get().getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
    }

    @Test
    @Order(1)
    void deploysTheDashboardThenAReRunSendsNoWriteAndKeepsTheSessionSecret() {
        var first = deploy(envDir, "--gitlab-token-file", tokenFile.toString());
        assertEquals(0, first.exit(), first.toString());
        assertTrue(first.out().contains("deployment/runner-dashboard -n " + ns + " created"), first.out());
        // It returned once the rollout was done: the new pods are available.
        assertEquals(1, kube.apps().deployments().inNamespace(ns).withName("runner-dashboard").get().getStatus().getAvailableReplicas());

        Secret s = kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").get();
        assertEquals(TOKEN, decode(s, "GITLAB_TOKEN"));
        String session = decode(s, "SESSION_SECRET");
        assertEquals(48, session.length());
        assertNull(s.getData().get("GITLAB_OAUTH_CLIENT_SECRET"), "dev configures no OAuth");

        ConfigMap cm = kube.configMaps().inNamespace(ns).withName("runner-dashboard-config").get();
        assertEquals("3000", cm.getData().get("PORT"));
        assertEquals("https://gitlab.com", cm.getData().get("GITLAB_URL"));
        assertEquals("gloriousflywheel", cm.getData().get("GITLAB_GROUP_ID"));
        String everywhere = cm.getData().toString() + first.out() + first.err();
        assertFalse(everywhere.contains(TOKEN) || everywhere.contains(session), "a secret value in the ConfigMap or the output");

        Deployment d = kube.apps().deployments().inNamespace(ns).withName("runner-dashboard").get();
        var pod = d.getSpec().getTemplate().getSpec();
        assertTrue(pod.getSecurityContext().getRunAsNonRoot());
        assertEquals("runner-dashboard", pod.getServiceAccountName());
        assertTrue(CacheConfig.PINNED_IMAGE.matcher(pod.getContainers().get(0).getImage()).matches(), "pinned image: " + pod.getContainers().get(0).getImage());
        assertEquals(3000, pod.getContainers().get(0).getPorts().get(0).getContainerPort());
        assertEquals(3000, kube.services().inNamespace(ns).withName("runner-dashboard").get().getSpec().getPorts().get(0).getPort());

        Role role = kube.rbac().roles().inNamespace(runners).withName("runner-dashboard-read").get();
        assertNotNull(role, "read-only Role on the runner namespace");
        // Exactly what the app's K8s client calls (GloriousFlywheel 0e2a69c client.ts): get its namespace's object (else it serves
        // mock data), list pods, events, deployments, HPAs; nothing else.
        assertEquals(List.of("[] [namespaces] [" + runners + "] [get]", "[] [pods, events] [] [list]", "[apps] [deployments] [] [list]",
                        "[autoscaling] [horizontalpodautoscalers] [] [list]"),
                role.getRules().stream().map(r -> r.getApiGroups() + " " + r.getResources() + " "
                        + (r.getResourceNames() == null ? List.of() : r.getResourceNames()) + " " + r.getVerbs()).toList(), role.getRules().toString());
        // The variables the app reads, naming the runner namespace (it reads no RUNNER_NAMESPACE).
        assertEquals(runners, cm.getData().get("K8S_NAMESPACE"));
        assertEquals(runners, cm.getData().get("K8S_RUNNER_NAMESPACES"));
        assertFalse(cm.getData().containsKey("RUNNER_NAMESPACE"), cm.getData().toString());
        var binding = kube.rbac().roleBindings().inNamespace(runners).withName("runner-dashboard-read").get();
        assertEquals(ns, binding.getSubjects().get(0).getNamespace());
        // provision-namespaces owns the ServiceAccount listed in namespaces.dashboard.serviceAccounts: not applied twice.
        assertFalse(first.out().contains("serviceaccount/"), first.out());

        // A re-run with no token given: the stored token and session secret are kept, nothing is written.
        api.resetRequests();
        var again = deploy(envDir);
        assertEquals(0, again.exit(), again.toString());
        assertEquals(0, api.mutatingRequests(), api.requests().stream().filter(TestCluster.Request::isMutating).toList().toString());
        assertTrue(again.err().contains("up to date, no write request sent"), again.err());
        assertEquals(session, decode(kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").get(), "SESSION_SECRET"));
    }

    @Test
    @Order(2)
    void aNewTokenRollsThePodsAndKeepsTheSessionSecret() throws Exception {
        String before = checksum();
        String session = decode(kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").get(), "SESSION_SECRET");
        Path other = envDir.resolve("token2");
        Files.writeString(other, "glpat-rotated-" + TestCluster.randomHex(4));
        Files.setPosixFilePermissions(other, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        var r = deploy(envDir, "--gitlab-token-file", other.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("secret/runner-dashboard-secrets -n " + ns + " configured"), r.out());
        assertTrue(r.out().contains("deployment/runner-dashboard -n " + ns + " configured"), r.out());
        assertNotEquals(before, checksum(), "the checksum annotation changes with a secret");
        assertEquals(session, decode(kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").get(), "SESSION_SECRET"));
        // The rollout made a second ReplicaSet for the new template.
        assertEquals(2, kube.apps().replicaSets().inNamespace(ns).list().getItems().size());
        assertFalse(r.out().contains(Files.readString(other).trim()) || r.err().contains(Files.readString(other).trim()), "token printed");
    }

    @Test
    @Order(3)
    void dryRunsAndDiffStoreNothing() throws Exception {
        api.resetRequests();
        var client = TestSupport.inProcess(new DeployDashboard(), env, "--env-dir", envDir.toString(), "--dry-run=client");
        assertEquals(0, client.exit(), client.toString());
        assertTrue(client.out().contains("kind: Deployment") && client.out().contains("kind: RoleBinding"), client.out());
        assertTrue(client.out().contains("SESSION_SECRET: '****'") || client.out().contains("SESSION_SECRET: \"****\""), client.out());
        assertEquals(0, api.requests().size(), api.requests().toString());

        Path dir = TestSupport.tempDir("dash-env2");
        String newImage = "ghcr.io/jesssullivan/runner-dashboard:next@sha256:" + "cd".repeat(32);
        writeEnv(dir, t -> t.replaceFirst("(?m)^  image: ghcr.io/jesssullivan/runner-dashboard:\\S+", "  image: " + newImage));
        api.resetRequests();
        var diff = deploy(dir, "--diff");
        assertEquals(0, diff.exit(), diff.toString());
        assertTrue(diff.out().contains("~ deployment/runner-dashboard -n " + ns + "\n    spec.template.spec.containers[0].image: "), diff.out());
        assertTrue(diff.err().contains("1 to configure"), diff.err());
        assertEquals(0, api.mutatingRequests(true), api.requests().toString());

        api.resetRequests();
        var server = deploy(dir, "--dry-run=server");
        assertEquals(0, server.exit(), server.toString());
        assertTrue(server.out().contains("deployment/runner-dashboard -n " + ns + " configured (server dry run)"), server.out());
        assertTrue(api.requests().stream().filter(TestCluster.Request::isMutating).allMatch(TestCluster.Request::isDryRun), api.requests().toString());
        assertNotEquals(newImage, kube.apps().deployments().inNamespace(ns).withName("runner-dashboard").get().getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    }

    @Test
    @Order(4)
    void refusalsAndMissingInputsAreOneLine() throws Exception {
        api.resetRequests();
        var planned = TestSupport.inProcess(new DeployDashboard(), "prod", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context());
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        assertTrue(planned.err().contains("is planned"), planned.err());
        assertEquals(0, api.requests().size(), api.requests().toString());

        // A fresh namespace and no token anywhere: exit 66 naming the variable and the flag, nothing written.
        Path dir = TestSupport.tempDir("dash-env3");
        String fresh = "runner-dashboard-" + env + "-b";
        writeEnv(dir, t -> t.replace("runner-dashboard-{environment}", fresh));
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(fresh).endMetadata().build()).create();
        try {
            api.resetRequests();
            var none = deploy(dir);
            if (System.getenv("GITLAB_TOKEN") == null) {
                assertEquals(ExitCode.NO_INPUT, none.exit(), none.toString());
                assertTrue(none.err().contains("GITLAB_TOKEN is not set") && none.err().contains("--gitlab-token-file"), none.err());
                assertEquals(0, api.mutatingRequests(true), api.requests().toString());
            }
        } finally {
            kube.namespaces().withName(fresh).delete();
        }

        var noImage = TestSupport.tempDir("dash-env4");
        writeEnv(noImage, t -> t.replaceFirst("(?m)^  image: ghcr.io/jesssullivan/runner-dashboard:\\S+\n", ""));
        var r = deploy(noImage);
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertTrue(r.err().contains("dashboard: names no image"), r.err());

        // An image that can move (a tag only) is refused by gfw validate too, naming the file, line and field.
        var movable = TestSupport.tempDir("dash-env5");
        writeEnv(movable, t -> t.replaceFirst("(?m)^  image: ghcr.io/jesssullivan/runner-dashboard:\\S+", "  image: ghcr.io/jesssullivan/runner-dashboard:latest"));
        var v = TestSupport.inProcess(new gfw(), "validate", env, "--env-dir", movable.toString());
        assertEquals(ExitCode.CONFIG, v.exit(), v.toString());
        assertTrue(v.err().matches("(?s).*" + env + "\\.yaml:\\d+:\\d+ dashboard\\.image: .*pinned.*"), v.err());
    }

    @Test
    @Order(5)
    void prodRendersTheIngressAndOAuth() {
        var r = TestSupport.inProcess(new DeployDashboard(), "prod", "--dry-run=client", "-o", "json");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("\"kind\" : \"Ingress\"") && r.out().contains("runners.gloriousflywheel.dev"), r.out());
        assertTrue(r.out().contains("\"GITLAB_OAUTH_CLIENT_SECRET\" : \"****\""), r.out());
        assertTrue(r.out().contains("\"GITLAB_OAUTH_REDIRECT_URI\""), r.out());
        assertTrue(r.out().contains("\"replicas\" : 2"), r.out());
    }

    /** Two first runs at once (two CI jobs): the session secret is generated once, and both go on with the stored one. */
    @Test
    @Order(6)
    void twoFirstRunsAtOnceKeepOneSessionSecret() throws Exception {
        kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").delete();
        kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").waitUntilCondition(java.util.Objects::isNull, 30, java.util.concurrent.TimeUnit.SECONDS);
        // Each run reads "absent", then its write of the Secret is held 4 s: both writes reach the API server after both reads.
        String secrets = "/api/v1/namespaces/" + ns + "/secrets";
        api.fault(TestApiProxy.Fault.stall(q -> !q.method().equals("GET") && q.path().startsWith(secrets), 4000, 2));
        try {
            TestSupport.script("deploy-dashboard", "--help").run(); // built once first: two first builds at once are another matter
            var runs = new ArrayList<java.util.concurrent.CompletableFuture<TestSupport.Result>>();
            for (int i = 0; i < 2; i++) {
                runs.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> TestSupport.script("deploy-dashboard", env, "--env-dir", envDir.toString(),
                        "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--timeout", "60s",
                        "--gitlab-token-file", tokenFile.toString()).run()));
            }
            var outs = new ArrayList<String>();
            for (var f : runs) {
                TestSupport.Result r = f.get();
                assertEquals(0, r.exit(), r.toString());
                outs.add(r.out() + "\n--- stderr ---\n" + r.err());
            }
            String line = "secret/runner-dashboard-secrets -n " + ns;
            assertEquals(1, outs.stream().filter(o -> o.contains(line + " created")).count(), "one run creates it: " + outs);
            assertEquals(1, outs.stream().filter(o -> o.contains(line + " unchanged (kept: another run created it at the same time)")).count(),
                    "the other reads the winner's back and writes no value of its own: " + outs);
            Secret stored = kube.secrets().inNamespace(ns).withName("runner-dashboard-secrets").get();
            assertEquals(TOKEN, decode(stored, "GITLAB_TOKEN"));
            assertFalse(String.join("", outs).contains(decode(stored, "SESSION_SECRET")), "the session secret is never printed");
        } finally {
            api.clearFaults();
        }
    }
}
