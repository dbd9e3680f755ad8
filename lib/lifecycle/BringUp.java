// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java
//SOURCES ../core/HealthReport.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES ../kube/ApplyRun.java
//SOURCES ../kube/LiveObjects.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES ../namespaces/NamespaceLayout.java
//SOURCES ../namespaces/NamespaceProvision.java
//SOURCES ../database/ConnectionStrings.java
//SOURCES ../database/DatabaseUrl.java
//SOURCES ../cache/CacheDeploy.java
//SOURCES ../cache/CiCacheToken.java
//SOURCES ../cache/AtticTokenIssue.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../runners/RunnersDeploy.java
//SOURCES ../runners/RunnerSmoke.java
//SOURCES ../dashboard/DashboardDeploy.java
//SOURCES ../health/HealthRunners.java
//SOURCES ../health/HealthRun.java

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
import java.util.function.Supplier;

/**
 * up's story: an environment brought up from its file in one process, in order — the namespace layout, the cache
 * (CloudNativePG database, Attic), DATABASE_URL into the Attic secret, the CI jobs' cache token, the runners, the
 * dashboard — then health until every check is ok. The plan comes first: each step's own --diff (deploy-runners'
 * server dry run), on one client, and what it read is what the step then acts on; a step the plan found up to
 * date is not read again. It stops at the first failing step with that step's exit code, saying what was done and
 * that a re-run resumes safely. --diff is the plan alone as a drift check (exit 82 when something drifted).
 */
final class BringUp {

    /** The steps, in order; --only and --skip name them. */
    static final List<String> STEPS = List.of("namespaces", "cache", "database-url", "cache-token", "runners", "dashboard", "health");

    /** up's flags, checked by the command before this runs. */
    record Options(boolean clientDryRun, boolean serverDryRun, boolean diff, boolean forceConflicts, boolean writes, Duration waitLimit,
                   boolean smoke, boolean installOperator, String chart, String gitlabUrl, String gitlabTokenFile, String atticUrl) {}

    /** What up takes from the command line: the HTTP clients and request timeout its flags set, and a failure as one error line. */
    interface Wiring {
        Http.Client http(EnvConfig.Env env, String service);

        Duration requestTimeout();

        /** Prints {@code t} as the command line does (one {@code error:} line) and returns its exit code. */
        int report(Throwable t);
    }

    BringUp(EnvConfig.Env env, Options o, Wiring wiring) {
        this.env = env;
        this.o = o;
        this.wiring = wiring;
        this.waitLimit = o.waitLimit();
    }

    /** The steps --only and --skip leave, in order; a name that is no step, or both flags, is a usage error. */
    static Set<String> selected(List<String> only, List<String> skip) {
        for (List<String> names : java.util.Arrays.asList(only, skip)) {
            if (names == null) continue;
            for (String n : names) {
                if (!STEPS.contains(n)) throw new GfwException(ExitCode.USAGE, "unknown step '" + Output.clip(n) + "' in --only/--skip: use " + String.join(", ", STEPS));
            }
        }
        if (only != null && skip != null) throw new GfwException(ExitCode.USAGE, "--only and --skip do not go together: name the steps to run with --only");
        var out = new LinkedHashSet<>(only != null ? only : STEPS);
        if (skip != null) skip.forEach(out::remove);
        if (out.isEmpty()) throw new GfwException(ExitCode.USAGE, "--skip leaves no step to run");
        return out;
    }

    /** One step: its name and what it does. */
    record Step(String name, String does) {}

    /** What a step's plan printed while it ran quietly, its exit code, and the changes it found (null: read them from its output). */
    record Captured(int exit, String out, String err, List<String> changes) {}

    final EnvConfig.Env env;
    final Options o;
    final Wiring wiring;
    private final Duration waitLimit;
    private KubeClients.Target target;
    private KubernetesClient client;
    /** What the plan read of the namespace layout (one LIST per kind), handed to the namespaces step. */
    private ServerSideApply.Inventory inventory;

    /**
     * The plan, then each step for real (or, with --diff or --dry-run=server, the plan alone), on {@code client}: one
     * kubeconfig read, one connection pool for every step.
     */
    int planThenSteps(KubernetesClient client, KubeClients.Target target, Set<String> selected) {
        this.client = client;
        this.target = target;
        List<Step> steps = steps(env).stream().filter(s -> selected.contains(s.name())).toList();
        // 1. The plan: each step in order, and what it would change. What it reads is what the steps then act on.
        Output.info(env.name() + ": plan (" + steps.size() + " steps)");
        var drift = new ArrayList<String>();
        var upToDate = new LinkedHashSet<String>();
        boolean changedBefore = false;
        for (Step s : steps) {
            if (s.name().equals("health")) {
                if (!o.diff()) Output.out().println("[" + s.name() + "] " + s.does() + " (reads only)");
                continue;
            }
            Captured c = capture(() -> plan(s));
            List<String> changes = c.exit() != ExitCode.OK ? List.of() : c.changes() != null ? c.changes() : changes(s, c.out());
            if (c.exit() == ExitCode.OK) {
                Output.out().println("[" + s.name() + "] " + s.does() + ": " + (changes.isEmpty() ? "up to date" : changes.size() + " to change"));
                for (String line : changes) Output.out().println("    " + line);
                if (changes.isEmpty()) upToDate.add(s.name());
            } else if (c.exit() == ExitCode.NOT_FOUND && (changedBefore || o.diff())) {
                // An earlier step creates what this one needs (its namespace, the database): it cannot be compared yet.
                String why = firstError(c.err());
                changes = List.of("cannot compare yet: " + why);
                Output.out().println("[" + s.name() + "] " + s.does() + ": everything to create (" + why + ")");
            } else {
                Output.err().print(c.err());
                Output.info("up: the plan stopped at step " + s.name() + " (exit " + c.exit() + "); nothing was changed");
                return c.exit();
            }
            if (!changes.isEmpty()) changedBefore = true;
            for (String line : changes) drift.add(s.name() + ": " + line);
        }
        if (o.diff()) {
            if (drift.isEmpty()) {
                Output.info(env.name() + ": no drift: the cluster matches " + env.file());
                return ExitCode.OK;
            }
            Output.info(env.name() + ": drifted from " + env.file() + " in " + drift.size() + " places (exit " + ExitCode.DRIFT + ")");
            return ExitCode.DRIFT;
        }
        if (!o.writes()) {
            Output.info(env.name() + ": server dry run: the plan only, nothing was changed");
            return ExitCode.OK;
        }

        // 2. Each step for real, stopping at the first that fails; a step the plan found up to date is not read again.
        var done = new ArrayList<String>();
        for (Step s : steps) {
            Output.info("== " + s.name() + ": " + s.does());
            int exit;
            try {
                exit = upToDate.contains(s.name()) ? unchanged(s) : run(s);
            } catch (Throwable t) {
                exit = wiring.report(t);
            }
            if (exit != ExitCode.OK) {
                Output.info("up: step " + s.name() + " failed (exit " + exit + ")" + (done.isEmpty() ? "; no step completed before it" : "; done before it: "
                        + String.join(", ", done)) + ". Fix the cause and re-run 'gfw up " + env.name() + "': it resumes safely, every step skips what is already there.");
                return exit;
            }
            done.add(s.name());
        }
        if (o.smoke()) { // Health says a runner is online; smoke says it runs jobs.
            Output.info("== smoke: runners smoke: one tiny job per runner type through GitLab");
            int exit;
            try {
                exit = smoke();
            } catch (Throwable t) {
                exit = wiring.report(t);
            }
            if (exit != ExitCode.OK) {
                Output.info("up: every step is done (" + String.join(", ", done) + "), but the smoke jobs failed (exit " + exit + ")");
                return exit;
            }
            done.add("smoke");
        }
        Output.info(env.name() + ": up (" + String.join(", ", done) + ")");
        return ExitCode.OK;
    }

    /** {@code runners ENV smoke} for every type, on the step's client: the same engine (RunnerSmoke), its table on stdout. */
    private int smoke() {
        RunnerSmoke.config(env);
        HealthRunners.GitLab gitlab = HealthRun.gitlab(env, o.gitlabUrl(), o.gitlabTokenFile(), () -> wiring.http(env, "GitLab"));
        if (gitlab.api() == null) throw new GfwException(ExitCode.USAGE, "--smoke creates pipelines in GitLab: " + gitlab.missing());
        GitLabApi api = gitlab.api().use(GitLabApi.Use.SMOKE);
        var results = RunnerSmoke.run(client, api, env, RunnerValues.select(env, List.of()), java.time.Duration.ofMinutes(10),
                java.time.Duration.ofSeconds(5), Output::info);
        Output.out().print(RunnerSmoke.table(results));
        return results.stream().allMatch(RunnerSmoke.Result::pass) ? ExitCode.OK : ExitCode.CHECK_FAILED;
    }

    private static List<Step> steps(EnvConfig.Env env) {
        return List.of(
                new Step("namespaces", "provision-namespaces: namespaces, quotas, limits, network policies, RBAC"),
                new Step("cache", "deploy-cache: CNPG database, Attic server, its cache"),
                new Step("database-url", "cnpg-connstr --write-secret: DATABASE_URL into Secret " + env.attic().secret()),
                new Step("cache-token", "attic-token --ci: the CI jobs' cache token, Secret " + CiCacheToken.SECRET + " in " + env.namespaces().runners().name()
                        + ", written once"),
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

    private ServerSideApply.Options applyOptions(boolean diff, boolean serverDryRun) {
        var options = new ServerSideApply.Options();
        options.serverDryRun = serverDryRun;
        options.forceConflicts = o.forceConflicts();
        options.diffOnly = diff;
        return options;
    }

    private CacheDeploy cache(ApplyRun run) {
        CacheDeploy.requireSection(env);
        var inputs = new CacheDeploy.Inputs(o.installOperator(), null, false, o.atticUrl(), null);
        return new CacheDeploy(env, atticNs(), inputs, run, target, wiring.http(env, "Attic"));
    }

    /** One engine for the plan and the step: the step acts on what the plan read (its RunnerInventory). */
    private RunnersDeploy runnersEngine;

    private RunnersDeploy runners() {
        if (runnersEngine == null) runnersEngine = new RunnersDeploy(o.gitlabUrl(), o.gitlabTokenFile(), o.chart(), null, null, o.forceConflicts(), wiring::http);
        return runnersEngine;
    }

    private ConnectionStrings.Parts databaseParts() {
        return new DatabaseUrl(DatabaseUrl.Service.rw, null, null, null, wiring.requestTimeout())
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
        boolean sdr = o.serverDryRun();
        switch (s.name()) {
            case "namespaces" -> {
                var options = applyOptions(!sdr, sdr);
                inventory = NamespaceProvision.read(env, client, options);
                new NamespaceProvision(null, false, false, !sdr).provision(env, NamespaceLayout.render(env), client, options, inventory);
            }
            case "cache" -> {
                var run = new ApplyRun(env.name(), !sdr, sdr, o.forceConflicts(), waitLimit);
                run.listed = listed(atticNs(), () -> CacheDeploy.objects(env, atticNs(), Output.MASK));
                applying(run, () -> cache(run).deploy(client, false));
            }
            case "database-url" -> DatabaseUrl.writeSecret(client, env, atticNs(), databaseParts(),
                    new DatabaseUrl.Write(!sdr, false, sdr, o.forceConflicts(), sdr ? "server" : "none"));
            case "cache-token" -> {
                // Written once and kept ('attic-token --ci --rotate' replaces it): only a missing Secret is a change.
                String ns = env.namespaces().runners().name();
                boolean exists = (inventory == null || inventory.namespaceExists(ns))
                        && client.secrets().inNamespace(ns).withName(CiCacheToken.SECRET).get() != null;
                return exists ? List.of() : List.of("+ secret/" + CiCacheToken.SECRET + " -n " + ns + " (a token for " + CiCacheToken.sub(env)
                        + ": pull and push on " + env.attic().cache() + ", valid " + env.attic().ciTokenValidity() + ")");
            }
            case "runners" -> {
                var lines = new ArrayList<String>();
                RunnersDeploy engine = runners();
                for (RunnersDeploy.Outcome out : engine.deployAll(client, target, env, RunnerValues.select(env, List.of()), o.chart() == null ? null : engine.chart(env),
                        waitLimit, true)) {
                    String release = out.release();
                    if (!out.action().equals("unchanged")) lines.add("release/" + release + " " + out.action());
                    for (String c : out.changes()) lines.add("release/" + release + " " + c);
                    if (out.token().startsWith("would")) lines.add("release/" + release + " token " + out.token());
                    if (!out.hpa().equals("unchanged") && out.changes().isEmpty()) lines.add("release/" + release + " hpa " + out.hpa());
                    if (!out.pdb().equals("unchanged") && out.changes().isEmpty()) lines.add("release/" + release + " pdb " + out.pdb());
                }
                return lines.stream().distinct().toList();
            }
            case "dashboard" -> {
                DashboardDeploy.requireSection(env);
                var run = new ApplyRun(env.name(), !sdr, sdr, o.forceConflicts(), waitLimit);
                run.listed = listed(dashboardNs(), () -> DashboardDeploy.objects(env, dashboardNs(), Output.MASK));
                applying(run, () -> {
                    DashboardDeploy.deploy(client, env, dashboardNs(), new DashboardDeploy.Inputs(o.gitlabTokenFile(), null), run);
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
                var options = applyOptions(false, false);
                options.concurrency = 8;
                if (inventory == null) inventory = NamespaceProvision.read(env, client, options);
                return new NamespaceProvision(null, false, false, false).provision(env, NamespaceLayout.render(env), client, options, inventory);
            }
            case "cache" -> {
                var run = new ApplyRun(env.name(), false, false, o.forceConflicts(), waitLimit);
                return applying(run, () -> cache(run).deploy(client, true));
            }
            case "database-url" -> {
                DatabaseUrl.writeSecret(client, env, atticNs(), databaseParts(), new DatabaseUrl.Write(false, false, false, o.forceConflicts(), "none"));
                return ExitCode.OK;
            }
            case "cache-token" -> {
                var options = applyOptions(false, false);
                new AtticTokenIssue(env, atticNs()).ci(client, false, false, o.atticUrl(), wiring.http(env, "Attic"), options);
                return ExitCode.OK;
            }
            case "runners" -> {
                RunnersDeploy engine = runners();
                engine.deployAll(client, target, env, RunnerValues.select(env, List.of()), o.chart() == null ? null : engine.chart(env), waitLimit, false);
                return ExitCode.OK;
            }
            case "dashboard" -> {
                DashboardDeploy.requireSection(env);
                var run = new ApplyRun(env.name(), false, false, o.forceConflicts(), waitLimit);
                return applying(run, () -> {
                    DashboardDeploy.deploy(client, env, dashboardNs(), new DashboardDeploy.Inputs(o.gitlabTokenFile(), null), run);
                    Output.info(run.summary());
                    return ExitCode.OK;
                });
            }
            case "health" -> {
                Set<String> all = new LinkedHashSet<>(HealthReport.COMPONENTS);
                HealthRunners.GitLab gitlab = HealthRun.gitlab(env, o.gitlabUrl(), o.gitlabTokenFile(), () -> wiring.http(env, "GitLab"));
                return new HealthRun(Output.Format.table, () -> wiring.http(env, "Attic"))
                        .waitUntilHealthy(env, client, all, gitlab, wiring.requestTimeout(), waitLimit);
            }
            default -> throw new IllegalStateException(s.name());
        }
    }

    /**
     * A step whose plan found nothing to change: its objects are not read again. The cache step still makes
     * sure the environment's cache exists in Attic (the plan cannot see it).
     */
    private int unchanged(Step s) {
        Output.info(env.name() + ": up to date (the plan read it just now; nothing sent)");
        if (s.name().equals("cache")) {
            var run = new ApplyRun(env.name(), false, false, o.forceConflicts(), waitLimit);
            return applying(run, () -> cache(run).ensureCache(client));
        }
        return ExitCode.OK;
    }

    /** --dry-run=client: what each step would render, from the environment file alone; no cluster. */
    int clientPlan(Set<String> selected) {
        List<Step> steps = steps(env).stream().filter(s -> selected.contains(s.name())).toList();
        Output.info(env.name() + ": plan (" + steps.size() + " steps, client dry run: no cluster)");
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
                    case "cache-token" -> "minted with the cluster's signing key, not in a client dry run";
                    case "runners" -> rendered(RunnerValues.select(env, List.of()).size(), "releases");
                    case "dashboard" -> {
                        DashboardDeploy.requireSection(env);
                        yield rendered(DashboardDeploy.objects(env, dashboardNs(), Output.MASK).size(), "objects");
                    }
                    default -> null;
                };
            } catch (GfwException e) {
                int exit = wiring.report(e);
                Output.info("up: the plan stopped at step " + s.name() + " (exit " + exit + "); nothing was changed");
                return exit;
            }
            Output.out().println("[" + s.name() + "] " + s.does() + (line == null ? " (reads only)" : ": " + line));
        }
        Output.info(env.name() + ": client dry run: the plan only, nothing was changed");
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
                exit = wiring.report(t);
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
