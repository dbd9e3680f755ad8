import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A deployed test environment for the health tests, on the run's control plane (a private handle: its own request
 * log): dev.yaml with two runner types (docker, nix) and namespaces of its own, its namespace layout applied by provision-namespaces, the database, Attic and the
 * dashboard of {@link HealthPlatform}, and the runners deployed by deploy-runners with real Helm against a GitLab stand-in (their
 * token Secrets carry the runner ids), HPA status written as the autoscaler would.
 */
final class HealthFixtures implements AutoCloseable {

    static final List<String> TYPES = List.of("docker", "nix");
    static final String CNPG_API = HealthPlatform.CNPG_API;

    final TestCluster api = TestCluster.start();
    final GitLabStandIn gitlab = new GitLabStandIn();
    final HealthPlatform platform;
    final AtticStandIn attic;
    final DashboardAppStandIn dashboard;
    final Path envDir;
    final EnvConfig.Env env;
    final String atticNs;
    final String runnerNs;
    final String dashboardNs;
    final String operatorNs;

    HealthFixtures() {
        envDir = envDir();
        env = EnvConfig.load("dev", envDir.toString());
        atticNs = env.namespaces().attic().name();
        runnerNs = env.namespaces().runners().name();
        dashboardNs = env.namespaces().dashboard().name();
        operatorNs = env.cnpg().operatorNamespace();
        platform = new HealthPlatform(api, env);
        attic = platform.attic;
        dashboard = platform.dashboard;
    }

    void clusterStatus(Map<String, Object> status) {
        platform.clusterStatus(status);
    }

    Map<String, Object> healthyClusterStatus() {
        return platform.healthyClusterStatus();
    }

    Map<String, Object> clusterStatus(String phase, int readyInstances, Instant certificateExpiry) {
        return platform.clusterStatus(phase, readyInstances, certificateExpiry);
    }

    static Predicate<JsonNode> templateLabelled(String key, String value) {
        return HealthPlatform.templateLabelled(key, value);
    }

    /** dev.yaml with only the docker and nix runners (fewer Helm installs, the same checks). */
    private static Path envDir() {
        try {
            Path dir = TestSupport.tempDir("health-env");
            String text = Files.readString(TestSupport.repo().resolve("environments/dev.yaml"));
            String two = text.replaceFirst("(?s)  - type: dind\n.*?(?=  - type: nix\n)", "");
            if (two.equals(text)) throw new IllegalStateException("dev.yaml's runners are no longer docker, dind, rocky8, rocky9, nix");
            // Namespaces of its own: every fixture shares the one control plane of the run.
            String suffix = "-h" + TestCluster.randomHex(3);
            for (String[] ns : new String[][] {{"    name: attic-cache-{environment}\n", "    name: attic-cache-{environment}" + suffix + "\n"},
                    {"    name: gitlab-runners\n", "    name: gitlab-runners" + suffix + "\n"},
                    {"    name: runner-dashboard\n", "    name: runner-dashboard" + suffix + "\n"},
                    {"  operatorNamespace: cnpg-system\n", "  operatorNamespace: cnpg-system" + suffix + "\n"}}) {
                if (!two.contains(ns[0])) throw new IllegalStateException("dev.yaml no longer has " + ns[0].strip());
                two = two.replace(ns[0], ns[1]);
            }
            Files.writeString(dir.resolve("dev.yaml"), two);
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    KubernetesClient client() {
        return api.client();
    }

    /** Everything deployed and healthy. */
    HealthFixtures deploy() {
        org.junit.jupiter.api.Assumptions.assumeTrue(api.isLocal(), "needs the suite's control plane (kwok's port-forwards to the stand-ins)");
        var p = TestSupport.inProcess(new ProvisionNamespaces(), "dev", "--env-dir", envDir.toString(), "--kubeconfig",
                api.kubeconfig().toString(), "--context", api.context());
        if (p.exit() != 0) throw new IllegalStateException(p.toString());
        platform.install();

        var d = TestSupport.inProcess(new DeployRunners(), "dev", "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                "--chart", RunnerFixtures.FIXTURE.toString(), "--timeout", "30s");
        if (d.exit() != 0) throw new IllegalStateException(d.toString());
        for (String type : TYPES) platform.autoscalerStatus(type, 1, 1);
        // The controllers and kwok bring the pods up in their own time: every Deployment ready before a test reads health.
        for (String ns : List.of(atticNs, runnerNs, dashboardNs, operatorNs)) {
            for (var dep : client().apps().deployments().inNamespace(ns).list().getItems()) {
                client().apps().deployments().inNamespace(ns).withName(dep.getMetadata().getName()).waitUntilCondition(x -> x != null
                        && x.getStatus() != null && x.getSpec().getReplicas() != null && x.getSpec().getReplicas().equals(x.getStatus().getReadyReplicas())
                        && x.getSpec().getReplicas().equals(x.getStatus().getUpdatedReplicas()), 60, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
        dashboard.restart(); // the dashboard's pod, started again now that the runners' autoscalers are there too
        return this;
    }

    /** {@code ./jbang scripts/health.java dev ...} against this environment, GitLab token from a file. */
    TestSupport.Cmd health(String... args) {
        var argv = new ArrayList<>(List.of("dev", "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--gitlab-url", gitlab.url()));
        argv.addAll(List.of(args));
        return TestSupport.script("health", argv.toArray(String[]::new)).env("GITLAB_TOKEN", "");
    }

    /** The same, with the GitLab token. */
    TestSupport.Cmd healthWithToken(String... args) {
        var argv = new ArrayList<>(List.of("--gitlab-token-file", gitlab.tokenFile.toString()));
        argv.addAll(List.of(args));
        return health(argv.toArray(String[]::new));
    }

    @Override
    public void close() {
        gitlab.close();
        platform.close();
        api.close();
    }
}
