// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES RunnerTokens.java
//SOURCES RunnerValues.java
//SOURCES ../kube/HelmReleases.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The runners of an environment as gfw operates them after deploying: each runner type's Helm release, its pods and
 * HPA on the cluster, and its GitLab runner — found by the runner id gfw stores on the token Secret
 * ({@value RunnerValues#RUNNER_ID_ANNOTATION} on {@code gitlab-runner-<type>-token}), never by description. The
 * mechanics the {@code runners} commands share: reading one runner's state, restarting its Deployment and waiting for
 * the rollout, and waiting for a condition with progress on stderr.
 */
final class RunnerFleet {

    /** What was read of one runner type; a part that could not be read says why in {@code gitlabError}. */
    record State(RunnerValues.Release release, HelmReleases.Deployed helm, int pods, int podsReady, String hpa,
                 Long runnerId, GitLabApi.Runner gitlab, List<Long> runningJobs, String gitlabError, RunnerTokens.Expiry tokenExpiry,
                 RunnerTokens.Verdict token, Instant readAt, List<GitLabApi.Manager> managers) {

        /**
         * Deployed, a ready pod, GitLab calls the runner online with a recent contact ({@link GitLabApi.Runner#alive}: its
         * {@code online} alone lasts 2 h after the last contact), and its stored token not expired.
         */
        boolean healthy() {
            return helm != null && "deployed".equals(helm.status()) && podsReady > 0 && gitlab != null && gitlab.alive(readAt)
                    && (token == null || !token.level().equals("fail"));
        }

        /** The row of {@code runners status} (JSON/YAML keys; the table shows a selection). */
        Map<String, Object> row() {
            var m = new LinkedHashMap<String, Object>();
            m.put("type", release.type());
            m.put("release", release.name());
            m.put("revision", helm == null ? null : helm.revision());
            m.put("status", helm == null ? "not installed" : helm.status());
            m.put("chart", helm == null ? null : helm.chart());
            m.put("podsReady", podsReady);
            m.put("pods", pods);
            m.put("hpa", hpa);
            m.put("runnerId", runnerId);
            m.put("online", gitlab == null ? null : gitlab.online());
            m.put("paused", gitlab == null ? null : gitlab.paused());
            m.put("gitlabStatus", gitlab == null ? "unknown" : gitlab.status());
            m.put("version", gitlab == null ? null : gitlab.version());
            m.put("contactedAt", gitlab == null ? null : gitlab.contactedAt());
            m.put("runningJobs", runningJobs == null ? null : runningJobs.size());
            if (managers != null) { // one per manager pod that contacted GitLab with the runner's token
                var list = new ArrayList<Map<String, Object>>();
                for (GitLabApi.Manager g : managers) {
                    var mm = new LinkedHashMap<String, Object>();
                    mm.put("systemId", g.systemId());
                    mm.put("version", g.version());
                    mm.put("contactedAt", g.contactedAt());
                    mm.put("status", g.status());
                    list.add(mm);
                }
                m.put("managers", list);
            }
            m.put("tokenExpiresAt", tokenExpiry == null ? null : tokenExpiry.expires() == null ? RunnerTokens.NEVER : tokenExpiry.expires().toString());
            if (token != null && !token.level().equals("ok")) m.put("tokenWarning", token.text());
            if (gitlabError != null) m.put("gitlabError", gitlabError);
            return m;
        }
    }

    private RunnerFleet() {}

    /**
     * The GitLab runner id of a release, from its token Secret's annotation. No Secret, or one without the annotation
     * (made before gfw recorded it), is {@link ExitCode#NOT_FOUND} with the way out.
     */
    static long runnerId(KubernetesClient client, RunnerValues.Release r) {
        return runnerId(client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get(), r);
    }

    /** As {@link #runnerId(KubernetesClient, RunnerValues.Release)}, from the token Secret already read ({@code s} null: absent). */
    static long runnerId(Secret s, RunnerValues.Release r) {
        if (s == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "runner " + r.type() + " has no token Secret " + r.namespace() + "/" + r.tokenSecret()
                    + ": deploy it first with 'gfw deploy-runners ENV " + r.type() + "'");
        }
        String id = RunnerValues.runnerIdAnnotation(s.getMetadata().getAnnotations());
        Long parsed = RunnerValues.runnerId(id);
        if (parsed == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "Secret " + r.namespace() + "/" + r.tokenSecret() + " has no "
                    + (id == null ? "" : "runner id in its ") + "annotation " + RunnerValues.RUNNER_ID_ANNOTATION
                    + (id == null ? "" : " (" + Output.quote(id) + ")")
                    + ": gfw finds runners by it, never by description; add the runner's id from the group's CI/CD > Runners page with"
                    + " 'kubectl -n " + r.namespace() + " annotate secret " + r.tokenSecret() + " " + RunnerValues.RUNNER_ID_ANNOTATION + "=ID'");
        }
        return parsed;
    }

    /** The runner ids every token Secret in the runner namespace names (whatever its type), with that Secret's name, for prune. */
    static Map<Long, String> referencedRunnerIds(KubernetesClient client, String namespace) {
        var ids = new LinkedHashMap<Long, String>();
        for (Secret s : client.secrets().inNamespace(namespace).list().getItems()) {
            String id = RunnerValues.runnerIdAnnotation(s.getMetadata().getAnnotations());
            Long parsed = RunnerValues.runnerId(id);
            if (parsed != null) ids.put(parsed, s.getMetadata().getName());
        }
        return ids;
    }

    /**
     * One runner type's state: Helm's record, the pods ({@code app=<release>}) and HPA, and — when {@code gitlab} is
     * given — the GitLab runner and its running jobs. A GitLab part that cannot be read (no id, no token, 401, 5xx,
     * timeout) leaves {@code gitlab} null and says why; the cluster parts throw, as every command's API errors do.
     */
    static State read(KubernetesClient client, HelmReleases.JvmHelm helm, String env, RunnerValues.Release r, GitLabApi gitlab, String noGitLab) {
        HelmReleases.Deployed live = helm.get(r.namespace(), r.name());
        List<Pod> pods = client.pods().inNamespace(r.namespace()).withLabel("app", r.name()).list().getItems();
        int ready = (int) pods.stream().filter(RunnerFleet::ready).count();
        HorizontalPodAutoscaler h = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(r.namespace()).withName(r.hpaName()).get();
        Secret secret = client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get();
        RunnerTokens.Expiry expiry = secret == null ? null : RunnerTokens.read(secret.getMetadata().getAnnotations());
        Instant now = Instant.now();
        RunnerTokens.Verdict token = secret == null ? null : RunnerTokens.check(expiry, now, "gfw runners " + env + " rotate-token " + r.type());
        Long id = null;
        GitLabApi.Runner runner = null;
        List<Long> jobs = null;
        List<GitLabApi.Manager> managers = null;
        String why = null;
        try {
            id = runnerId(client, r);
            if (gitlab == null) {
                why = noGitLab;
            } else {
                runner = gitlab.runner(id);
                jobs = gitlab.runningJobs(id);
                managers = gitlab.managers(id);
            }
        } catch (GfwException e) {
            why = e.getMessage();
        }
        return new State(r, live, pods.size(), ready, h == null ? null : hpaText(h), id, runner, jobs, why, expiry, token, now, managers);
    }

    static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    /** "2/3/8": current/desired/max replicas ("?" where the HPA controller has not written its status). */
    static String hpaText(HorizontalPodAutoscaler h) {
        var st = h.getStatus();
        return (st == null || st.getCurrentReplicas() == null ? "?" : st.getCurrentReplicas().toString()) + "/"
                + (st == null || st.getDesiredReplicas() == null ? "?" : st.getDesiredReplicas().toString()) + "/"
                + h.getSpec().getMaxReplicas();
    }

    // ---- pause / resume -------------------------------------------------------------------------

    /** A runner type gfw deployed has its token Secret. */
    static boolean deployed(KubernetesClient client, RunnerValues.Release r) {
        return client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get() != null;
    }

    /** What pause/resume did per type (rows: type, runner, action, detail) and the exit code (the first failure's). */
    record PauseOutcome(List<Map<String, Object>> results, int exitCode) {}

    /**
     * Pauses or resumes each runner ({@code PUT /runners/:id} only where GitLab's state differs: "unchanged" sends
     * nothing; {@code writes} false: "would be ..."). Every runner is tried even when one fails (pause --all is the
     * emergency stop): each failure is a row and one {@code error:} line through {@code errors}. With {@code all} a type
     * that is not deployed (no token Secret) is skipped.
     */
    static PauseOutcome setPaused(KubernetesClient client, GitLabApi api, List<RunnerValues.Release> releases, boolean all, boolean pause,
                                  boolean writes, Consumer<String> errors) {
        var results = new ArrayList<Map<String, Object>>();
        int exit = ExitCode.OK;
        String done = pause ? "paused" : "resumed";
        for (RunnerValues.Release r : releases) {
            Long id = null;
            try {
                if (all && !deployed(client, r)) {
                    results.add(result(r, null, "skipped", "not deployed (no Secret " + r.tokenSecret() + ")"));
                    continue;
                }
                id = runnerId(client, r);
                GitLabApi.Runner now = api.runner(id);
                if (now.paused() == pause) {
                    results.add(result(r, id, "unchanged", "already " + (pause ? "paused" : "active")));
                } else if (!writes) {
                    results.add(result(r, id, "would be " + done, "now " + (now.paused() ? "paused" : "active")));
                } else {
                    api.setPaused(id, pause);
                    results.add(result(r, id, done, now.status()));
                }
            } catch (GfwException e) {
                if (exit == ExitCode.OK) exit = e.exitCode();
                results.add(result(r, id, "failed", e.getMessage()));
                errors.accept("error: " + r.type() + (id == null ? "" : " (runner " + id + ")") + ": " + e.getMessage());
            }
        }
        return new PauseOutcome(results, exit);
    }

    /** One row of what a runners command did to a runner type. */
    static Map<String, Object> result(RunnerValues.Release r, Long runnerId, String action, String detail) {
        var m = new LinkedHashMap<String, Object>();
        m.put("type", r.type());
        m.put("runner", runnerId);
        m.put("action", action);
        m.put("detail", detail);
        return m;
    }

    // ---- restarting a release's pods ------------------------------------------------------------

    /** The annotation {@code kubectl rollout restart} sets on the pod template; Helm's three-way merge keeps it. */
    static final String RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

    /**
     * Rolls the release's Deployment (new pods read the Secret anew) as {@code kubectl rollout restart} does, then waits
     * until every replica is updated and ready, with progress on stderr. False when {@code timeout} passed first.
     */
    /**
     * Before a change in GitLab that the release's pods must follow (rotate-token): its Deployment exists, or
     * {@link ExitCode#NOT_FOUND} naming the runner id and that nothing was changed. Checked first: a token reset in
     * GitLab for pods that do not exist would leave a new token no runner uses and the old one dead.
     */
    static void requireDeployment(KubernetesClient client, RunnerValues.Release r, long runnerId, String env) {
        if (client.apps().deployments().inNamespace(r.namespace()).withName(r.name()).get() == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "runner " + runnerId + " (" + r.name() + "): deployment " + r.namespace() + "/" + r.name()
                    + " does not exist, so no pods could take a new token; nothing was changed (GitLab still accepts the old token);"
                    + " deploy the release first with 'gfw deploy-runners " + env + " " + r.type() + "'");
        }
    }

    static boolean restart(KubernetesClient client, RunnerValues.Release r, Duration timeout, Consumer<String> progress) {
        var deployments = client.apps().deployments().inNamespace(r.namespace());
        if (deployments.withName(r.name()).get() == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "deployment " + r.namespace() + "/" + r.name() + " does not exist: deploy the release first");
        }
        String now = Instant.now().toString();
        Deployment edited = deployments.withName(r.name()).edit(d -> {
            var meta = d.getSpec().getTemplate().getMetadata();
            if (meta.getAnnotations() == null) meta.setAnnotations(new LinkedHashMap<>());
            meta.getAnnotations().put(RESTARTED_AT, now);
            return d;
        });
        long generation = edited.getMetadata().getGeneration() == null ? 0 : edited.getMetadata().getGeneration();
        return waitFor(timeout, Duration.ofSeconds(1), progress, () -> {
            Deployment d = deployments.withName(r.name()).get();
            if (d == null || d.getStatus() == null) return new Poll(false, "waiting for deployment/" + r.name());
            var st = d.getStatus();
            int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
            boolean observed = st.getObservedGeneration() != null && st.getObservedGeneration() >= generation;
            boolean done = observed && n(st.getUpdatedReplicas()) == want && n(st.getReadyReplicas()) >= want && n(st.getReplicas()) == want;
            return new Poll(done, "deployment/" + r.name() + ": " + n(st.getUpdatedReplicas()) + "/" + want + " updated, "
                    + n(st.getReadyReplicas()) + " ready");
        });
    }

    private static int n(Integer i) {
        return i == null ? 0 : i;
    }

    // ---- waiting --------------------------------------------------------------------------------

    /** One look at what a wait waits for: done or not, and what to tell the user. */
    record Poll(boolean done, String says) {}

    /**
     * Polls every {@code every} until done or {@code timeout} passed; says on stderr (through {@code progress}) what it
     * waits for whenever that changes and at least every ten seconds, with the elapsed time. True when done.
     */
    static boolean waitFor(Duration timeout, Duration every, Consumer<String> progress, Supplier<Poll> poll) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        String last = null;
        long lastSaid = 0;
        while (true) {
            Poll p = poll.get();
            if (p.done()) return true;
            long t = System.nanoTime();
            if (!p.says().equals(last) || t - lastSaid >= 10_000_000_000L) {
                progress.accept("  " + p.says() + ", " + Duration.ofNanos(t - start).toSeconds() + " s of " + timeout.toSeconds() + " s");
                last = p.says();
                lastSaid = t;
            }
            if (t >= deadline) return false;
            try {
                Thread.sleep(Math.max(1, Math.min(every.toMillis(), (deadline - t) / 1_000_000 + 1)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    /** A runner {@code prune} looked at: delete it or leave it alone, and why; {@code runner} is its details when read. */
    record PruneRow(GitLabApi.Runner runner, boolean delete, String reason) {}

    /**
     * What {@code prune} does with each runner {@code GET /groups/:id/runners} lists — which are the group's AND its
     * ancestor groups' runners (gitlabhq {@code belonging_to_group_and_ancestors}). It deletes a runner only when all
     * hold: no token Secret references it; gfw created it for this environment (deploy-runners' description
     * {@code gitlab-runner-<type> (<env>, <cluster>)}); and its details ({@code GET /runners/:id}) name the
     * environment's group among its {@code groups}. Everything else is left alone, with the reason. What it says of a
     * runner's contact comes from those details (the list has no {@code contacted_at}).
     */
    static List<PruneRow> prunePlan(GitLabApi api, long groupId, String groupPath, List<GitLabApi.Runner> listed,
                                    Map<Long, String> referenced, String env, String cluster) {
        var rows = new ArrayList<PruneRow>();
        java.util.regex.Pattern gfws = java.util.regex.Pattern.compile("gitlab-runner-[a-z0-9-]+ \\(" + java.util.regex.Pattern.quote(env + ", " + cluster) + "\\)");
        for (GitLabApi.Runner g : listed) {
            if (referenced.containsKey(g.id())) {
                rows.add(new PruneRow(g, false, "in use: Secret " + referenced.get(g.id()) + " holds its token"));
                continue;
            }
            if (g.description() == null || !gfws.matcher(g.description()).matches()) {
                rows.add(new PruneRow(g, false, "not created by gfw for " + env + " on " + cluster));
                continue;
            }
            GitLabApi.Runner d;
            try {
                d = api.runner(g.id());
            } catch (GfwException e) {
                rows.add(new PruneRow(g, false, "its details could not be read, so its group is unknown: " + e.getMessage()));
                continue;
            }
            List<Long> groups = d.groupIds() == null ? List.of() : d.groupIds();
            if (!groups.contains(groupId)) {
                rows.add(new PruneRow(d, false, groups.isEmpty() ? "owned by a group the token cannot see, not " + groupPath
                        : "owned by group " + groups.get(0) + ", not " + groupPath + " (" + groupId + "): GitLab lists ancestor groups' runners too"));
                continue;
            }
            String contact = d.contactedAt() == null ? "never contacted GitLab" : "last contact " + d.contactedAt();
            rows.add(new PruneRow(d, true, "created by gfw for " + env + ", no token Secret references it; " + d.status() + ", " + contact));
        }
        return rows;
    }

    /** True when GitLab says the runner is online and contacted it at or after {@code since}. */
    static boolean onlineSince(GitLabApi.Runner r, Instant since) {
        if (!r.online() || r.contactedAt() == null) return false;
        try {
            return !OffsetDateTime.parse(r.contactedAt()).toInstant().isBefore(since.minusSeconds(1));
        } catch (RuntimeException e) {
            return false;
        }
    }
}
