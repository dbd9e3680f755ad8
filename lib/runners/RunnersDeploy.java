// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//SOURCES ../core/Output.java
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES RunnerValues.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES RunnerTokens.java
//SOURCES ../kube/HelmReleases.java
//SOURCES ../core/SecretInput.java
//SOURCES RunnerInventory.java
//SOURCES RunnerSettings.java
//SOURCES RunnerDrain.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * deploy-runners' story, so that {@code up} runs it in the same process: per runner type its token (read
 * from its Secret, else the runner created in GitLab and its token stored), its Helm release (installed or
 * upgraded with --atomic only when chart or values differ, the rollout's progress on stderr), its HPA and
 * PDB; the chart (local or fetched); and the status rows of {@code --status}.
 */
final class RunnersDeploy {

    /** --gitlab-url, --gitlab-token-file, --chart, --chart-repo, --cacert, --force-conflicts (null: the environment's). */
    final String gitlabUrl;
    final String gitlabTokenFile;
    final String chartPath;
    final String chartRepo;
    final Path chartCaCert;
    final boolean forceConflicts;
    /** An HTTP client for a purpose ("GitLab", "the chart repository"), routed as the command's flags say. */
    final BiFunction<EnvConfig.Env, String, Http.Client> http;

    /** Where fetched charts are cached. */
    Path chartCache = HelmReleases.defaultCacheDir();
    /**
     * Before an upgrade restarts a runner's pods: how long to wait for its running jobs once it is paused in GitLab
     * (lib/runners/RunnerDrain; zero: no pause). deploy-runners' --drain-timeout.
     */
    Duration drainTimeout = Duration.ofMinutes(30);
    /** GitLab, when a token is given: runner settings (lib/runners/RunnerSettings) and draining before upgrades (lib/runners/RunnerDrain). */
    private GitLabApi gitlab;
    /**
     * What was read of each runner namespace (lib/runners/RunnerInventory), once per engine: up runs its plan and then its step
     * with the same engine, so the step acts on what the plan read instead of reading it again.
     */
    private final Map<String, RunnerInventory> inventories = new java.util.concurrent.ConcurrentHashMap<>();

    RunnersDeploy(String gitlabUrl, String gitlabTokenFile, String chartPath, String chartRepo, Path chartCaCert, boolean forceConflicts,
                  BiFunction<EnvConfig.Env, String, Http.Client> http) {
        this.gitlabUrl = gitlabUrl;
        this.gitlabTokenFile = gitlabTokenFile;
        this.chartPath = chartPath;
        this.chartRepo = chartRepo;
        this.chartCaCert = chartCaCert;
        this.forceConflicts = forceConflicts;
        this.http = http;
    }

    /**
     * Every release: cheapest checks first, then writes. Cluster reads (which runners need a GitLab token),
     * that token, the chart download ({@code chart} null: fetched here), then the chart rendered with every
     * release's values before anything changes, so a missing chart or values it rejects are an error with
     * nothing done (in a dry run too); then tokens, then each release.
     */
    List<Outcome> deployAll(KubernetesClient client, KubeClients.Target target, EnvConfig.Env env, List<RunnerValues.Release> releases, Path chart,
                            Duration timeout, boolean serverDryRun) {
        var outcomes = new ArrayList<Outcome>();
        if (!inventories.containsKey(env.namespaces().runners().name())) requireNamespace(client, env); // else checked by the read before
        List<RunnerValues.Release> missing = missingTokens(client, releases);
        String accessToken = missing.isEmpty() || serverDryRun ? null : gitlabToken(missing); // before the chart download
        if (chart == null) chart = chart(env);
        // Helm (its native library, and the chart rendered with every release's values before anything changes) only when
        // a release is to be installed or upgraded; what is deployed is read from Helm's records (RunnerInventory).
        HelmReleases.JvmHelm helm = null;
        if (releases.stream().anyMatch(r -> helmChanges(inventory(client, r.namespace()).release(r.name()), r) != null)) {
            helm = new HelmReleases.JvmHelm(target);
            for (RunnerValues.Release r : releases) helm.template(chart, r.namespace(), r.name(), r.values());
        }
        gitlab = gitlabApi(env, accessToken, timeout); // one client for the new runners, their settings and the drains
        Map<String, String> tokens = ensureTokens(env, client, releases, missing, gitlab, serverDryRun);
        Map<String, List<String>> settings = gitlab == null ? Map.of()
                : RunnerSettings.reconcile(r -> inventory(client, r.namespace()).secret(r.tokenSecret()), gitlab, releases, !serverDryRun, Output::info);
        if (gitlab == null) Output.warn("GITLAB_TOKEN is not set: the runners' GitLab settings (tags, run-untagged, locked, access level,"
                + " maximum timeout) were not compared, and upgrades do not pause runners for their jobs");
        for (RunnerValues.Release r : releases) {
            Outcome o = deploy(client, helm, chart, r, tokens.get(r.name()), timeout, serverDryRun);
            o.changes().addAll(settings.getOrDefault(r.name(), List.of()));
            outcomes.add(o);
        }
        return outcomes;
    }

    /** What happened (or would happen) to one release. */
    record Outcome(String release, String namespace, String chart, String version, String action, Integer revision,
                   String token, String hpa, String pdb, List<String> changes) {}

    /** The namespace's inventory, read on first use (three LISTs) and kept for this engine's later calls. */
    RunnerInventory inventory(KubernetesClient client, String namespace) {
        return inventories.computeIfAbsent(namespace, ns -> RunnerInventory.read(client, ns));
    }

    /**
     * What Helm would change in a release: null when it is deployed with this chart version and these values (nothing
     * for Helm to do); else the changes (empty for a release not installed yet).
     */
    static List<String> helmChanges(HelmReleases.Deployed live, RunnerValues.Release r) {
        if (live == null) return List.of();
        var changes = new ArrayList<String>();
        if (!r.version().equals(live.chartVersion())) changes.add("chart: " + live.chart() + " -> " + r.chart() + "-" + r.version());
        if (!"deployed".equals(live.status())) changes.add("status: " + live.status() + " -> deployed");
        changes.addAll(HelmReleases.valueChanges(r.values(), live.values()));
        return changes.isEmpty() ? null : changes;
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
                                             List<RunnerValues.Release> missing, GitLabApi api, boolean serverDryRun) {
        var result = new LinkedHashMap<String, String>();
        for (RunnerValues.Release r : releases) if (!missing.contains(r)) result.put(r.name(), "exists");
        if (missing.isEmpty()) return result;
        if (serverDryRun) {
            for (RunnerValues.Release r : missing) result.put(r.name(), "would be created in GitLab");
            if (gitlabTokenFile == null && (System.getenv("GITLAB_TOKEN") == null || System.getenv("GITLAB_TOKEN").isBlank())) {
                Output.warn("GITLAB_TOKEN is not set: the real run needs it to create the GitLab runners of "
                        + String.join(", ", missing.stream().map(RunnerValues.Release::name).toList()));
            }
            return result;
        }
        long groupId = api.groupId(env.organization().group());
        for (RunnerValues.Release r : missing) {
            String description = r.name() + " (" + env.name() + ", " + env.cluster().name() + ")";
            GitLabApi.CreatedRunner created = api.createGroupRunner(groupId, description, RunnerSettings.wanted(r.runner()));
            Output.info("created GitLab runner " + created.id() + " '" + description + "' in group " + env.organization().group());
            try {
                var desired = RunnerTokens.annotate(RunnerValues.tokenSecret(r, created.token(), created.id()), Instant.now(), created.tokenExpiresAt());
                RunnerInventory inv = inventory(client, r.namespace());
                inv.wrote(ServerSideApply.apply(client, desired, inv.live(desired), false, forceConflicts).object());
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

    /**
     * The one GitLab client of a deploy (new runners, settings, drains): the token already read (never null when a runner
     * must be created), else one given (GITLAB_TOKEN, --gitlab-token-file), else null.
     */
    private GitLabApi gitlabApi(EnvConfig.Env env, String accessToken, Duration timeout) {
        String token = accessToken;
        if (token == null) {
            String v = System.getenv("GITLAB_TOKEN");
            if (gitlabTokenFile == null && (v == null || v.isBlank())) return null;
            token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                    "GITLAB_TOKEN is not set"), gitlabTokenFile).value();
        }
        var api = new GitLabApi(gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl(), token, http.apply(env, "GitLab"))
                .use(GitLabApi.Use.DEPLOY_RUNNERS).notices(Output::info);
        if (timeout != null) api.retryWithin(timeout); // else the default: 30 s a call (the derived rollout timeout is Helm's)
        return api;
    }

    /** The releases whose token Secret holds no runner token (a read of the cluster, before any download or write). */
    private List<RunnerValues.Release> missingTokens(KubernetesClient client, List<RunnerValues.Release> releases) {
        var missing = new ArrayList<RunnerValues.Release>();
        for (RunnerValues.Release r : releases) {
            if (!hasToken(inventory(client, r.namespace()).secret(r.tokenSecret()))) missing.add(r);
        }
        return missing;
    }

    static boolean hasToken(Secret s) {
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
        RunnerInventory inv = inventory(client, r.namespace());
        HelmReleases.Deployed live = inv.release(r.name());
        if (live != null && live.status() != null && live.status().startsWith("pending")) throw HelmReleases.pending(live);
        List<String> helmChanges = helmChanges(live, r);
        List<String> changes = new ArrayList<>(helmChanges == null ? List.of() : helmChanges);
        String action;
        Integer revision = live == null ? null : live.revision();
        if (live == null) {
            action = serverDryRun ? "would install" : "installed";
        } else {
            action = changes.isEmpty() ? "unchanged" : serverDryRun ? "would upgrade" : "upgraded";
        }
        if (!serverDryRun && !"unchanged".equals(action)) {
            if (timeout == null) timeout = RunnerValues.rolloutTimeout(podsToRoll(client, r));
            Output.info((live == null ? "installing" : "upgrading") + " release " + r.name() + " (chart " + r.chart() + " " + r.version()
                    + ", namespace " + r.namespace() + ", timeout " + timeout.toSeconds() + " s)");
            RunnerDrain.Paused paused = live == null ? null
                    : RunnerDrain.before(client, gitlab, r, changes, drainTimeout, Duration.ofSeconds(2), Output::info);
            try (var progress = new RolloutProgress(client, r, timeout, live == null)) {
                revision = helm.upgradeInstall(chart, r.namespace(), r.name(), r.values(), timeout, live).revision();
            } finally {
                RunnerDrain.after(gitlab, paused, Output::info);
            }
        }
        HasMetadata wantedHpa = RunnerValues.hpa(r);
        HasMetadata wantedPdb = RunnerValues.pdb(r);
        ServerSideApply.Result hpa = ServerSideApply.apply(client, wantedHpa, inv.live(wantedHpa), serverDryRun, forceConflicts);
        ServerSideApply.Result pdb = ServerSideApply.apply(client, wantedPdb, inv.live(wantedPdb), serverDryRun, forceConflicts);
        if (!serverDryRun) {
            if (hpa.action() != ServerSideApply.Action.unchanged) inv.wrote(hpa.object());
            if (pdb.action() != ServerSideApply.Action.unchanged) inv.wrote(pdb.object());
        }
        for (String d : hpa.diff()) changes.add(r.hpaName() + " " + d);
        for (String d : pdb.diff()) changes.add(r.pdbName() + " " + d);
        Output.info("release/" + r.name() + " " + action + (revision == null ? "" : " (revision " + revision + ")")
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
     * 2 updated, 6 s of 300 s"), from a watch on it (an informer: one LIST, then a WATCH; no polling), printed when it
     * changes and at least every ten seconds; past the timeout it says what Helm does then (rolls back, or removes a
     * failed first install).
     */
    static final class RolloutProgress implements AutoCloseable {
        private final Thread thread;
        private io.fabric8.kubernetes.client.informers.SharedIndexInformer<Deployment> informer;

        RolloutProgress(KubernetesClient client, RunnerValues.Release r, Duration timeout, boolean firstInstall) {
            long start = System.nanoTime();
            var state = new java.util.concurrent.atomic.AtomicReference<>("waiting for deployment/" + r.name());
            var printed = new java.util.concurrent.atomic.AtomicReference<String>("");
            var lastPrinted = new java.util.concurrent.atomic.AtomicLong(start);
            Runnable print = () -> {
                long t = System.nanoTime();
                String now = state.get();
                synchronized (printed) {
                    if (now.equals(printed.get()) && t - lastPrinted.get() < 10_000_000_000L) return;
                    long elapsed = Duration.ofNanos(t - start).toSeconds();
                    Output.info("  " + now + ", " + elapsed + " s of " + timeout.toSeconds() + " s"
                            + (elapsed <= timeout.toSeconds() ? "" : firstInstall ? " (timed out: Helm removes the failed install)"
                                    : " (timed out: Helm rolls back to the previous revision)"));
                    printed.set(now);
                    lastPrinted.set(t);
                }
            };
            java.util.function.Consumer<Deployment> seen = d -> {
                state.set(d == null || d.getStatus() == null ? "waiting for deployment/" + r.name()
                        : r.name() + ": " + n(d.getStatus().getReadyReplicas()) + "/" + n(d.getSpec().getReplicas())
                        + " pods ready, " + n(d.getStatus().getUpdatedReplicas()) + " updated");
                print.run();
            };
            try {
                informer = client.apps().deployments().inNamespace(r.namespace()).withName(r.name()).inform(
                        new io.fabric8.kubernetes.client.informers.ResourceEventHandler<>() {
                            @Override
                            public void onAdd(Deployment d) {
                                seen.accept(d);
                            }

                            @Override
                            public void onUpdate(Deployment old, Deployment d) {
                                seen.accept(d);
                            }

                            @Override
                            public void onDelete(Deployment d, boolean unknownFinalState) {
                                seen.accept(null);
                            }
                        });
            } catch (RuntimeException e) {
                informer = null; // progress is best effort; Helm's own wait decides success
            }
            // At least every ten seconds, from what the watch saw last: no request.
            thread = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        Thread.sleep(2000);
                    } catch (InterruptedException e) {
                        return;
                    }
                    print.run();
                }
            }, "rollout-progress-" + r.name());
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() {
            thread.interrupt();
            if (informer != null) informer.close();
        }
    }

    private static int n(Integer i) {
        return i == null ? 0 : i;
    }

    /** Per release what Helm's records and the cluster say now: revision, status, chart, pods ready, restarts, HPA, token. */
    static List<Map<String, Object>> statusRows(HelmReleases.JvmHelm helm, KubernetesClient client, List<RunnerValues.Release> releases) {
        var rows = new ArrayList<Map<String, Object>>();
        for (RunnerValues.Release r : releases) {
            HelmReleases.Deployed live = helm.get(r.namespace(), r.name());
            List<Pod> pods = client.pods().inNamespace(r.namespace()).withLabel("app", r.name()).list().getItems();
            long ready = pods.stream().filter(RunnersDeploy::ready).count();
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
            row.put("restarts", pods.stream().mapToInt(RunnersDeploy::restarts).sum());
            row.put("hpa", hpa == null ? null : hpaText(hpa));
            row.put("token", hasToken(token) ? "present" : "missing");
            rows.add(row);
        }
        return rows;
    }

    static boolean healthy(Map<String, Object> row) {
        return "deployed".equals(row.get("status")) && ((Long) row.get("podsReady")) > 0;
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

    Path chart(EnvConfig.Env env) {
        var c = env.runnerChart();
        if (chartPath != null) return HelmReleases.localChart(chartPath, c.name(), c.version(), env.file());
        String repo = chartRepo != null ? chartRepo : c.repository();
        Output.info("fetching chart " + c.name() + " " + c.version() + " from " + repo + " (cached in " + chartCache + ")");
        Http.Client repoHttp = http.apply(env, "the chart repository");
        if (chartCaCert != null) repoHttp.caCert(chartCaCert, "--cacert");
        return HelmReleases.fetchChart(repo, c.name(), c.version(), chartCache, repoHttp);
    }
}
