// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../core/HealthReport.java
//SOURCES HealthState.java
//SOURCES HealthChecks.java
//SOURCES ../runners/RunnerReap.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The runners' real capacity, for health. The manager pods' HPA scales on the managers' own CPU and memory, which stay
 * low while jobs run in pods of their own: it says nothing about the job load. What does: the job pods running (pods with
 * the Kubernetes executor's {@code job.runner.gitlab.com/id} annotation, Pending or Running, not being deleted) against
 * the job slots, {@code concurrent} × ready manager pods summed over the types, and the runner namespace's
 * ResourceQuota headroom in pods (status.hard − status.used), which must leave room for the free slots.
 */
final class RunnerCapacity {
    private RunnerCapacity() {}

    static HealthReport.Row row(EnvConfig.Env env, HealthState.Read<Pod> pods, HealthState.Read<ResourceQuota> quotas) {
        String check = "capacity";
        if (!pods.ok()) return HealthReport.unknown("runners", check, "could not read the pods: " + pods.error(), pods.source());
        int slots = 0;
        var per = new ArrayList<String>();
        for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
            long managers = pods.items().stream().filter(HealthChecks.labelled("app", r.name())).filter(HealthChecks::ready).count();
            if (managers == 0) continue;
            slots += r.runner().concurrent() * managers;
            per.add(r.type() + " " + r.runner().concurrent() + " × " + managers);
        }
        long jobs = pods.items().stream().filter(RunnerCapacity::activeJob).count();
        String detail = jobs + " of " + slots + " job slots busy (concurrent × ready managers: " + (per.isEmpty() ? "none ready" : String.join(", ", per)) + ")";
        String source = pods.source() + ", " + quotas.source();
        Integer headroom = null;
        if (quotas.ok()) {
            for (ResourceQuota q : quotas.items()) {
                if (q.getStatus() == null || q.getStatus().getHard() == null || q.getStatus().getUsed() == null) continue;
                Integer h = count(q.getStatus().getHard()), u = count(q.getStatus().getUsed());
                if (h == null || u == null) continue;
                int left = Math.max(0, h - u);
                headroom = headroom == null ? left : Math.min(headroom, left);
                detail += "; quota " + q.getMetadata().getName() + ": " + u + " of " + h + " pods";
            }
        }
        if (slots > 0 && jobs >= slots) return HealthReport.warn("runners", check, detail + ": every slot is busy, new jobs wait", source);
        long free = Math.max(0, slots - jobs);
        if (headroom != null && headroom < free) {
            return HealthReport.warn("runners", check, detail + ": the quota leaves room for " + headroom + " more pods, the runners may start "
                    + free + " more jobs (their pods would wait for quota)", source);
        }
        return HealthReport.ok("runners", check, detail, source);
    }

    /** A job pod that holds a slot: made by the Kubernetes executor, Pending or Running, not being deleted. */
    static boolean activeJob(Pod p) {
        Map<String, String> ann = p.getMetadata().getAnnotations();
        if (ann == null || !ann.containsKey(RunnerReap.JOB_ID) || p.getMetadata().getDeletionTimestamp() != null) return false;
        String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
        return phase == null || phase.equals("Pending") || phase.equals("Running");
    }

    private static Integer count(Map<String, Quantity> m) {
        Quantity q = m.get("pods");
        if (q == null) return null;
        try {
            return Quantity.getAmountInBytes(q).intValue();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
