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
//SOURCES provision-namespaces.java
//SOURCES deploy-cache.java
//SOURCES cnpg-connstr.java
//SOURCES deploy-runners.java
//SOURCES deploy-dashboard.java
//SOURCES health.java
//SOURCES runners.java
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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

    /** One step: its name, the command that does it, and its arguments besides the shared ones. */
    record Step(String name, Supplier<Object> command, List<String> args, String does) {}

    /** What a step printed while it ran quietly, and its exit code. */
    record Captured(int exit, String out, String err) {}

    @Override
    public Integer call() {
        change.validate();
        Set<String> selected = selected();
        EnvConfig.Env env = envOptions.load(envName);
        if (!change.clientDryRun()) change.confirm(env, "bring up " + env.name() + " on " + env.cluster().name());
        Cli.duration(timeout, "--timeout");
        List<Step> steps = steps(env).stream().filter(s -> selected.contains(s.name())).toList();

        // 1. The plan: each step in order, and what it would change.
        Cli.info(env.name() + ": plan (" + steps.size() + " steps" + (change.clientDryRun() ? ", client dry run: no cluster" : "") + ")");
        var drift = new ArrayList<String>();
        boolean changedBefore = false;
        for (Step s : steps) {
            if (s.name().equals("health")) {
                if (!change.diff()) Cli.out().println("[" + s.name() + "] " + s.does() + " (reads only)");
                continue;
            }
            Captured c = change.clientDryRun() && s.name().equals("database-url") ? new Captured(ExitCode.OK, "", "") : capture(s, planArgs(s));
            List<String> changes = c.exit() == ExitCode.OK ? changes(s, c.out()) : List.of();
            if (change.clientDryRun() && s.name().equals("database-url")) {
                Cli.out().println("[" + s.name() + "] " + s.does() + ": reads CNPG's secret on the cluster, not in a client dry run");
                continue;
            }
            if (c.exit() == ExitCode.OK && change.clientDryRun()) {
                Cli.out().println("[" + s.name() + "] " + s.does() + ": " + (changes.isEmpty() ? "nothing rendered" : changes.get(0)));
                continue;
            }
            if (c.exit() == ExitCode.OK) {
                Cli.out().println("[" + s.name() + "] " + s.does() + ": " + (changes.isEmpty() ? "up to date" : changes.size() + " to change"));
                for (String line : changes) Cli.out().println("    " + line);
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
            Cli.info(env.name() + ": " + (change.clientDryRun() ? "client" : "server") + " dry run: the plan only, nothing was changed");
            return ExitCode.OK;
        }

        // 2. Each step for real, stopping at the first that fails.
        var done = new ArrayList<String>();
        for (Step s : steps) {
            Cli.info("== " + s.name() + ": " + s.does());
            int exit = Cli.run(s.command().get(), args(s, List.of()).toArray(String[]::new));
            if (exit != ExitCode.OK) {
                Cli.info("up: step " + s.name() + " failed (exit " + exit + ")" + (done.isEmpty() ? "; no step completed before it" : "; done before it: "
                        + String.join(", ", done)) + ". Fix the cause and re-run 'gfw up " + env.name() + "': it resumes safely, every step skips what is already there.");
                return exit;
            }
            done.add(s.name());
        }
        if (smoke) { // Health says a runner is online; smoke says it runs jobs.
            Cli.info("== smoke: runners smoke: one tiny job per runner type through GitLab");
            var a = new ArrayList<String>(List.of(envName, "smoke"));
            List<String> shared = args(new Step("health", null, List.of(), ""), List.of()); // ENV, then cluster and env-dir options
            a.addAll(shared.subList(1, shared.size()));
            if (gitlabUrl != null) a.addAll(List.of("--gitlab-url", gitlabUrl));
            if (gitlabTokenFile != null) a.addAll(List.of("--gitlab-token-file", gitlabTokenFile));
            int exit = Cli.run(new Runners(), a.toArray(String[]::new));
            if (exit != ExitCode.OK) {
                Cli.info("up: every step is done (" + String.join(", ", done) + "), but the smoke jobs failed (exit " + exit + ")");
                return exit;
            }
            done.add("smoke");
        }
        Cli.info(env.name() + ": up (" + String.join(", ", done) + ")");
        return ExitCode.OK;
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

    private List<Step> steps(EnvConfig.Env env) {
        var cache = new ArrayList<String>(List.of("--timeout", timeout));
        if (installOperator) cache.add("--install-operator");
        if (atticUrl != null) cache.addAll(List.of("--attic-url", atticUrl));
        var runners = new ArrayList<String>(List.of("--timeout", timeout));
        if (chart != null) runners.addAll(List.of("--chart", chart));
        if (gitlabUrl != null) runners.addAll(List.of("--gitlab-url", gitlabUrl));
        if (gitlabTokenFile != null) runners.addAll(List.of("--gitlab-token-file", gitlabTokenFile));
        var dashboard = new ArrayList<String>(List.of("--timeout", timeout));
        if (gitlabTokenFile != null) dashboard.addAll(List.of("--gitlab-token-file", gitlabTokenFile));
        var health = new ArrayList<String>(List.of("--wait", timeout));
        if (gitlabUrl != null) health.addAll(List.of("--gitlab-url", gitlabUrl));
        if (gitlabTokenFile != null) health.addAll(List.of("--gitlab-token-file", gitlabTokenFile));
        return List.of(
                new Step("namespaces", ProvisionNamespaces::new, List.of(), "provision-namespaces: namespaces, quotas, limits, network policies, RBAC"),
                new Step("cache", DeployCache::new, cache, "deploy-cache: CNPG database, Attic server, its cache"),
                new Step("database-url", CnpgConnstr::new, List.of("--write-secret"), "cnpg-connstr --write-secret: DATABASE_URL into Secret " + env.attic().secret()),
                new Step("runners", DeployRunners::new, runners, "deploy-runners: the runner releases, tokens, HPAs, PDBs"),
                new Step("dashboard", DeployDashboard::new, dashboard, "deploy-dashboard: the runner dashboard"),
                new Step("health", Health::new, health, "health --wait: until every check is ok (namespaces, database, cache, runners, dashboard)"));
    }

    /** ENV, the step's own flags, and the shared ones (cluster, environment directory, -y, --force-conflicts). */
    private List<String> args(Step s, List<String> mode) {
        var a = new ArrayList<String>();
        a.add(envName);
        a.addAll(s.args());
        a.addAll(mode);
        if (envOptions.envDir != null) a.addAll(List.of("--env-dir", envOptions.envDir));
        if (!mode.contains("--dry-run=client")) {
            Cli.ClusterOptions c = clusterOptions;
            if (c.kubeconfig != null) a.addAll(List.of("--kubeconfig", c.kubeconfig));
            if (c.context != null) a.addAll(List.of("--context", c.context));
            if (c.proxy != null) a.addAll(List.of("--proxy", c.proxy));
            a.addAll(List.of("--request-timeout", c.requestTimeout));
        }
        if (!s.name().equals("health")) { // read-only: takes neither
            if (change.yes) a.add("--yes");
            if (change.forceConflicts) a.add("--force-conflicts");
        }
        return a;
    }

    /** How a step shows what it would change: its --diff (deploy-runners, which has none: a server dry run as JSON). */
    private List<String> planArgs(Step s) {
        boolean runners = s.name().equals("runners");
        if (change.clientDryRun()) return List.of("--dry-run=client");
        if (runners) return List.of("--dry-run=server", "-o", "json");
        if (change.serverDryRun()) return List.of("--dry-run=server");
        return List.of("--diff");
    }

    /** Runs a step in this process with its stdout and stderr kept, not shown. */
    private Captured capture(Step s, List<String> mode) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        var o = new ByteArrayOutputStream();
        var e = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            List<String> args = args(s, mode);
            if (mode.contains("--dry-run=client")) args.removeIf(x -> x.equals("--force-conflicts"));
            exit = Cli.run(s.command().get(), args.toArray(String[]::new));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Captured(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    /** What a step's plan output says would change, one line each (empty: up to date). */
    private List<String> changes(Step s, String out) {
        var lines = new ArrayList<String>();
        if (change.clientDryRun()) {
            long objects = out.lines().filter(l -> l.startsWith("kind: ")).count();
            long releases = out.lines().filter(l -> l.startsWith("release ")).count();
            if (objects > 0) lines.add(objects + " objects rendered (client dry run: not compared with the cluster)");
            if (releases > 0) lines.add(releases + " releases rendered (client dry run: not compared with the cluster)");
            return lines;
        }
        if (s.name().equals("runners")) {
            JsonNode outcomes;
            try {
                outcomes = Output.JSON.readTree(out);
            } catch (java.io.IOException ex) {
                throw new GfwException(ExitCode.INTERNAL, "deploy-runners --dry-run=server -o json printed no JSON: " + ex.getMessage());
            }
            for (JsonNode o : outcomes) {
                String release = o.path("release").asText();
                if (!o.path("action").asText().equals("unchanged")) lines.add("release/" + release + " " + o.path("action").asText());
                for (JsonNode c : o.path("changes")) lines.add("release/" + release + " " + c.asText());
                if (o.path("token").asText().startsWith("would")) lines.add("release/" + release + " token " + o.path("token").asText());
                for (String part : List.of("hpa", "pdb")) {
                    String a = o.path(part).asText();
                    if (!a.equals("unchanged") && o.path("changes").isEmpty()) lines.add("release/" + release + " " + part + " " + a);
                }
            }
            return lines.stream().distinct().toList();
        }
        for (String l : out.lines().toList()) {
            if (l.startsWith("+ ") || l.startsWith("~ ") || l.startsWith("- ")) lines.add(l);
            else if (l.startsWith("    ") && !lines.isEmpty()) lines.add(l.substring(2));
            else if (l.matches("\\S+ (-n \\S+ )?(created|configured)( .*)?")) lines.add(l); // cnpg-connstr --write-secret, server dry runs
            else if (l.startsWith("  ") && s.name().equals("database-url")) lines.add(l.strip());
        }
        return lines;
    }

    private static String firstError(String err) {
        return err.lines().filter(l -> l.startsWith("error: ")).map(l -> l.substring(7)).findFirst().orElse(err.strip());
    }
}
