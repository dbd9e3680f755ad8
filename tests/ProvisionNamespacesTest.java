import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * provision-namespaces: rendering from the environment file (in-process), and applying it to the
 * shared test API server as a user does (processes through ./jbang): create, re-run without writes,
 * change, prune, dry runs, diff, conflicts, refusals and API failures. Each test uses its own
 * environment name (so its own namespaces and its own prune selector): test classes sharing the
 * server, and tests of this class, never see each other's objects.
 */
class ProvisionNamespacesTest {

    static final String DEV = ConfigTest.DEV;
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> ENVS = new ArrayList<>();

    static TestCluster server() {
        return TestCluster.shared();
    }

    /** A unique environment name for one test (the namespaces and the environment label derive from it). */
    static String envName(String tag) {
        String name = "pn-" + tag + "-" + UUID.randomUUID().toString().substring(0, 4);
        synchronized (ENVS) {
            ENVS.add(name);
        }
        return name;
    }

    /** dev.yaml as environment {@code env}, every namespace name made unique by the environment name, then {@code edit}ed. */
    static String envText(String env, UnaryOperator<String> edit) {
        String text = EnvFile.of(DEV).set("environment", env).set("namespaces.runners.name", "gitlab-runners-{environment}")
                .set("namespaces.dashboard.name", "runner-dashboard-{environment}").text();
        assertTrue(text.contains("gitlab-runners-{environment}") && text.contains("runner-dashboard-{environment}")
                && text.contains("attic-cache-{environment}"), "dev.yaml changed shape; update envText()");
        return edit.apply(text);
    }

    static Path writeEnv(Path dir, String env, UnaryOperator<String> edit) throws IOException {
        Files.writeString(dir.resolve(env + ".yaml"), envText(env, edit));
        return dir;
    }

    static Path envDir(String env) throws IOException {
        return writeEnv(TestSupport.tempDir("pn-env"), env, t -> t);
    }

    static String[] clusterArgs(Path envDir, String... more) {
        var args = new ArrayList<>(List.of("--env-dir", envDir.toString(), "--kubeconfig", server().kubeconfig().toString(),
                "--context", server().context()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    static TestSupport.Result process(String env, Path envDir, String... more) {
        var argv = new ArrayList<String>();
        argv.add(env);
        argv.addAll(List.of(clusterArgs(envDir, more)));
        return TestSupport.script("provision-namespaces", argv.toArray(String[]::new)).run();
    }

    static TestSupport.Result inProcess(String env, Path envDir, String... more) {
        var argv = new ArrayList<String>();
        argv.add(env);
        argv.addAll(List.of(clusterArgs(envDir, more)));
        return TestSupport.inProcess(new ProvisionNamespaces(), argv.toArray(String[]::new));
    }

    static KubernetesClient client() {
        return server().client();
    }

    static void resetLog() {
        if (server().isLocal()) server().resetRequests();
    }

    static List<TestCluster.Request> writes() {
        return server().requests().stream().filter(TestCluster.Request::isMutating).toList();
    }

    static List<String> lines(String s) {
        return s.lines().filter(l -> !l.isBlank()).toList();
    }

    @AfterAll
    static void removeNamespaces() {
        // Matters on a long-lived cluster (GFW_TEST_KUBECONFIG); the suite's own goes away with the run.
        for (String env : ENVS) {
            try {
                client().namespaces().withLabel(ProvisionNamespaces.ENVIRONMENT_LABEL, env).delete();
            } catch (RuntimeException ignored) {
                // best effort
            }
        }
    }

    // ---- rendering (in-process, no cluster) ------------------------------------------------------

    @Test
    void renderTakesEverythingFromTheEnvironmentFile() throws IOException {
        String env = envName("render");
        EnvConfig.Env e = EnvConfig.load(env, envDir(env).toString());
        List<HasMetadata> objects = ProvisionNamespaces.render(e);

        String attic = "attic-cache-" + env;
        String runners = "gitlab-runners-" + env;
        String dashboard = "runner-dashboard-" + env;
        List<String> namespaces = objects.stream().filter(o -> o instanceof Namespace).map(o -> o.getMetadata().getName()).toList();
        assertEquals(List.of(attic, runners, dashboard), namespaces);
        assertTrue(objects.subList(0, 3).stream().allMatch(o -> o instanceof Namespace), "namespaces come first");

        for (HasMetadata o : objects) {
            Map<String, String> l = o.getMetadata().getLabels();
            assertEquals("gfw", l.get("app.kubernetes.io/managed-by"), o.getKind());
            assertEquals(env, l.get(ProvisionNamespaces.ENVIRONMENT_LABEL), o.getKind());
            assertEquals("gloriousflywheel", l.get("app.kubernetes.io/part-of"), o.getKind());
            assertNotNull(l.get("app.kubernetes.io/name"), o.getKind());
            assertNotNull(l.get("app.kubernetes.io/component"), o.getKind());
        }
        Namespace runnerNs = (Namespace) objects.get(1);
        assertEquals("privileged", runnerNs.getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));
        assertEquals("restricted", runnerNs.getMetadata().getLabels().get("pod-security.kubernetes.io/warn"));
        Namespace atticNs = (Namespace) objects.get(0);
        assertEquals("baseline", atticNs.getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));
        assertEquals("restricted", atticNs.getMetadata().getLabels().get("pod-security.kubernetes.io/audit"));

        ResourceQuota quota = find(objects, ResourceQuota.class, runners, "runner-quota");
        assertEquals(new Quantity("32"), quota.getSpec().getHard().get("requests.cpu"));
        assertEquals(new Quantity("32Gi"), quota.getSpec().getHard().get("requests.memory"));
        assertEquals(new Quantity("50"), quota.getSpec().getHard().get("pods"));
        LimitRange limits = find(objects, LimitRange.class, runners, "runner-limits");
        assertEquals(new Quantity("8Gi"), limits.getSpec().getLimits().get(0).getMax().get("memory"));
        assertEquals(new Quantity("100m"), limits.getSpec().getLimits().get(0).getDefaultRequest().get("cpu"));

        for (String ns : List.of(attic, runners, dashboard)) {
            NetworkPolicy deny = find(objects, NetworkPolicy.class, ns, "default-deny-ingress");
            assertEquals(List.of("Ingress"), deny.getSpec().getPolicyTypes());
            assertTrue(deny.getSpec().getIngress() == null || deny.getSpec().getIngress().isEmpty(), "deny has no ingress rule");
        }
        NetworkPolicy toAttic = find(objects, NetworkPolicy.class, attic, "allow-runners-to-attic");
        var rule = toAttic.getSpec().getIngress().get(0);
        assertEquals(runners, rule.getFrom().get(0).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));
        assertEquals(8080, rule.getPorts().get(0).getPort().getIntVal());
        NetworkPolicy operator = find(objects, NetworkPolicy.class, attic, "allow-cnpg-operator");
        var oRule = operator.getSpec().getIngress().get(0);
        assertEquals("attic-pg", operator.getSpec().getPodSelector().getMatchLabels().get("cnpg.io/cluster"));
        assertEquals("cnpg-system", oRule.getFrom().get(0).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));
        assertEquals(List.of(8000, 5432), oRule.getPorts().stream().map(p -> p.getPort().getIntVal()).toList());
        NetworkPolicy toDashboard = find(objects, NetworkPolicy.class, dashboard, "allow-ingress-to-dashboard");
        var dRule = toDashboard.getSpec().getIngress().get(0);
        assertEquals("ingress-nginx", dRule.getFrom().get(0).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));
        assertEquals(3000, dRule.getPorts().get(0).getPort().getIntVal());

        Role role = find(objects, Role.class, runners, "ci-job-runner-access");
        assertEquals(List.of("pods", "pods/log", "events"), role.getRules().get(0).getResources());
        assertEquals(List.of("get", "list", "watch"), role.getRules().get(0).getVerbs());
        RoleBinding binding = find(objects, RoleBinding.class, runners, "ci-job-runner-access");
        assertEquals("Group", binding.getSubjects().get(0).getKind());
        assertEquals("gitlab:ci_job", binding.getSubjects().get(0).getName());
        assertEquals("ci-job-runner-access", binding.getRoleRef().getName());
        assertEquals(1, objects.stream().filter(o -> o instanceof Role).count(), "the CI job role only in the runner namespace");

        assertNotNull(find(objects, ServiceAccount.class, attic, "attic"));
        assertNotNull(find(objects, ServiceAccount.class, runners, "gitlab-runner"));
        assertNotNull(find(objects, ServiceAccount.class, dashboard, "runner-dashboard"));
    }

    @Test
    void renderFollowsConfigChanges() throws IOException {
        String env = envName("render2");
        Path dir = writeEnv(TestSupport.tempDir("pn-env"), env, t -> EnvFile.of(t)
                .set("dashboard.ingressNamespace", "traefik")
                .set("dashboard.port", "8443")
                .set("attic.targetPort", "9090")
                .set("namespaces.runners.serviceAccounts", "[gitlab-runner, runner-helper]")
                .set("organization.name", "acme").text());
        List<HasMetadata> objects = ProvisionNamespaces.render(EnvConfig.load(env, dir.toString()));
        var toDashboard = find(objects, NetworkPolicy.class, "runner-dashboard-" + env, "allow-ingress-to-dashboard").getSpec().getIngress().get(0);
        assertEquals("traefik", toDashboard.getFrom().get(0).getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name"));
        assertEquals(8443, toDashboard.getPorts().get(0).getPort().getIntVal());
        assertEquals(9090, find(objects, NetworkPolicy.class, "attic-cache-" + env, "allow-runners-to-attic").getSpec().getIngress().get(0)
                .getPorts().get(0).getPort().getIntVal());
        assertNotNull(find(objects, ServiceAccount.class, "gitlab-runners-" + env, "runner-helper"));
        assertTrue(objects.stream().allMatch(o -> "acme".equals(o.getMetadata().getLabels().get("app.kubernetes.io/part-of"))));
    }

    @Test
    void extraNamespacesGetTheSameGuards() throws IOException {
        String env = envName("extra");
        String extra = "    - name: team-a-{environment}\n      component: runners\n      podSecurity: {enforce: restricted}\n"
                + "      quota: {pods: \"10\"}\n      serviceAccounts: [ci]\n    - name: tools-{environment}";
        Path dir = writeEnv(TestSupport.tempDir("pn-env"), env, t -> EnvFile.of(t).add("namespaces", "extra", "\n" + extra).text());
        EnvConfig.Env e = EnvConfig.load(env, dir.toString());
        List<HasMetadata> objects = ProvisionNamespaces.render(e);
        String team = "team-a-" + env;
        String tools = "tools-" + env;
        List<String> namespaces = objects.stream().filter(o -> o instanceof Namespace).map(o -> o.getMetadata().getName()).toList();
        assertEquals(List.of("attic-cache-" + env, "gitlab-runners-" + env, "runner-dashboard-" + env, team, tools), namespaces);
        Namespace teamNs = (Namespace) objects.get(3);
        assertEquals("restricted", teamNs.getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));
        assertEquals("runners", teamNs.getMetadata().getLabels().get("app.kubernetes.io/component"));
        assertEquals("extra", objects.get(4).getMetadata().getLabels().get("app.kubernetes.io/component"));
        assertEquals(new Quantity("10"), find(objects, ResourceQuota.class, team, "runner-quota").getSpec().getHard().get("pods"));
        assertNotNull(find(objects, NetworkPolicy.class, team, "default-deny-ingress"));
        assertNotNull(find(objects, NetworkPolicy.class, tools, "default-deny-ingress"));
        assertNotNull(find(objects, ServiceAccount.class, team, "ci"));
        assertEquals(1, objects.stream().filter(o -> o instanceof Role).count(), "the CI job role stays in the runner namespace only");
        assertEquals(0, objects.stream().filter(o -> tools.equals(o.getMetadata().getNamespace()) && o instanceof ResourceQuota).count());

        Path bad = writeEnv(TestSupport.tempDir("pn-env"), env, t -> EnvFile.of(t)
                .add("namespaces", "extra", "\n    - name: gitlab-runners-{environment}\n      colour: red").text());
        var r = TestSupport.inProcess(new ProvisionNamespaces(), env, "--env-dir", bad.toString(), "--dry-run=client");
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertTrue(r.err().contains("namespaces.extra[0].colour: unknown field"), r.err());
        assertTrue(r.err().contains("'gitlab-runners-" + env + "' is used twice"), r.err());
        assertEquals("", r.out());
    }

    static <T extends HasMetadata> T find(List<HasMetadata> objects, Class<T> kind, String ns, String name) {
        for (HasMetadata o : objects) {
            if (kind.isInstance(o) && name.equals(o.getMetadata().getName()) && ns.equals(o.getMetadata().getNamespace())) return kind.cast(o);
        }
        throw new AssertionError("no " + kind.getSimpleName() + " " + ns + "/" + name + " rendered");
    }

    // ---- ServerSideApply logic (in-process) ----------------------------------------------------

    @Test
    void transientErrorsAreRetriedAndOthersAreNot() {
        var options = new ServerSideApply.Options();
        options.backoffMillis = 1;
        var calls = new AtomicInteger();
        String ok = ServerSideApply.withRetries(options, () -> {
            if (calls.incrementAndGet() < 3) throw new KubernetesClientException(new StatusBuilder().withCode(503).withMessage("etcd timeout").build());
            return "ok";
        });
        assertEquals("ok", ok);
        assertEquals(3, calls.get());
        assertEquals(2, options.retries.get());

        calls.set(0);
        var timeout = assertThrows(KubernetesClientException.class, () -> ServerSideApply.withRetries(options, () -> {
            calls.incrementAndGet();
            throw new KubernetesClientException("connect failed", new ConnectException("Connection refused"));
        }));
        assertEquals(options.attempts, calls.get(), "connection failures are retried up to the limit");
        assertEquals(ExitCode.UNAVAILABLE, KubeClients.fromKubernetes(timeout).exitCode());

        calls.set(0);
        assertThrows(KubernetesClientException.class, () -> ServerSideApply.withRetries(options, () -> {
            calls.incrementAndGet();
            throw new KubernetesClientException(new StatusBuilder().withCode(403).withMessage("forbidden").build());
        }));
        assertEquals(1, calls.get(), "403 is not retried");
    }

    @Test
    void differencesIgnoreServerDefaultsAndSeeDroppedFields() {
        ResourceQuota desired = new ResourceQuotaBuilder().withNewMetadata().withName("q").withNamespace("n").addToLabels("a", "1").endMetadata()
                .withNewSpec().addToHard("requests.memory", new Quantity("1024Mi")).addToHard("pods", new Quantity("5")).endSpec().build();
        ResourceQuota live = new ResourceQuotaBuilder(desired).editMetadata().addToLabels("added-by-someone", "x").withResourceVersion("7")
                .withUid("u").endMetadata().editSpec().addToHard("requests.memory", new Quantity("1Gi")).endSpec().build();
        assertEquals(List.of(), ServerSideApply.differences(desired, live), "1024Mi is 1Gi; others' labels and server fields do not count");

        ResourceQuota changed = new ResourceQuotaBuilder(desired).editSpec().addToHard("pods", new Quantity("6")).endSpec().build();
        assertEquals(List.of("spec.hard.pods: 5 -> 6"), ServerSideApply.differences(changed, live));

        // gfw applied spec.hard.pods earlier (managedFields say so); the config no longer has it.
        ResourceQuota withoutPods = new ResourceQuotaBuilder(desired).editSpec().removeFromHard("pods").endSpec().build();
        ResourceQuota owned = new ResourceQuotaBuilder(live).editMetadata().addNewManagedField().withManager("gfw").withOperation("Apply")
                .withNewFieldsV1().addToAdditionalProperties("f:spec", Map.of("f:hard", Map.of("f:pods", Map.of(), "f:requests.memory", Map.of())))
                .endFieldsV1().endManagedField().endMetadata().build();
        assertEquals(List.of("spec.hard.pods: 5 -> (removed)"), ServerSideApply.differences(withoutPods, owned));
        ResourceQuota ownedByOther = new ResourceQuotaBuilder(owned).editMetadata().editFirstManagedField().withManager("kubectl").endManagedField()
                .endMetadata().build();
        assertEquals(List.of(), ServerSideApply.differences(withoutPods, ownedByOther), "fields of other managers are not gfw's to remove");
    }

    @Test
    void pruneNeverPicksANamespaceUnlessAsked() {
        Namespace keptNs = new NamespaceBuilder().withNewMetadata().withName("kept").endMetadata().build();
        Namespace droppedNs = new NamespaceBuilder().withNewMetadata().withName("dropped").endMetadata().build();
        ServiceAccount keptSa = new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName("a").withNamespace("kept").endMetadata().build();
        ServiceAccount droppedSa = new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName("b").withNamespace("kept").endMetadata().build();
        Map<String, HasMetadata> labelled = new HashMap<>();
        for (HasMetadata o : List.<HasMetadata>of(keptNs, droppedNs, keptSa, droppedSa)) labelled.put(ServerSideApply.key(o), o);
        var inventory = new ServerSideApply.Inventory(Map.of("kept", keptNs, "dropped", droppedNs), labelled);
        List<HasMetadata> desired = List.of(keptNs, keptSa);

        assertEquals(List.of(droppedSa), ServerSideApply.pruneCandidates(inventory, desired, false));
        assertEquals(List.of(droppedSa, droppedNs), ServerSideApply.pruneCandidates(inventory, desired, true), "namespaces last");

        assertEquals(List.of(), ProvisionNamespaces.terminating(inventory, desired));
        Namespace deleting = new NamespaceBuilder(keptNs).editMetadata().withDeletionTimestamp("2026-11-25T12:00:00Z").endMetadata().build();
        var whileDeleting = new ServerSideApply.Inventory(Map.of("kept", deleting), labelled);
        assertEquals(List.of("kept"), ProvisionNamespaces.terminating(whileDeleting, desired), "a Terminating namespace is refused up front");

        assertTrue(inventory.lookup(keptSa).known(), "a labelled object is known from the LIST");
        assertEquals(keptSa, inventory.lookup(keptSa).live());
        var inNewNamespace = new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName("x").withNamespace("new").endMetadata().build();
        assertTrue(inventory.lookup(inNewNamespace).known(), "nothing exists in a namespace that does not");
        assertNull(inventory.lookup(inNewNamespace).live());
        var unlabelled = new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName("y").withNamespace("kept").endMetadata().build();
        assertFalse(inventory.lookup(unlabelled).known(), "an unlabelled copy may exist: needs a GET");
    }

    // ---- against the API server: as a user runs it -----------------------------------------------

    @Test
    void firstApplyCreatesEverythingAndAReRunWritesNothing() throws Exception {
        String env = envName("apply");
        Path dir = envDir(env);
        int expected = ProvisionNamespaces.render(EnvConfig.load(env, dir.toString())).size();

        var first = process(env, dir);
        assertEquals(0, first.exit(), first.toString());
        List<String> created = lines(first.out());
        assertEquals(expected, created.size(), first.toString());
        assertTrue(created.stream().allMatch(l -> l.endsWith(" created")), first.out());
        assertEquals("namespace/attic-cache-" + env + " created", created.get(0));
        assertTrue(created.contains("resourcequota/runner-quota -n gitlab-runners-" + env + " created"), first.out());
        assertTrue(first.err().contains(env + ": " + expected + " objects: " + expected + " created, 0 configured, 0 unchanged"), first.err());

        // The cluster holds it, with the labels.
        for (String ns : List.of("attic-cache-" + env, "gitlab-runners-" + env, "runner-dashboard-" + env)) {
            Namespace live = client().namespaces().withName(ns).get();
            assertNotNull(live, ns);
            assertEquals("gfw", live.getMetadata().getLabels().get("app.kubernetes.io/managed-by"));
            assertEquals(env, live.getMetadata().getLabels().get(ProvisionNamespaces.ENVIRONMENT_LABEL));
            assertNotNull(client().network().networkPolicies().inNamespace(ns).withName("default-deny-ingress").get(), ns);
        }
        ResourceQuota quota = client().resourceQuotas().inNamespace("gitlab-runners-" + env).withName("runner-quota").get();
        assertEquals(new Quantity("50"), quota.getSpec().getHard().get("pods"));
        RoleBinding binding = client().rbac().roleBindings().inNamespace("gitlab-runners-" + env).withName("ci-job-runner-access").get();
        assertEquals("gitlab:ci_job", binding.getSubjects().get(0).getName());
        assertEquals("privileged", client().namespaces().withName("gitlab-runners-" + env).get().getMetadata().getLabels()
                .get("pod-security.kubernetes.io/enforce"));

        resetLog();
        var again = process(env, dir);
        assertEquals(0, again.exit(), again.toString());
        List<String> unchanged = lines(again.out());
        assertEquals(expected, unchanged.size(), again.toString());
        assertTrue(unchanged.stream().allMatch(l -> l.endsWith(" unchanged")), again.out());
        assertTrue(again.err().contains(expected + " unchanged (up to date, no write request sent)"), again.err());
        if (server().isLocal()) {
            assertEquals(List.of(), writes(), "a re-run on an unchanged cluster sends no POST/PUT/PATCH/DELETE");
            long reads = server().requests().size();
            assertTrue(reads <= 8, "one LIST per kind, no GET per object: " + server().requests());
        }
    }

    @Test
    void kubectlReadsTheNamespacesAndLabelsBack() throws Exception {
        String env = envName("kubectl");
        Path dir = envDir(env);
        var r = inProcess(env, dir);
        assertEquals(0, r.exit(), r.toString());

        var k = TestSupport.command("kubectl", "--kubeconfig", server().kubeconfig().toString(), "--context", server().context(),
                "get", "namespaces", "-l", "app.kubernetes.io/managed-by=gfw," + ProvisionNamespaces.ENVIRONMENT_LABEL + "=" + env,
                "-o", "json").run();
        assertEquals(0, k.exit(), k.toString());
        JsonNode items = JSON.readTree(k.out()).path("items");
        var names = new ArrayList<String>();
        for (JsonNode ns : items) {
            names.add(ns.path("metadata").path("name").asText());
            JsonNode labels = ns.path("metadata").path("labels");
            assertEquals("gfw", labels.path("app.kubernetes.io/managed-by").asText());
            assertEquals(env, labels.path(ProvisionNamespaces.ENVIRONMENT_LABEL).asText());
            assertFalse(labels.path("pod-security.kubernetes.io/enforce").asText().isEmpty());
        }
        names.sort(null);
        assertEquals(List.of("attic-cache-" + env, "gitlab-runners-" + env, "runner-dashboard-" + env), names);

        var shown = TestSupport.command("kubectl", "--kubeconfig", server().kubeconfig().toString(), "--context", server().context(),
                "get", "ns", "gitlab-runners-" + env, "--show-labels").run();
        assertEquals(0, shown.exit(), shown.toString());
        assertTrue(shown.out().contains("pod-security.kubernetes.io/enforce=privileged"), shown.out());
        assertTrue(shown.out().contains("app.kubernetes.io/component=runners"), shown.out());
    }

    @Test
    void aChangedQuotaUpdatesOnlyThatObject() throws Exception {
        String env = envName("quota");
        Path dir = envDir(env);
        assertEquals(0, inProcess(env, dir).exit());

        writeEnv(dir, env, t -> EnvFile.of(t).set("namespaces.runners.quota.pods", "\"60\"").text());
        var diff = inProcess(env, dir, "--diff");
        assertEquals(0, diff.exit(), diff.toString());
        assertEquals(List.of("~ resourcequota/runner-quota -n gitlab-runners-" + env, "    spec.hard.pods: 50 -> 60"), lines(diff.out()));
        assertTrue(diff.err().contains("0 to create, 1 to configure"), diff.err());

        resetLog();
        var r = inProcess(env, dir);
        assertEquals(0, r.exit(), r.toString());
        List<String> changed = lines(r.out()).stream().filter(l -> !l.endsWith(" unchanged")).toList();
        assertEquals(List.of("resourcequota/runner-quota -n gitlab-runners-" + env + " configured"), changed);
        assertTrue(r.err().contains("0 created, 1 configured"), r.err());
        assertEquals(new Quantity("60"), client().resourceQuotas().inNamespace("gitlab-runners-" + env).withName("runner-quota").get()
                .getSpec().getHard().get("pods"));
        if (server().isLocal()) {
            List<TestCluster.Request> w = writes();
            assertEquals(1, w.size(), w.toString());
            assertEquals("PATCH", w.get(0).method());
            assertEquals("/api/v1/namespaces/gitlab-runners-" + env + "/resourcequotas/runner-quota", w.get(0).path());
            assertEquals("gfw", w.get(0).queryParam("fieldManager"));
        }

        // A quota key dropped from the config is removed too (gfw owns it through server-side apply).
        writeEnv(dir, env, t -> EnvFile.of(t).remove("namespaces.runners.quota.pods").text());
        var dropped = inProcess(env, dir);
        assertEquals(0, dropped.exit(), dropped.toString());
        assertTrue(dropped.out().contains("resourcequota/runner-quota -n gitlab-runners-" + env + " configured"), dropped.out());
        assertNull(client().resourceQuotas().inNamespace("gitlab-runners-" + env).withName("runner-quota").get().getSpec().getHard().get("pods"));
    }

    @Test
    void pruneRemovesDroppedObjectsButNamespacesOnlyWhenAsked() throws Exception {
        String env = envName("prune");
        Path dir = envDir(env);
        assertEquals(0, inProcess(env, dir).exit());
        String dashboard = "runner-dashboard-" + env;
        String runners = "gitlab-runners-" + env;

        // The config drops the runner service account and renames the dashboard namespace.
        writeEnv(dir, env, t -> EnvFile.of(t).set("namespaces.runners.serviceAccounts", "[]")
                .set("namespaces.dashboard.name", "dashboard-{environment}").text());
        var withoutPrune = inProcess(env, dir);
        assertEquals(0, withoutPrune.exit(), withoutPrune.toString());
        assertFalse(withoutPrune.out().contains("pruned"), "nothing is deleted without --prune");
        assertNotNull(client().serviceAccounts().inNamespace(runners).withName("gitlab-runner").get());

        var preview = inProcess(env, dir, "--diff", "--prune");
        assertTrue(preview.out().contains("- serviceaccount/gitlab-runner -n " + runners + " (to be pruned)"), preview.out());
        assertNotNull(client().serviceAccounts().inNamespace(runners).withName("gitlab-runner").get(), "--diff deletes nothing");

        var pruned = inProcess(env, dir, "--prune");
        assertEquals(0, pruned.exit(), pruned.toString());
        List<String> prunedLines = lines(pruned.out()).stream().filter(l -> l.endsWith(" pruned")).toList();
        assertTrue(prunedLines.contains("serviceaccount/gitlab-runner -n " + runners + " pruned"), pruned.out());
        assertTrue(prunedLines.contains("networkpolicy/default-deny-ingress -n " + dashboard + " pruned"), pruned.out());
        assertFalse(pruned.out().contains("namespace/" + dashboard + " pruned"), pruned.out());
        assertTrue(pruned.err().contains("namespace/" + dashboard + " carries this layout's labels but the config no longer has it; kept"), pruned.err());
        assertNull(client().serviceAccounts().inNamespace(runners).withName("gitlab-runner").get());
        assertNotNull(client().namespaces().withName(dashboard).get(), "a namespace is never pruned without --prune-namespaces");
        assertNotNull(client().serviceAccounts().inNamespace("attic-cache-" + env).withName("attic").get(), "wanted objects stay");

        var namespacesToo = inProcess(env, dir, "--prune-namespaces");
        assertEquals(0, namespacesToo.exit(), namespacesToo.toString());
        assertTrue(namespacesToo.out().contains("namespace/" + dashboard + " pruned"), namespacesToo.out());
        Namespace gone = client().namespaces().withName(dashboard).get();
        assertTrue(gone == null || gone.getMetadata().getDeletionTimestamp() != null, "namespace deleted (or terminating)");
        assertNotNull(client().namespaces().withName("dashboard-" + env).get(), "the renamed namespace exists");
    }

    @Test
    void dryRunsWriteNothing() throws Exception {
        String env = envName("dry");
        Path dir = envDir(env);

        // Client: no kubeconfig is even looked for (KUBECONFIG points nowhere, and a bad --kubeconfig is ignored).
        var client = TestSupport.script("provision-namespaces", env, "--env-dir", dir.toString(), "--dry-run=client",
                "--kubeconfig", "/nonexistent/kubeconfig").env("KUBECONFIG", "/nonexistent/also").run();
        assertEquals(0, client.exit(), client.toString());
        assertTrue(client.out().startsWith("apiVersion: v1\nkind: Namespace\n"), client.out());
        assertTrue(client.out().contains("\n---\n"), "YAML documents");
        int expected = ProvisionNamespaces.render(EnvConfig.load(env, dir.toString())).size();
        assertEquals(expected - 1, client.out().split("\n---\n", -1).length - 1);
        assertTrue(client.err().contains("client dry run: nothing sent"), client.err());

        var json = inProcess(env, dir, "--dry-run=client", "-o", "json");
        assertEquals(0, json.exit(), json.toString());
        var viaGfw = TestSupport.script("gfw", "provision-namespaces", env, "--env-dir", dir.toString(), "--dry-run=client", "-o", "json").run();
        assertEquals(0, viaGfw.exit(), viaGfw.toString());
        assertEquals(json.out(), viaGfw.out(), "gfw provision-namespaces is the same command");
        JsonNode list = JSON.readTree(json.out());
        assertEquals("List", list.path("kind").asText());
        assertEquals(expected, list.path("items").size());
        assertEquals("gfw", list.path("items").get(0).path("metadata").path("labels").path("app.kubernetes.io/managed-by").asText());

        resetLog();
        var server = inProcess(env, dir, "--dry-run=server");
        assertEquals(0, server.exit(), server.toString());
        assertTrue(lines(server.out()).stream().allMatch(l -> l.contains(" created (server dry run")), server.out());
        assertTrue(server.err().contains("server dry run, nothing stored"), server.err());
        assertNull(client().namespaces().withName("attic-cache-" + env).get(), "a server dry run stores nothing");
        if (server().isLocal()) {
            List<TestCluster.Request> w = writes();
            assertEquals(3, w.size(), "only the namespaces are sent (their contents wait for a real namespace): " + w);
            assertTrue(w.stream().allMatch(TestCluster.Request::isDryRun), "every write is dryRun=All: " + w);
        }

        // Against an existing layout, the server checks the change but keeps the old value.
        assertEquals(0, inProcess(env, dir).exit());
        writeEnv(dir, env, t -> EnvFile.of(t).set("namespaces.runners.quota.pods", "\"70\"").text());
        var check = inProcess(env, dir, "--dry-run=server");
        assertEquals(0, check.exit(), check.toString());
        assertTrue(check.out().contains("resourcequota/runner-quota -n gitlab-runners-" + env + " configured (server dry run)"), check.out());
        assertEquals(new Quantity("50"), client().resourceQuotas().inNamespace("gitlab-runners-" + env).withName("runner-quota").get()
                .getSpec().getHard().get("pods"));
    }

    @Test
    void plannedMalformedAndUnconfirmedProductionAreRefusedBeforeAnyRequest() throws Exception {
        Path dir = TestSupport.tempDir("pn-refuse");
        String planned = envName("planned");
        writeEnv(dir, planned, t -> EnvFile.of(t).set("status", "planned").text());
        String prod = envName("prod");
        writeEnv(dir, prod, t -> EnvFile.of(t).set("production", "true").text());
        String broken = envName("broken");
        writeEnv(dir, broken, t -> EnvFile.of(t).set("namespaces.runners.quota.pods", "fifty").text());

        resetLog();
        var p = process(planned, dir);
        assertEquals(ExitCode.REFUSED, p.exit(), p.toString());
        assertTrue(p.err().contains("is planned"), p.err());
        assertEquals("", p.out());

        var shipped = TestSupport.script("provision-namespaces", "prod", "--kubeconfig", server().kubeconfig().toString()).run();
        assertEquals(ExitCode.REFUSED, shipped.exit(), "environments/prod.yaml is planned: " + shipped);

        var b = inProcess(broken, dir);
        assertEquals(ExitCode.CONFIG, b.exit(), b.toString());
        assertTrue(b.err().contains(broken + ".yaml") && b.err().contains("pods"), b.err());

        var unconfirmed = inProcess(prod, dir);
        assertEquals(ExitCode.REFUSED, unconfirmed.exit(), unconfirmed.toString());
        assertTrue(unconfirmed.err().contains("is production") && unconfirmed.err().contains("--yes"), unconfirmed.err());
        if (server().isLocal()) assertEquals(List.of(), server().requests(), "refused before any request");
        assertNull(client().namespaces().withName("attic-cache-" + prod).get());

        var previewed = inProcess(prod, dir, "--diff");
        assertEquals(0, previewed.exit(), "--diff changes nothing, so needs no --yes: " + previewed);
        var confirmed = inProcess(prod, dir, "--yes");
        assertEquals(0, confirmed.exit(), confirmed.toString());
        assertNotNull(client().namespaces().withName("attic-cache-" + prod).get());
    }

    @Test
    void aConflictNamesTheOtherManagerAndForceTakesOver() throws Exception {
        String env = envName("conflict");
        Path dir = envDir(env);
        String runners = "gitlab-runners-" + env;
        // Someone else applied the quota with another value.
        client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(runners).endMetadata().build())
                .fieldManager("kubectl").serverSideApply();
        client().resourceQuotas().inNamespace(runners).resource(new ResourceQuotaBuilder().withNewMetadata().withName("runner-quota")
                .withNamespace(runners).endMetadata().withNewSpec().addToHard("pods", new Quantity("99")).endSpec().build())
                .fieldManager("kubectl").serverSideApply();

        var r = inProcess(env, dir);
        assertEquals(ExitCode.CONFLICT, r.exit(), r.toString());
        assertTrue(r.err().contains("resourcequota/runner-quota -n " + runners), r.err());
        assertTrue(r.err().contains("field manager kubectl owns these fields") && r.err().contains("--force-conflicts"), r.err());
        assertTrue(r.out().contains("namespace/attic-cache-" + env + " created"), "what was applied before the error is reported: " + r);
        assertTrue(r.err().contains("stopped by the error below"), r.err());

        var forced = inProcess(env, dir, "--force-conflicts");
        assertEquals(0, forced.exit(), forced.toString());
        assertTrue(forced.out().contains("resourcequota/runner-quota -n " + runners + " configured"), forced.out());
        assertEquals(new Quantity("50"), client().resourceQuotas().inNamespace(runners).withName("runner-quota").get().getSpec().getHard().get("pods"));
    }

    @Test
    void serverErrorsAreRetriedThenReportedWithWhatWasApplied() throws Exception {
        Assumptions.assumeTrue(server().isLocal(), "needs the test proxy's injected faults");
        String env = envName("fail");
        Path dir = envDir(env);
        String runners = "gitlab-runners-" + env;
        String path = "/api/v1/namespaces/" + runners + "/serviceaccounts/gitlab-runner?fieldManager=gfw";
        server().fail("PATCH", path.substring(0, path.indexOf('?')), 500, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                + "\"message\":\"etcdserver: request timed out\",\"code\":500}", -1);

        resetLog();
        var r = inProcess(env, dir, "--concurrency", "1");
        server().clearFaults();
        assertEquals(ExitCode.REMOTE_ERROR, r.exit(), r.toString());
        assertTrue(r.err().contains("serviceaccount/gitlab-runner -n " + runners) && r.err().contains("etcdserver: request timed out")
                && r.err().contains("gave up after retries"), r.err());
        long attempts = server().requests().stream().filter(q -> q.method().equals("PATCH") && (q.path() + "?" + q.query()).equals(path)).count();
        assertEquals(4, attempts, "tried 4 times: " + server().requests());
        assertTrue(r.out().contains("rolebinding/ci-job-runner-access -n " + runners + " created"), "applied before the failure: " + r.out());
        assertTrue(r.err().contains("16 created, 0 configured, 0 unchanged (16 write requests, 3 retries); stopped by the error below with 7 of 23 objects not done"), r.err());
        assertTrue(r.err().contains("retries"), r.err());
        assertNull(client().resourceQuotas().inNamespace("runner-dashboard-" + env).withName("dashboard-quota").get(),
                "nothing after the failing object was started (concurrency 1)");
    }

    @Test
    void rejectedCredentialsAreAnAuthErrorBeforeAnyChange() throws Exception {
        String kc = Files.readString(server().kubeconfig());
        Assumptions.assumeTrue(kc.contains("  user:\n    token: "), "needs a token kubeconfig to change");
        String env = envName("auth");
        Path dir = envDir(env);
        // A token the server does not know: 401.
        Path rejected = TestSupport.tempDir("pn-kc").resolve("kubeconfig");
        Files.writeString(rejected, kc.replaceAll("(?m)^(  user:\\n    token: ).*$", "$1not-a-token-it-knows"));
        var r = TestSupport.inProcess(new ProvisionNamespaces(), env, "--env-dir", dir.toString(), "--kubeconfig", rejected.toString(),
                "--context", server().context());
        assertEquals(ExitCode.AUTH, r.exit(), r.toString());
        assertTrue(r.err().contains("(401)") && r.err().contains("nothing was changed"), r.err());
        assertFalse(r.err().contains("not-a-token-it-knows"), "the token is not echoed: " + r.err());
        assertEquals("", r.out());
        // No credentials at all: a real API server treats the request as system:anonymous and forbids it (403).
        Path none = TestSupport.tempDir("pn-kc").resolve("kubeconfig");
        Files.writeString(none, kc.replaceAll("(?m)^  user:\\n    token: .*$", "  user: {}"));
        var anonymous = TestSupport.inProcess(new ProvisionNamespaces(), env, "--env-dir", dir.toString(), "--kubeconfig", none.toString(),
                "--context", server().context());
        assertEquals(ExitCode.AUTH, anonymous.exit(), anonymous.toString());
        assertTrue(anonymous.err().contains("treated the request as anonymous") && anonymous.err().contains("nothing was changed"), anonymous.err());
        assertNull(client().namespaces().withName("attic-cache-" + env).get());
    }


    @Test
    void outputJsonListsTheAppliedObjects() throws Exception {
        String env = envName("json");
        Path dir = envDir(env);
        int expected = ProvisionNamespaces.render(EnvConfig.load(env, dir.toString())).size();
        var r = inProcess(env, dir, "-o", "json");
        assertEquals(0, r.exit(), r.toString());
        JsonNode list = JSON.readTree(r.out());
        assertEquals("List", list.path("kind").asText());
        assertEquals(expected, list.path("items").size());
        assertEquals("attic-cache-" + env, list.path("items").get(0).path("metadata").path("name").asText());
        assertTrue(r.err().contains(expected + " created"), "the summary still goes to stderr: " + r.err());
    }

    @Test
    void anUnreachableServerIsAClearErrorAndNothingIsClaimed() throws Exception {
        String env = envName("down");
        Path dir = envDir(env);
        int port;
        try (var s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path kubeconfig = TestSupport.tempDir("pn-kc").resolve("kubeconfig");
        Files.writeString(kubeconfig, Files.readString(server().kubeconfig()).replaceAll("server: \\S+", "server: https://127.0.0.1:" + port));
        var r = TestSupport.inProcess(new ProvisionNamespaces(), env, "--env-dir", dir.toString(), "--kubeconfig", kubeconfig.toString(),
                "--context", TestCluster.CONTEXT);
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertTrue(r.err().contains("cannot reach the API server") && r.err().contains("nothing was changed"), r.err());
        assertEquals("", r.out());
    }
}
