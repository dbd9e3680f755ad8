///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/HealthReport.java
//SOURCES ../lib/HealthRunners.java
//SOURCES ../lib/HealthRun.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Is the environment working? Reads the cluster (and GitLab) and prints one row per check —
 * component, check, ok | warn | fail | unknown, detail — for the namespaces (exist, not Terminating,
 * labels and guards as provision-namespaces applies them: drift counted), the database (CloudNativePG
 * Cluster phase, instances, primary, pods, archiving and last backup when backups are configured,
 * server certificate expiry, the operator), the cache (Attic Deployment, {@code GET /nix-cache-info}
 * through the API server's service proxy), the runners (per type: Helm release, pods and crash loops,
 * HPA, PDB, and GitLab's view of the runner, found by the id on its token Secret) and the dashboard
 * (Deployment, {@code GET /api/health}). Read-only: it changes nothing anywhere. A check whose source
 * could not be read says {@code unknown} with the reason.
 *
 * <p>Requests: one LIST per kind and namespace, however many pods there are, 8 at a time; two GETs
 * through the service proxy; one GitLab GET per runner.
 *
 * <p>Exit: 0 every check ok; 80 a check failed; 81 (degraded) none failed but some warned or could
 * not be read; 69 the API server cannot be reached; 67 the environment is planned. {@code --wait 5m}
 * polls every 2 s until every check is ok (progress on stderr), for CI after a deploy.
 *
 * <p>Environment: GITLAB_TOKEN (or --gitlab-token-file; optional: without it the GitLab rows are
 * unknown), KUBECONFIG, HTTPS_PROXY, GITLAB_CI, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   gfw health dev --wait 5m            # after a deploy: exit 0 once everything is ok
 * </pre>
 */
@Command(name = "health", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Check that an environment works (namespaces, database, cache, runners, dashboard): one row per check, read-only.",
        footer = {"", "Examples:", "  health dev                          # exit 0 all ok, 80 a check failed, 81 degraded",
                "  health dev --wait 5m                # CI after a deploy: until every check is ok",
                "  GITLAB_TOKEN=glpat-... health dev --only runners -o wide"})
class Health implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Option(names = "--only", paramLabel = "COMPONENTS", split = ",",
            description = "Only these components: namespaces, database, cache, runners, dashboard (comma-separated; default: all).")
    List<String> only = new ArrayList<>();

    @Option(names = "--wait", paramLabel = "DURATION",
            description = "Check again every 2 s until every check is ok or DURATION (e.g. 5m) has passed; progress on stderr.")
    String waitText;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
            description = "table, wide (adds what each check read), json or yaml (default: ${DEFAULT-VALUE}).")
    Output.Format format = Output.Format.table;

    @Option(names = {"-w", "--watch"}, description = "Print the checks again whenever they change, until interrupted (Ctrl-C).")
    boolean watch;

    @Option(names = "--gitlab-url", paramLabel = "URL", description = "GitLab API base URL (default: organization.gitlabUrl).")
    String gitlabUrl;

    @Option(names = "--gitlab-token-file", paramLabel = "FILE",
            description = "Read the GitLab access token from FILE ('-' for stdin) instead of $GITLAB_TOKEN; without either, GitLab rows are unknown.")
    String gitlabTokenFile;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    static final Duration POLL = HealthRun.POLL;

    public static void main(String... args) {
        System.exit(Cli.run(new Health(), args));
    }

    @Override
    public Integer call() {
        Set<String> components = components();
        Duration wait = waitText == null ? null : Cli.duration(waitText, "--wait");
        if (wait != null && watch) throw new GfwException(ExitCode.USAGE, "--wait and --watch do not go together: --wait ends once healthy, --watch never ends");
        Duration requestTimeout = cluster.requestTimeout();
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "check the health of an environment that has no cluster yet");
        HealthRunners.GitLab gitlab = components.contains("runners") ? HealthRun.gitlab(env, gitlabUrl, gitlabTokenFile, () -> cluster.http(env, "GitLab"))
                : new HealthRunners.GitLab(null, "not asked");
        var run = new HealthRun(format, () -> cluster.http(env, "Attic"));
        try (KubernetesClient client = cluster.connect(env)) {
            if (watch) return run.watch(env, client, components, gitlab, requestTimeout);
            if (wait != null) return run.waitUntilHealthy(env, client, components, gitlab, requestTimeout, wait);
            List<HealthReport.Row> rows = run.check(env, client, components, gitlab, requestTimeout);
            return run.report(env, rows);
        }
    }

    private Set<String> components() {
        var out = new LinkedHashSet<String>();
        for (String c : only) {
            String name = c.trim();
            if (!HealthReport.COMPONENTS.contains(name)) {
                throw new GfwException(ExitCode.USAGE, "--only " + name + ": not a component; use any of " + String.join(", ", HealthReport.COMPONENTS));
            }
        }
        for (String c : HealthReport.COMPONENTS) if (only.isEmpty() || only.stream().map(String::trim).anyMatch(c::equals)) out.add(c);
        return out;
    }
}
