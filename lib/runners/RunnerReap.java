// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../gitlab/GitLabApi.java

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Job pods left behind in the runner namespace ({@code runners ENV reap}). A job pod is one the Kubernetes executor
 * made: it carries the annotations {@code job.runner.gitlab.com/id} and {@code project.runner.gitlab.com/id} (gitlab-runner
 * docs/executors/kubernetes, "Default annotations for job Pods"; {@code job.runner.gitlab.com/timeout}, the job's
 * timeout as a Go duration, since runner 16.x). Stuck are: a pod Terminating past its grace period (its
 * {@code deletionTimestamp} is when the grace period ends: a node that is gone never confirms), a pod Pending longer
 * than its job's timeout (default 1 h, GitLab's default job timeout), and a pod whose GitLab job is no longer running
 * ({@code GET /projects/:id/jobs/:job_id}: success, failed, canceled, skipped, manual). With {@code -y} a Terminating
 * pod is deleted with grace period 0 (as {@code kubectl delete --force --grace-period=0}), the others normally.
 */
final class RunnerReap {
    private RunnerReap() {}

    static final String JOB_ID = "job.runner.gitlab.com/id";
    static final String PROJECT_ID = "project.runner.gitlab.com/id";
    static final String JOB_URL = "job.runner.gitlab.com/url";
    static final String JOB_TIMEOUT = "job.runner.gitlab.com/timeout";
    static final Duration DEFAULT_JOB_TIMEOUT = Duration.ofHours(1);
    /** GitLab job statuses after which no pod of the job should be left (Ci::HasStatus COMPLETED_STATUSES, manual). */
    static final Set<String> FINISHED = Set.of("success", "failed", "canceled", "skipped", "manual");

    /** A job pod to reap and why; {@code terminating}: it already has a deletionTimestamp. */
    record Stuck(String pod, String phase, String job, String reason, boolean terminating) {
        Map<String, Object> row(String action) {
            var m = new LinkedHashMap<String, Object>();
            m.put("pod", pod);
            m.put("phase", terminating ? "Terminating" : phase);
            m.put("job", job);
            m.put("reason", reason);
            m.put("action", action);
            return m;
        }
    }

    /** The stuck job pods of {@code namespace}, by name; {@code api} null: GitLab's job status is not asked. */
    static List<Stuck> find(KubernetesClient client, String namespace, GitLabApi api, Instant now) {
        var out = new ArrayList<Stuck>();
        var pods = new ArrayList<>(client.pods().inNamespace(namespace).list().getItems());
        pods.sort((a, b) -> a.getMetadata().getName().compareTo(b.getMetadata().getName()));
        for (Pod p : pods) {
            Map<String, String> ann = p.getMetadata().getAnnotations();
            if (ann == null || ann.get(JOB_ID) == null) continue;
            String name = p.getMetadata().getName();
            String phase = p.getStatus() == null || p.getStatus().getPhase() == null ? "Unknown" : p.getStatus().getPhase();
            String job = ann.get(JOB_URL) != null ? ann.get(JOB_URL) : "job " + ann.get(JOB_ID);
            Instant deletion = instant(p.getMetadata().getDeletionTimestamp());
            if (deletion != null) {
                if (!now.isBefore(deletion)) {
                    out.add(new Stuck(name, phase, job, "Terminating " + Duration.between(deletion, now).toSeconds()
                            + " s past its grace period (its node does not confirm the deletion)", true));
                }
                continue;
            }
            Instant created = instant(p.getMetadata().getCreationTimestamp());
            Duration timeout = goDuration(ann.get(JOB_TIMEOUT));
            if (timeout == null) timeout = DEFAULT_JOB_TIMEOUT;
            if ("Pending".equals(phase) && created != null && Duration.between(created, now).compareTo(timeout) > 0) {
                out.add(new Stuck(name, phase, job, "Pending for " + Duration.between(created, now).toSeconds()
                        + " s, longer than the job's timeout (" + timeout.toSeconds() + " s)", false));
                continue;
            }
            if (api != null && ann.get(PROJECT_ID) != null && ann.get(JOB_ID).matches("\\d+")) {
                try {
                    GitLabApi.Job j = api.job(ann.get(PROJECT_ID), Long.parseLong(ann.get(JOB_ID)));
                    if (j.status() != null && FINISHED.contains(j.status())) {
                        out.add(new Stuck(name, phase, j.webUrl() != null ? j.webUrl() : job, "its GitLab job is " + j.status(), false));
                    }
                } catch (GfwException e) {
                    if (e.exitCode() != ExitCode.NOT_FOUND) throw e;
                    out.add(new Stuck(name, phase, job, "GitLab has no such job (deleted, or its project is gone)", false));
                }
            }
        }
        return out;
    }

    /** Deletes one stuck pod: a Terminating one with grace period 0, the others with their own. */
    static void delete(KubernetesClient client, String namespace, Stuck s) {
        var pod = client.pods().inNamespace(namespace).withName(s.pod());
        if (s.terminating()) pod.withGracePeriod(0).delete();
        else pod.delete();
    }

    private static Instant instant(String t) {
        if (t == null || t.isBlank()) return null;
        try {
            return OffsetDateTime.parse(t).toInstant();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static final Pattern GO_PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(h|ms|m|s|us|µs|ns)");

    /** A Go duration ({@code time.Duration.String()}: "1h0m0s", "2h3m0.5s", "90s"), or null. */
    static Duration goDuration(String s) {
        if (s == null || s.isBlank() || s.length() > 64) return null;
        Matcher m = GO_PART.matcher(s.trim());
        long nanos = 0;
        int end = 0;
        while (m.find()) {
            if (m.start() != end) return null;
            double v = Double.parseDouble(m.group(1));
            nanos += (long) (v * switch (m.group(2)) {
                case "h" -> 3.6e12;
                case "m" -> 6e10;
                case "s" -> 1e9;
                case "ms" -> 1e6;
                case "us", "µs" -> 1e3;
                default -> 1;
            });
            end = m.end();
        }
        return end == s.trim().length() && end > 0 ? Duration.ofNanos(nanos) : null;
    }
}
