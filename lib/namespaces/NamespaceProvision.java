// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES NamespaceLayout.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.function.Consumer;

/**
 * provision-namespaces' story, so that {@code up} runs it in the same process: the layout's objects
 * ({@link NamespaceLayout}) printed for a client dry run, or applied with server-side apply and
 * read-compare-skip (one LIST per kind, {@link ServerSideApply.Inventory}): namespaces first, then the rest,
 * {@code --prune} deleting what the layout no longer wants, what was done before a failure, the summary.
 */
final class NamespaceProvision {

    /** The namespaced kinds this command manages (what --prune looks at). */
    static final List<Class<? extends HasMetadata>> NAMESPACED_KINDS = NamespaceLayout.NAMESPACED_KINDS;

    /** -o (null: one line per object), --prune, --prune-namespaces, --diff. */
    final Output.Format format;
    final boolean prune;
    final boolean pruneNamespaces;
    final boolean diff;

    NamespaceProvision(Output.Format format, boolean prune, boolean pruneNamespaces, boolean diff) {
        this.format = format;
        this.prune = prune || pruneNamespaces;
        this.pruneNamespaces = pruneNamespaces;
        this.diff = diff;
    }

    // ---- client dry run: print, contact nothing ---------------------------------------------------

    int printObjects(EnvConfig.Env env, List<HasMetadata> objects) {
        if (diff) throw new GfwException(ExitCode.USAGE, "--diff needs the cluster: drop --dry-run=client");
        Output.Format f = format == null ? Output.Format.yaml : format;
        if (f.isTable()) {
            boolean wide = f == Output.Format.wide; // also the component label, as kubectl -o wide adds columns
            var rows = new ArrayList<List<String>>();
            for (HasMetadata o : objects) {
                String ns = o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace();
                String component = o.getMetadata().getLabels() == null ? "" : o.getMetadata().getLabels().getOrDefault("app.kubernetes.io/component", "");
                rows.add(wide ? List.of(o.getKind(), ns, o.getMetadata().getName(), component) : List.of(o.getKind(), ns, o.getMetadata().getName()));
            }
            Output.out().print(Output.table(wide ? List.of("kind", "namespace", "name", "component") : List.of("kind", "namespace", "name"), rows));
        } else {
            Output.out().print(Output.objects(objects, f));
            if (f == Output.Format.json) Output.out().println();
        }
        if (prune) Output.warn("--prune is ignored by a client dry run: what to prune depends on the cluster; use --diff --prune");
        Output.info(env.name() + ": " + objects.size() + " objects in " + env.allNamespaces().size()
                + " namespaces (client dry run: nothing sent" + (env.planned() ? "; the environment is planned, applying it is refused" : "")
                + ")" + (env.planned() ? "" : "; --diff compares them with the cluster"));
        return ExitCode.OK;
    }

    // ---- against the cluster ----------------------------------------------------------------------

    /** Reads what exists (one LIST per kind), then applies {@code objects}. */
    int provision(EnvConfig.Env env, List<HasMetadata> objects, KubernetesClient client, ServerSideApply.Options options) {
        return provision(env, objects, client, options, read(env, client, options));
    }

    /** What exists of the layout: one LIST per kind, read once (up shares it between its plan and its step). */
    static ServerSideApply.Inventory read(EnvConfig.Env env, KubernetesClient client, ServerSideApply.Options options) {
        try {
            return ServerSideApply.Inventory.read(client, NAMESPACED_KINDS, NamespaceLayout.selector(env), options);
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + " (reading the current state; nothing was changed)", e);
        }
    }

    /** Applies {@code objects} against {@code inventory}, what was read of the cluster. */
    int provision(EnvConfig.Env env, List<HasMetadata> objects, KubernetesClient client, ServerSideApply.Options options, ServerSideApply.Inventory inventory) {
        List<String> terminating = terminating(inventory, objects);
        if (!terminating.isEmpty()) {
            // The server would reject every object in them (403, "being terminated"): say so before changing anything.
            throw new GfwException(ExitCode.REMOTE_ERROR, "namespace " + String.join(", ", terminating)
                    + " is being deleted (Terminating); wait until it is gone (kubectl get ns), then re-run; nothing was changed");
        }
        var results = new ArrayList<ServerSideApply.Result>();
        Consumer<ServerSideApply.Result> report = r -> {
            results.add(r);
            print(r);
        };
        List<HasMetadata> namespaces = objects.stream().filter(o -> o instanceof Namespace).toList();
        List<HasMetadata> contents = objects.stream().filter(o -> !(o instanceof Namespace)).toList();
        // A server dry run creates no namespace, and the server rejects objects in a missing one: not sent.
        String skipNote = "namespace not created yet, not checked by the server";
        try {
            ServerSideApply.applyAll(client, namespaces, inventory, options, o -> false, null, report);
            ServerSideApply.applyAll(client, contents, inventory, options,
                    o -> options.serverDryRun && !inventory.namespaceExists(o.getMetadata().getNamespace()), skipNote, report);
            if (prune) ServerSideApply.deleteAll(client, ServerSideApply.pruneCandidates(inventory, objects, pruneNamespaces), options, report);
        } catch (ServerSideApply.PartialFailure f) {
            long done = results.stream().filter(r -> r.action() != ServerSideApply.Action.pruned).count();
            Output.info(summary(env, results, options, false) + "; stopped by the error below with " + (objects.size() - done)
                    + " of " + objects.size() + " objects not done (a re-run is safe and continues)");
            throw f;
        }
        if (prune && !pruneNamespaces) {
            for (HasMetadata o : ServerSideApply.pruneCandidates(inventory, objects, true)) {
                if (o instanceof Namespace) {
                    Output.warn(ServerSideApply.ref(o) + " carries this layout's labels but the config no longer has it; kept (--prune-namespaces deletes it)");
                }
            }
        }
        if (format != null && !format.isTable() && !diff) {
            Output.out().print(Output.objects(results.stream().map(ServerSideApply.Result::object).toList(), format));
            if (format == Output.Format.json) Output.out().println();
        }
        Output.info(summary(env, results, options, true));
        return ExitCode.OK;
    }

    /** Wanted namespaces that exist but are being deleted. */
    static List<String> terminating(ServerSideApply.Inventory inventory, List<HasMetadata> objects) {
        var out = new ArrayList<String>();
        for (HasMetadata o : objects) {
            if (!(o instanceof Namespace)) continue;
            Namespace live = inventory.namespaces().get(o.getMetadata().getName());
            if (live != null && live.getMetadata().getDeletionTimestamp() != null) out.add(o.getMetadata().getName());
        }
        return out;
    }

    /** One line per object as kubectl prints it, or with --diff the differences. */
    private void print(ServerSideApply.Result r) {
        if (diff) {
            switch (r.action()) {
                case created -> Output.out().println("+ " + r.ref() + " (new)");
                case pruned -> Output.out().println("- " + r.ref() + " (to be pruned)");
                case configured -> {
                    Output.out().println("~ " + r.ref());
                    for (String d : r.diff()) Output.out().println("    " + d);
                }
                case unchanged -> { }
            }
        } else if (format == null || format.isTable()) {
            Output.out().println(r.line());
        }
    }

    static String summary(EnvConfig.Env env, List<ServerSideApply.Result> results, ServerSideApply.Options options, boolean complete) {
        var counts = new EnumMap<ServerSideApply.Action, Integer>(ServerSideApply.Action.class);
        for (ServerSideApply.Action a : ServerSideApply.Action.values()) counts.put(a, 0);
        for (ServerSideApply.Result r : results) counts.merge(r.action(), 1, Integer::sum);
        int changes = results.size() - counts.get(ServerSideApply.Action.unchanged);
        String retries = options.retries.get() == 0 ? "" : ", " + options.retries.get() + " retries";
        if (options.diffOnly) {
            return env.name() + ": " + counts.get(ServerSideApply.Action.created) + " to create, " + counts.get(ServerSideApply.Action.configured)
                    + " to configure, " + counts.get(ServerSideApply.Action.unchanged) + " unchanged, " + counts.get(ServerSideApply.Action.pruned)
                    + " to prune (--diff: nothing sent" + retries + ")" + (changes == 0 && complete ? "; the cluster matches the config" : "");
        }
        int pruned = counts.get(ServerSideApply.Action.pruned);
        String counted = counts.get(ServerSideApply.Action.created) + " created, " + counts.get(ServerSideApply.Action.configured) + " configured, "
                + counts.get(ServerSideApply.Action.unchanged) + " unchanged" + (pruned == 0 ? "" : ", " + pruned + " pruned");
        String how = options.serverDryRun ? "server dry run, nothing stored"
                : changes == 0 && complete ? "up to date, no write request sent" : options.writes.get() + " write requests";
        return env.name() + ": " + (results.size() - pruned) + " objects: " + counted + " (" + how + retries + ")";
    }
}
