// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../kube/Watches.java

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * {@code gfw cache ENV gc --wait}: following the one-off garbage-collection Job until the Job controller says how it
 * ended, as {@code kubectl wait --for=condition=complete} does (a watch on the Job, no polling): its Complete or
 * Failed condition (kubernetes pkg/controller/job/job_controller.go: Complete once the succeeded pods reach
 * completions, Failed with reason BackoffLimitExceeded once more pods failed than backoffLimit allows, 0 here), with
 * progress whenever the counts change. A Job that cannot make its pod (FailedCreate: a missing ServiceAccount, a
 * quota) changes no status: the time running out names the Job's last warning event, so the reason is on screen.
 */
final class CacheGc {

    /**
     * Waits for Job {@code ns/name} until {@code deadlineNanos}; returns normally when it completed. Throws
     * {@link ExitCode#CHECK_FAILED} when it failed (the condition's reason and message, and how its pod ended) or the
     * time ran out ({@code timeoutText} names the flag's value). {@code progress} gets a line whenever the counts change.
     */
    static void await(KubernetesClient client, String ns, String name, long deadlineNanos, String timeoutText, Consumer<String> progress) {
        var last = new AtomicReference<String>();
        Watches.Ended<Job> end = Watches.until(client.batch().v1().jobs().inNamespace(ns).withName(name), j -> {
            if (j == null) return true; // deleted meanwhile: said below
            if (condition(j, "Complete") != null || condition(j, "Failed") != null) return true;
            String now = "job/" + name + ": " + counts(j);
            if (!now.equals(last.getAndSet(now))) progress.accept(now);
            return false;
        }, deadlineNanos);
        Job j = end.last();
        String ref = "job.batch/" + name;
        if (end.done() && j == null) throw new GfwException(ExitCode.CHECK_FAILED, ref + " was deleted before it completed");
        if (end.done() && condition(j, "Complete") != null) {
            progress.accept("job/" + name + ": complete (" + counts(j) + ")");
            return;
        }
        String logs = "'kubectl -n " + ns + " logs job/" + name + "'";
        if (end.done()) {
            JobCondition failed = condition(j, "Failed");
            throw new GfwException(ExitCode.CHECK_FAILED, ref + " failed (" + failed.getReason() + ": " + failed.getMessage()
                    + podEnding(client, ns, name) + "); see its log: " + logs);
        }
        String warning = lastWarning(client, ns, name);
        throw new GfwException(ExitCode.CHECK_FAILED, ref + " not complete after " + timeoutText + " (--timeout): " + (j == null ? "no Job" : counts(j))
                + (warning == null ? "" : "; last warning: " + warning) + "; it goes on: 'kubectl -n " + ns + " get job " + name + "', " + logs);
    }

    static String counts(Job j) {
        var st = j.getStatus();
        int active = st == null || st.getActive() == null ? 0 : st.getActive();
        int succeeded = st == null || st.getSucceeded() == null ? 0 : st.getSucceeded();
        int failed = st == null || st.getFailed() == null ? 0 : st.getFailed();
        return active + " active, " + succeeded + " succeeded, " + failed + " failed";
    }

    /** The condition {@code type} when it is True, else null. */
    static JobCondition condition(Job j, String type) {
        if (j == null || j.getStatus() == null || j.getStatus().getConditions() == null) return null;
        return j.getStatus().getConditions().stream().filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus())).findFirst().orElse(null);
    }

    /** How the Job's pods (label batch.kubernetes.io/job-name, which the Job controller sets) ended: "; pod X exited 1 (Error)". */
    private static String podEnding(KubernetesClient client, String ns, String name) {
        var out = new ArrayList<String>();
        for (Pod p : client.pods().inNamespace(ns).withLabel("batch.kubernetes.io/job-name", name).list().getItems()) {
            if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) continue;
            for (var c : p.getStatus().getContainerStatuses()) {
                var t = c.getState() == null ? null : c.getState().getTerminated();
                if (t != null) out.add("pod " + p.getMetadata().getName() + " exited " + t.getExitCode() + (t.getReason() == null ? "" : " (" + t.getReason() + ")"));
            }
        }
        out.sort(null);
        return out.isEmpty() ? "" : "; " + String.join(", ", out);
    }

    /** The newest Warning event about the Job ("FailedCreate: ..."), or null. */
    private static String lastWarning(KubernetesClient client, String ns, String name) {
        List<Event> events = client.v1().events().inNamespace(ns).withField("involvedObject.name", name).list().getItems();
        return events.stream().filter(e -> "Warning".equals(e.getType()))
                .max(Comparator.comparing((Event e) -> String.valueOf(e.getLastTimestamp() != null ? e.getLastTimestamp() : e.getMetadata().getCreationTimestamp())))
                .map(e -> e.getReason() + ": " + e.getMessage()).orElse(null);
    }

    private CacheGc() {}
}
