// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES RunnerValues.java
//SOURCES RunnerFleet.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * An upgrade that restarts a runner's manager pods without killing its jobs, as GitLab's runner upgrade notes ask
 * (pause the runner, wait until its running jobs are done, upgrade, resume): before the upgrade the runner is paused in
 * GitLab ({@code PUT /runners/:id paused=true}) and gfw waits until {@code GET /runners/:id/jobs?status=running} is
 * empty, at most {@code --drain-timeout}; after it, the runner is resumed — only when gfw paused it. A release whose
 * changes do not touch the pods (only {@code replicas}, which the HPA owns anyway), or a no-op, pauses nothing.
 */
final class RunnerDrain {
    private RunnerDrain() {}

    /** A runner gfw paused for an upgrade (resume it afterwards); null: nothing was paused. */
    record Paused(long runnerId, String release) {}

    /**
     * Whether these Helm changes (lines of {@code HelmReleases.valueChanges}, "chart: …", "status: …") roll the manager
     * pods: every value but {@code replicas} reaches the pod template or the ConfigMap its checksum annotation follows
     * (the chart's templates/deployment.yaml {@code checksum/configmap}, {@code checksum/secrets}).
     */
    static boolean restartsPods(List<String> changes) {
        return changes.stream().anyMatch(c -> !c.startsWith("replicas:"));
    }

    /**
     * Before an upgrade with {@code changes}: pause the runner and wait for its running jobs. Nothing when no GitLab
     * client is given (no token), when the release is not deployed with a runner id, when the changes do not restart
     * pods, or when {@code timeout} is zero. A runner already paused (by an operator) is waited for, not resumed later.
     * Jobs still running after {@code timeout}: the runner is resumed and the upgrade refused ({@link ExitCode#CHECK_FAILED}).
     */
    static Paused before(KubernetesClient client, GitLabApi api, RunnerValues.Release r, List<String> changes, Duration timeout,
                         Duration poll, Consumer<String> info) {
        if (api == null || timeout.isZero() || !restartsPods(changes) || !RunnerFleet.deployed(client, r)) return null;
        long id = RunnerFleet.runnerId(client, r);
        GitLabApi.Runner now = api.runner(id);
        boolean pausedHere = !now.paused();
        if (pausedHere) api.setPaused(id, true);
        String who = "runner " + id + " (" + r.name() + ")";
        info.accept(who + ": " + (pausedHere ? "paused" : "already paused") + " in GitLab before the upgrade restarts its pods;"
                + " waiting for its running jobs (--drain-timeout " + timeout.toSeconds() + " s)");
        var running = new java.util.concurrent.atomic.AtomicReference<List<Long>>(List.of());
        boolean drained = RunnerFleet.waitFor(timeout, poll, info, () -> {
            running.set(api.runningJobs(id));
            return new RunnerFleet.Poll(running.get().isEmpty(), who + ": " + running.get().size() + " running job"
                    + (running.get().size() == 1 ? "" : "s") + " " + running.get());
        });
        if (!drained) {
            if (pausedHere) api.setPaused(id, false);
            throw new GfwException(ExitCode.CHECK_FAILED, who + " still runs jobs " + running.get() + " after --drain-timeout "
                    + timeout.toSeconds() + " s: release " + r.name() + " was not upgraded" + (pausedHere ? " and the runner is resumed" : "")
                    + "; re-run with a longer --drain-timeout, or --drain-timeout 0 to upgrade without waiting (its jobs are killed)");
        }
        info.accept(who + ": no running job; upgrading");
        return pausedHere ? new Paused(id, r.name()) : null;
    }

    /** After the upgrade (done or failed): resume the runner gfw paused. */
    static void after(GitLabApi api, Paused paused, Consumer<String> info) {
        if (paused == null) return;
        api.setPaused(paused.runnerId(), false);
        info.accept("runner " + paused.runnerId() + " (" + paused.release() + "): resumed in GitLab");
    }
}
