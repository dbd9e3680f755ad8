///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/RunnerValues.java
//SOURCES ../lib/HelmReleases.java
//SOURCES ../lib/RunnersDeploy.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Deploys the GitLab runner types of an environment (docker, dind, rocky8, rocky9, nix — whatever
 * its {@code runners} list holds) into the runner namespace, each as its own Helm release
 * {@code gitlab-runner-<type>} of GitLab's {@code gitlab-runner} chart at the version the
 * environment file pins, with an HPA ({@code <release>-hpa}) and a PodDisruptionBudget
 * ({@code <release>-pdb}) next to it.
 *
 * <p>Runner tokens: read from Secret {@code <release>-token}; when it does not exist, the runner is
 * created in GitLab ({@code POST /api/v4/user/runners}, group runner with the configured tags) and
 * its token (as GitLab gives it: {@code glrt-…}, perhaps behind an instance prefix) stored in that Secret, with the
 * runner id and the token's expiry as annotations; the chart reads it through {@code runners.secret} — the token is
 * never in values, argv or output. A runner created but not stored is deleted again. A release whose values and chart version are
 * unchanged is not upgraded; otherwise it is upgraded or installed with {@code --atomic}: Helm waits
 * for the rollout (progress on stderr) up to {@code --timeout}, rolls a failed upgrade back and
 * removes a failed first install; a release left pending by an interrupted Helm is refused with the
 * way out.
 *
 * <p>Flags: {@code --dry-run[=client]} prints each release (name, chart, version, namespace, values)
 * without a cluster or token; {@code --dry-run=server} also renders the chart, reads the cluster
 * and shows what would change; {@code --status} shows revision, chart, pods ready, restarts and HPA per release (exit 80 when one is
 * not deployed or has no ready pod), with {@code -w/--watch} again whenever it changes; {@code --chart PATH} / {@code --chart-repo URL} for offline
 * charts and mirrors; {@code --gitlab-url URL}; {@code --timeout} (default derived from the pods to roll and the chart's probes, see RunnerValues#rolloutTimeout); {@code --yes} for production;
 * {@code -o table|json|yaml}; {@code --kubeconfig}, {@code --context}, {@code --proxy}. A planned
 * environment is refused before any request (only {@code --dry-run=client} works for it).
 *
 * <p>With a GitLab token, each runner's GitLab-side settings (tags, run-untagged, locked, access level, maximum
 * timeout) are compared and sent where they differ (lib/RunnerSettings), and an upgrade that restarts a runner's pods
 * first pauses it and waits for its running jobs, at most {@code --drain-timeout}, then resumes it (lib/RunnerDrain).
 *
 * <p>Environment: {@code GITLAB_TOKEN} (or {@code --gitlab-token-file}) — needed when a runner has to be created, and
 * for the settings and drains above; {@code XDG_CACHE_HOME} — charts are cached under {@code gfw/charts}.
 *
 * <pre>
 *   GITLAB_TOKEN=glpat-... gfw deploy-runners dev            # all runner types
 *   gfw deploy-runners dev dind nix --dry-run -o yaml         # what would be deployed, no cluster needed
 * </pre>
 */
@Command(name = "deploy-runners", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = "Deploy the GitLab runner types of an environment as Helm releases of the gitlab-runner chart, with their tokens, HPA and PDB.",
        footer = {"", "Examples:", "  deploy-runners dev dind --dry-run=client -o yaml   # no cluster, no token",
                "  GITLAB_TOKEN=glpat-... deploy-runners dev          # every runner type", "  deploy-runners dev --status -o wide"})
class DeployRunners implements Callable<Integer> {
    public static void main(String... args) {
        System.exit(Cli.run(new DeployRunners(), args));
    }

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Parameters(index = "1..*", paramLabel = "TYPE", description = "Runner types to deploy (default: every one in the environment file).")
    List<String> types = new ArrayList<>();

    @Option(names = "--status", description = "Show each release's revision, chart version, pods ready, restarts and HPA instead of deploying.")
    boolean status;

    @Option(names = {"-w", "--watch"}, description = "With --status: print the status again whenever it changes, until interrupted (Ctrl-C).")
    boolean watch;

    @Option(names = "--timeout", paramLabel = "DURATION",
            description = "How long to wait for each release's rollout before rolling it back, e.g. 300s, 5m, 1h (default: derived per release"
                    + " from the pods to roll and the chart's probes, 150 s per pod rolled one at a time, at least 5m).")
    String timeoutText;

    @Option(names = "--chart", paramLabel = "PATH", description = "Use this local chart directory or .tgz instead of fetching it (air-gapped use, tests).")
    String chartPath;

    @Option(names = "--chart-repo", paramLabel = "URL", description = "Helm repository to fetch the chart from (default: the environment's runnerChart.repository).")
    String chartRepo;

    @Option(names = "--cacert", paramLabel = "FILE", description = "Trust only the CA certificates in this PEM file for the chart repository (a private mirror).")
    Path chartCaCert;

    @Option(names = "--gitlab-url", paramLabel = "URL", description = "GitLab API base URL for creating runners (default: organization.gitlabUrl).")
    String gitlabUrl;

    @Option(names = "--gitlab-token-file", paramLabel = "FILE", description = "Read the GitLab access token from FILE ('-' for stdin) instead of $GITLAB_TOKEN.")
    String gitlabTokenFile;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30m",
            description = "Before an upgrade restarts a runner's pods: pause it in GitLab and wait this long for its running jobs"
                    + " (then it is resumed); 0: do not pause (default: ${DEFAULT-VALUE}).")
    String drainTimeoutText;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;
    @Mixin Cli.ChangeOptions change;
    @Mixin Cli.OutputOption output;

    private Duration drainTimeout = Duration.ofMinutes(30);

    /** Where fetched charts are cached. */
    Path chartCache = HelmReleases.defaultCacheDir();

    /** The story, in lib/RunnersDeploy, with this command's flags. */
    RunnersDeploy engine() {
        var e = new RunnersDeploy(gitlabUrl, gitlabTokenFile, chartPath, chartRepo, chartCaCert, change.forceConflicts, cluster::http);
        e.chartCache = chartCache;
        e.drainTimeout = drainTimeout;
        return e;
    }


    @Override
    public Integer call() {
        EnvConfig.Env env = envOptions.load(envName);
        List<RunnerValues.Release> releases = RunnerValues.select(env, types);
        Duration timeout = timeoutText == null ? null : Cli.duration(timeoutText, "--timeout");
        drainTimeout = drainTimeoutText.trim().equals("0") ? Duration.ZERO : Cli.duration(drainTimeoutText, "--drain-timeout");
        Cli.DryRun dryRun = change.dryRun;
        if (status && dryRun != Cli.DryRun.none) throw new GfwException(ExitCode.USAGE, "--status reads the cluster only; drop --dry-run");
        change.validate(!status, "a deploy, not to --status");
        if (watch && !status) throw new GfwException(ExitCode.USAGE, "--watch goes with --status (deploy-runners ENV --status --watch)");

        // Client dry-run: everything comes from the environment file; no cluster, no token, no request.
        if (dryRun == Cli.DryRun.client) {
            printPlan(env, releases);
            return ExitCode.OK;
        }
        Cli.refusePlanned(env, status ? "read the runner status" : "deploy runners");
        if (status) return status(env, releases);
        if (dryRun == Cli.DryRun.none) Cli.confirmProduction(env, change.yes, "deploy runners");
        boolean serverDryRun = dryRun == Cli.DryRun.server;

        // Cheapest checks first: local files (--chart), cluster reads (which runners need a GitLab
        // token), that token, the chart download, then writes. The chart is rendered with every
        // release's values before anything changes, so a missing chart or values it rejects are an
        // error with nothing done (in a dry run too).
        KubeClients.Target target = cluster.target(env);
        RunnersDeploy engine = engine();
        Path chart = chartPath != null ? engine.chart(env) : null;
        List<RunnersDeploy.Outcome> outcomes;
        try (KubernetesClient client = cluster.connect(target)) {
            outcomes = engine.deployAll(client, target, env, releases, chart, timeout, serverDryRun);
        }
        printOutcomes(outcomes, serverDryRun);
        return ExitCode.OK;
    }


    // ---- --status -------------------------------------------------------------------------------

    private int status(EnvConfig.Env env, List<RunnerValues.Release> releases) {
        KubeClients.Target target = cluster.target(env);
        var helm = new HelmReleases.JvmHelm(target);
        try (KubernetesClient client = cluster.connect(target)) {
            if (watch) return Cli.watch(() -> render(RunnersDeploy.statusRows(helm, client, releases)), output.format.isTable());
            var rows = RunnersDeploy.statusRows(helm, client, releases);
            Cli.out().print(render(rows));
            boolean healthy = rows.stream().allMatch(RunnersDeploy::healthy);
            if (!healthy) Cli.warn("not every runner release is deployed with a ready pod");
            return healthy ? ExitCode.OK : ExitCode.CHECK_FAILED;
        }
    }


    private String render(List<Map<String, Object>> rows) {
        if (!output.format.isTable()) {
            return output.format == Output.Format.json ? Output.json(rows) + "\n" : Output.yaml(rows);
        }
        boolean wide = output.format == Output.Format.wide; // -o wide: also the namespace
        var table = new ArrayList<List<String>>();
        for (var row : rows) {
            var cells = new ArrayList<>(List.of(str(row.get("release")), str(row.get("revision")), str(row.get("status")), str(row.get("chartVersion")),
                    row.get("podsReady") + "/" + row.get("pods"), str(row.get("restarts")), str(row.get("hpa")), str(row.get("token"))));
            if (wide) cells.add(1, str(row.get("namespace")));
            table.add(cells);
        }
        var headers = new ArrayList<>(List.of("release", "revision", "status", "chart", "ready", "restarts", "hpa", "token"));
        if (wide) headers.add(1, "namespace");
        return Output.table(headers, table);
    }


    private static String str(Object o) {
        return o == null ? "-" : String.valueOf(o);
    }

    // ---- chart ----------------------------------------------------------------------------------


    // ---- output ---------------------------------------------------------------------------------

    /** The client dry-run: per release its name, chart, version, namespace and values (which hold no token). */
    private void printPlan(EnvConfig.Env env, List<RunnerValues.Release> releases) {
        var plan = new ArrayList<Map<String, Object>>();
        for (RunnerValues.Release r : releases) {
            var m = new LinkedHashMap<String, Object>();
            m.put("release", r.name());
            m.put("chart", r.chart());
            m.put("version", r.version());
            m.put("repository", chartRepo != null ? chartRepo : r.repository());
            m.put("namespace", r.namespace());
            m.put("tokenSecret", r.tokenSecret());
            m.put("values", r.values());
            var a = r.runner().autoscaling();
            var hpa = new LinkedHashMap<String, Object>();
            hpa.put("name", r.hpaName());
            hpa.put("minReplicas", a.minReplicas());
            hpa.put("maxReplicas", a.maxReplicas());
            hpa.put("cpuPercent", a.cpuPercent());
            hpa.put("memoryPercent", a.memoryPercent());
            m.put("hpa", hpa);
            var pdb = new LinkedHashMap<String, Object>();
            pdb.put("name", r.pdbName());
            pdb.put("maxUnavailable", 1);
            m.put("pdb", pdb);
            plan.add(m);
        }
        switch (output.format) {
            case json -> Cli.out().println(Output.json(plan));
            case yaml -> Cli.out().print(Output.yaml(plan));
            default -> {
                for (var m : plan) {
                    Cli.out().println("release " + m.get("release") + ": chart " + m.get("chart") + " " + m.get("version")
                            + " from " + m.get("repository") + ", namespace " + m.get("namespace"));
                    Cli.out().println("  token: from Secret " + m.get("tokenSecret") + " (" + RunnerValues.TOKEN_KEY + " " + Output.MASK
                            + "; created through the GitLab API if missing)");
                    @SuppressWarnings("unchecked") var hpa = (Map<String, Object>) m.get("hpa");
                    @SuppressWarnings("unchecked") var pdb = (Map<String, Object>) m.get("pdb");
                    Cli.out().println("  hpa: " + hpa.get("name") + " " + hpa.get("minReplicas") + "-" + hpa.get("maxReplicas")
                            + " replicas at cpu " + hpa.get("cpuPercent") + "% / memory " + hpa.get("memoryPercent") + "%; pdb: "
                            + pdb.get("name") + " maxUnavailable " + pdb.get("maxUnavailable"));
                    Cli.out().println("  values:");
                    for (String line : Output.yaml(m.get("values")).split("\n")) Cli.out().println("    " + line);
                }
            }
        }
        Cli.info("dry run (client): nothing was sent to the cluster or to GitLab (" + env.file() + ")");
        if (env.planned()) Cli.warn("environment " + env.name() + " is planned: a real deploy is refused until " + env.file() + " says status: active");
    }

    private void printOutcomes(List<RunnersDeploy.Outcome> outcomes, boolean serverDryRun) {
        switch (output.format) {
            case json -> Cli.out().println(Output.json(outcomes));
            case yaml -> Cli.out().print(Output.yaml(outcomes));
            default -> {
                boolean wide = output.format == Output.Format.wide; // -o wide: also the namespace
                var rows = new ArrayList<List<String>>();
                for (RunnersDeploy.Outcome o : outcomes) {
                    var cells = new ArrayList<>(List.of(o.release(), o.action(), str(o.revision()), o.chart() + "-" + o.version(), o.token(), o.hpa(), o.pdb()));
                    if (wide) cells.add(1, o.namespace());
                    rows.add(cells);
                }
                var headers = new ArrayList<>(List.of("release", "action", "revision", "chart", "token", "hpa", "pdb"));
                if (wide) headers.add(1, "namespace");
                Cli.out().print(Output.table(headers, rows));
                for (RunnersDeploy.Outcome o : outcomes) {
                    for (String c : o.changes()) Cli.out().println("  " + o.release() + ": " + c);
                }
            }
        }
        if (serverDryRun) Cli.info("dry run (server): nothing was changed");
    }


}
