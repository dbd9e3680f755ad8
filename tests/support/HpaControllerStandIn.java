import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerStatus;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the HPA controller writes, for the namespaces it is given, against the test API server (which runs no
 * controllers): for every HorizontalPodAutoscaler whose scale target is a Deployment, {@code currentReplicas} the
 * Deployment's {@code status.replicas} and {@code desiredReplicas} that count kept within minReplicas..maxReplicas
 * (no metrics server here, so nothing drives it further), through the status subresource, only when it changed. Not
 * like a real cluster: it does not scale the Deployment to the desired count. Polls every 100 ms on its own daemon
 * thread; {@link #close} stops it.
 */
final class HpaControllerStandIn implements AutoCloseable {

    private final KubernetesClient kube;
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean stop;
    /** While set, it sends nothing (a test counting only what the tool under test sends). */
    volatile boolean paused;
    volatile Throwable failure;

    HpaControllerStandIn(KubernetesClient kube) {
        this.kube = kube;
        thread = new Thread(this::loop, "hpa-controller-stand-in");
        thread.setDaemon(true);
        thread.start();
    }

    void watch(String namespace) {
        namespaces.add(namespace);
    }

    private void loop() {
        while (!stop) {
            for (String ns : paused ? Set.<String>of() : namespaces) {
                try {
                    reconcile(ns);
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void reconcile(String ns) {
        var hpas = kube.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns);
        for (HorizontalPodAutoscaler h : hpas.list().getItems()) {
            var target = h.getSpec().getScaleTargetRef();
            if (target == null || !"Deployment".equals(target.getKind())) continue;
            Deployment d = kube.apps().deployments().inNamespace(ns).withName(target.getName()).get();
            if (d == null || d.getStatus() == null || d.getStatus().getReplicas() == null) continue; // the controller reports nothing yet
            int current = d.getStatus().getReplicas();
            int min = h.getSpec().getMinReplicas() == null ? 1 : h.getSpec().getMinReplicas();
            int max = h.getSpec().getMaxReplicas() == null ? current : h.getSpec().getMaxReplicas();
            int desired = Math.max(min, Math.min(max, current));
            HorizontalPodAutoscalerStatus st = h.getStatus();
            if (st != null && Integer.valueOf(current).equals(st.getCurrentReplicas()) && Integer.valueOf(desired).equals(st.getDesiredReplicas())) continue;
            h.setStatus(new HorizontalPodAutoscalerStatusBuilder().withCurrentReplicas(current).withDesiredReplicas(desired)
                    .withObservedGeneration(h.getMetadata().getGeneration()).build());
            hpas.resource(h).updateStatus();
        }
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
