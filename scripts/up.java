///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//MAIN Up
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../lib/core/Http.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/lifecycle/BringUp.java
//SOURCES ../lib/cli/Cli.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Brings an environment up from its file in one process, in order: provision-namespaces, deploy-cache,
 * DATABASE_URL into the Attic secret (cnpg-connstr --write-secret), the CI jobs' cache token (attic-token --ci),
 * deploy-runners, deploy-dashboard, then {@code health --wait} until every check is ok. The story is lib/lifecycle/BringUp. First it prints the plan: each step and what it would change
 * (each step's own --diff; deploy-runners' server dry run). {@code --dry-run=client|server} stops after
 * the plan. It stops at the first failing step with that step's exit code, saying what was done and that
 * a re-run resumes safely (every step skips what is already there). {@code --diff} compares the whole
 * environment with its file: exit 0 when nothing drifted, 82 (DRIFT) when something did, listing it.
 *
 * <p>Environment: GITLAB_TOKEN, KUBECONFIG, HTTPS_PROXY, GITLAB_CI, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/up.java dev --dry-run=server
 * </pre>
 */
@Command(name = "up", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Bring an environment up from its file: namespaces, cache, database URL, cache token, runners, dashboard, health.",
                "Prints the plan first; a re-run on an unchanged cluster sends no write; --diff is the drift check",
                "(exit 82 when something drifted). A failing step stops the run with its own exit code.",
                "Example: up dev --dry-run=server", ""})
class Up implements Callable<Integer> {

    /** The steps, in order; --only and --skip name them. */
    static final List<String> STEPS = BringUp.STEPS;

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = "--only", paramLabel = "STEP", split = ",", description = "Run only these steps: namespaces, cache, database-url, cache-token, runners, dashboard, health.")
    List<String> only;

    @Option(names = "--skip", paramLabel = "STEP", split = ",", description = "Skip these steps.")
    List<String> skip;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10m", description = "Each step's --timeout (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--smoke", description = "End with 'runners ENV smoke': one tiny job per runner type through GitLab (smoke.project).")
    boolean smoke;

    @Option(names = "--install-operator", description = "deploy-cache --install-operator: install the CloudNativePG operator when it is missing.")
    boolean installOperator;

    @Option(names = "--chart", paramLabel = "PATH", description = "deploy-runners --chart: a local gitlab-runner chart instead of downloading it.")
    String chart;

    @Option(names = "--gitlab-url", paramLabel = "URL", description = "deploy-runners --gitlab-url: GitLab API base URL for creating runners.")
    String gitlabUrl;

    @Option(names = "--gitlab-token-file", paramLabel = "FILE", description = "The GitLab token for deploy-runners and deploy-dashboard from FILE instead of $GITLAB_TOKEN.")
    String gitlabTokenFile;

    @Option(names = "--attic-url", paramLabel = "URL", description = "deploy-cache --attic-url: reach Attic here instead of a port-forward.")
    String atticUrl;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    public static void main(String... args) {
        System.exit(Cli.run(new Up(), args));
    }

    @Override
    public Integer call() {
        change.validate();
        Set<String> selected = BringUp.selected(only, skip);
        EnvConfig.Env env = envOptions.load(envName);
        if (!change.clientDryRun()) change.confirm(env, "bring up " + env.name() + " on " + env.cluster().name());
        var options = new BringUp.Options(change.clientDryRun(), change.serverDryRun(), change.diff(), change.forceConflicts, change.writes(),
                Cli.duration(timeout, "--timeout"), smoke, installOperator, chart, gitlabUrl, gitlabTokenFile, atticUrl);
        var up = new BringUp(env, options, new BringUp.Wiring() {
            @Override
            public Http.Client http(EnvConfig.Env e, String service) {
                return clusterOptions.http(e, service);
            }

            @Override
            public Duration requestTimeout() {
                return clusterOptions.requestTimeout();
            }

            @Override
            public int report(Throwable t) {
                return Cli.report(t);
            }
        });
        if (change.clientDryRun()) return up.clientPlan(selected);
        KubeClients.Target target = clusterOptions.target(env);
        // One client for the plan and every step: one kubeconfig read, one connection pool.
        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(target))) {
            return up.planThenSteps(client, target, selected);
        }
    }
}
