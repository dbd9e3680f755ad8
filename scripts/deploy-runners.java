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
//SOURCES ../lib/Http.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/ServerSideApply.java
//SOURCES ../lib/RunnerValues.java
//SOURCES ../lib/GitLabApi.java
//SOURCES ../lib/RunnerTokens.java
//SOURCES ../lib/HelmReleases.java
//SOURCES ../lib/SecretInput.java
//SOURCES ../lib/RunnerSettings.java
//SOURCES ../lib/RunnerDrain.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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

    /** GitLab, when a token is given: runner settings (lib/RunnerSettings) and draining before upgrades (lib/RunnerDrain). */
    private GitLabApi gitlab;
    private Duration drainTimeout;

    /** Where fetched charts are cached. */
    Path chartCache = HelmReleases.defaultCacheDir();

    /** What happened (or would happen) to one release. */
    record Outcome(String release, String namespace, String chart, String version, String action, Integer revision,
                   String token, String hpa, String pdb, List<String> changes) {}

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
        Path chart = chartPath != null ? chart(env) : null;
        var outcomes = new ArrayList<Outcome>();
        try (KubernetesClient client = cluster.connect(target)) {
            requireNamespace(client, env);
            List<RunnerValues.Release> missing = missingTokens(client, releases);
            String accessToken = missing.isEmpty() || serverDryRun ? null : gitlabToken(missing); // before the chart download
            if (chart == null) chart = chart(env);
            var helm = new HelmReleases.JvmHelm(target);
            for (RunnerValues.Release r : releases) helm.template(chart, r.namespace(), r.name(), r.values());
            Map<String, String> tokens = ensureTokens(env, client, releases, missing, accessToken, serverDryRun, timeout);
            gitlab = gitlabApi(env, accessToken, timeout);
            Map<String, List<String>> settings = gitlab == null ? Map.of()
                    : RunnerSettings.reconcile(client, gitlab, releases, !serverDryRun, Cli::info);
            if (gitlab == null) Cli.warn("GITLAB_TOKEN is not set: the runners' GitLab settings (tags, run-untagged, locked, access level,"
                    + " maximum timeout) were not compared, and upgrades do not pause runners for their jobs");
            for (RunnerValues.Release r : releases) {
                Outcome o = deploy(client, helm, chart, r, tokens.get(r.name()), timeout, serverDryRun);
                o.changes().addAll(settings.getOrDefault(r.name(), List.of()));
                outcomes.add(o);
            }
        }
        printOutcomes(outcomes, serverDryRun);
        return ExitCode.OK;
    }

    /** The runner namespace comes from provision-namespaces; without it nothing here can work. */
    private static void requireNamespace(KubernetesClient client, EnvConfig.Env env) {
        String ns = env.namespaces().runners().name();
        try {
            if (client.namespaces().withName(ns).get() == null) {
                throw new GfwException(ExitCode.NOT_FOUND, "namespace " + ns + " (" + env.file() + " namespaces.runners.name) does not exist;"
                        + " create it first with 'gfw provision-namespaces " + env.name() + "'");
            }
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            if (e.getCode() != 403) throw e;
            // A namespace-scoped deployer may not read namespaces: the requests below will tell.
        }
    }

    // ---- tokens ---------------------------------------------------------------------------------

    /**
     * For each release: "exists" when its token Secret holds a runner token; otherwise the runner
     * is created in GitLab and its token stored ("created (runner N)"), or with server dry-run
     * "would be created". Tokens are created only after every check passed.
     */
    private Map<String, String> ensureTokens(EnvConfig.Env env, KubernetesClient client, List<RunnerValues.Release> releases,
                                             List<RunnerValues.Release> missing, String accessToken, boolean serverDryRun, Duration timeout) {
        var result = new LinkedHashMap<String, String>();
        for (RunnerValues.Release r : releases) if (!missing.contains(r)) result.put(r.name(), "exists");
        if (missing.isEmpty()) return result;
        if (serverDryRun) {
            for (RunnerValues.Release r : missing) result.put(r.name(), "would be created in GitLab");
            if (gitlabTokenFile == null && (System.getenv("GITLAB_TOKEN") == null || System.getenv("GITLAB_TOKEN").isBlank())) {
                Cli.warn("GITLAB_TOKEN is not set: the real run needs it to create the GitLab runners of "
                        + String.join(", ", missing.stream().map(RunnerValues.Release::name).toList()));
            }
            return result;
        }
        var api = new GitLabApi(gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl(), accessToken, cluster.http(env, "GitLab"))
                .use(GitLabApi.Use.DEPLOY_RUNNERS).notices(Cli::info);
        if (timeout != null) api.retryWithin(timeout); // else the default: 30 s a call (the derived rollout timeout is Helm's)
        long groupId = api.groupId(env.organization().group());
        for (RunnerValues.Release r : missing) {
            String description = r.name() + " (" + env.name() + ", " + env.cluster().name() + ")";
            GitLabApi.CreatedRunner created = api.createGroupRunner(groupId, description, RunnerSettings.wanted(r.runner()));
            Cli.info("created GitLab runner " + created.id() + " '" + description + "' in group " + env.organization().group());
            try {
                ServerSideApply.apply(client, RunnerTokens.annotate(RunnerValues.tokenSecret(r, created.token(), created.id()), Instant.now(),
                        created.tokenExpiresAt()), false, change.forceConflicts);
            } catch (RuntimeException e) {
                GfwException why = e instanceof GfwException g ? g
                        : e instanceof io.fabric8.kubernetes.client.KubernetesClientException k ? KubeClients.fromKubernetes(k)
                        : new GfwException(ExitCode.INTERNAL, String.valueOf(e));
                String undo;
                try {
                    api.deleteRunner(created.id());
                    undo = "runner " + created.id() + " was deleted from GitLab again; re-run once the cluster accepts the Secret";
                } catch (GfwException d) {
                    undo = "runner " + created.id() + " stays registered in GitLab without a stored token: delete it in the group's"
                            + " CI/CD > Runners settings (deleting it failed: " + d.getMessage() + ")";
                }
                throw new GfwException(why.exitCode(), "created GitLab runner " + created.id() + " for " + r.name()
                        + " but could not store its token in Secret " + r.namespace() + "/" + r.tokenSecret() + ": " + why.getMessage()
                        + "; " + undo, e);
            }
            result.put(r.name(), "created (runner " + created.id() + ")");
        }
        return result;
    }

    /** The GitLab client for settings and drains: the token already read, else one given (GITLAB_TOKEN, --gitlab-token-file), else null. */
    private GitLabApi gitlabApi(EnvConfig.Env env, String accessToken, Duration timeout) {
        String token = accessToken;
        if (token == null) {
            String v = System.getenv("GITLAB_TOKEN");
            if (gitlabTokenFile == null && (v == null || v.isBlank())) return null;
            token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                    "GITLAB_TOKEN is not set"), gitlabTokenFile).value();
        }
        var api = new GitLabApi(gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl(), token, cluster.http(env, "GitLab"))
                .use(GitLabApi.Use.DEPLOY_RUNNERS).notices(Cli::info);
        if (timeout != null) api.retryWithin(timeout);
        return api;
    }

    /** The releases whose token Secret holds no runner token (a read of the cluster, before any download or write). */
    private static List<RunnerValues.Release> missingTokens(KubernetesClient client, List<RunnerValues.Release> releases) {
        var missing = new ArrayList<RunnerValues.Release>();
        for (RunnerValues.Release r : releases) {
            if (!hasToken(client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get())) missing.add(r);
        }
        return missing;
    }

    private static boolean hasToken(Secret s) {
        if (s == null) return false;
        String token = KubeClients.secretData(s, "secret " + s.getMetadata().getName() + " in namespace " + s.getMetadata().getNamespace())
                .get(RunnerValues.TOKEN_KEY);
        return token != null && !token.isBlank();
    }

    private String gitlabToken(List<RunnerValues.Release> needing) {
        String why = "needed to create the GitLab runner" + (needing.size() > 1 ? "s" : "") + " of "
                + String.join(", ", needing.stream().map(RunnerValues.Release::name).toList())
                + " (no Secret " + needing.get(0).tokenSecret() + (needing.size() > 1 ? " etc." : "") + " in namespace " + needing.get(0).namespace() + ")";
        return SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                "GITLAB_TOKEN is not set: " + why + "; export GITLAB_TOKEN or pass --gitlab-token-file FILE: " + GitLabApi.Use.DEPLOY_RUNNERS.needs()),
                gitlabTokenFile).value();
    }

    // ---- one release ----------------------------------------------------------------------------

    private Outcome deploy(KubernetesClient client, HelmReleases.JvmHelm helm, Path chart, RunnerValues.Release r, String token,
                           Duration timeout, boolean serverDryRun) {
        HelmReleases.Deployed live = helm.get(r.namespace(), r.name());
        if (live != null && live.status() != null && live.status().startsWith("pending")) throw HelmReleases.pending(live);
        List<String> changes = new ArrayList<>();
        String action;
        Integer revision = live == null ? null : live.revision();
        if (live == null) {
            action = serverDryRun ? "would install" : "installed";
        } else {
            if (!r.version().equals(live.chartVersion())) changes.add("chart: " + live.chart() + " -> " + r.chart() + "-" + r.version());
            if (!"deployed".equals(live.status())) changes.add("status: " + live.status() + " -> deployed");
            changes.addAll(HelmReleases.valueChanges(r.values(), live.values()));
            action = changes.isEmpty() ? "unchanged" : serverDryRun ? "would upgrade" : "upgraded";
        }
        if (!serverDryRun && !"unchanged".equals(action)) {
            if (timeout == null) timeout = RunnerValues.rolloutTimeout(podsToRoll(client, r));
            Cli.info((live == null ? "installing" : "upgrading") + " release " + r.name() + " (chart " + r.chart() + " " + r.version()
                    + ", namespace " + r.namespace() + ", timeout " + timeout.toSeconds() + " s)");
            RunnerDrain.Paused paused = live == null ? null
                    : RunnerDrain.before(client, gitlab, r, changes, drainTimeout, Duration.ofSeconds(2), Cli::info);
            try (var progress = new RolloutProgress(client, r, timeout, live == null)) {
                revision = helm.upgradeInstall(chart, r.namespace(), r.name(), r.values(), timeout, live).revision();
            } finally {
                RunnerDrain.after(gitlab, paused, Cli::info);
            }
        }
        ServerSideApply.Result hpa = ServerSideApply.apply(client, RunnerValues.hpa(r), serverDryRun, change.forceConflicts);
        ServerSideApply.Result pdb = ServerSideApply.apply(client, RunnerValues.pdb(r), serverDryRun, change.forceConflicts);
        for (String d : hpa.diff()) changes.add(r.hpaName() + " " + d);
        for (String d : pdb.diff()) changes.add(r.pdbName() + " " + d);
        Cli.info("release/" + r.name() + " " + action + (revision == null ? "" : " (revision " + revision + ")")
                + "; " + r.hpaName() + " " + applied(hpa) + ", " + r.pdbName() + " " + applied(pdb));
        return new Outcome(r.name(), r.namespace(), r.chart(), r.version(), action, revision, token,
                applied(hpa), applied(pdb), changes);
    }

    /**
     * The pods a rollout of this release replaces: the live Deployment's replicas when the HPA has scaled it above the
     * chart's {@code replicas} (Helm's three-way merge keeps the live count when the value is unchanged), else the value.
     */
    private static int podsToRoll(KubernetesClient client, RunnerValues.Release r) {
        int replicas = (Integer) r.values().get("replicas");
        try {
            var live = client.apps().deployments().inNamespace(r.namespace()).withName(r.name()).get();
            Integer current = live == null || live.getSpec() == null ? null : live.getSpec().getReplicas();
            return current != null && current > replicas ? current : replicas;
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            return replicas;   // the timeout is a budget, not a check: the chart's own count will do
        }
    }

    /** "created", or "would create" in a server dry run. */
    private static String applied(ServerSideApply.Result result) {
        if (!result.dryRun() || result.action() == ServerSideApply.Action.unchanged) return result.action().name();
        return switch (result.action()) {
            case created -> "would create";
            case configured -> "would configure";
            default -> "would prune";
        };
    }

    /**
     * While Helm waits: the rollout of the release's Deployment on stderr ("gitlab-runner-docker: 1/2 pods ready,
     * 2 updated, 6 s of 300 s"), polled every two seconds, printed when it changes and at least every ten seconds;
     * past the timeout it says what Helm does then (rolls back, or removes a failed first install).
     */
    static final class RolloutProgress implements AutoCloseable {
        private final Thread thread;

        RolloutProgress(KubernetesClient client, RunnerValues.Release r, Duration timeout, boolean firstInstall) {
            long start = System.nanoTime();
            thread = new Thread(() -> {
                String last = "";
                long lastPrinted = start;
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        Thread.sleep(2000);
                        Deployment d = client.apps().deployments().inNamespace(r.namespace()).withName(r.name()).get();
                        String now = d == null || d.getStatus() == null ? "waiting for deployment/" + r.name()
                                : r.name() + ": " + n(d.getStatus().getReadyReplicas()) + "/" + n(d.getSpec().getReplicas())
                                + " pods ready, " + n(d.getStatus().getUpdatedReplicas()) + " updated";
                        long t = System.nanoTime();
                        if (!now.equals(last) || t - lastPrinted >= 10_000_000_000L) {
                            long elapsed = Duration.ofNanos(t - start).toSeconds();
                            Cli.info("  " + now + ", " + elapsed + " s of " + timeout.toSeconds() + " s"
                                    + (elapsed <= timeout.toSeconds() ? "" : firstInstall ? " (timed out: Helm removes the failed install)"
                                            : " (timed out: Helm rolls back to the previous revision)"));
                            lastPrinted = t;
                        }
                        last = now;
                    } catch (InterruptedException e) {
                        return;
                    } catch (RuntimeException e) {
                        // progress is best effort; Helm's own wait decides success
                    }
                }
            }, "rollout-progress-" + r.name());
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() {
            thread.interrupt();
        }
    }

    private static int n(Integer i) {
        return i == null ? 0 : i;
    }

    // ---- --status -------------------------------------------------------------------------------

    private int status(EnvConfig.Env env, List<RunnerValues.Release> releases) {
        KubeClients.Target target = cluster.target(env);
        var helm = new HelmReleases.JvmHelm(target);
        try (KubernetesClient client = cluster.connect(target)) {
            if (watch) return Cli.watch(() -> render(statusRows(helm, client, releases)), output.format.isTable());
            var rows = statusRows(helm, client, releases);
            Cli.out().print(render(rows));
            boolean healthy = rows.stream().allMatch(DeployRunners::healthy);
            if (!healthy) Cli.warn("not every runner release is deployed with a ready pod");
            return healthy ? ExitCode.OK : ExitCode.CHECK_FAILED;
        }
    }

    /** Per release what Helm's records and the cluster say now: revision, status, chart, pods ready, restarts, HPA, token. */
    private static List<Map<String, Object>> statusRows(HelmReleases.JvmHelm helm, KubernetesClient client, List<RunnerValues.Release> releases) {
        var rows = new ArrayList<Map<String, Object>>();
        for (RunnerValues.Release r : releases) {
            HelmReleases.Deployed live = helm.get(r.namespace(), r.name());
            List<Pod> pods = client.pods().inNamespace(r.namespace()).withLabel("app", r.name()).list().getItems();
            long ready = pods.stream().filter(DeployRunners::ready).count();
            HorizontalPodAutoscaler hpa = client.autoscaling().v2().horizontalPodAutoscalers()
                    .inNamespace(r.namespace()).withName(r.hpaName()).get();
            Secret token = client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get();
            var row = new LinkedHashMap<String, Object>();
            row.put("release", r.name());
            row.put("namespace", r.namespace());
            row.put("revision", live == null ? null : live.revision());
            row.put("status", live == null ? "not installed" : live.status());
            row.put("chartVersion", live == null ? null : live.chartVersion());
            row.put("podsReady", ready);
            row.put("pods", pods.size());
            row.put("restarts", pods.stream().mapToInt(DeployRunners::restarts).sum());
            row.put("hpa", hpa == null ? null : hpaText(hpa));
            row.put("token", hasToken(token) ? "present" : "missing");
            rows.add(row);
        }
        return rows;
    }

    private static boolean healthy(Map<String, Object> row) {
        return "deployed".equals(row.get("status")) && ((Long) row.get("podsReady")) > 0;
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

    private static int restarts(Pod p) {
        if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) return 0;
        return p.getStatus().getContainerStatuses().stream().mapToInt(c -> c.getRestartCount() == null ? 0 : c.getRestartCount()).sum();
    }

    private static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static String hpaText(HorizontalPodAutoscaler h) {
        Integer current = h.getStatus() == null ? null : h.getStatus().getCurrentReplicas();
        return (current == null ? "?" : current.toString()) + " (" + h.getSpec().getMinReplicas() + "-" + h.getSpec().getMaxReplicas() + ")";
    }

    private static String str(Object o) {
        return o == null ? "-" : String.valueOf(o);
    }

    // ---- chart ----------------------------------------------------------------------------------

    private Path chart(EnvConfig.Env env) {
        var c = env.runnerChart();
        if (chartPath != null) return HelmReleases.localChart(chartPath, c.name(), c.version(), env.file());
        String repo = chartRepo != null ? chartRepo : c.repository();
        Cli.info("fetching chart " + c.name() + " " + c.version() + " from " + repo + " (cached in " + chartCache + ")");
        Http.Client http = cluster.http(env, "the chart repository");
        if (chartCaCert != null) http.caCert(chartCaCert, "--cacert");
        return HelmReleases.fetchChart(repo, c.name(), c.version(), chartCache, http);
    }

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

    private void printOutcomes(List<Outcome> outcomes, boolean serverDryRun) {
        switch (output.format) {
            case json -> Cli.out().println(Output.json(outcomes));
            case yaml -> Cli.out().print(Output.yaml(outcomes));
            default -> {
                boolean wide = output.format == Output.Format.wide; // -o wide: also the namespace
                var rows = new ArrayList<List<String>>();
                for (Outcome o : outcomes) {
                    var cells = new ArrayList<>(List.of(o.release(), o.action(), str(o.revision()), o.chart() + "-" + o.version(), o.token(), o.hpa(), o.pdb()));
                    if (wide) cells.add(1, o.namespace());
                    rows.add(cells);
                }
                var headers = new ArrayList<>(List.of("release", "action", "revision", "chart", "token", "hpa", "pdb"));
                if (wide) headers.add(1, "namespace");
                Cli.out().print(Output.table(headers, rows));
                for (Outcome o : outcomes) {
                    for (String c : o.changes()) Cli.out().println("  " + o.release() + ": " + c);
                }
            }
        }
        if (serverDryRun) Cli.info("dry run (server): nothing was changed");
    }


}
