// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * LISTs that can be kept current by WATCHes, as a reflector does (client-go's {@code tools/cache/reflector.go}
 * ListAndWatch, which {@code kubectl rollout status} and informers use): each source is read with one LIST; after
 * {@link #watchAll()} each is followed by a WATCH from that LIST's resourceVersion, so later reads cost no request and
 * miss no change between the LIST and the WATCH. Until then a read LISTs again each time (a caller that is done after
 * one read opens no watch). A WATCH the server ends for good (410 Gone: the version is too old) makes the next read LIST
 * again. {@code changed} runs after every event (on the watch's thread). Items come in the order the API server lists
 * them (by namespace, then name).
 */
final class ListWatches implements AutoCloseable {

    private final Runnable changed;
    private final Map<String, Listed<?>> sources = new ConcurrentHashMap<>();
    private volatile boolean watching;
    private volatile boolean closed;

    ListWatches(Runnable changed) {
        this.changed = changed;
    }

    /** The items of source {@code key}, listed (and, once watching, watched) with {@code op} the first time the key is read. */
    @SuppressWarnings("unchecked")
    <T extends HasMetadata> List<T> list(String key, FilterWatchListDeletable<T, ? extends KubernetesResourceList<T>, ?> op) {
        Listed<T> l = (Listed<T>) sources.computeIfAbsent(key, k -> new Listed<>(op));
        return l.read();
    }

    /** From now on every source is followed by a WATCH from the resourceVersion of its last LIST (no new LIST). */
    void watchAll() {
        watching = true;
        for (Listed<?> l : sources.values()) l.follow();
    }

    /** True once {@link #watchAll()} was called. */
    boolean watching() {
        return watching;
    }

    @Override
    public void close() {
        closed = true;
        for (Listed<?> l : sources.values()) l.stop();
    }

    /** One source: its items by "namespace/name", the resourceVersion they are at, and the WATCH that follows them. */
    private final class Listed<T extends HasMetadata> implements Watcher<T> {
        private final FilterWatchListDeletable<T, ? extends KubernetesResourceList<T>, ?> op;
        private final ConcurrentSkipListMap<String, T> items = new ConcurrentSkipListMap<>();
        private String resourceVersion;
        /** True when the items must be LISTed again before they are read. */
        private boolean stale = true;
        private Watch watch;

        Listed(FilterWatchListDeletable<T, ? extends KubernetesResourceList<T>, ?> op) {
            this.op = op;
        }

        synchronized List<T> read() {
            if (stale || !watching) relist();
            if (watching) follow();
            return new ArrayList<>(items.values());
        }

        private void relist() {
            KubernetesResourceList<T> list = op.list();
            items.clear();
            for (T o : list.getItems()) items.put(key(o), o);
            resourceVersion = list.getMetadata() == null ? null : list.getMetadata().getResourceVersion();
            stale = false;
        }

        synchronized void follow() {
            if (watch != null || closed || resourceVersion == null) return;
            watch = op.watch(new ListOptionsBuilder().withResourceVersion(resourceVersion).withAllowWatchBookmarks(true).build(), this);
        }

        synchronized void stop() {
            if (watch != null) watch.close();
            watch = null;
        }

        @Override
        public void eventReceived(Action action, T o) {
            switch (action) {
                case ADDED, MODIFIED -> items.put(key(o), o);
                case DELETED -> items.remove(key(o));
                default -> { } // BOOKMARK, ERROR: nothing changed (fabric8 keeps the version to resume from)
            }
            if (action != Action.BOOKMARK) changed.run();
        }

        @Override
        public void onClose(WatcherException cause) {
            synchronized (this) {
                watch = null;
                stale = true; // the server ended the watch for good: LIST again at the next read
            }
            if (!closed) changed.run();
        }

        @Override
        public void onClose() {
            // closed by us
        }

        private String key(T o) {
            return (o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace()) + "/" + o.getMetadata().getName();
        }
    }
}
