// What this file needs (HealthPlatform, and so bench/health.java, sources it): fabric8 alone.

import io.fabric8.kubernetes.client.KubernetesClientException;

/**
 * A test's write of an object that a controller writes too (the HPA controller an HPA's status, the CNPG operator
 * stand-in a Cluster's status): the API server answers 409 when the object changed since it was read (optimistic
 * concurrency on metadata.resourceVersion), and the writer reads it again and retries, as controllers do
 * (client-go's retry.RetryOnConflict).
 */
final class Conflicts {

    static final int ATTEMPTS = 10;

    /** Runs {@code readModifyWrite} (read the object, change it, write it) again on a 409, at most {@link #ATTEMPTS} times. */
    static void retry(Runnable readModifyWrite) {
        for (int attempt = 1; ; attempt++) {
            try {
                readModifyWrite.run();
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt == ATTEMPTS) throw e;
            }
            try {
                Thread.sleep(20L * attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private Conflicts() {}
}
