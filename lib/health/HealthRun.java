// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES ../core/SecretInput.java
//SOURCES ../core/HealthReport.java
//SOURCES HealthState.java
//SOURCES HealthChecks.java
//SOURCES ../core/Times.java
//SOURCES HealthRunners.java
//SOURCES ../kube/ListWatches.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * health's story, so that {@code up} runs it in the same process: one round reads everything the
 * components need ({@link HealthState}) and decides every check; the report (rows on stdout, the verdict
 * on stderr, the exit code); {@code --wait} (again until every check is ok) and {@code --watch}.
 */
final class HealthRun {

    static final Duration POLL = Duration.ofSeconds(2);
    /**
     * --wait: with no event from the watches, a round after this long anyway, for what cannot be watched (GitLab's view
     * of the runners, Attic's and the dashboard's answers) and for checks that depend on the time.
     */
    static final Duration FALLBACK = Duration.ofSeconds(5);
    /** --wait: after an event, how long to let others arrive before the round (a rollout sends several at once). */
    static final Duration SETTLE = Duration.ofMillis(300);

    /** -o: table, wide, json or yaml. */
    final Output.Format format;
    /** An HTTP client for Attic, routed as the command's flags say (a new one each round). */
    final Supplier<Http.Client> attic;

    HealthRun(Output.Format format, Supplier<Http.Client> attic) {
        this.format = format;
        this.attic = attic;
    }

    /** The GitLab client, or why there is none: the token is optional (GitLab rows are then unknown). */
    static HealthRunners.GitLab gitlab(EnvConfig.Env env, String gitlabUrl, String gitlabTokenFile, Supplier<Http.Client> http) {
        String variable = System.getenv("GITLAB_TOKEN");
        if (gitlabTokenFile == null && (variable == null || variable.isBlank())) {
            return new HealthRunners.GitLab(null, "no GitLab token (set GITLAB_TOKEN or --gitlab-token-file), so GitLab was not asked");
        }
        String token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                "GITLAB_TOKEN is not set"), gitlabTokenFile).value();
        String url = gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl();
        return new HealthRunners.GitLab(new GitLabApi(url, token, http.get()).use(GitLabApi.Use.HEALTH).notices(Output::info), null);
    }

    /** One round: read everything the components need, then decide every check. */
    List<HealthReport.Row> check(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                 Duration requestTimeout) {
        return check(env, client, components, gitlab, requestTimeout, null);
    }

    /** As above, with the LISTs through {@code lists} (null: straight to the API server). */
    List<HealthReport.Row> check(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                 Duration requestTimeout, ListWatches lists) {
        Http.Client attic = this.attic.get();
        HealthState state = HealthState.read(client, env, components, requestTimeout, attic, lists);
        var rows = new ArrayList<HealthReport.Row>();
        if (components.contains("namespaces")) rows.addAll(HealthChecks.namespaces(env, state));
        if (components.contains("database")) rows.addAll(HealthChecks.database(env, state));
        if (components.contains("cache")) rows.addAll(HealthChecks.cache(env, state));
        if (components.contains("runners")) rows.addAll(HealthRunners.runners(env, state, gitlab));
        if (components.contains("dashboard")) rows.addAll(HealthChecks.dashboard(env, state));
        return rows;
    }

    int report(EnvConfig.Env env, List<HealthReport.Row> rows) {
        Output.out().print(render(env, rows));
        Output.out().flush();
        int code = HealthReport.exitCode(rows);
        Output.info(env.name() + ": " + HealthReport.overall(rows) + " (" + HealthReport.counts(rows) + ")");
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

    /**
     * --wait: again until every check is ok or the time is up; an unreachable API server is waited for too. The first
     * round LISTs as a plain health does; when it is not healthy, every source it listed is followed by a WATCH from
     * there on (lib/kube/ListWatches, as {@code kubectl rollout status} waits), and the checks are decided again on each
     * change (after {@link #SETTLE}), or after {@link #FALLBACK} without one, for what cannot be watched (GitLab,
     * Attic's and the dashboard's HTTP answers, asked again each round). No LIST is repeated while the watches hold.
     */
    int waitUntilHealthy(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                 Duration requestTimeout, Duration wait) {
        var events = new java.util.concurrent.Semaphore(0);
        try (var lists = new ListWatches(events::release)) {
            return waitUntilHealthy(env, client, components, gitlab, requestTimeout, wait, lists, events);
        }
    }

    private int waitUntilHealthy(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab,
                                 Duration requestTimeout, Duration wait, ListWatches lists, java.util.concurrent.Semaphore events) {
        long start = System.nanoTime();
        long deadline = start + wait.toNanos();
        String lastProgress = null;
        long lastPrinted = start;
        while (true) {
            List<HealthReport.Row> rows;
            String progress;
            try {
                rows = check(env, client, components, gitlab, requestTimeout, lists);
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
                Output.warn("still not healthy after " + Times.human(wait) + " (--wait)");
                return code;
            }
            if (!progress.equals(lastProgress) || System.nanoTime() - lastPrinted >= 10_000_000_000L) { // when it changed, else every 10 s
                Output.info("waiting for " + env.name() + ": " + progress + "; " + elapsed + " s of " + wait.toSeconds() + " s");
                lastPrinted = System.nanoTime();
            }
            lastProgress = progress;
            try {
                long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                if (rows == null) { // the API server did not answer: try again shortly, watches or not
                    Thread.sleep(Math.min(POLL.toMillis(), left));
                    continue;
                }
                if (!lists.watching()) {
                    events.drainPermits();
                    lists.watchAll();
                }
                // A change seen by a watch, or the fallback for what cannot be watched; then let the change's siblings arrive.
                if (events.tryAcquire(Math.min(FALLBACK.toMillis(), left), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    Thread.sleep(Math.min(SETTLE.toMillis(), Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
                }
                events.drainPermits();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return ExitCode.DEGRADED;
            }
        }
    }

    /** --watch: the checks again every 2 s, printed whenever they changed, until interrupted. */
    int watch(EnvConfig.Env env, KubernetesClient client, Set<String> components, HealthRunners.GitLab gitlab, Duration requestTimeout) {
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
                if (last != null && format.isTable()) Output.out().println();
                Output.out().print(now);
                Output.out().flush();
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
