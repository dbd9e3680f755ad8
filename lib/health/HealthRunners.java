// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES ../runners/RunnerTokens.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../cache/CiCacheToken.java
//SOURCES ../core/HealthReport.java
//SOURCES HealthState.java
//SOURCES HealthChecks.java
//SOURCES ../core/Times.java
//SOURCES RunnerCapacity.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The runner checks, per runner type of the environment: the Helm release (status and revision from
 * Helm's own release records, Secrets {@code sh.helm.release.v1.NAME.vN} labelled owner=helm, so no
 * Helm has to load), its pods (ready, restarts, crash loops), HPA (current/desired/max), PDB, and
 * what GitLab says of the runner ({@code GET /api/v4/runners/:id}: online, paused, status,
 * contacted_at; see {@link #gitlabRow}), and the stored token's expiry ({@link RunnerTokens}). The runner is found by the
 * id deploy-runners stores on the token Secret ({@link RunnerValues#RUNNER_ID_ANNOTATION}), never by description.
 */
final class HealthRunners {

    /** What GitLab access health has: an API client, or the reason there is none (then GitLab rows are unknown). */
    record GitLab(GitLabApi api, String missing) {}

    static List<HealthReport.Row> runners(EnvConfig.Env env, HealthState s, GitLab gitlab) {
        var rows = new ArrayList<HealthReport.Row>();
        String ns = env.namespaces().runners().name();
        HealthState.Read<Secret> secrets = s.secrets(ns);
        HealthState.Read<Pod> pods = s.pods(ns);
        HealthState.Read<HorizontalPodAutoscaler> hpas = s.hpas(ns);
        HealthState.Read<PodDisruptionBudget> pdbs = s.pdbs(ns);
        List<RunnerValues.Release> releases = RunnerValues.select(env, List.of());
        // GitLab answers in parallel: one GET per runner, all at once (the common pool has one thread on 2 cores).
        var fromGitLab = new ArrayList<CompletableFuture<HealthReport.Row>>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(Math.max(1, Math.min(8, releases.size())), r -> {
            Thread t = new Thread(r, "health-gitlab");
            t.setDaemon(true);
            return t;
        });
        try {
            for (RunnerValues.Release r : releases) fromGitLab.add(CompletableFuture.supplyAsync(() -> gitlab(r, secrets, gitlab), pool));
            for (var f : fromGitLab) f.join();
        } finally {
            pool.shutdown();
        }
        for (int i = 0; i < releases.size(); i++) {
            RunnerValues.Release r = releases.get(i);
            rows.add(release(r, secrets));
            if (!pods.ok()) rows.add(HealthReport.unknown("runners", r.type() + " pods", "could not read them: " + pods.error(), pods.source()));
            else rows.add(HealthChecks.pods("runners", r.type() + " pods", pods.items().stream().filter(HealthChecks.labelled("app", r.name())).toList(),
                    1, pods.source() + " -l app=" + r.name()));
            rows.add(hpa(r, hpas));
            rows.add(pdb(r, pdbs));
            rows.add(fromGitLab.get(i).join());
            rows.add(token(env, r, secrets));
            if (CiCacheToken.RUNNER_TYPE.equals(r.type())) rows.add(cacheToken(env, secrets));
        }
        rows.add(RunnerCapacity.row(env, pods, s.quotas(ns)));
        return rows;
    }

    /** The CI jobs' cache token (lib/cache/CiCacheToken): missing fails (the nix job pods cannot start), within 14 days of its expiry warns. */
    static HealthReport.Row cacheToken(EnvConfig.Env env, HealthState.Read<Secret> secrets) {
        String check = CiCacheToken.RUNNER_TYPE + " cache token";
        String source = secrets.source() + " " + CiCacheToken.SECRET;
        if (!secrets.ok()) return HealthReport.unknown("runners", check, "could not read secrets: " + secrets.error(), source);
        Secret s = secrets.items().stream().filter(x -> CiCacheToken.SECRET.equals(x.getMetadata().getName())).findFirst().orElse(null);
        if (s == null) {
            return HealthReport.fail("runners", check, "secret " + CiCacheToken.SECRET + " is missing: the " + CiCacheToken.RUNNER_TYPE
                    + " runner's job pods mount it; 'gfw attic-token " + env.name() + " --ci' writes it", source);
        }
        Instant exp = CiCacheToken.expiresAt(s);
        if (exp == null) return HealthReport.unknown("runners", check, "no " + CiCacheToken.EXPIRES_ANNOTATION + " annotation on secret " + CiCacheToken.SECRET, source);
        Duration left = Duration.between(Instant.now(), exp);
        String rotate = "; 'gfw attic-token " + env.name() + " --rotate' replaces it";
        if (left.isNegative()) return HealthReport.fail("runners", check, "expired " + exp + rotate, source);
        if (left.toDays() < CiCacheToken.WARN_DAYS) return HealthReport.warn("runners", check, "expires " + exp + ", in " + Times.human(left) + rotate, source);
        return HealthReport.ok("runners", check, "expires " + exp + " (in " + left.toDays() + " days)", source);
    }

    /** The newest of Helm's release records: its status and revision. */
    private static HealthReport.Row release(RunnerValues.Release r, HealthState.Read<Secret> secrets) {
        String check = r.type() + " release";
        String source = secrets.source() + " -l owner=helm,name=" + r.name();
        if (!secrets.ok()) return HealthReport.unknown("runners", check, "could not read Helm's release records: " + secrets.error(), source);
        Secret newest = secrets.items().stream()
                .filter(HealthChecks.labelled("owner", "helm")).filter(HealthChecks.labelled("name", r.name()))
                .max(Comparator.comparingInt(HealthRunners::revision)).orElse(null);
        if (newest == null) return HealthReport.fail("runners", check, r.name() + " is not installed; 'gfw deploy-runners ENV " + r.type() + "' installs it", source);
        String status = newest.getMetadata().getLabels().getOrDefault("status", "");
        String detail = r.name() + " revision " + revision(newest) + ", " + (status.isEmpty() ? "no status label" : status);
        if (status.equals("deployed")) return HealthReport.ok("runners", check, detail, source);
        if (status.startsWith("pending")) return HealthReport.warn("runners", check, detail + " (a Helm operation is running or was interrupted)", source);
        return HealthReport.fail("runners", check, detail, source);
    }

    private static int revision(Secret s) {
        try {
            return Integer.parseInt(s.getMetadata().getLabels().getOrDefault("version", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static HealthReport.Row hpa(RunnerValues.Release r, HealthState.Read<HorizontalPodAutoscaler> hpas) {
        String check = r.type() + " hpa";
        if (!hpas.ok()) return HealthReport.unknown("runners", check, "could not read it: " + hpas.error(), hpas.source());
        HorizontalPodAutoscaler h = hpas.items().stream().filter(x -> x.getMetadata().getName().equals(r.hpaName())).findFirst().orElse(null);
        if (h == null) return HealthReport.warn("runners", check, r.hpaName() + " not found: the runner does not scale; 'gfw deploy-runners' applies it", hpas.source());
        int max = h.getSpec().getMaxReplicas() == null ? 0 : h.getSpec().getMaxReplicas();
        if (h.getStatus() == null || h.getStatus().getCurrentReplicas() == null) {
            return HealthReport.unknown("runners", check, r.hpaName() + " has no status yet (the autoscaler has not reported), max " + max, hpas.source());
        }
        int current = h.getStatus().getCurrentReplicas();
        int desired = h.getStatus().getDesiredReplicas() == null ? current : h.getStatus().getDesiredReplicas();
        String detail = "current " + current + ", desired " + desired + ", max " + max;
        // The HPA scales manager pods on their own cpu/memory, which idle while jobs run in their own pods: at its maximum
        // says nothing about jobs queueing. The capacity row (RunnerCapacity) says that.
        return HealthReport.ok("runners", check, detail + " (manager pods, by their cpu/memory; job load: see capacity)", hpas.source());
    }

    private static HealthReport.Row pdb(RunnerValues.Release r, HealthState.Read<PodDisruptionBudget> pdbs) {
        String check = r.type() + " pdb";
        if (!pdbs.ok()) return HealthReport.unknown("runners", check, "could not read it: " + pdbs.error(), pdbs.source());
        PodDisruptionBudget p = pdbs.items().stream().filter(x -> x.getMetadata().getName().equals(r.pdbName())).findFirst().orElse(null);
        if (p == null) return HealthReport.warn("runners", check, r.pdbName() + " not found: a node drain may take every manager pod at once", pdbs.source());
        String budget = p.getSpec().getMaxUnavailable() != null ? "maxUnavailable " + text(p.getSpec().getMaxUnavailable())
                : p.getSpec().getMinAvailable() != null ? "minAvailable " + text(p.getSpec().getMinAvailable()) : "no budget";
        Integer allowed = p.getStatus() == null ? null : p.getStatus().getDisruptionsAllowed();
        return HealthReport.ok("runners", check, r.pdbName() + " " + budget + (allowed == null ? "" : ", " + allowed + " disruptions allowed"), pdbs.source());
    }

    private static String text(io.fabric8.kubernetes.api.model.IntOrString v) {
        return v.getIntVal() != null ? String.valueOf(v.getIntVal()) : String.valueOf(v.getStrVal());
    }

    /** What GitLab says of the runner whose id the token Secret carries. */
    private static HealthReport.Row gitlab(RunnerValues.Release r, HealthState.Read<Secret> secrets, GitLab gitlab) {
        String check = r.type() + " gitlab";
        String source = "secret " + r.tokenSecret() + " annotation " + RunnerValues.RUNNER_ID_ANNOTATION;
        if (!secrets.ok()) return HealthReport.unknown("runners", check, "could not read Secret " + r.tokenSecret() + ": " + secrets.error(), secrets.source());
        Secret token = secrets.items().stream().filter(x -> x.getMetadata().getName().equals(r.tokenSecret())).findFirst().orElse(null);
        if (token == null) return HealthReport.unknown("runners", check, "no Secret " + r.tokenSecret() + ", so no runner id to ask GitLab about", secrets.source());
        String id = RunnerValues.runnerIdAnnotation(token.getMetadata().getAnnotations());
        Long parsed = RunnerValues.runnerId(id);
        if (parsed == null) {
            return HealthReport.unknown("runners", check, "Secret " + r.tokenSecret() + " has no runner id (annotation " + RunnerValues.RUNNER_ID_ANNOTATION
                    + (id == null ? "" : " is " + Output.quote(id)) + "); deploy-runners records it when it creates the runner", source);
        }
        if (gitlab.api() == null) return HealthReport.unknown("runners", check, "runner " + id + ": " + gitlab.missing(), source);
        String api = "GET " + gitlab.api().baseUrl() + "/api/v4/runners/" + id;
        GitLabApi.Runner runner;
        try {
            runner = gitlab.api().runner(parsed);
        } catch (GfwException e) {
            return HealthReport.unknown("runners", check, "runner " + id + ": " + e.getMessage(), api);
        }
        return gitlabRow(check, id, runner, Instant.now(), api);
    }

    /**
     * GitLab's status decides (deprecated_rest_status: online, offline, stale, never_contacted, paused); online or paused
     * is only ok (paused: a warning) when the last contact is recent enough for a runner that is still there
     * ({@link GitLabApi.Runner#alive}): GitLab keeps {@code online} for 2 hours after the last contact.
     */
    static HealthReport.Row gitlabRow(String check, String id, GitLabApi.Runner runner, Instant now, String api) {
        boolean online = runner.online();
        boolean paused = runner.paused();
        String status = runner.status() == null ? "?" : runner.status();
        String contacted = runner.contactedAt() == null ? "never" : runner.contactedAt();
        boolean reachable = status.equals("online") || status.equals("paused");
        // status says it; the online flag only where it disagrees, paused where status does not say it
        String detail = "runner " + id + ": " + status + (online == reachable ? "" : ", online: " + online)
                + (paused && !status.equals("paused") ? ", paused" : "") + ", contacted " + contacted;
        if (!online || !reachable) return HealthReport.fail("runners", check, detail, api);
        if (!runner.alive(now)) {
            Duration since = runner.sinceContact(now);
            return HealthReport.warn("runners", check, detail + " (" + (since == null ? "unreadable contact time" : ago(since) + " ago")
                    + "): GitLab keeps a runner online for 2 h after its last contact, but a live one contacts it at least every "
                    + GitLabApi.Runner.CONTACT_FRESH.toMinutes() + " min: its managers may be gone", api);
        }
        if (paused) return HealthReport.warn("runners", check, detail + " (it takes no jobs until resumed)", api);
        return HealthReport.ok("runners", check, detail, api);
    }

    private static String ago(Duration d) {
        long m = d.toMinutes();
        return m < 60 ? m + " min" : (m / 60) + " h " + (m % 60) + " min";
    }

    /** The stored token's expiry, as deploy-runners or rotate-token recorded it on the token Secret. */
    private static HealthReport.Row token(EnvConfig.Env env, RunnerValues.Release r, HealthState.Read<Secret> secrets) {
        String check = r.type() + " token";
        String source = "secret " + r.tokenSecret() + " annotation " + RunnerTokens.EXPIRES_AT_ANNOTATION;
        if (!secrets.ok()) return HealthReport.unknown("runners", check, "could not read Secret " + r.tokenSecret() + ": " + secrets.error(), secrets.source());
        Secret token = secrets.items().stream().filter(x -> x.getMetadata().getName().equals(r.tokenSecret())).findFirst().orElse(null);
        if (token == null) return HealthReport.unknown("runners", check, "no Secret " + r.tokenSecret(), secrets.source());
        var verdict = RunnerTokens.check(RunnerTokens.read(token.getMetadata().getAnnotations()), Instant.now(),
                "gfw runners " + env.name() + " rotate-token " + r.type());
        return switch (verdict.level()) {
            case "ok" -> HealthReport.ok("runners", check, verdict.text(), source);
            case "warn" -> HealthReport.warn("runners", check, verdict.text(), source);
            case "fail" -> HealthReport.fail("runners", check, verdict.text(), source);
            default -> HealthReport.unknown("runners", check, verdict.text(), source);
        };
    }

    private HealthRunners() {}
}
