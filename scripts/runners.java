///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/gitlab/GitLabApi.java
//SOURCES ../lib/runners/RunnerValues.java
//SOURCES ../lib/kube/HelmReleases.java
//SOURCES ../lib/runners/RunnerFleet.java
//SOURCES ../lib/runners/RunnerSettings.java
//SOURCES ../lib/runners/RunnerReap.java
//SOURCES ../lib/runners/RunnerSmoke.java
//SOURCES ../lib/runners/RunnerRollback.java
//SOURCES ../lib/runners/RunnerTokenRotation.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Day-2 operation of an environment's GitLab runners without a browser: status, pause/resume (the emergency stop),
 * drain, Helm history and rollback, token rotation and pruning of dead runners. Each runner type is found by the
 * GitLab runner id gfw stores on its token Secret (annotation {@code gfw.gloriousflywheel.dev/runner-id} on
 * {@code gitlab-runner-<type>-token}, written by deploy-runners), never by description.
 *
 * <p>Environment: {@code GITLAB_TOKEN} (or {@code --gitlab-token-file}), a token with the api scope and the Owner role
 * on the group; KUBECONFIG.
 *
 * <pre>
 *   GITLAB_TOKEN=glpat-... gfw runners dev status -o wide
 *   gfw runners prod pause --all -y                 # emergency stop: no runner takes a new job
 * </pre>
 */
@Command(name = "runners", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        subcommands = {Runners.Status.class, Runners.Pause.class, Runners.Resume.class, Runners.Drain.class, Runners.History.class,
                Runners.Rollback.class, Runners.RotateToken.class, Runners.Prune.class, Runners.Reap.class, Runners.Smoke.class},
        description = "Operate the GitLab runners of an environment: status, pause/resume, drain, history/rollback, rotate-token, prune, reap, smoke.",
        footer = {"", "Examples:",
                "  runners dev status -o wide             # releases, pods, HPA, GitLab state",
                "  runners prod pause --all -y            # emergency stop: no runner takes a job",
                "  runners dev drain dind --timeout 30m   # pause, wait until its jobs are done",
                "  runners dev rollback nix --to 3        # Helm rollback with --wait",
                "  runners dev rotate-token docker        # new token, stored, pods restarted",
                "  runners dev prune                      # list dead runners (--yes deletes)",
                "  runners dev reap                       # list stuck job pods (-y deletes)",
                "  runners dev smoke nix dind             # one tiny job per type, through GitLab"})
class Runners extends Cli.EnvCommand {
    public static void main(String... args) {
        System.exit(Cli.run(new Runners(), args));
    }

    /** --gitlab-url and --gitlab-token-file; the token through the shared secret reader. */
    static class GitLabOptions {
        @Option(names = "--gitlab-url", paramLabel = "URL", description = "GitLab API base URL (default: organization.gitlabUrl).")
        String gitlabUrl;

        @Option(names = "--gitlab-token-file", paramLabel = "FILE", description = "Read the GitLab access token from FILE ('-' for stdin) instead of $GITLAB_TOKEN.")
        String tokenFile;

        boolean tokenGiven() {
            String v = System.getenv("GITLAB_TOKEN");
            return tokenFile != null || (v != null && !v.isBlank());
        }

        /** The GitLab client for {@code use} (its scope errors say what that command needs); retries within 30 s a call. */
        GitLabApi api(EnvConfig.Env env, Cli.ClusterOptions cluster, String forWhat, GitLabApi.Use use) {
            String token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                    "GITLAB_TOKEN is not set: needed to " + forWhat + "; export GITLAB_TOKEN or pass --gitlab-token-file FILE: " + use.needs()),
                    tokenFile).value();
            return new GitLabApi(gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl(), token, cluster.http(env, "GitLab"))
                    .use(use).notices(Cli::info);
        }
    }

    /** What every subcommand shares: the environment, the cluster, and the runner types named. */
    abstract static class Sub extends Cli.EnvSubcommand {
        static List<RunnerValues.Release> select(EnvConfig.Env env, List<String> types, boolean all, String verb) {
            if (all && !types.isEmpty()) throw new GfwException(ExitCode.USAGE, "give runner types or --all, not both");
            if (!all && types.isEmpty()) {
                throw new GfwException(ExitCode.USAGE, "name the runner types to " + verb + " (" + String.join(", ",
                        env.runners().stream().map(EnvConfig.Runner::type).toList()) + ") or pass --all");
            }
            return RunnerValues.select(env, types);
        }

        static void print(List<Map<String, Object>> results, Output.Format format) {
            switch (format) {
                case json -> Cli.out().println(Output.json(results));
                case yaml -> Cli.out().print(Output.yaml(results));
                default -> {
                    var rows = new ArrayList<List<String>>();
                    for (var m : results) rows.add(List.of(str(m.get("type")), str(m.get("runner")), str(m.get("action")), str(m.get("detail"))));
                    Cli.out().print(Output.table(List.of("type", "runner", "action", "detail"), rows));
                }
            }
        }
    }

    /** A subcommand that talks to GitLab too (history and rollback need only Helm). */
    abstract static class GitLabSub extends Sub {
        @Mixin GitLabOptions gitlab;
    }

    static String str(Object o) {
        return o == null ? "-" : String.valueOf(o);
    }

    // ---- status ---------------------------------------------------------------------------------

    @Command(name = "status", mixinStandardHelpOptions = true, customSynopsis = "runners ENV status [TYPE...] [-w] [-o table|wide|json|yaml] [OPTIONS]",
            description = {"Show each runner type's release, pods, HPA and GitLab runner.",
                        "Helm release (revision, status, chart), pods ready, HPA current/desired/max, and from GitLab: runner " +
                        "id, online, paused, status, version, contacted_at, running jobs. Exit 80 when a release is not " +
                        "deployed, has no ready pod, or its runner is not online or unreadable."},
            footer = {"", "Examples:", "  runners dev status", "  runners dev status dind nix -o json", "  runners dev status --watch"})
    static class Status extends GitLabSub {
        @Parameters(paramLabel = "TYPE", arity = "0..*", description = "Runner types (default: all of the environment).")
        List<String> types = new ArrayList<>();

        @Mixin Cli.OutputOption output;

        @Option(names = {"-w", "--watch"}, description = "Print the status again whenever it changes, until interrupted (Ctrl-C).")
        boolean watch;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            List<RunnerValues.Release> releases = RunnerValues.select(env, types);
            Cli.refusePlanned(env, "read the runner status");
            // Without a GitLab token the cluster part is still shown; the GitLab part says it was not read.
            GitLabApi api = gitlab.tokenGiven() ? gitlab.api(env, cluster, "read the runners", GitLabApi.Use.STATUS) : null;
            KubeClients.Target target = cluster.target(env);
            var helm = new HelmReleases.JvmHelm(target);
            try (KubernetesClient client = cluster.connect(target)) {
                java.util.function.Supplier<List<RunnerFleet.State>> read = () -> releases.stream()
                        .map(r -> RunnerFleet.read(client, helm, env.name(), r, api, "not read: GITLAB_TOKEN is not set")).toList();
                if (watch) return Cli.watch(() -> render(read.get()), output.format.isTable());
                var states = read.get();
                Cli.out().print(render(states));
                for (var s : states) if (s.gitlabError() != null) Cli.warn(s.release().name() + ": GitLab " + s.gitlabError());
                for (var s : states) {
                    if (s.token() != null && !s.token().level().equals("ok")) Cli.warn(s.release().name() + ": " + s.token().text());
                }
                boolean healthy = states.stream().allMatch(RunnerFleet.State::healthy);
                if (!healthy) Cli.warn("not every runner is deployed with a ready pod, online in GitLab with a recent contact, and with an unexpired token");
                return healthy ? ExitCode.OK : ExitCode.CHECK_FAILED;
            }
        }

        private String render(List<RunnerFleet.State> states) {
            var rows = states.stream().map(RunnerFleet.State::row).toList();
            if (output.format == Output.Format.json) return Output.json(rows) + "\n";
            if (output.format == Output.Format.yaml) return Output.yaml(rows);
            boolean wide = output.format == Output.Format.wide;
            var table = new ArrayList<List<String>>();
            for (var m : rows) {
                var row = new ArrayList<>(List.of(str(m.get("type")), str(m.get("revision")), str(m.get("status")),
                        m.get("podsReady") + "/" + m.get("pods"), str(m.get("hpa")), str(m.get("runnerId")), str(m.get("online")),
                        str(m.get("paused")), str(m.get("gitlabStatus")), str(m.get("runningJobs"))));
                if (wide) row.addAll(List.of(str(m.get("chart")), str(m.get("version")), str(m.get("contactedAt")), str(m.get("tokenExpiresAt")),
                        RunnerSettings.managersText(m.get("managers"))));
                table.add(row);
            }
            var headers = new ArrayList<>(List.of("type", "revision", "status", "ready", "hpa", "runner", "online", "paused", "gitlab", "jobs"));
            if (wide) headers.addAll(List.of("chart", "version", "contacted", "token expires", "managers"));
            return Output.table(headers, table);
        }
    }

    // ---- pause / resume / drain -----------------------------------------------------------------

    /** pause and resume: PUT /runners/:id paused, only where it differs (idempotent: "unchanged"). */
    abstract static class PauseOrResume extends GitLabSub {
        @Parameters(paramLabel = "TYPE", arity = "0..*", description = "Runner types.")
        List<String> types = new ArrayList<>();

        @Option(names = "--all", description = "Every runner type of the environment.")
        boolean all;

        @Mixin Cli.ChangeOptions change;
        @Mixin Cli.OutputOption output;

        abstract boolean pause();

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            var releases = select(env, types, all, pause() ? "pause" : "resume");
            change.confirm(env, (pause() ? "pause" : "resume") + " runners");
            GitLabApi api = gitlab.api(env, cluster, pause() ? "pause the runners" : "resume the runners", GitLabApi.Use.CHANGE);
            try (KubernetesClient client = cluster.connect(env)) {
                var outcome = RunnerFleet.setPaused(client, api, releases, all, pause(), change.writes(), Cli.err()::println);
                print(outcome.results(), output.format);
                if (!change.writes()) Cli.info("dry run: nothing was changed in GitLab");
                // Each failure was one line already; the first one's code is the exit code.
                return outcome.exitCode();
            }
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, customSynopsis = "runners ENV pause (TYPE... | --all) [--dry-run] [-y] [-o FORMAT] [OPTIONS]",
            description = {"Pause runners: they finish their jobs and take no new one.",
                        "PUT /runners/:id paused=true. 'pause --all' is the emergency stop. Already paused runners are left " +
                        "alone (\"unchanged\")."},
            footer = {"", "Examples:", "  runners dev pause dind", "  runners prod pause --all -y", "  runners dev pause --all --dry-run"})
    static class Pause extends PauseOrResume {
        boolean pause() {
            return true;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, customSynopsis = "runners ENV resume (TYPE... | --all) [--dry-run] [-y] [-o FORMAT] [OPTIONS]",
            description = {"Resume paused runners.", "PUT /runners/:id paused=false; active ones are left alone (\"unchanged\")."},
            footer = {"", "Examples:", "  runners dev resume dind", "  runners prod resume --all -y"})
    static class Resume extends PauseOrResume {
        boolean pause() {
            return false;
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true, customSynopsis = "runners ENV drain (TYPE... | --all) [--timeout DURATION] [OPTIONS]",
            description = {"Pause runners, then wait until none of them runs a job.",
                        "Progress on stderr. Exit 80 when jobs still run after --timeout; the runners stay paused."},
            footer = {"", "Examples:", "  runners dev drain dind --timeout 30m", "  runners dev drain --all && runners dev rollback dind"})
    static class Drain extends PauseOrResume {
        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", description = "How long to wait for running jobs (default: ${DEFAULT-VALUE}).")
        String timeoutText;

        @Option(names = "--poll", paramLabel = "DURATION", defaultValue = "5s", description = "How often to ask GitLab for running jobs (default: ${DEFAULT-VALUE}).")
        String pollText;

        boolean pause() {
            return true;
        }

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            Duration timeout = Cli.duration(timeoutText, "--timeout");
            Duration poll = Cli.duration(pollText, "--poll");
            var releases = select(env, types, all, "drain");
            change.confirm(env, "drain runners");
            GitLabApi api = gitlab.api(env, cluster, "drain the runners", GitLabApi.Use.CHANGE).retryWithin(timeout);
            try (KubernetesClient client = cluster.connect(env)) {
                var paused = RunnerFleet.setPaused(client, api, releases, all, true, change.writes(), Cli.err()::println);
                if (paused.exitCode() != ExitCode.OK) {
                    print(paused.results(), output.format);
                    return paused.exitCode();
                }
                if (!change.writes()) { // nothing paused, so nothing to wait for: what would be paused, and what runs now
                    print(paused.results(), output.format);
                    for (var r : releases) {
                        if (!all || RunnerFleet.deployed(client, r)) Cli.info(r.type() + ": running jobs now " + api.runningJobs(RunnerFleet.runnerId(client, r)));
                    }
                    Cli.info("dry run: nothing was paused in GitLab, so drain did not wait");
                    return ExitCode.OK;
                }
                var ids = new LinkedHashMap<RunnerValues.Release, Long>();
                for (var r : releases) if (!all || RunnerFleet.deployed(client, r)) ids.put(r, RunnerFleet.runnerId(client, r));
                var busy = new LinkedHashMap<String, List<Long>>();
                Cli.info("paused; waiting until no job runs on " + String.join(", ", ids.keySet().stream().map(RunnerValues.Release::name).toList())
                        + " (timeout " + timeout.toSeconds() + " s)");
                boolean drained = RunnerFleet.waitFor(timeout, poll, Cli::info, () -> {
                    busy.clear();
                    ids.forEach((r, id) -> {
                        List<Long> jobs = api.runningJobs(id);
                        if (!jobs.isEmpty()) busy.put(r.type() + " (runner " + id + ")", jobs);
                    });
                    return new RunnerFleet.Poll(busy.isEmpty(), busy.isEmpty() ? "no running job"
                            : String.join("; ", busy.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue().size()
                                    + " running job" + (e.getValue().size() == 1 ? "" : "s") + " " + e.getValue()).toList()));
                });
                var results = new ArrayList<Map<String, Object>>();
                ids.forEach((r, id) -> {
                    String key = r.type() + " (runner " + id + ")";
                    results.add(RunnerFleet.result(r, id, busy.containsKey(key) ? "busy" : "drained",
                            busy.containsKey(key) ? "running jobs " + busy.get(key) : "no running job"));
                });
                print(results, output.format);
                if (!drained) {
                    throw new GfwException(ExitCode.CHECK_FAILED, "drain timed out after " + timeout.toSeconds() + " s: "
                            + String.join("; ", busy.entrySet().stream().map(e -> e.getKey() + " still runs jobs " + e.getValue()).toList())
                            + "; the runners stay paused (resume with 'gfw runners " + env.name() + " resume TYPE')");
                }
            }
            return ExitCode.OK;
        }
    }

    // ---- history / rollback ---------------------------------------------------------------------

    @Command(name = "history", mixinStandardHelpOptions = true, customSynopsis = "runners ENV history TYPE [-o table|json|yaml] [OPTIONS]",
            description = {"Show the Helm revisions of a runner type's release.", "As helm history, oldest first."},
            footer = {"", "Examples:", "  runners dev history dind", "  runners dev history dind -o json"})
    static class History extends Sub {
        @Parameters(paramLabel = "TYPE", description = "Runner type.")
        String type;

        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            RunnerValues.Release r = RunnerValues.select(env, List.of(type)).get(0);
            Cli.refusePlanned(env, "read the release history");
            var revisions = new HelmReleases.JvmHelm(cluster.target(env)).history(r.namespace(), r.name());
            switch (output.format) {
                case json -> Cli.out().println(Output.json(revisions));
                case yaml -> Cli.out().print(Output.yaml(revisions));
                default -> Cli.out().print(Output.table(List.of("revision", "updated", "status", "chart", "app version", "description"),
                        revisions.stream().map(h -> List.of(String.valueOf(h.revision()), str(h.updated()), h.status(), h.chart(),
                                str(h.appVersion()), str(h.description()))).toList()));
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "rollback", mixinStandardHelpOptions = true, customSynopsis = "runners ENV rollback TYPE [--to REVISION] [--unstick] [OPTIONS]",
            description = {"Roll a runner type's release back to an earlier revision.",
                        "Default: the previous one. With --wait and --atomic: the old revision's chart and values become a " +
                        "new revision 'Rollback to N'. --unstick: a release stuck in pending-* (an interrupted Helm) is " +
                        "marked failed and rolled back to its last deployed revision."},
            footer = {"", "Examples:", "  runners dev rollback dind", "  runners dev rollback dind --to 3 --dry-run",
                    "  runners dev rollback dind --unstick   (a killed deploy left it pending-upgrade)"})
    static class Rollback extends Sub {
        @Parameters(paramLabel = "TYPE", description = "Runner type.")
        String type;

        @Option(names = "--to", paramLabel = "REVISION", description = "The revision to go back to (default: the one before the current).")
        Integer to;

        @Option(names = "--unstick", description = "Only for a release in pending-install/upgrade/rollback whose Helm is no longer running.")
        boolean unstick;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5m", description = "How long to wait for the rollout (default: ${DEFAULT-VALUE}).")
        String timeoutText;

        @Mixin Cli.ChangeOptions change;
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            Duration timeout = Cli.duration(timeoutText, "--timeout");
            RunnerValues.Release r = RunnerValues.select(env, List.of(type)).get(0);
            change.confirm(env, "roll back " + r.name());
            KubeClients.Target target = cluster.target(env);
            try (KubernetesClient client = cluster.connect(target)) {
                new RunnerRollback(client, new HelmReleases.JvmHelm(target), env, r, change.writes()).run(to, unstick, timeout, output.format);
            }
            return ExitCode.OK;
        }
    }

    // ---- rotate-token ---------------------------------------------------------------------------

    @Command(name = "rotate-token", mixinStandardHelpOptions = true, customSynopsis = "runners ENV rotate-token TYPE [--timeout DURATION] [--dry-run] [-y] [OPTIONS]",
            description = {"Give a runner a new authentication token.",
                        "POST /runners/:id/reset_authentication_token, store the token in Secret gitlab-runner-<type>-token, " +
                        "restart the release's pods, wait until GitLab sees the runner online. The token is never printed; on " +
                        "a failure the message names the runner id and the state it is in."},
            footer = {"", "Examples:", "  runners dev rotate-token docker", "  runners dev rotate-token docker --dry-run"})
    static class RotateToken extends GitLabSub {
        @Parameters(paramLabel = "TYPE", description = "Runner type.")
        String type;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5m", description = "How long to wait for the rollout and for GitLab to see the runner (default: ${DEFAULT-VALUE}).")
        String timeoutText;

        @Mixin Cli.ChangeOptions change;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            Duration timeout = Cli.duration(timeoutText, "--timeout");
            RunnerValues.Release r = RunnerValues.select(env, List.of(type)).get(0);
            change.confirm(env, "rotate the token of " + r.name());
            GitLabApi api = gitlab.api(env, cluster, "reset the runner's token", GitLabApi.Use.CHANGE).retryWithin(timeout);
            try (KubernetesClient client = cluster.connect(env)) {
                RunnerTokenRotation.run(client, api, env, r, timeout, change.writes(), change.forceConflicts);
            }
            return ExitCode.OK;
        }
    }

    // ---- prune ----------------------------------------------------------------------------------

    @Command(name = "prune", mixinStandardHelpOptions = true, customSynopsis = "runners ENV prune [--yes] [--dry-run] [-o table|json|yaml] [OPTIONS]",
            description = {"List the group's runners that gfw created for this environment and no Secret uses; delete them only with --yes.",
                        "GitLab lists the runners of the group and of its ancestor groups: only a runner whose details name the " +
                        "environment's group, whose description is deploy-runners' for this environment and cluster, and that no " +
                        "token Secret references is deleted; every other runner is listed as left alone, with the reason."},
            footer = {"", "Examples:", "  runners dev prune", "  runners dev prune --yes"})
    static class Prune extends GitLabSub {
        @Mixin Cli.ChangeOptions change;
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            Cli.refusePlanned(env, "prune runners");
            boolean delete = change.yes && change.writes();
            GitLabApi api = gitlab.api(env, cluster, "list the group's runners", GitLabApi.Use.PRUNE);
            try (KubernetesClient client = cluster.connect(env)) {
                Map<Long, String> referenced = RunnerFleet.referencedRunnerIds(client, env.namespaces().runners().name());
                long group = api.groupId(env.organization().group());
                var plan = RunnerFleet.prunePlan(api, group, env.organization().group(), api.groupRunners(group), referenced,
                        env.name(), env.cluster().name());
                var results = new ArrayList<Map<String, Object>>();
                GfwException first = null;
                int toDelete = 0;
                for (RunnerFleet.PruneRow row : plan) {
                    GitLabApi.Runner g = row.runner();
                    var m = new LinkedHashMap<String, Object>();
                    m.put("runner", g.id());
                    m.put("description", g.description());
                    m.put("status", g.status());
                    m.put("reason", row.reason());
                    String action = !row.delete() ? "left alone" : delete ? "deleted" : "would be deleted";
                    if (row.delete()) toDelete++;
                    if (row.delete() && delete) {
                        try {
                            api.deleteRunner(g.id());
                        } catch (GfwException e) {
                            if (first == null) first = e;
                            action = "failed: " + e.getMessage();
                        }
                    }
                    m.put("action", action);
                    results.add(m);
                }
                switch (output.format) {
                    case json -> Cli.out().println(Output.json(results));
                    case yaml -> Cli.out().print(Output.yaml(results));
                    default -> Cli.out().print(Output.table(List.of("runner", "description", "status", "reason", "action"),
                            results.stream().map(m -> List.of(str(m.get("runner")), str(m.get("description")), str(m.get("status")),
                                    str(m.get("reason")), str(m.get("action")))).toList()));
                }
                Cli.info(toDelete + " runner" + (toDelete == 1 ? "" : "s") + " to prune in group " + env.organization().group()
                        + "; " + (results.size() - toDelete) + " left alone"
                        + (delete || toDelete == 0 ? "" : "; nothing deleted: pass --yes to delete them"));
                if (first != null) throw new GfwException(first.exitCode(), "not every runner was deleted (see the table)");
            }
            return ExitCode.OK;
        }
    }

    // ---- reap / smoke (lib/runners/RunnerReap, lib/runners/RunnerSmoke) -----------------------------------------

    @Command(name = "reap", mixinStandardHelpOptions = true, customSynopsis = "runners ENV reap [-y] [--dry-run] [-o table|json|yaml] [OPTIONS]",
            description = {"List job pods stuck in the runner namespace; delete them only with -y.",
                        "Stuck: Terminating past their grace period, Pending past their job's timeout, or their GitLab job no " +
                        "longer running (asked only with a GitLab token). A Terminating pod is deleted with grace period 0."},
            footer = {"", "Examples:", "  runners dev reap", "  runners dev reap -y"})
    static class Reap extends GitLabSub {
        @Mixin Cli.ChangeOptions change;
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            change.validate();
            Cli.refusePlanned(env, "reap job pods");
            boolean delete = change.yes && change.writes();
            GitLabApi api = gitlab.tokenGiven() ? gitlab.api(env, cluster, "read the jobs' status", GitLabApi.Use.REAP) : null;
            if (api == null) Cli.warn("GITLAB_TOKEN is not set: job pods whose GitLab job ended are not found");
            String ns = env.namespaces().runners().name();
            try (KubernetesClient client = cluster.connect(env)) {
                var rows = new ArrayList<Map<String, Object>>();
                var stuck = RunnerReap.find(client, ns, api, Instant.now());
                for (var st : stuck) {
                    if (delete) RunnerReap.delete(client, ns, st);
                    rows.add(st.row(delete ? (st.terminating() ? "force-deleted" : "deleted") : "would be deleted"));
                }
                switch (output.format) {
                    case json -> Cli.out().println(Output.json(rows));
                    case yaml -> Cli.out().print(Output.yaml(rows));
                    default -> Cli.out().print(Output.table(List.of("pod", "phase", "job", "reason", "action"),
                            rows.stream().map(m -> List.of(str(m.get("pod")), str(m.get("phase")), str(m.get("job")), str(m.get("reason")),
                                    str(m.get("action")))).toList()));
                }
                Cli.info(stuck.size() + " stuck job pod" + (stuck.size() == 1 ? "" : "s") + " in namespace " + ns
                        + (delete || stuck.isEmpty() ? "" : "; nothing deleted: pass -y to delete them"));
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "smoke", mixinStandardHelpOptions = true, customSynopsis = "runners ENV smoke [TYPE...] [--timeout DURATION] [-o table|json|yaml] [OPTIONS]",
            description = {"Run one tiny job on each runner type through GitLab, and say pass or fail with the job's URL.",
                        "A pipeline in smoke.project (at smoke.ref) with GFW_SMOKE_TYPE, GFW_SMOKE_TAG and GFW_SMOKE_RUNNER_ID; pass " +
                        "when its job succeeded on this type's runner. Exit 80 when a type failed."},
            footer = {"", "Examples:", "  runners dev smoke", "  runners dev smoke nix dind --timeout 15m"})
    static class Smoke extends GitLabSub {
        @Parameters(paramLabel = "TYPE", arity = "0..*", description = "Runner types (default: all of the environment).")
        List<String> types = new ArrayList<>();

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10m", description = "How long to wait for each type's job (default: ${DEFAULT-VALUE}).")
        String timeoutText;

        @Option(names = "--poll", paramLabel = "DURATION", defaultValue = "5s", description = "How often to ask GitLab about the job (default: ${DEFAULT-VALUE}).")
        String pollText;

        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Duration timeout = Cli.duration(timeoutText, "--timeout");
            Duration poll = Cli.duration(pollText, "--poll");
            var releases = RunnerValues.select(env, types);
            RunnerSmoke.config(env);
            Cli.refusePlanned(env, "run smoke jobs");
            GitLabApi api = gitlab.api(env, cluster, "run the smoke pipelines", GitLabApi.Use.SMOKE);
            try (KubernetesClient client = cluster.connect(env)) {
                var results = RunnerSmoke.run(client, api, env, releases, timeout, poll, Cli::info);
                var rows = results.stream().map(RunnerSmoke.Result::row).toList();
                switch (output.format) {
                    case json -> Cli.out().println(Output.json(rows));
                    case yaml -> Cli.out().print(Output.yaml(rows));
                    default -> Cli.out().print(RunnerSmoke.table(results));
                }
                boolean pass = results.stream().allMatch(RunnerSmoke.Result::pass);
                if (!pass) Cli.warn("not every runner type ran its smoke job");
                return pass ? ExitCode.OK : ExitCode.CHECK_FAILED;
            }
        }
    }
}
