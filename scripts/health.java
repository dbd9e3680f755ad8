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
//SOURCES ../lib/Http.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/GitLabApi.java
//SOURCES ../lib/SecretInput.java
//SOURCES ../lib/HealthReport.java
//SOURCES ../lib/HealthState.java
//SOURCES ../lib/HealthChecks.java
//SOURCES ../lib/HealthRunners.java

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

    static final Duration POLL = Duration.ofSeconds(2);

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
        HealthRunners.GitLab gitlab = components.contains("runners") ? gitlab(env) : new HealthRunners.GitLab(null, "not asked");
        try (KubernetesClient client = cluster.connect(env)) {
            if (watch) return watch(env, client, components, gitlab, requestTimeout);
            if (wait != null) return waitUntilHealthy(env, client, components, gitlab, requestTimeout, wait);
            List<HealthReport.Row> rows = check(env, client, components, gitlab, requestTimeout);
            return report(env, rows);
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

    /** The GitLab client, or why there is none: the token is optional (GitLab rows are then unknown). */
    private HealthRunners.GitLab gitlab(EnvConfig.Env env) {
        String variable = System.getenv("GITLAB_TOKEN");
        if (gitlabTokenFile == null && (variable == null || variable.isBlank())) {
            return new HealthRunners.GitLab(null, "no GitLab token (set GITLAB_TOKEN or --gitlab-token-file), so GitLab was not asked");
        }
        String token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                "GITLAB_TOKEN is not set"), gitlabTokenFile).value();
        String url = gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl();
        return new HealthRunners.GitLab(new GitLabApi(url, token, cluster.http(env, "GitLab")).use(GitLabApi.Use.HEALTH).notices(Cli::info), null);
    }

    /** One round: read everything the components need, then decide every check. */
    private List<HealthReport.Row> check(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                         Duration requestTimeout) {
        Http.Client attic = cluster.http(env, "Attic");
        HealthState state = HealthState.read(client, env, components, requestTimeout, attic);
        var rows = new ArrayList<HealthReport.Row>();
        if (components.contains("namespaces")) rows.addAll(HealthChecks.namespaces(env, state));
        if (components.contains("database")) rows.addAll(HealthChecks.database(env, state));
        if (components.contains("cache")) rows.addAll(HealthChecks.cache(env, state));
        if (components.contains("runners")) rows.addAll(HealthRunners.runners(env, state, gitlab));
        if (components.contains("dashboard")) rows.addAll(HealthChecks.dashboard(env, state));
        return rows;
    }

    private int report(EnvConfig.Env env, List<HealthReport.Row> rows) {
        Cli.out().print(render(env, rows));
        Cli.out().flush();
        int code = HealthReport.exitCode(rows);
        Cli.info(env.name() + ": " + HealthReport.overall(rows) + " (" + HealthReport.counts(rows) + ")");
        return code;
    }

    private String render(EnvConfig.Env env, List<HealthReport.Row> rows) {
        return switch (format) {
            case table -> HealthReport.table(rows, false);
            case wide -> HealthReport.table(rows, true);
            case json -> Output.json(HealthReport.document(env.name(), rows)) + "\n";
            case yaml -> Output.yaml(HealthReport.document(env.name(), rows));
        };
    }

    /** --wait: again every 2 s until every check is ok or the time is up; an unreachable API server is waited for too. */
    private int waitUntilHealthy(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                 Duration requestTimeout, Duration wait) {
        long start = System.nanoTime();
        long deadline = start + wait.toNanos();
        String lastProgress = null;
        while (true) {
            List<HealthReport.Row> rows;
            String progress;
            try {
                rows = check(env, client, components, gitlab, requestTimeout);
                if (HealthReport.exitCode(rows) == ExitCode.OK) return report(env, rows);
                List<String> notOk = HealthReport.notOk(rows);
                progress = notOk.size() + " of " + rows.size() + " checks not ok: " + String.join(", ", notOk.stream().limit(4).toList())
                        + (notOk.size() > 4 ? ", ..." : "");
            } catch (GfwException e) {
                if (e.exitCode() != ExitCode.UNAVAILABLE || System.nanoTime() >= deadline) throw e;
                rows = null;
                progress = "API server not answering: " + e.getMessage();
            }
            long elapsed = Duration.ofNanos(System.nanoTime() - start).toSeconds();
            if (rows != null && System.nanoTime() >= deadline) {
                int code = report(env, rows);
                Cli.warn("still not healthy after " + HealthChecks.human(wait) + " (--wait)");
                return code;
            }
            if (!progress.equals(lastProgress) || elapsed % 10 == 0) Cli.info("waiting for " + env.name() + ": " + progress + "; " + elapsed + " s of " + wait.toSeconds() + " s");
            lastProgress = progress;
            try {
                Thread.sleep(Math.min(POLL.toMillis(), Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return ExitCode.DEGRADED;
            }
        }
    }

    /** --watch: the checks again every 2 s, printed whenever they changed, until interrupted. */
    private int watch(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab, Duration requestTimeout) {
        String last = null;
        while (true) {
            String now;
            try {
                now = render(env, check(env, client, components, gitlab, requestTimeout));
            } catch (GfwException e) {
                if (e.exitCode() != ExitCode.UNAVAILABLE) throw e;
                now = "error: " + e.getMessage() + "\n";
            }
            if (!now.equals(last)) {
                if (last != null && format.isTable()) Cli.out().println();
                Cli.out().print(now);
                Cli.out().flush();
                last = now;
            }
            try {
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return ExitCode.OK;
            }
        }
    }
}
