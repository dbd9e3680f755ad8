import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.Helm;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * deploy-runners: values per runner type from the environment file, the fixture chart rendered with
 * them (real Helm), runner tokens created through a GitLab stand-in and stored in Secrets on the test
 * API server, dry runs that write nothing, the chart from a repository, and the refusals and GitLab
 * errors. Installs, upgrades, rollbacks and --status: {@link DeployRunnersHelmTest}.
 */
class DeployRunnersTest {

    static final ObjectMapper JSON = RunnerFixtures.JSON;
    static final ObjectMapper YAML = RunnerFixtures.YAML;
    static final Path FIXTURE = RunnerFixtures.FIXTURE;
    static final AtomicInteger SEQ = RunnerFixtures.SEQ;

    // ---- values, in-process -----------------------------------------------------------------------

    @Test
    void valuesOfEveryTypeFollowTheEnvironmentFile() {
        EnvConfig.Env env = RunnerFixtures.dev();
        List<RunnerValues.Release> releases = RunnerValues.select(env, List.of());
        assertEquals(env.runners().stream().map(EnvConfig.Runner::type).toList(), releases.stream().map(RunnerValues.Release::type).toList());
        String atticUrl = "http://" + env.attic().service() + "." + env.namespaces().attic().name() + ".svc.cluster.local";
        var privilegedTypes = new TreeSet<String>();
        for (RunnerValues.Release r : releases) {
            EnvConfig.Runner runner = r.runner();
            Map<String, Object> v = r.values();
            assertTrue(r.name().contains(runner.type()), r.name());
            assertEquals(r.name(), v.get("fullnameOverride"));
            assertEquals(env.organization().gitlabUrl(), v.get("gitlabUrl"));
            assertEquals(runner.concurrent(), v.get("concurrent"));
            assertEquals(runner.autoscaling().minReplicas(), v.get("replicas"));
            assertEquals(Map.of("create", true, "rules", RunnerValues.RBAC_RULES), v.get("rbac"));
            assertEquals(Map.of("create", true), v.get("serviceAccount"));
            assertEquals(Map.of("requests", env.runnerChart().manager().requests(), "limits", env.runnerChart().manager().limits()), v.get("resources"));
            @SuppressWarnings("unchecked") Map<String, Object> runners = (Map<String, Object>) v.get("runners");
            assertEquals(r.name() + "-token", runners.get("secret"));
            // Only keys the real chart reads: tags are GitLab's (set when the runner is created), privileged is TOML's.
            assertEquals(Set.of("secret", "config"), runners.keySet());
            String toml = (String) runners.get("config");
            if (toml.contains("privileged = true")) privilegedTypes.add(r.type());
            assertTrue(toml.contains("\"ATTIC_SERVER=" + atticUrl + "\""), toml);
            assertTrue(toml.contains("\"ATTIC_CACHE=" + env.attic().cache() + "\""), toml);
            for (var e : runner.env().entrySet()) assertTrue(toml.contains("\"" + e.getKey() + "=" + e.getValue() + "\""), e + " in " + toml);
            assertTrue(toml.contains("namespace = \"" + env.namespaces().runners().name() + "\""), toml);
            assertTrue(toml.contains("image = \"" + runner.image() + "\""), toml);
            assertTrue(toml.contains("privileged = " + runner.privileged()), toml);
            assertTrue(toml.contains("poll_timeout = " + runner.pollTimeout()), toml);
            assertTrue(toml.contains("cpu_request = \"" + runner.job().requests().get("cpu") + "\""), toml);
            assertTrue(toml.contains("memory_limit = \"" + runner.job().limits().get("memory") + "\""), toml);
            // [[runners]] keys come before the [runners.kubernetes] table, or TOML would put them in it.
            assertTrue(toml.indexOf("environment = ") < toml.indexOf("[runners.kubernetes]"), toml);
            // No token in values: the chart reads it from the Secret.
            assertFalse(Output.json(v).contains("glrt-"));
            assertFalse(v.containsKey("runnerToken") || v.containsKey("runnerRegistrationToken"));
        }
        // Only the runner the environment file marks privileged (dind) runs privileged.
        var expectedPrivileged = new TreeSet<String>();
        env.runners().stream().filter(EnvConfig.Runner::privileged).forEach(r -> expectedPrivileged.add(r.type()));
        assertEquals(Set.of("dind"), expectedPrivileged, "dev.yaml changed: dind is the privileged runner");
        assertEquals(expectedPrivileged, privilegedTypes);
        // dind talks to its docker daemon without TLS; nix gets the flakes config.
        String dind = (String) ((Map<?, ?>) releases.stream().filter(r -> r.type().equals("dind")).findFirst().orElseThrow().values().get("runners")).get("config");
        assertTrue(dind.contains("\"DOCKER_HOST=tcp://localhost:2375\"") && dind.contains("\"DOCKER_TLS_CERTDIR=\""), dind);
        String nix = (String) ((Map<?, ?>) releases.stream().filter(r -> r.type().equals("nix")).findFirst().orElseThrow().values().get("runners")).get("config");
        assertTrue(nix.contains("NIX_CONFIG="), nix);
    }

    @Test
    void hpaAndPdbFollowTheAutoscalingConfig() {
        EnvConfig.Env env = RunnerFixtures.dev();
        for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
            var hpa = (HorizontalPodAutoscaler) RunnerValues.hpa(r);
            assertEquals(r.name() + "-hpa", hpa.getMetadata().getName());
            assertEquals(r.runner().autoscaling().minReplicas(), hpa.getSpec().getMinReplicas());
            assertEquals(r.runner().autoscaling().maxReplicas(), hpa.getSpec().getMaxReplicas());
            assertEquals(r.name(), hpa.getSpec().getScaleTargetRef().getName());
            var targets = new LinkedHashMap<String, Integer>();
            hpa.getSpec().getMetrics().forEach(m -> targets.put(m.getResource().getName(), m.getResource().getTarget().getAverageUtilization()));
            assertEquals(Map.of("cpu", r.runner().autoscaling().cpuPercent(), "memory", r.runner().autoscaling().memoryPercent()), targets);
            var pdb = (PodDisruptionBudget) RunnerValues.pdb(r);
            assertEquals(Map.of("app", r.name()), pdb.getSpec().getSelector().getMatchLabels());
        }
    }

    @Test
    void tomlStringsAreEscapedAndSafeFromHelmTemplating() {
        assertEquals("\"a\\\"b\\\\c\\nd\"", RunnerValues.tomlString("a\"b\\c\nd"));
        // The chart runs runners.config through tpl: a literal {{ must come out as {{.
        String s = RunnerValues.tomlString("x{{y");
        String rendered = new HelmReleases.JvmHelm(null).template(FIXTURE, "ns", "r", Map.of("runners", Map.of("config", s)));
        assertTrue(rendered.contains("x{{y"), rendered);
    }

    @Test
    void unknownTypeIsAUsageErrorNamingTheKnownTypes() {
        var r = TestSupport.inProcess(new DeployRunners(), "dev", "docker", "windows", "--dry-run");
        assertEquals(ExitCode.USAGE, r.exit(), r.toString());
        assertEquals(List.of("error: unknown runner type 'windows': environments/dev.yaml runners has docker, dind, rocky8, rocky9, nix (or give no type for all of them)"),
                r.err().lines().toList());
        assertEquals("", r.out());
    }

    @Test
    void badTimeoutIsAUsageError() {
        var r = TestSupport.inProcess(new DeployRunners(), "dev", "--timeout", "soon", "--dry-run=server");
        assertEquals(ExitCode.USAGE, r.exit(), r.toString());
        assertTrue(r.err().contains("--timeout soon"), r.err());
        assertEquals(Duration.ofMinutes(90), Cli.duration("1h30m", "--timeout"));
        assertEquals(Duration.ofSeconds(300), Cli.duration("300", "--timeout"));
    }

    @Test
    void helmGetsTheContextAndProxyGfwChose() throws IOException {
        Path dir = TestSupport.tempDir("helm-kubeconfig");
        Path kc = dir.resolve("kubeconfig");
        Files.writeString(kc, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: a
                  cluster: {server: https://a.example:6443, certificate-authority: ca.crt}
                - name: b
                  cluster: {server: https://b.example:6443}
                contexts:
                - name: ctx-a
                  context: {cluster: a, user: u}
                - name: ctx-b
                  context: {cluster: b, user: u}
                current-context: ctx-a
                users:
                - name: u
                  user: {client-certificate: certs/u.crt, client-key: /abs/u.key}
                """);
        var target = new KubeClients.Target(kc, "test", "ctx-b", "https://b.example:6443", "socks5h://localhost:1080");
        var cfg = Serialization.unmarshal(HelmReleases.kubeconfigFor(target), io.fabric8.kubernetes.api.model.Config.class);
        assertEquals("ctx-b", cfg.getCurrentContext());
        var clusters = new LinkedHashMap<String, io.fabric8.kubernetes.api.model.Cluster>();
        cfg.getClusters().forEach(c -> clusters.put(c.getName(), c.getCluster()));
        assertEquals("socks5://localhost:1080", clusters.get("b").getProxyUrl());
        assertNull(clusters.get("a").getProxyUrl());
        assertEquals(dir.resolve("ca.crt").toString(), clusters.get("a").getCertificateAuthority());
        assertEquals(dir.resolve("certs/u.crt").toString(), cfg.getUsers().get(0).getUser().getClientCertificate());
        assertEquals("/abs/u.key", cfg.getUsers().get(0).getUser().getClientKey());
    }

    // ---- the fixture chart, rendered by Helm --------------------------------------------------------

    @Test
    void fixtureChartRendersTheComputedValues() throws IOException {
        EnvConfig.Env env = RunnerFixtures.dev();
        RunnerValues.Release dind = RunnerValues.select(env, List.of("dind")).get(0);
        String manifest = new HelmReleases.JvmHelm(null).template(FIXTURE, dind.namespace(), dind.name(), dind.values());
        Map<String, JsonNode> byKind = new LinkedHashMap<>();
        for (JsonNode doc : RunnerFixtures.documents(manifest)) byKind.put(doc.path("kind").asText() + "/" + doc.path("metadata").path("name").asText(), doc);
        assertEquals(Set.of("Deployment/gitlab-runner-dind", "ConfigMap/gitlab-runner-dind", "ServiceAccount/gitlab-runner-dind",
                "Role/gitlab-runner-dind", "RoleBinding/gitlab-runner-dind"), byKind.keySet());
        JsonNode deploy = byKind.get("Deployment/gitlab-runner-dind");
        assertEquals(dind.runner().autoscaling().minReplicas(), deploy.path("spec").path("replicas").asInt());
        JsonNode container = deploy.path("spec").path("template").path("spec").path("containers").path(0);
        assertEquals(env.organization().gitlabUrl(), container.path("env").path(0).path("value").asText());
        assertEquals(env.runnerChart().manager().limits().get("memory"), container.path("resources").path("limits").path("memory").asText());
        // The token comes from the Secret gfw manages, both keys as the real chart mounts them (volumes[2], as there).
        JsonNode tokenVolume = deploy.path("spec").path("template").path("spec").path("volumes").path(2);
        assertEquals("projected-secrets", tokenVolume.path("name").asText(), deploy.toString());
        JsonNode secretSource = tokenVolume.path("projected").path("sources").path(0).path("secret");
        assertEquals(dind.tokenSecret(), secretSource.path("name").asText());
        assertEquals("[\"runner-registration-token\",\"runner-token\"]", JSON.writeValueAsString(
                JSON.valueToTree(secretSource.path("items").findValuesAsText("key"))));
        JsonNode cm = byKind.get("ConfigMap/gitlab-runner-dind").path("data");
        assertTrue(cm.path("config.toml").asText().contains("concurrent = " + dind.runner().concurrent()), cm.toString());
        String toml = cm.path("config.template.toml").asText();
        assertTrue(toml.contains("privileged = true"), toml);
        assertTrue(toml.contains("ATTIC_SERVER=" + env.atticServerUrl()), toml);
        assertEquals(Set.of("config.toml", "config.template.toml"), iterable(cm.fieldNames()));
        // Nothing in the rendered chart carries a token.
        assertFalse(manifest.contains("glrt-"));
        assertFalse(byKind.keySet().stream().anyMatch(k -> k.startsWith("Secret/")), "the chart must not render its own token Secret");
    }

    // ---- client dry run: no cluster, no GitLab, as a user runs it --------------------------------------

    @Test
    void clientDryRunNeedsNoClusterAndPrintsNoToken() throws IOException {
        Path home = TestSupport.tempDir("runners-home");
        String sentinel = "glpat-SENTINEL-" + SEQ.incrementAndGet();
        var r = TestSupport.script("deploy-runners", "dev", "--dry-run", "-o", "json")
                .env("HOME", home.toString()).env("GITLAB_TOKEN", sentinel).run();
        assertEquals(0, r.exit(), r.toString());
        EnvConfig.Env env = RunnerFixtures.dev();
        JsonNode list = JSON.readTree(r.out());
        assertEquals(env.runners().size(), list.size());
        for (int i = 0; i < list.size(); i++) {
            JsonNode rel = list.get(i);
            EnvConfig.Runner runner = env.runners().get(i);
            assertEquals("gitlab-runner-" + runner.type(), rel.path("release").asText());
            assertEquals(env.runnerChart().name(), rel.path("chart").asText());
            assertEquals(env.runnerChart().version(), rel.path("version").asText());
            assertEquals(env.namespaces().runners().name(), rel.path("namespace").asText());
            assertEquals(JSON.valueToTree(RunnerValues.values(env, runner)), rel.path("values"));
        }
        assertFalse((r.out() + r.err()).contains(sentinel), "the GitLab token leaked:\n" + r);
        assertFalse(r.out().contains("glrt-"));
        assertTrue(r.err().contains("nothing was sent"), r.err());
    }

    @Test
    void clientDryRunReadableSummaryAndYaml() throws IOException {
        var table = TestSupport.inProcess(new DeployRunners(), "dev", "nix", "--dry-run");
        assertEquals(0, table.exit(), table.toString());
        assertTrue(table.out().startsWith("release gitlab-runner-nix: chart gitlab-runner 0.86.0 from https://charts.gitlab.io, namespace gitlab-runners\n"), table.out());
        assertTrue(table.out().contains("runner-token " + Output.MASK), table.out());
        assertTrue(table.out().contains("NIX_CONFIG="), table.out());
        var yaml = TestSupport.inProcess(new DeployRunners(), "dev", "nix", "docker", "--dry-run=client", "-o", "yaml", "--chart-repo", "https://mirror.example/charts");
        assertEquals(0, yaml.exit(), yaml.toString());
        JsonNode list = YAML.readTree(yaml.out());
        assertEquals(List.of("gitlab-runner-docker", "gitlab-runner-nix"), list.findValuesAsText("release"));
        assertEquals("https://mirror.example/charts", list.get(0).path("repository").asText());
    }

    // ---- refusals -----------------------------------------------------------------------------------

    @Test
    void plannedEnvironmentIsRefusedBeforeAnyRequest() throws IOException {
        TestCluster api = TestCluster.shared();
        try (var gitlab = new GitLabStandIn()) {
            long before = api.isLocal() ? api.requests().size() : 0;
            var r = TestSupport.script("deploy-runners", "prod", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                    "--gitlab-url", gitlab.url(), "--chart", TestCharts.runnerChart().toString(), "--yes").env("GITLAB_TOKEN", "glpat-x").run();
            assertEquals(ExitCode.REFUSED, r.exit(), r.toString());
            assertTrue(r.err().contains("error: environment prod is planned"), r.err());
            assertEquals(List.of(), gitlab.requests);
            if (api.isLocal()) assertEquals(before, api.requests().size(), "requests reached the API server");
        }
        // Previewing a planned environment's runners sends nothing anywhere, so it is allowed, with a warning.
        var preview = TestSupport.inProcess(new DeployRunners(), "prod", "--dry-run", "-o", "json");
        assertEquals(0, preview.exit(), preview.toString());
        assertTrue(preview.err().contains("warning: environment prod is planned"), preview.err());
        assertEquals(EnvConfig.load("prod", TestSupport.repo().resolve("environments").toString()).runners().size(), JSON.readTree(preview.out()).size());
    }

    @Test
    void productionNeedsYes() throws IOException {
        Path dir = RunnerFixtures.envDir("runners-prod-" + SEQ.incrementAndGet(), text -> EnvFile.of(text).set("production", "true").text());
        TestCluster api = TestCluster.shared();
        var r = TestSupport.inProcess(new DeployRunners(), "dev", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--chart", TestCharts.runnerChart().toString());
        assertEquals(ExitCode.REFUSED, r.exit(), r.toString());
        assertTrue(r.err().contains("production") && r.err().contains("--yes"), r.err());
    }

    // ---- tokens, Secrets, Helm, HPA/PDB on the test API server ------------------------------------------

    @Test
    void serverDryRunReadsTheClusterAndWritesNothing() throws IOException {
        TestCluster api = TestCluster.shared();
        assumeTrue(api.isLocal(), "needs the test API server's request log");
        String ns = "runners-dry-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        try (var gitlab = new GitLabStandIn()) {
            api.resetRequests();
            var r = TestSupport.inProcess(new DeployRunners(), "dev", "--dry-run=server", "--env-dir", dir.toString(),
                    "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--gitlab-url", gitlab.url(), "--chart", TestCharts.runnerChart().toString());
            assertEquals(0, r.exit(), r.toString());
            assertEquals(0, api.mutatingRequests(false), "a server dry run stored something: " + api.requests());
            assertEquals(List.of(), gitlab.requests);
            assertEquals(List.of(), api.client().secrets().inNamespace(ns).list().getItems(), "no token, no Helm release record");
            for (EnvConfig.Runner runner : RunnerFixtures.dev().runners()) {
                assertTrue(r.out().matches("(?s).*gitlab-runner-" + runner.type() + "\\s+would install\\s+-\\s+gitlab-runner-0\\.86\\.0\\s+would be created in GitLab\\s+would create\\s+would create.*"), r.out());
            }
        }
    }

    @Test
    void serverDryRunShowsWhatWouldChange() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = "runners-diff-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.namespaceWithRollouts(api, ns, TestCluster.Readiness.ready());
        try (var gitlab = new GitLabStandIn()) {
            assertEquals(0, RunnerFixtures.deploy(dir, gitlab, "nix").exit());
            RunnerFixtures.editEnv(dir, "runners[4].autoscaling.maxReplicas", "2"); // nix (more would not fit the runner quota)
            RunnerFixtures.editEnv(dir, "runners[4].image", "nixos/nix:2.24");
            var r = TestSupport.inProcess(new DeployRunners(), "dev", "nix", "--dry-run=server", "--env-dir", dir.toString(),
                    "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--chart", TestCharts.runnerChart().toString());
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().matches("(?s).*gitlab-runner-nix\\s+would upgrade\\s+1\\s+gitlab-runner-0\\.86\\.0\\s+exists\\s+would configure\\s+unchanged.*"), r.out());
            assertTrue(r.out().contains("gitlab-runner-nix: runners.config: ("), r.out());
            assertTrue(r.out().contains("gitlab-runner-nix: gitlab-runner-nix-hpa spec.maxReplicas: 3 -> 2"), r.out());
            assertEquals(List.of("1 deployed Install complete"), RunnerFixtures.history(api, ns, "gitlab-runner-nix"), "a dry run upgraded");
            assertEquals(3, api.client().autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName("gitlab-runner-nix-hpa").get().getSpec().getMaxReplicas());
        }
    }

    // ---- GitLab errors --------------------------------------------------------------------------------

    @Test
    void gitlabRejectingTheTokenIsOneClearLine() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-401-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        try (var gitlab = new GitLabStandIn()) {
            gitlab.groupStatus = 401;
            // As users run it: a process, the token from the environment.
            var r = TestSupport.script("deploy-runners", "dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--chart", TestCharts.runnerChart().toString())
                    .env("GITLAB_TOKEN", GitLabStandIn.ACCESS_TOKEN).run();
            assertEquals(ExitCode.AUTH, r.exit(), r.toString());
            List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
            assertEquals(1, errors.size(), r.err());
            assertTrue(errors.get(0).startsWith("error: GitLab rejected GITLAB_TOKEN (401 401 Unauthorized) on GET " + gitlab.url() + "/api/v4/groups/gloriousflywheel"), r.err());
            assertFalse(r.err().contains(GitLabStandIn.ACCESS_TOKEN) || r.out().contains(GitLabStandIn.ACCESS_TOKEN), "token leaked:\n" + r);
            assertNull(api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get());
        }
    }

    @Test
    void gitlabCallsGoThroughHttpsProxyButNotForALoopbackGitLab() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-proxy-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        String deadProxy = "socks5://127.0.0.1:" + TestSocksProxy.freePort();
        // A GitLab that is not on this machine goes through HTTPS_PROXY: here a closed port, named in the error.
        var r = TestSupport.script("deploy-runners", "dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--gitlab-url", "https://gitlab.example.invalid", "--chart", TestCharts.runnerChart().toString())
                .env("GITLAB_TOKEN", GitLabStandIn.ACCESS_TOKEN).env("HTTPS_PROXY", deadProxy).run();
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertTrue(r.err().contains("the proxy " + deadProxy) && r.err().contains("(HTTPS_PROXY) is not reachable"), r.err());
        assertFalse(r.err().contains(GitLabStandIn.ACCESS_TOKEN), "token leaked:\n" + r);

        // A loopback GitLab (a port-forward, this test's stand-in) is reached directly, as kubectl does.
        try (var gitlab = new GitLabStandIn()) {
            gitlab.groupStatus = 401;
            var direct = TestSupport.script("deploy-runners", "dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--chart", TestCharts.runnerChart().toString())
                    .env("GITLAB_TOKEN", GitLabStandIn.ACCESS_TOKEN).env("HTTPS_PROXY", deadProxy).run();
            assertEquals(ExitCode.AUTH, direct.exit(), direct.toString());
        }
    }

    @Test
    void aTokenFileWithMoreThanTheTokenIsAUsageErrorBeforeAnyGitLabCall() throws IOException {
        TestCluster api = TestCluster.shared();
        String ns = "runners-tokfile-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        Path tokenFile = TestSupport.tempDir("gitlab-token").resolve("token");
        Files.writeString(tokenFile, "glpat-SENTINEL\nsecond line\n");
        Files.setPosixFilePermissions(tokenFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")); // as a token file should be
        try (var gitlab = new GitLabStandIn()) {
            var r = TestSupport.inProcess(new DeployRunners(), "dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", tokenFile.toString(), "--chart", TestCharts.runnerChart().toString());
            assertEquals(ExitCode.USAGE, r.exit(), r.toString());
            assertEquals(List.of("error: --gitlab-token-file " + tokenFile + " holds more than one line or spaces: it must be just the GitLab access token (glpat-...)"),
                    r.err().lines().toList());
            assertFalse((r.out() + r.err()).contains("SENTINEL"), r.toString());
            assertEquals(List.of(), gitlab.requests);
            assertNull(api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get());
        }
    }

    @Test
    void missingGroupAndGitLabFailuresHaveTheirExitCodes() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-gl-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        try (var gitlab = new GitLabStandIn()) {
            gitlab.groupStatus = 404;
            var r = RunnerFixtures.deploy(dir, gitlab, "docker");
            assertEquals(ExitCode.NOT_FOUND, r.exit(), r.toString());
            assertTrue(r.err().contains("organization.group"), r.err());

            gitlab.groupStatus = 200;
            gitlab.createStatus = 503;
            r = RunnerFixtures.deploy(dir, gitlab, "docker");
            assertEquals(ExitCode.REMOTE_ERROR, r.exit(), r.toString());
            assertTrue(r.err().startsWith("error: GitLab failed to create runner"), r.err());
            assertNull(api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get());
        }
        // No token at all: said before anything is created.
        var r = TestSupport.inProcess(new DeployRunners(), "dev", "docker", "--env-dir", dir.toString(),
                "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--chart", TestCharts.runnerChart().toString());
        assertEquals(ExitCode.NO_INPUT, r.exit(), r.toString());
        assertTrue(r.err().contains("GITLAB_TOKEN is not set") && r.err().contains("gitlab-runner-docker"), r.err());
    }

    @Test
    void runnerCreatedButTokenNotStoredIsReportedWithItsIdAndUndone() {
        TestCluster api = TestCluster.shared();
        assumeTrue(api.isLocal(), "relies on the test server's field ownership conflicts");
        String ns = "runners-conflict-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        // Someone else owns an empty token Secret: gfw creates a runner, then cannot write the token.
        api.client().resource(new SecretBuilder().withNewMetadata().withName("gitlab-runner-docker-token").withNamespace(ns).endMetadata()
                .addToData("runner-token", "").build()).fieldManager("someone-else").serverSideApply();
        try (var gitlab = new GitLabStandIn()) {
            var r = RunnerFixtures.deploy(dir, gitlab, "docker");
            assertEquals(ExitCode.CONFLICT, r.exit(), r.toString());
            long id = gitlab.ids.get(0);
            List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
            assertEquals(1, errors.size(), r.err());
            assertTrue(errors.get(0).startsWith("error: created GitLab runner " + id + " for gitlab-runner-docker but could not store its token in Secret "
                    + ns + "/gitlab-runner-docker-token"), r.err());
            assertTrue(errors.get(0).contains("runner " + id + " was deleted from GitLab again"), r.err());
            assertEquals("DELETE /api/v4/runners/" + id, gitlab.requests.get(gitlab.requests.size() - 1).line());
            assertFalse(r.err().contains(gitlab.tokens.get(0)));
            assertEquals("", RunnerFixtures.decode(api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get().getData().get("runner-token")));

            // If GitLab cannot delete it either, the id is left for the operator, clearly.
            gitlab.deleteStatus = 500;
            r = RunnerFixtures.deploy(dir, gitlab, "docker");
            long second = gitlab.ids.get(1);
            assertEquals(ExitCode.CONFLICT, r.exit(), r.toString());
            assertTrue(r.err().contains("runner " + second + " stays registered in GitLab without a stored token: delete it"), r.err());
        }
    }

    @Test
    void theTokenIsTakenAsGitLabGivesItWithItsExpiryAndTheDocumentedScopesSuffice() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-prefix-" + SEQ.incrementAndGet();
        RunnerFixtures.namespaceWithRollouts(api, ns, TestCluster.Readiness.ready());
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            gitlab.instancePrefix = "acme-"; // a GitLab whose tokens carry an instance prefix
            gitlab.tokenLifetime = Duration.ofDays(30);
            String[] args = {"dev", "docker", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                    "--gitlab-url", gitlab.url(), "--chart", FIXTURE.toString(), "--timeout", "30s", "--gitlab-token-file"};
            // create_runner alone cannot look the group up (GET /groups/:path needs read_api or api): said, with what deploy-runners needs
            var createOnly = TestSupport.inProcess(new DeployRunners(), concat(args, GitLabStandIn.tokenFile(gitlab.token("create_runner")).toString()));
            assertEquals(ExitCode.AUTH, createOnly.exit(), createOnly.toString());
            assertTrue(createOnly.err().contains("(403 insufficient_scope: GitLab lists api,read_api for this route) on GET " + gitlab.url() + "/api/v4/groups/gloriousflywheel")
                    && createOnly.err().contains("deploy-runners needs a token with api, or create_runner + read_api"), createOnly.err());
            assertEquals(List.of(), gitlab.ids);
            // the documented minimum: create_runner + read_api
            var r = TestSupport.inProcess(new DeployRunners(), concat(args, GitLabStandIn.tokenFile(gitlab.token("create_runner", "read_api")).toString()));
            assertEquals(0, r.exit(), r.toString());
            Secret s = api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get();
            assertEquals(gitlab.tokens.get(0), RunnerFixtures.decode(s.getData().get("runner-token")));
            assertTrue(gitlab.tokens.get(0).startsWith("acme-glrt-"), gitlab.tokens.get(0));
            assertEquals(String.valueOf(gitlab.ids.get(0)), s.getMetadata().getAnnotations().get(RunnerValues.RUNNER_ID_ANNOTATION));
            var expires = java.time.Instant.parse(s.getMetadata().getAnnotations().get("gfw.gloriousflywheel.dev/token-expires-at"));
            assertTrue(Math.abs(Duration.between(java.time.Instant.now().plus(Duration.ofDays(30)), expires).toMinutes()) < 10, expires.toString());
            assertFalse(r.out().contains(gitlab.tokens.get(0)) || r.err().contains(gitlab.tokens.get(0)), "token printed");
            assertEquals(List.of(), gitlab.problems);
        }
    }

    @Test
    void anAnswerWithoutAUsableTokenLeavesNoRunnerBehind() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-notoken-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        try (var gitlab = new GitLabStandIn()) {
            gitlab.createAnswerWithoutToken = true;
            var r = RunnerFixtures.deploy(dir, gitlab, "docker");
            assertEquals(ExitCode.REMOTE_ERROR, r.exit(), r.toString());
            long id = gitlab.ids.get(0);
            assertTrue(r.err().contains("answered the creation of runner " + id + " without a usable token; gfw deleted runner " + id + " again"), r.err());
            assertEquals("DELETE /api/v4/runners/" + id, gitlab.requests.get(gitlab.requests.size() - 1).line());
            assertFalse(gitlab.runners.containsKey(id), "the created runner was left behind");
            assertNull(api.client().secrets().inNamespace(ns).withName("gitlab-runner-docker-token").get());
        }
    }

    static String[] concat(String[] a, String... b) {
        var all = new java.util.ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }

    @Test
    void missingRunnerNamespaceIsNamedBeforeAnythingIsCreated() {
        TestCluster api = TestCluster.shared();
        String ns = "runners-nons-" + SEQ.incrementAndGet();   // never created
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        try (var gitlab = new GitLabStandIn()) {
            var r = RunnerFixtures.deploy(dir, gitlab, "docker");
            assertEquals(ExitCode.NOT_FOUND, r.exit(), r.toString());
            assertTrue(r.err().contains("namespace " + ns + " (") && r.err().contains("gfw provision-namespaces dev"), r.err());
            assertEquals(List.of(), gitlab.requests);
        }
    }

    @Test
    void aChartThatIsMissingOrRejectsTheValuesStopsBeforeAnyChange() throws IOException {
        TestCluster api = TestCluster.shared();
        assumeTrue(api.isLocal(), "needs the test API server's request log");
        String ns = "runners-chart-" + SEQ.incrementAndGet();
        Path dir = RunnerFixtures.envDir(ns, UnaryOperator.identity());
        RunnerFixtures.createNamespace(api, ns);
        // A chart whose template refuses these values, as a newer chart with another values interface would.
        Path strict = TestSupport.tempDir("strict-chart");
        for (String f : List.of("Chart.yaml", "values.yaml", "templates/_helpers.tpl", "templates/deployment.yaml")) {
            Files.createDirectories(strict.resolve(f).getParent());
            Files.copy(FIXTURE.resolve(f), strict.resolve(f));
        }
        Files.writeString(strict.resolve("templates/strict.yaml"), "{{- if .Values.runners.secret }}{{ fail \"runners.secret is not supported\" }}{{- end }}\n");
        try (var gitlab = new GitLabStandIn()) {
            api.resetRequests();
            var missing = TestSupport.inProcess(new DeployRunners(), "dev", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                    "--chart", strict.resolve("nope").toString());
            assertEquals(ExitCode.NO_INPUT, missing.exit(), missing.toString());
            assertTrue(missing.err().contains("--chart " + strict.resolve("nope") + " does not exist"), missing.err());
            var rejected = TestSupport.inProcess(new DeployRunners(), "dev", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                    "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                    "--chart", strict.toString());
            assertEquals(ExitCode.REMOTE_ERROR, rejected.exit(), rejected.toString());
            assertTrue(rejected.err().contains("runners.secret is not supported"), rejected.err());
            assertEquals(List.of(), gitlab.requests);
            assertEquals(0, api.mutatingRequests(), "something was written: " + api.requests());
            assertNull(RunnerFixtures.helm(api).get(ns, "gitlab-runner-docker"), "a release was installed");
        }
    }

    // ---- the chart from a repository --------------------------------------------------------------------

    @Test
    void chartIsFetchedFromTheRepositoryAndCheckedAgainstItsDigest() throws IOException {
        Path repo = TestSupport.tempDir("chart-repo");
        new Helm(FIXTURE).packageIt().withDestination(repo).call();
        Path tgz = repo.resolve("gitlab-runner-0.86.0.tgz");
        assertTrue(Files.isRegularFile(tgz));
        String digest = HelmReleases.sha256(Files.readAllBytes(tgz));
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        var index = new String[] {indexYaml("charts/gitlab-runner-0.86.0.tgz", digest)};
        http.createContext("/", ex -> {
            String p = ex.getRequestURI().getPath();
            byte[] body = p.equals("/index.yaml") ? index[0].getBytes(StandardCharsets.UTF_8)
                    : p.equals("/charts/gitlab-runner-0.86.0.tgz") ? Files.readAllBytes(tgz) : null;
            ex.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
            if (body != null) ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        try {
            String url = "http://127.0.0.1:" + http.getAddress().getPort();
            Path cache = TestSupport.tempDir("chart-cache");
            Path fetched = HelmReleases.fetchChart(url, "gitlab-runner", "0.86.0", cache);
            assertEquals(digest, HelmReleases.sha256(Files.readAllBytes(fetched)));
            // Helm renders the fetched archive.
            assertTrue(new HelmReleases.JvmHelm(null).template(fetched, "ns", "gitlab-runner-docker", Map.of()).contains("kind: Deployment"));

            var missing = assertThrowsGfw(() -> HelmReleases.fetchChart(url, "gitlab-runner", "0.99.0", TestSupport.tempDir("chart-cache")));
            assertEquals(ExitCode.NOT_FOUND, missing.exitCode());
            assertTrue(missing.getMessage().contains("0.99.0 is not in " + url + "/index.yaml (newest: 0.86.0)"), missing.getMessage());

            index[0] = indexYaml("charts/gitlab-runner-0.86.0.tgz", "0".repeat(64));
            var tampered = assertThrowsGfw(() -> HelmReleases.fetchChart(url, "gitlab-runner", "0.86.0", TestSupport.tempDir("chart-cache")));
            assertEquals(ExitCode.REMOTE_ERROR, tampered.exitCode());
            assertTrue(tampered.getMessage().contains("refusing to use it"), tampered.getMessage());
        } finally {
            http.stop(0);
        }
        var unreachable = assertThrowsGfw(() -> HelmReleases.fetchChart("http://127.0.0.1:9", "gitlab-runner", "0.86.0", TestSupport.tempDir("chart-cache")));
        assertEquals(ExitCode.UNAVAILABLE, unreachable.exitCode());
        assertTrue(unreachable.getMessage().contains("--chart-repo"), unreachable.getMessage());

        var wrongLocal = assertThrowsGfw(() -> HelmReleases.localChart(FIXTURE.toString(), "gitlab-runner", "0.77.0", "environments/dev.yaml"));
        assertEquals(ExitCode.USAGE, wrongLocal.exitCode());
    }

    // ---- helpers ------------------------------------------------------------------------------------

    static Set<String> iterable(java.util.Iterator<String> names) {
        var out = new TreeSet<String>();
        names.forEachRemaining(out::add);
        return out;
    }

    static String indexYaml(String url, String digest) {
        return "apiVersion: v1\nentries:\n  gitlab-runner:\n  - name: gitlab-runner\n    version: 0.86.0\n    digest: " + digest
                + "\n    urls:\n    - " + url + "\n";
    }

    static GfwException assertThrowsGfw(org.junit.jupiter.api.function.Executable e) {
        return org.junit.jupiter.api.Assertions.assertThrows(GfwException.class, e);
    }
}
