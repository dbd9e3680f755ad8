// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Http.java
//SOURCES KubeClients.java
//SOURCES ServerSideApply.java
//SOURCES ../core/Output.java
//SOURCES Watches.java
//SOURCES LiveObjects.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One run of a command that applies its own objects (deploy-cache, deploy-dashboard): server-side apply
 * with read-compare-skip through {@link ServerSideApply}, secrets generated once and then kept, one line
 * per object on stdout (or, with --diff, only what would change), what was done before a failure, the
 * summary, and waiting for a Deployment's rollout within the one deadline of the run's --timeout.
 */
final class ApplyRun {

    final ServerSideApply.Options options = new ServerSideApply.Options();
    final List<ServerSideApply.Result> results = new ArrayList<>();
    final String envName;
    final boolean diff;
    final Duration waitLimit;
    /** One deadline for every wait of the run: --timeout bounds all of them together. */
    final long deadline;
    /**
     * What a run that writes nothing (--diff, a server dry run) read beforehand with one LIST per kind (up's plan); null:
     * each object is read with a GET when it is applied.
     */
    LiveObjects listed;

    ApplyRun(String envName, boolean diff, boolean serverDryRun, boolean forceConflicts, Duration waitLimit) {
        this.envName = envName;
        this.diff = diff;
        this.waitLimit = waitLimit;
        this.deadline = System.nanoTime() + waitLimit.toNanos();
        options.serverDryRun = serverDryRun;
        options.forceConflicts = forceConflicts;
        options.diffOnly = diff;
    }

    /** True when this run may write (no server dry run, no --diff). */
    boolean writes() {
        return !diff && !options.serverDryRun;
    }

    /**
     * A Secret created once: if it exists it is kept as it is (read, not compared), unless {@code replace}.
     * Returns what the pods will read (the live one, or the one just created). "Once" holds when two runs start at
     * the same time: the Secret is created with a plain create, which the API server refuses (409 AlreadyExists) to
     * the second run, which then reads the first one's values back and goes on with those ("kept").
     */
    Secret keepOrCreate(KubernetesClient client, Secret desired, boolean replace) {
        Secret live = live(client, desired);
        if (live != null && !replace) {
            report(new ServerSideApply.Result(live, ServerSideApply.Action.unchanged, options.serverDryRun, List.of(), "kept: created once"));
            return live;
        }
        if (live == null && writes()) return createOnce(client, desired);
        if (live == null) {
            ServerSideApply.Result r = ServerSideApply.applyOne(client, desired, new ServerSideApply.Lookup(null, true), options);
            report(r);
            return options.diffOnly || options.serverDryRun ? desired : r.object() instanceof Secret s ? s : desired;
        }
        return replaceSecret(client, desired, live);
    }

    /**
     * Creates {@code desired}, known to be absent, with a plain create: of two runs that both found it absent, the API
     * server refuses the second (409 AlreadyExists), which then reads the first one's values back and returns them
     * ("kept"). Returns what the pods will read.
     */
    Secret createOnce(KubernetesClient client, Secret desired) {
        String ns = desired.getMetadata().getNamespace();
        String name = desired.getMetadata().getName();
        Secret made;
        try {
            made = ServerSideApply.withRetries(options, () -> client.secrets().inNamespace(ns).resource(desired).create());
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                GfwException g = KubeClients.fromKubernetes(e);
                throw new GfwException(g.exitCode(), ServerSideApply.ref(desired) + ": " + g.getMessage() + doneSoFar(), e);
            }
            // Another run created it between the read and the create (or a retried create of this run did): its values win.
            Secret winner = ServerSideApply.withRetries(options, () -> client.secrets().inNamespace(ns).withName(name).get());
            if (winner == null) throw new GfwException(ExitCode.CONFLICT, ServerSideApply.ref(desired) + ": created and deleted again by"
                    + " someone else while this run made it; run again" + doneSoFar());
            report(new ServerSideApply.Result(winner, ServerSideApply.Action.unchanged, false, List.of(),
                    "kept: another run created it at the same time"));
            return winner;
        }
        options.writes.incrementAndGet();
        report(new ServerSideApply.Result(made, ServerSideApply.Action.created, false, List.of()));
        return made;
    }

    /**
     * A Secret {@link #keepOrCreate} made, given new values on purpose (a key rotation, a token the user handed over):
     * applied where it differs from {@code live}, taking its fields over from the plain create that made it.
     */
    Secret replaceSecret(KubernetesClient client, Secret desired, Secret live) {
        var how = new ServerSideApply.Options();
        how.serverDryRun = options.serverDryRun;
        how.diffOnly = options.diffOnly;
        how.forceConflicts = true;
        ServerSideApply.Result r = ServerSideApply.applyOne(client, desired, new ServerSideApply.Lookup(live, true), how);
        options.writes.addAndGet(how.writes.get());
        report(r);
        return options.diffOnly || options.serverDryRun ? desired : r.object() instanceof Secret s ? s : desired;
    }

    /** The live object named like {@code probe} (null: absent): from what the run listed beforehand when that tells, else a GET. */
    @SuppressWarnings("unchecked")
    <T extends HasMetadata> T live(KubernetesClient client, T probe) {
        ServerSideApply.Lookup known = listed == null ? ServerSideApply.Lookup.UNKNOWN : listed.lookup(probe);
        if (known.known()) return (T) known.live();
        return ServerSideApply.withRetries(options, () -> client.resource(probe).get());
    }

    /** Applies {@code desired} unless the live object already has it; a failure names the object and what was done before. */
    void apply(KubernetesClient client, HasMetadata desired) {
        ServerSideApply.Result r;
        try {
            r = ServerSideApply.applyOne(client, desired, listed == null ? ServerSideApply.Lookup.UNKNOWN : listed.lookup(desired), options);
        } catch (KubernetesClientException e) {
            GfwException g = e.getCode() == 409 ? ServerSideApply.conflict(desired, e) : KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), ServerSideApply.ref(desired) + ": " + g.getMessage() + doneSoFar(), e);
        }
        report(r);
    }

    void report(ServerSideApply.Result r) {
        results.add(r);
        if (diff) {
            switch (r.action()) {
                case created -> Output.out().println("+ " + r.ref() + " (new" + (r.note() == null ? "" : "; " + r.note()) + ")");
                case configured -> {
                    Output.out().println("~ " + r.ref());
                    for (String d : r.diff()) Output.out().println("    " + d);
                }
                default -> { }
            }
        } else {
            Output.out().println(r.line());
        }
    }

    /** The objects that differ from the live state (to create or to configure). */
    List<ServerSideApply.Result> changes() {
        return results.stream().filter(r -> r.action() != ServerSideApply.Action.unchanged).toList();
    }

    /** Appended to an error: what the run did before it, and that a re-run is safe. */
    String doneSoFar() {
        long changed = changes().size();
        return results.isEmpty() ? " (nothing was changed)" : " (" + results.size() + " objects handled before, " + changed + " of them changed; a re-run is safe)";
    }

    String summary() {
        long created = results.stream().filter(r -> r.action() == ServerSideApply.Action.created).count();
        long configured = results.stream().filter(r -> r.action() == ServerSideApply.Action.configured).count();
        long unchanged = results.size() - created - configured;
        String how = diff ? "--diff: nothing sent" : options.serverDryRun ? "server dry run, nothing stored"
                : options.writes.get() == 0 ? "up to date, no write request sent" : options.writes.get() + " write requests";
        return envName + ": " + results.size() + " objects: " + created + (diff ? " to create, " : " created, ") + configured
                + (diff ? " to configure, " : " configured, ") + unchanged + " unchanged (" + how + ")";
    }

    /** Time left of the run's --timeout, for a wait that takes a duration (Helm). */
    Duration remaining() {
        long left = deadline - System.nanoTime();
        return Duration.ofNanos(Math.max(left, Duration.ofSeconds(1).toNanos()));
    }

    /**
     * Waits until every replica of Deployment {@code name} is updated and available, with a watch (as
     * {@code kubectl rollout status} does: one LIST, then a WATCH; no polling); progress on stderr whenever it
     * changes. {@code pods}: the label selector to look at.
     */
    void waitForRollout(KubernetesClient client, String ns, String name, String pods) {
        var last = new java.util.concurrent.atomic.AtomicReference<String>();
        Watches.Ended<Deployment> end = Watches.until(client.apps().deployments().inNamespace(ns).withName(name), d -> {
            int[] r = rollout(d);
            if (r[0] == 1) return true;
            String now = "deployment/" + name + ": " + r[2] + "/" + r[1] + " updated, " + r[3] + " available";
            if (!now.equals(last.getAndSet(now))) Output.info(now + " (waiting for the rollout)");
            return false;
        }, deadline);
        int[] r = rollout(end.last());
        if (end.done()) {
            if (last.get() != null) Output.info("deployment/" + name + ": rolled out, " + r[3] + "/" + r[1] + " available");
            return;
        }
        throw new GfwException(ExitCode.UNAVAILABLE, "deployment " + name + " in namespace " + ns + " did not roll out within " + Http.human(waitLimit)
                + " (" + r[2] + "/" + r[1] + " updated, " + r[3] + " available); check 'kubectl -n " + ns + " get pods -l " + pods + "'"
                + " or raise --timeout");
    }

    /** {rolled out (1/0), replicas, updated, available} of a Deployment as its controller reports them. */
    private static int[] rollout(Deployment d) {
        var st = d == null ? null : d.getStatus();
        long generation = d == null || d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration();
        long observed = st == null || st.getObservedGeneration() == null ? -1 : st.getObservedGeneration();
        int replicas = st == null || st.getReplicas() == null ? 0 : st.getReplicas();
        int updated = st == null || st.getUpdatedReplicas() == null ? 0 : st.getUpdatedReplicas();
        int available = st == null || st.getAvailableReplicas() == null ? 0 : st.getAvailableReplicas();
        boolean done = d != null && observed >= generation && replicas > 0 && updated == replicas && available == replicas;
        return new int[] {done ? 1 : 0, replicas, updated, available};
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GfwException(ExitCode.INTERNAL, "interrupted");
        }
    }
}
