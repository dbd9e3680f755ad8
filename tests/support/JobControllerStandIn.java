import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * What the Job controller and the kubelet do for a batch/v1 Job whose one pod runs to its end, in the namespaces it
 * is given (the test API server runs no controllers): it writes the status the controller writes when the pod
 * exited 0 (kubernetes pkg/controller/job/job_controller.go: {@code startTime}, {@code succeeded: 1},
 * {@code completionTime}, conditions {@code SuccessCriteriaMet} and {@code Complete}), or, for a Job the test marks
 * as failing, what it writes once {@code backoffLimit} is exhausted ({@code failed}, conditions
 * {@code FailureTarget} and {@code Failed} with reason {@code BackoffLimitExceeded}). A Job is finished once and
 * never touched again. Polls every 100 ms on its own daemon thread; {@link #paused} stops the polls.
 */
final class JobControllerStandIn implements AutoCloseable {

    private final KubernetesClient kube;
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean closed;
    volatile boolean paused;
    /** Jobs whose pod fails (by Job). */
    volatile Predicate<Job> failing = j -> false;
    /** Jobs held running (not finished) while this is true of them. */
    volatile Predicate<Job> holding = j -> false;
    /** "ns/name" of every Job finished, in order, with " Complete" or " Failed". */
    final List<String> finished = new CopyOnWriteArrayList<>();

    JobControllerStandIn(KubernetesClient kube) {
        this.kube = kube;
        thread = new Thread(this::loop, "job-controller-stand-in");
        thread.setDaemon(true);
        thread.start();
    }

    void watch(String namespace) {
        namespaces.add(namespace);
    }

    private void loop() {
        while (!closed) {
            if (!paused) {
                for (String ns : namespaces) {
                    try {
                        jobs(ns);
                    } catch (RuntimeException e) {
                        // the namespace went away, or a write raced a test's: the next poll retries
                    }
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void jobs(String ns) {
        for (Job job : kube.batch().v1().jobs().inNamespace(ns).list().getItems()) {
            var st = job.getStatus();
            boolean done = st != null && st.getConditions() != null && st.getConditions().stream()
                    .anyMatch(c -> "True".equals(c.getStatus()) && ("Complete".equals(c.getType()) || "Failed".equals(c.getType())));
            if (done || holding.test(job)) continue;
            String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
            boolean fail = failing.test(job);
            var status = new JobStatusBuilder().withStartTime(now).withReady(0).withTerminating(0);
            if (fail) {
                int limit = job.getSpec().getBackoffLimit() == null ? 6 : job.getSpec().getBackoffLimit();
                status.withFailed(limit + 1).withConditions(
                        new JobConditionBuilder().withType("FailureTarget").withStatus("True").withReason("BackoffLimitExceeded")
                                .withMessage("Job has reached the specified backoff limit").withLastProbeTime(now).withLastTransitionTime(now).build(),
                        new JobConditionBuilder().withType("Failed").withStatus("True").withReason("BackoffLimitExceeded")
                                .withMessage("Job has reached the specified backoff limit").withLastProbeTime(now).withLastTransitionTime(now).build());
            } else {
                status.withSucceeded(1).withCompletionTime(now).withConditions(
                        new JobConditionBuilder().withType("SuccessCriteriaMet").withStatus("True").withReason("CompletionsReached")
                                .withMessage("Reached expected number of succeeded pods").withLastProbeTime(now).withLastTransitionTime(now).build(),
                        new JobConditionBuilder().withType("Complete").withStatus("True").withReason("CompletionsReached")
                                .withMessage("Reached expected number of succeeded pods").withLastProbeTime(now).withLastTransitionTime(now).build());
            }
            job.setStatus(status.build());
            kube.batch().v1().jobs().inNamespace(ns).resource(job).updateStatus();
            finished.add(ns + "/" + job.getMetadata().getName() + (fail ? " Failed" : " Complete"));
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
