// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES KubeClients.java
//SOURCES ../core/Output.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Server-side apply with field manager {@code gfw}, read-compare-skip first: an object whose live
 * state already holds every field gfw wants is left alone, so a re-run on an unchanged cluster
 * sends no mutating request at all.
 *
 * <p>For many objects: {@link Inventory#read} lists what exists with one LIST per kind (not one GET
 * per object), {@link #applyAll} applies with bounded concurrency and reports each result in input
 * order, {@link #pruneCandidates} / {@link #delete} remove what the config dropped. Transient API
 * errors (5xx, 429, timeouts, connection failures) are retried with exponential back-off
 * ({@link #withRetries}); when an object still fails, {@link PartialFailure} carries what was
 * applied before it, so nothing half-applied goes unreported.
 */
final class ServerSideApply {

    static final String FIELD_MANAGER = "gfw";

    enum Action { created, configured, unchanged, pruned }

    /**
     * What happened to one object; {@code diff} lists changed fields (empty when unchanged or created),
     * {@code note} an optional remark printed after the action.
     */
    record Result(HasMetadata object, Action action, boolean dryRun, List<String> diff, String note) {
        Result(HasMetadata object, Action action, boolean dryRun, List<String> diff) {
            this(object, action, dryRun, diff, null);
        }
        String ref() { return ServerSideApply.ref(object); }
        /** kubectl's way: {@code namespace/x created}, {@code ... (server dry run)}. */
        String line() {
            String remark = dryRun && note != null ? "server dry run; " + note : dryRun ? "server dry run" : note;
            return ref() + " " + action + (remark == null ? "" : " (" + remark + ")");
        }
    }

    /** {@code kind/name} or {@code kind/name -n namespace}, as people read it. */
    static String ref(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return o.getKind().toLowerCase() + "/" + o.getMetadata().getName() + (ns == null ? "" : " -n " + ns);
    }

    /** Identity of an object: kind, namespace and name. */
    static String key(HasMetadata o) {
        return o.getKind() + "/" + Objects.toString(o.getMetadata().getNamespace(), "") + "/" + o.getMetadata().getName();
    }

    /** Reads the live object; creates or updates it only when it differs. {@code serverDryRun}: nothing is stored. */
    static Result apply(KubernetesClient client, HasMetadata desired, boolean serverDryRun, boolean forceConflicts) {
        HasMetadata live = client.resource(desired).get();
        return apply(client, desired, live, serverDryRun, forceConflicts);
    }

    /** As {@link #apply(KubernetesClient, HasMetadata, boolean, boolean)} with the live object already read (null: absent). */
    static Result apply(KubernetesClient client, HasMetadata desired, HasMetadata live, boolean serverDryRun, boolean forceConflicts) {
        List<String> diff = live == null ? List.of() : differences(desired, live);
        if (live != null && diff.isEmpty()) return new Result(desired, Action.unchanged, serverDryRun, diff);
        HasMetadata applied;
        try {
            var op = client.resource(desired).fieldManager(FIELD_MANAGER);
            if (serverDryRun) op = client.resource(desired).dryRun().fieldManager(FIELD_MANAGER);
            applied = forceConflicts ? op.forceConflicts().serverSideApply() : op.serverSideApply();
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) throw conflict(desired, e);
            throw e;
        }
        return new Result(applied == null ? desired : applied, live == null ? Action.created : Action.configured,
                serverDryRun, diff);
    }

    /** A 409 from server-side apply: names the field manager(s) that own the fields, and the way out. */
    static GfwException conflict(HasMetadata desired, KubernetesClientException e) {
        String why = e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage();
        Set<String> managers = new LinkedHashSet<>();
        Matcher m = Pattern.compile("conflicts? with \"([^\"]+)\"").matcher(Objects.toString(why, ""));
        while (m.find()) managers.add(m.group(1));
        String owner = managers.isEmpty() ? "another field manager owns these fields"
                : "field manager " + String.join(", ", managers) + (managers.size() == 1 ? " owns" : " own") + " these fields";
        return new GfwException(ExitCode.CONFLICT, ref(desired) + ": " + GfwException.firstLine(why) + "; " + owner
                + ", re-run with --force-conflicts to take them over", e);
    }

    // ---- many objects: options, retries ---------------------------------------------------------

    /** How {@link #applyAll} and {@link #delete} behave. */
    static final class Options {
        /** dryRun=All: the server checks, nothing is stored. */
        boolean serverDryRun;
        boolean forceConflicts;
        /** Only read and compare: report what would change, send nothing that writes. */
        boolean diffOnly;
        /** Requests in flight at once. */
        int concurrency = 8;
        /** Tries per request for transient errors (5xx, 429, timeouts, connection failures). */
        int attempts = 4;
        /** First back-off; doubles each retry. */
        long backoffMillis = 250;
        /** Write requests (PATCH/DELETE) the server accepted, for the summary. */
        final AtomicInteger writes = new AtomicInteger();
        /** Retries made, for the summary. */
        final AtomicInteger retries = new AtomicInteger();
    }

    /** True for errors worth retrying: the server failed (5xx), throttled (429), timed out or was unreachable. */
    static boolean isTransient(KubernetesClientException e) {
        int code = e.getCode();
        if (code >= 500 || code == 429 || code == 408) return true;
        if (code > 0) return false;
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof IOException || t instanceof TimeoutException) return true;
        }
        return false;
    }

    /**
     * Runs {@code call}, retrying transient failures with exponential back-off (250 ms, 500 ms, 1 s, ...).
     * The last failure is rethrown as is; {@code KubeClients.fromKubernetes} turns it into a clear error.
     */
    static <T> T withRetries(Options options, Supplier<T> call) {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.get();
            } catch (KubernetesClientException e) {
                if (attempt >= options.attempts || !isTransient(e)) throw e;
                options.retries.incrementAndGet();
                long delay = options.backoffMillis << (attempt - 1);
                try {
                    Thread.sleep(delay + (long) (Math.random() * delay / 4));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /**
     * The client without fabric8's own request retries, so that {@link #withRetries} is the only
     * retry layer (two layers would multiply the attempts and the wait).
     */
    static KubernetesClient withoutClientRetries(KubernetesClient client) {
        client.getConfiguration().setRequestRetryBackoffLimit(0);
        return client;
    }

    // ---- what exists: one LIST per kind ---------------------------------------------------------

    /**
     * What the cluster holds, read with one request per kind: every namespace (so that namespaces and
     * their contents can be known absent without a GET), and the objects of the given namespaced
     * kinds that carry {@code labels}.
     */
    record Inventory(Map<String, Namespace> namespaces, Map<String, HasMetadata> labelled) {

        static Inventory read(KubernetesClient client, List<Class<? extends HasMetadata>> namespacedKinds,
                              Map<String, String> labels, Options options) {
            var namespaces = new HashMap<String, Namespace>();
            var labelled = new HashMap<String, HasMetadata>();
            for (Namespace ns : withRetries(options, () -> client.namespaces().list().getItems())) {
                namespaces.put(ns.getMetadata().getName(), ns);
                Map<String, String> l = ns.getMetadata().getLabels();
                if (l != null && l.entrySet().containsAll(labels.entrySet())) labelled.put(key(ns), ns);
            }
            for (Class<? extends HasMetadata> kind : namespacedKinds) {
                for (HasMetadata o : withRetries(options, () -> client.resources(kind).inAnyNamespace().withLabels(labels).list().getItems())) {
                    labelled.put(key(o), o);
                }
            }
            return new Inventory(namespaces, labelled);
        }

        /** What is known about {@code desired} without another request. */
        Lookup lookup(HasMetadata desired) {
            if (desired instanceof Namespace) {
                Namespace live = namespaces.get(desired.getMetadata().getName());
                return live == null ? Lookup.ABSENT : new Lookup(live, true);
            }
            HasMetadata live = labelled.get(key(desired));
            if (live != null) return new Lookup(live, true);
            // Inside a namespace that does not exist yet, nothing exists; elsewhere an unlabelled copy may.
            String ns = desired.getMetadata().getNamespace();
            return ns != null && !namespaces.containsKey(ns) ? Lookup.ABSENT : Lookup.UNKNOWN;
        }

        boolean namespaceExists(String name) {
            return namespaces.containsKey(name);
        }
    }

    /** The live object when known ({@code known}: read already, {@code live} null means absent); unknown needs a GET. */
    record Lookup(HasMetadata live, boolean known) {
        static final Lookup ABSENT = new Lookup(null, true);
        static final Lookup UNKNOWN = new Lookup(null, false);
    }

    // ---- applying many objects ------------------------------------------------------------------

    /** Stopped by an error: {@code done} were applied before it (in input order), {@code notAttempted} were not tried. */
    static final class PartialFailure extends GfwException {
        final List<Result> done;
        final int notAttempted;

        PartialFailure(GfwException cause, List<Result> done, int notAttempted) {
            super(cause.exitCode(), cause.getMessage(), cause);
            this.done = List.copyOf(done);
            this.notAttempted = notAttempted;
        }
    }

    /**
     * Applies {@code objects} with at most {@code options.concurrency} requests in flight, skipping
     * those that are unchanged. {@code report} receives each result in input order as soon as all
     * earlier ones are done. On the first error no new object is started; the running ones finish,
     * are reported, and a {@link PartialFailure} is thrown.
     *
     * @param skipServer objects that need no request at all (e.g. in a namespace a server dry run did
     *                   not create): reported as created with {@code skipNote}
     */
    static List<Result> applyAll(KubernetesClient client, List<? extends HasMetadata> objects, Inventory inventory,
                                 Options options, java.util.function.Predicate<HasMetadata> skipServer, String skipNote,
                                 Consumer<Result> report) {
        return runAll(objects, options, report, desired -> {
            Lookup lookup = inventory.lookup(desired);
            boolean absent = lookup.known() && lookup.live() == null;
            if (absent && skipServer.test(desired)) return new Result(desired, Action.created, options.serverDryRun, List.of(), skipNote);
            return applyOne(client, desired, lookup, options);
        });
    }

    /** One object: GET only when the inventory could not tell, then compare, then apply if needed. */
    static Result applyOne(KubernetesClient client, HasMetadata desired, Lookup lookup, Options options) {
        HasMetadata live = lookup.known() ? lookup.live() : withRetries(options, () -> client.resource(desired).get());
        if (options.diffOnly) {
            List<String> diff = live == null ? List.of() : differences(desired, live);
            Action a = live == null ? Action.created : diff.isEmpty() ? Action.unchanged : Action.configured;
            return new Result(desired, a, false, diff);
        }
        return withRetries(options, () -> {
            Result r = apply(client, desired, live, options.serverDryRun, options.forceConflicts);
            if (r.action() != Action.unchanged) options.writes.incrementAndGet();
            return r;
        });
    }

    /** Deletes a pruned object ({@code dryRun=All} under a server dry run; nothing under diffOnly). Gone already counts as pruned. */
    static Result delete(KubernetesClient client, HasMetadata live, Options options) {
        if (options.diffOnly) return new Result(live, Action.pruned, false, List.of());
        withRetries(options, () -> {
            options.writes.incrementAndGet();
            var op = client.resource(live);
            return options.serverDryRun ? op.dryRun().delete() : op.delete();
        });
        return new Result(live, Action.pruned, options.serverDryRun, List.of());
    }

    /** Deletes {@code objects} like {@link #applyAll} applies: bounded concurrency, input order, partial failure reported. */
    static List<Result> deleteAll(KubernetesClient client, List<? extends HasMetadata> objects, Options options, Consumer<Result> report) {
        return runAll(objects, options, report, o -> delete(client, o, options));
    }

    /**
     * Objects carrying gfw's labels that {@code desired} no longer holds; namespaces only with
     * {@code includeNamespaces}. Namespaced objects first, in a stable order.
     */
    static List<HasMetadata> pruneCandidates(Inventory inventory, List<? extends HasMetadata> desired, boolean includeNamespaces) {
        Set<String> wanted = new HashSet<>();
        for (HasMetadata d : desired) wanted.add(key(d));
        var out = new ArrayList<HasMetadata>();
        for (HasMetadata o : inventory.labelled().values()) {
            if (wanted.contains(key(o))) continue;
            if (o instanceof Namespace && !includeNamespaces) continue;
            out.add(o);
        }
        out.sort((a, b) -> {
            int nsFirst = Boolean.compare(a instanceof Namespace, b instanceof Namespace);
            return nsFirst != 0 ? nsFirst : key(a).compareTo(key(b));
        });
        return out;
    }

    private interface Step {
        Result run(HasMetadata o);
    }

    private static List<Result> runAll(List<? extends HasMetadata> objects, Options options, Consumer<Result> report, Step step) {
        int n = objects.size();
        Result[] results = new Result[n];
        var failure = new java.util.concurrent.atomic.AtomicReference<RuntimeException>();
        var stop = new AtomicBoolean();
        var started = new AtomicInteger();
        var printed = new int[] {0};
        Runnable flush = () -> {
            synchronized (printed) {
                while (printed[0] < n && results[printed[0]] != null) report.accept(results[printed[0]++]);
            }
        };
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(options.concurrency, Math.max(1, n))), r -> {
            Thread t = new Thread(r, "gfw-apply");
            t.setDaemon(true);
            return t;
        });
        try {
            var futures = new ArrayList<Future<?>>();
            for (int i = 0; i < n; i++) {
                final int index = i;
                futures.add(pool.submit(() -> {
                    if (stop.get()) return;
                    started.incrementAndGet();
                    try {
                        results[index] = step.run(objects.get(index));
                    } catch (RuntimeException e) {
                        stop.set(true);
                        failure.compareAndSet(null, failureOf(objects.get(index), e));
                        return;
                    }
                    if (!stop.get()) flush.run();
                }));
            }
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new GfwException(ExitCode.INTERNAL, "interrupted");
                } catch (java.util.concurrent.ExecutionException e) {
                    failure.compareAndSet(null, new GfwException(ExitCode.INTERNAL, "internal error: " + e.getCause(), e.getCause()));
                }
            }
        } finally {
            pool.shutdownNow();
        }
        if (failure.get() == null) {
            flush.run();
            return List.of(results);
        }
        // Report everything that did complete, in order, gaps skipped: nothing applied goes unmentioned.
        var done = new ArrayList<Result>();
        synchronized (printed) {
            for (int i = 0; i < n; i++) {
                if (results[i] == null) continue;
                done.add(results[i]);
                if (i >= printed[0]) report.accept(results[i]);
            }
        }
        RuntimeException e = failure.get();
        GfwException g = e instanceof GfwException ge ? ge : new GfwException(ExitCode.INTERNAL, "internal error: " + e, e);
        throw new PartialFailure(g, done, n - started.get());
    }

    /** The error for one object, with the object named and the attempts said. */
    private static RuntimeException failureOf(HasMetadata o, RuntimeException e) {
        if (e instanceof GfwException) return e;
        if (e instanceof KubernetesClientException k) {
            GfwException g = KubeClients.fromKubernetes(k);
            String retried = isTransient(k) ? " (gave up after retries)" : "";
            return new GfwException(g.exitCode(), ref(o) + ": " + g.getMessage() + retried, k);
        }
        return e;
    }

    // ---- comparing desired with live ----------------------------------------------------------

    /**
     * Fields of {@code desired} that {@code live} lacks or holds differently, as "path: live -> desired",
     * plus fields gfw applied earlier that {@code desired} no longer has ("path: value -> (removed)"):
     * applying removes those.
     */
    static List<String> differences(HasMetadata desired, HasMetadata live) {
        Map<String, Object> want = comparable(desired);
        Map<String, Object> have = comparable(live);
        var out = new ArrayList<String>();
        compare("", want, have, out);
        out.addAll(droppedFields(live, want, have));
        return out;
    }

    /**
     * Leaf fields that gfw's own apply set in {@code live} (from its managedFields) and that are
     * missing from {@code desired}: e.g. a quota key removed from the config. List items ({@code k:},
     * {@code v:}, {@code i:}) compare as whole lists above, so only plain field paths are checked here.
     * {@code want} and {@code have} are the {@link #comparable} maps of desired and live.
     */
    @SuppressWarnings("unchecked")
    static List<String> droppedFields(HasMetadata live, Map<String, Object> want, Map<String, Object> have) {
        List<ManagedFieldsEntry> entries = live.getMetadata().getManagedFields();
        if (entries == null) return List.of();
        var out = new ArrayList<String>();
        for (ManagedFieldsEntry e : entries) {
            if (!FIELD_MANAGER.equals(e.getManager()) || !"Apply".equals(e.getOperation()) || e.getFieldsV1() == null) continue;
            Map<String, Object> fields = e.getFieldsV1().getAdditionalProperties();
            if (fields != null) owned("", fields, want, have, out);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static void owned(String path, Map<String, Object> fields, Object want, Object have, List<String> out) {
        for (var e : fields.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith("f:")) continue; // ".", k:, v:, i: — list members, compared as whole lists
            String name = k.substring(2);
            String p = path.isEmpty() ? name : path + "." + name;
            if (p.equals("metadata.managedFields") || p.startsWith("status")) continue;
            Object w = want instanceof Map<?, ?> wm ? wm.get(name) : null;
            Object h = have instanceof Map<?, ?> hm ? hm.get(name) : null;
            if (h == null) continue;
            if (w == null) {
                out.add(p + ": " + (p.startsWith("data") || p.startsWith("stringData") ? Output.MASK : brief(h)) + " -> (removed)");
            } else if (e.getValue() instanceof Map<?, ?> sub && !sub.isEmpty()) {
                owned(p, (Map<String, Object>) sub, w, h, out);
            }
        }
    }

    /** The object as a map, with what the server adds or rewrites taken out. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> comparable(HasMetadata o) {
        Map<String, Object> m = Serialization.unmarshal(Serialization.asJson(o), LinkedHashMap.class);
        m.remove("status");
        Object meta = m.get("metadata");
        if (meta instanceof Map<?, ?> md) {
            var kept = new LinkedHashMap<String, Object>();
            for (String k : List.of("name", "namespace", "labels", "annotations")) {
                if (md.get(k) != null) kept.put(k, md.get(k));
            }
            m.put("metadata", kept);
        }
        // The server turns stringData into base64 data; compare in that form.
        if ("Secret".equals(o.getKind()) && m.get("stringData") instanceof Map<?, ?> sd) {
            var data = new LinkedHashMap<String, Object>(m.get("data") instanceof Map<?, ?> d ? (Map<String, Object>) d : Map.of());
            sd.forEach((k, v) -> data.put((String) k, Base64.getEncoder().encodeToString(String.valueOf(v).getBytes(StandardCharsets.UTF_8))));
            m.remove("stringData");
            m.put("data", data);
        }
        return m;
    }

    private static final Pattern QUANTITY = Pattern.compile("[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?");

    private static void compare(String path, Object want, Object have, List<String> out) {
        if (want instanceof Map<?, ?> w) {
            if (have == null && !w.isEmpty()) {
                // A whole block is missing: one line per field reads better than one long JSON line.
                for (var e : w.entrySet()) compare(path.isEmpty() ? String.valueOf(e.getKey()) : path + "." + e.getKey(), e.getValue(), null, out);
                return;
            }
            if (!(have instanceof Map<?, ?> h)) {
                out.add(line(path, have, want));
                return;
            }
            for (var e : w.entrySet()) {
                compare(path.isEmpty() ? String.valueOf(e.getKey()) : path + "." + e.getKey(), e.getValue(), h.get(e.getKey()), out);
            }
        } else if (want instanceof List<?> w) {
            if (!(have instanceof List<?> h) || h.size() != w.size()) {
                out.add(line(path, have, want));
                return;
            }
            for (int i = 0; i < w.size(); i++) compare(path + "[" + i + "]", w.get(i), h.get(i), out);
        } else if (want != null && !sameScalar(want, have)) {
            out.add(line(path, have, want));
        }
    }

    /** One difference; values of Secret data are never shown, only that they change. */
    private static String line(String path, Object have, Object want) {
        if (path.equals("data") || path.startsWith("data.") || path.startsWith("stringData")) {
            return path + ": " + (have == null ? "(none)" : Output.MASK) + " -> " + Output.MASK;
        }
        return path + ": " + brief(have) + " -> " + brief(want);
    }

    /** Scalars compare as text; quantities by value, since the server canonicalises them (1024Mi is 1Gi). */
    private static boolean sameScalar(Object want, Object have) {
        if (have == null) return false;
        String w = String.valueOf(want);
        String h = String.valueOf(have);
        if (w.equals(h)) return true;
        if (QUANTITY.matcher(w).matches() && QUANTITY.matcher(h).matches()) {
            try {
                BigDecimal a = Quantity.getAmountInBytes(new Quantity(w));
                BigDecimal b = Quantity.getAmountInBytes(new Quantity(h));
                return a.compareTo(b) == 0;
            } catch (RuntimeException e) {
                return false;
            }
        }
        return false;
    }

    private static String brief(Object v) {
        if (v == null) return "(none)";
        String s = v instanceof Map || v instanceof List ? Output.json(v).replaceAll("\\s+", " ") : String.valueOf(v);
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    private ServerSideApply() {}
}
