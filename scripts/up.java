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
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/database/ConnectionStrings.java
//SOURCES ../lib/namespaces/NamespaceLayout.java
//SOURCES ../lib/runners/RunnerValues.java
//SOURCES ../lib/core/HealthReport.java
//SOURCES ../lib/health/HealthRunners.java
//SOURCES ../lib/kube/ApplyRun.java
//SOURCES ../lib/namespaces/NamespaceProvision.java
//SOURCES ../lib/cache/CacheDeploy.java
//SOURCES ../lib/database/DatabaseUrl.java
//SOURCES ../lib/runners/RunnersDeploy.java
//SOURCES ../lib/dashboard/DashboardDeploy.java
//SOURCES ../lib/health/HealthRun.java
//SOURCES ../lib/gitlab/GitLabApi.java
//SOURCES ../lib/runners/RunnerSmoke.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/LiveObjects.java

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Brings an environment up from its file in one process, in order: provision-namespaces, deploy-cache,
 * DATABASE_URL into the Attic secret (cnpg-connstr --write-secret), deploy-runners, deploy-dashboard,
 * then {@code health --wait} until every check is ok. First it prints the plan: each step and what it would change
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
        description = {"Bring an environment up from its file: namespaces, cache, database URL, runners, dashboard, health.",
                "Prints the plan first; a re-run on an unchanged cluster sends no write; --diff is the drift check",
                "(exit 82 when something drifted). A failing step stops the run with its own exit code.",
                "Example: up dev --dry-run=server", ""})
class Up implements Callable<Integer> {

    /** The steps, in order; --only and --skip name them. */
    static final List<String> STEPS = List.of("namespaces", "cache", "database-url", "runners", "dashboard", "health");

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = "--only", paramLabel = "STEP", split = ",", description = "Run only these steps: namespaces, cache, database-url, runners, dashboard, health.")
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

    /** One step: its name and what it does. */
    record Step(String name, String does) {}

    /** What a step's plan printed while it ran quietly, its exit code, and the changes it found (null: read them from its output). */
    record Captured(int exit, String out, String err, List<String> changes) {}

    private EnvConfig.Env env;
    private KubeClients.Target target;
    private KubernetesClient client;
    private Duration waitLimit;
    /** What the plan read of the namespace layout (one LIST per kind), handed to the namespaces step. */
    private ServerSideApply.Inventory inventory;

    @Override
    public Integer call() {
        change.validate();
        Set<String> selected = selected();
        env = envOptions.load(envName);
        if (!change.clientDryRun()) change.confirm(env, "bring up " + env.name() + " on " + env.cluster().name());
        waitLimit = Cli.duration(timeout, "--timeout");
        List<Step> steps = steps(env).stream().filter(s -> selected.contains(s.name())).toList();
        if (change.clientDryRun()) return clientPlan(steps);
        target = clusterOptions.target(env);
        // One client for the plan and every step: one kubeconfig read, one connection pool.
        try (KubernetesClient c = ServerSideApply.withoutClientRetries(clusterOptions.connect(target))) {
            client = c;
            return planThenSteps(steps);
        } finally {
            client = null;
        }
    }

    private int planThenSteps(List<Step> steps) {
        // 1. The plan: each step in order, and what it would change. What it reads is what the steps then act on.
        Cli.info(env.name() + ": plan (" + steps.size() + " steps)");
        var drift = new ArrayList<String>();
        var upToDate = new LinkedHashSet<String>();
        boolean changedBefore = false;
        for (Step s : steps) {
            if (s.name().equals("health")) {
                if (!change.diff()) Cli.out().println("[" + s.name() + "] " + s.does() + " (reads only)");
                continue;
            }
            Captured c = capture(() -> plan(s));
            List<String> changes = c.exit() != ExitCode.OK ? List.of() : c.changes() != null ? c.changes() : changes(s, c.out());
            if (c.exit() == ExitCode.OK) {
                Cli.out().println("[" + s.name() + "] " + s.does() + ": " + (changes.isEmpty() ? "up to date" : changes.size() + " to change"));
                for (String line : changes) Cli.out().println("    " + line);
                if (changes.isEmpty()) upToDate.add(s.name());
            } else if (c.exit() == ExitCode.NOT_FOUND && (changedBefore || change.diff())) {
                // An earlier step creates what this one needs (its namespace, the database): it cannot be compared yet.
                String why = firstError(c.err());
                changes = List.of("cannot compare yet: " + why);
                Cli.out().println("[" + s.name() + "] " + s.does() + ": everything to create (" + why + ")");
            } else {
                Cli.err().print(c.err());
                Cli.info("up: the plan stopped at step " + s.name() + " (exit " + c.exit() + "); nothing was changed");
                return c.exit();
            }
            if (!changes.isEmpty()) changedBefore = true;
            for (String line : changes) drift.add(s.name() + ": " + line);
        }
        if (change.diff()) {
            if (drift.isEmpty()) {
                Cli.info(env.name() + ": no drift: the cluster matches " + env.file());
                return ExitCode.OK;
            }
            Cli.info(env.name() + ": drifted from " + env.file() + " in " + drift.size() + " places (exit " + ExitCode.DRIFT + ")");
            return ExitCode.DRIFT;
        }
        if (!change.writes()) {
            Cli.info(env.name() + ": server dry run: the plan only, nothing was changed");
            return ExitCode.OK;
        }

        // 2. Each step for real, stopping at the first that fails; a step the plan found up to date is not read again.
        var done = new ArrayList<String>();
        for (Step s : steps) {
            Cli.info("== " + s.name() + ": " + s.does());
            int exit;
            try {
                exit = upToDate.contains(s.name()) ? unchanged(s) : run(s);
            } catch (Throwable t) {
                exit = Cli.report(t);
            }
            if (exit != ExitCode.OK) {
                Cli.info("up: step " + s.name() + " failed (exit " + exit + ")" + (done.isEmpty() ? "; no step completed before it" : "; done before it: "
                        + String.join(", ", done)) + ". Fix the cause and re-run 'gfw up " + env.name() + "': it resumes safely, every step skips what is already there.");
                return exit;
            }
            done.add(s.name());
        }
        if (smoke) { // Health says a runner is online; smoke says it runs jobs.
            Cli.info("== smoke: runners smoke: one tiny job per runner type through GitLab");
            int exit;
            try {
                exit = smoke();
            } catch (Throwable t) {
                exit = Cli.report(t);
            }
            if (exit != ExitCode.OK) {
                Cli.info("up: every step is done (" + String.join(", ", done) + "), but the smoke jobs failed (exit " + exit + ")");
                return exit;
            }
            done.add("smoke");
        }
        Cli.info(env.name() + ": up (" + String.join(", ", done) + ")");
        return ExitCode.OK;
    }

    /** {@code runners ENV smoke} for every type, on the step's client: the same engine (RunnerSmoke), its table on stdout. */
    private int smoke() {
        RunnerSmoke.config(env);
        HealthRunners.GitLab gitlab = HealthRun.gitlab(env, gitlabUrl, gitlabTokenFile, () -> clusterOptions.http(env, "GitLab"));
        if (gitlab.api() == null) throw new GfwException(ExitCode.USAGE, "--smoke creates pipelines in GitLab: " + gitlab.missing());
        GitLabApi api = gitlab.api().use(GitLabApi.Use.SMOKE);
        var results = RunnerSmoke.run(client, api, env, RunnerValues.select(env, List.of()), java.time.Duration.ofMinutes(10),
                java.time.Duration.ofSeconds(5), Cli::info);
        Cli.out().print(RunnerSmoke.table(results));
        return results.stream().allMatch(RunnerSmoke.Result::pass) ? ExitCode.OK : ExitCode.CHECK_FAILED;
    }

    private Set<String> selected() {
        for (List<String> names : java.util.Arrays.asList(only, skip)) {
            if (names == null) continue;
            for (String n : names) {
                if (!STEPS.contains(n)) throw new GfwException(ExitCode.USAGE, "unknown step '" + n + "' in --only/--skip: use " + String.join(", ", STEPS));
            }
        }
        if (only != null && skip != null) throw new GfwException(ExitCode.USAGE, "--only and --skip do not go together: name the steps to run with --only");
        var out = new LinkedHashSet<>(only != null ? only : STEPS);
        if (skip != null) skip.forEach(out::remove);
        if (out.isEmpty()) throw new GfwException(ExitCode.USAGE, "--skip leaves no step to run");
        return out;
    }

    private static List<Step> steps(EnvConfig.Env env) {
        return List.of(
                new Step("namespaces", "provision-namespaces: namespaces, quotas, limits, network policies, RBAC"),
                new Step("cache", "deploy-cache: CNPG database, Attic server, its cache"),
                new Step("database-url", "cnpg-connstr --write-secret: DATABASE_URL into Secret " + env.attic().secret()),
                new Step("runners", "deploy-runners: the runner releases, tokens, HPAs, PDBs"),
                new Step("dashboard", "deploy-dashboard: the runner dashboard"),
                new Step("health", "health --wait: until every check is ok (namespaces, database, cache, runners, dashboard)"));
    }

    // ---- the engines, with up's flags ---------------------------------------------------------------

    private String atticNs() {
        return env.namespaces().attic().name();
    }

    private String dashboardNs() {
        return env.namespaces().dashboard().name();
    }

    private ServerSideApply.Options namespaceOptions(boolean diff, boolean serverDryRun) {
        var options = new ServerSideApply.Options();
        options.serverDryRun = serverDryRun;
        options.forceConflicts = change.forceConflicts;
        options.diffOnly = diff;
        return options;
    }

    private CacheDeploy cache(ApplyRun run) {
        CacheDeploy.requireSection(env);
        var inputs = new CacheDeploy.Inputs(installOperator, null, false, atticUrl, null);
        return new CacheDeploy(env, atticNs(), inputs, run, target, clusterOptions.http(env, "Attic"));
    }

    /** One engine for the plan and the step: the step acts on what the plan read (its RunnerInventory). */
    private RunnersDeploy runnersEngine;

    private RunnersDeploy runners() {
        if (runnersEngine == null) runnersEngine = new RunnersDeploy(gitlabUrl, gitlabTokenFile, chart, null, null, change.forceConflicts, clusterOptions::http);
        return runnersEngine;
    }

    private ConnectionStrings.Parts databaseParts() {
        return new DatabaseUrl(DatabaseUrl.Service.rw, null, null, null, clusterOptions.requestTimeout())
                .fromSecret(client, env, atticNs(), env.cnpg().appSecret());
    }

    private static int applying(ApplyRun run, java.util.function.IntSupplier body) {
        try {
            return body.getAsInt();
        } catch (ServerSideApply.PartialFailure f) {
            throw f;
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + run.doneSoFar(), e);
        }
    }

    /** A step's plan: its --diff (or, with --dry-run=server, its server dry run); deploy-runners: a server dry run. Null: the changes are in its output. */
    private List<String> plan(Step s) {
        boolean sdr = change.serverDryRun();
        switch (s.name()) {
            case "namespaces" -> {
                var options = namespaceOptions(!sdr, sdr);
                inventory = NamespaceProvision.read(env, client, options);
                new NamespaceProvision(null, false, false, !sdr).provision(env, NamespaceLayout.render(env), client, options, inventory);
            }
            case "cache" -> {
                var run = new ApplyRun(env.name(), !sdr, sdr, change.forceConflicts, waitLimit);
                run.listed = listed(atticNs(), () -> CacheDeploy.objects(env, atticNs(), Output.MASK));
                applying(run, () -> cache(run).deploy(client, false));
            }
            case "database-url" -> DatabaseUrl.writeSecret(client, env, atticNs(), databaseParts(),
                    new DatabaseUrl.Write(!sdr, false, sdr, change.forceConflicts, sdr ? "server" : "none"));
            case "runners" -> {
                var lines = new ArrayList<String>();
                RunnersDeploy engine = runners();
                for (RunnersDeploy.Outcome o : engine.deployAll(client, target, env, RunnerValues.select(env, List.of()), chart == null ? null : engine.chart(env),
                        waitLimit, true)) {
                    String release = o.release();
                    if (!o.action().equals("unchanged")) lines.add("release/" + release + " " + o.action());
                    for (String c : o.changes()) lines.add("release/" + release + " " + c);
                    if (o.token().startsWith("would")) lines.add("release/" + release + " token " + o.token());
                    if (!o.hpa().equals("unchanged") && o.changes().isEmpty()) lines.add("release/" + release + " hpa " + o.hpa());
                    if (!o.pdb().equals("unchanged") && o.changes().isEmpty()) lines.add("release/" + release + " pdb " + o.pdb());
                }
                return lines.stream().distinct().toList();
            }
            case "dashboard" -> {
                DashboardDeploy.requireSection(env);
                var run = new ApplyRun(env.name(), !sdr, sdr, change.forceConflicts, waitLimit);
                run.listed = listed(dashboardNs(), () -> DashboardDeploy.objects(env, dashboardNs(), Output.MASK));
                applying(run, () -> {
                    DashboardDeploy.deploy(client, env, dashboardNs(), new DashboardDeploy.Inputs(gitlabTokenFile, null), run);
                    return ExitCode.OK;
                });
            }
            default -> throw new IllegalStateException(s.name());
        }
        return null;
    }

    /** The plan's reads of a step's objects, one LIST per kind and namespace, when its namespace exists (else the step says so itself). */
    private LiveObjects listed(String ns, Supplier<List<io.fabric8.kubernetes.api.model.HasMetadata>> objects) {
        return inventory != null && inventory.namespaceExists(ns) ? LiveObjects.read(client, objects.get()) : null;
    }

    /** A step for real. */
    private int run(Step s) {
        switch (s.name()) {
            case "namespaces" -> {
                var options = namespaceOptions(false, false);
                options.concurrency = 8;
                if (inventory == null) inventory = NamespaceProvision.read(env, client, options);
                return new NamespaceProvision(null, false, false, false).provision(env, NamespaceLayout.render(env), client, options, inventory);
            }
            case "cache" -> {
                var run = new ApplyRun(env.name(), false, false, change.forceConflicts, waitLimit);
                return applying(run, () -> cache(run).deploy(client, true));
            }
            case "database-url" -> {
                DatabaseUrl.writeSecret(client, env, atticNs(), databaseParts(), new DatabaseUrl.Write(false, false, false, change.forceConflicts, "none"));
                return ExitCode.OK;
            }
            case "runners" -> {
                RunnersDeploy engine = runners();
                engine.deployAll(client, target, env, RunnerValues.select(env, List.of()), chart == null ? null : engine.chart(env), waitLimit, false);
                return ExitCode.OK;
            }
            case "dashboard" -> {
                DashboardDeploy.requireSection(env);
                var run = new ApplyRun(env.name(), false, false, change.forceConflicts, waitLimit);
                return applying(run, () -> {
                    DashboardDeploy.deploy(client, env, dashboardNs(), new DashboardDeploy.Inputs(gitlabTokenFile, null), run);
                    Cli.info(run.summary());
                    return ExitCode.OK;
                });
            }
            case "health" -> {
                Set<String> all = new LinkedHashSet<>(HealthReport.COMPONENTS);
                HealthRunners.GitLab gitlab = HealthRun.gitlab(env, gitlabUrl, gitlabTokenFile, () -> clusterOptions.http(env, "GitLab"));
                return new HealthRun(Output.Format.table, () -> clusterOptions.http(env, "Attic"))
                        .waitUntilHealthy(env, client, all, gitlab, clusterOptions.requestTimeout(), waitLimit);
            }
            default -> throw new IllegalStateException(s.name());
        }
    }

    /**
     * A step whose plan found nothing to change: its objects are not read again. The cache step still makes
     * sure the environment's cache exists in Attic (the plan cannot see it).
     */
    private int unchanged(Step s) {
        Cli.info(env.name() + ": up to date (the plan read it just now; nothing sent)");
        if (s.name().equals("cache")) {
            var run = new ApplyRun(env.name(), false, false, change.forceConflicts, waitLimit);
            return applying(run, () -> cache(run).ensureCache(client));
        }
        return ExitCode.OK;
    }

    /** --dry-run=client: what each step would render, from the environment file alone; no cluster. */
    private int clientPlan(List<Step> steps) {
        Cli.info(env.name() + ": plan (" + steps.size() + " steps, client dry run: no cluster)");
        for (Step s : steps) {
            String line;
            try {
                line = switch (s.name()) {
                    case "namespaces" -> rendered(NamespaceLayout.render(env).size(), "objects");
                    case "cache" -> {
                        CacheDeploy.requireSection(env);
                        yield rendered(CacheDeploy.objects(env, atticNs(), Output.MASK).size(), "objects");
                    }
                    case "database-url" -> "reads CNPG's secret on the cluster, not in a client dry run";
                    case "runners" -> rendered(RunnerValues.select(env, List.of()).size(), "releases");
                    case "dashboard" -> {
                        DashboardDeploy.requireSection(env);
                        yield rendered(DashboardDeploy.objects(env, dashboardNs(), Output.MASK).size(), "objects");
                    }
                    default -> null;
                };
            } catch (GfwException e) {
                int exit = Cli.report(e);
                Cli.info("up: the plan stopped at step " + s.name() + " (exit " + exit + "); nothing was changed");
                return exit;
            }
            Cli.out().println("[" + s.name() + "] " + s.does() + (line == null ? " (reads only)" : ": " + line));
        }
        Cli.info(env.name() + ": client dry run: the plan only, nothing was changed");
        return ExitCode.OK;
    }

    private static String rendered(int n, String what) {
        return n == 0 ? "nothing rendered" : n + " " + what + " rendered (client dry run: not compared with the cluster)";
    }

    /** Runs a step's plan in this process with its stdout and stderr kept, not shown. */
    private Captured capture(Supplier<List<String>> plan) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        var o = new ByteArrayOutputStream();
        var e = new ByteArrayOutputStream();
        int exit = ExitCode.OK;
        List<String> changes = null;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            try {
                changes = plan.get();
            } catch (Throwable t) {
                exit = Cli.report(t);
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Captured(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8), changes);
    }

    /** What a step's plan output says would change, one line each (empty: up to date). */
    private static List<String> changes(Step s, String out) {
        var lines = new ArrayList<String>();
        for (String l : out.lines().toList()) {
            if (l.startsWith("+ ") || l.startsWith("~ ") || l.startsWith("- ")) lines.add(l);
            else if (l.startsWith("    ") && !lines.isEmpty()) lines.add(l.substring(2));
            else if (l.matches("\\S+ (-n \\S+ )?(created|configured)( .*)?")) lines.add(l); // database-url, server dry runs
            else if (l.startsWith("  ") && s.name().equals("database-url")) lines.add(l.strip());
        }
        return lines;
    }

    private static String firstError(String err) {
        return err.lines().filter(l -> l.startsWith("error: ")).map(l -> l.substring(7)).findFirst().orElse(err.strip());
    }
}
