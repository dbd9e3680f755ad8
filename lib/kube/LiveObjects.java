// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ServerSideApply.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * What exists of a command's own objects, read with one LIST per kind and namespace they are in, all LISTs at once (at
 * most 8 in flight), instead of one GET per object one after another: for a read-only pass over many objects (up's
 * plan of deploy-cache and deploy-dashboard). A kind whose LIST fails (a deployer may GET but not LIST it) stays
 * unknown, and its objects are read with a GET as before. Only for runs that write nothing: it is not updated.
 */
final class LiveObjects {

    /** Objects read, by {@link ServerSideApply#key}. */
    private final Map<String, HasMetadata> objects = new ConcurrentHashMap<>();
    /** "apiVersion/kind/namespace" of every kind listed. */
    private final Set<String> listed = ConcurrentHashMap.newKeySet();

    private LiveObjects() {}

    /** LISTs every (kind, namespace) pair of {@code desired}. */
    static LiveObjects read(KubernetesClient client, List<? extends HasMetadata> desired) {
        var live = new LiveObjects();
        var pairs = new LinkedHashMap<String, HasMetadata>(); // one example object per pair
        for (HasMetadata o : desired) pairs.putIfAbsent(pair(o), o);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(8, pairs.size())), r -> {
            Thread t = new Thread(r, "gfw-list");
            t.setDaemon(true);
            return t;
        });
        try {
            var reads = new ArrayList<CompletableFuture<Void>>();
            for (var e : pairs.entrySet()) {
                reads.add(CompletableFuture.runAsync(() -> {
                    List<? extends HasMetadata> items;
                    try {
                        items = list(client, e.getValue());
                    } catch (KubernetesClientException ex) {
                        return; // stays unknown: GET per object
                    }
                    for (HasMetadata o : items) {
                        if (o.getApiVersion() == null) o.setApiVersion(e.getValue().getApiVersion()); // items of a LIST carry none
                        if (o instanceof GenericKubernetesResource g && g.getKind() == null) g.setKind(e.getValue().getKind());
                        live.objects.put(ServerSideApply.key(o), o);
                    }
                    live.listed.add(e.getKey());
                }, pool));
            }
            for (var f : reads) f.join();
        } finally {
            pool.shutdownNow();
        }
        return live;
    }

    private static List<? extends HasMetadata> list(KubernetesClient client, HasMetadata example) {
        String ns = example.getMetadata().getNamespace();
        if (example instanceof GenericKubernetesResource) {
            var op = client.genericKubernetesResources(example.getApiVersion(), example.getKind());
            return (ns == null ? op.list() : op.inNamespace(ns).list()).getItems();
        }
        var op = client.resources(example.getClass());
        return (ns == null ? op.list() : op.inNamespace(ns).list()).getItems();
    }

    private static String pair(HasMetadata o) {
        return o.getApiVersion() + "/" + o.getKind() + "/" + (o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace());
    }

    /** What is known of {@code desired} without another request: its live object, known absent, or unknown (its kind was not listed). */
    ServerSideApply.Lookup lookup(HasMetadata desired) {
        if (!listed.contains(pair(desired))) return ServerSideApply.Lookup.UNKNOWN;
        HasMetadata live = objects.get(ServerSideApply.key(desired));
        return live == null ? ServerSideApply.Lookup.ABSENT : new ServerSideApply.Lookup(live, true);
    }
}
