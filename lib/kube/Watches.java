// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * Waiting for an object with a watch, as {@code kubectl rollout status} and {@code kubectl wait} do: one
 * informer on the object (a LIST, then a WATCH that the server keeps open), the condition checked on every
 * event; no polling. {@code done} sees the object as it is now (null while it does not exist) and may print
 * progress itself; it runs on the informer's thread.
 */
final class Watches {

    /** How a wait ended: {@code done}, and the object as last seen (null if never). */
    record Ended<T>(boolean done, T last) {}

    /** Waits until {@code done} holds or {@code deadlineNanos} ({@link System#nanoTime}) has passed. */
    static <T extends HasMetadata> Ended<T> until(Resource<T> resource, Predicate<T> done, long deadlineNanos) {
        var last = new AtomicReference<T>();
        CompletableFuture<List<T>> future = resource.informOnCondition(items -> {
            T now = items.isEmpty() ? null : items.get(0);
            last.set(now);
            return done.test(now);
        });
        try {
            long left = Math.max(deadlineNanos - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(1));
            future.get(left, TimeUnit.NANOSECONDS);
            return new Ended<>(true, last.get());
        } catch (TimeoutException e) {
            return new Ended<>(false, last.get());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof KubernetesClientException k) throw k;
            throw new GfwException(ExitCode.INTERNAL, "watching " + resource + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GfwException(ExitCode.INTERNAL, "interrupted");
        } finally {
            future.cancel(true); // stops the informer: its WATCH is closed
        }
    }

    private Watches() {}
}
