///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/ServerSideApply.java
//SOURCES ../lib/NamespaceLayout.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Makes a cluster hold an environment's namespace layout, from {@code environments/<env>.yaml}: the
 * Attic, runner and dashboard namespaces (app.kubernetes.io labels, the environment label, Pod
 * Security levels), and in each a ResourceQuota, a LimitRange, NetworkPolicies (default-deny-ingress,
 * same-namespace traffic, runners to Attic, ingress to the dashboard), the CI job Role and
 * RoleBinding in the runner namespace, and the ServiceAccounts the other scripts use.
 *
 * <p>Server-side apply with field manager {@code gfw}, read-compare-skip: existing objects are read with
 * one LIST per kind, and only objects that differ are sent, so a re-run on an unchanged cluster
 * sends no write request. Namespaces go first, then the rest, at most {@code --concurrency} requests
 * at a time. Transient API errors are retried with back-off; if an object still fails, what was
 * applied before it is listed and the run stops (a re-run is safe).
 *
 * <p>Flags: {@code --dry-run=client} prints the objects ({@code -o yaml}, {@code -o json} a List,
 * {@code -o table}) without a kubeconfig or server; {@code --dry-run=server} lets the API server check
 * them, storing nothing; {@code --diff} prints per-object differences from the live state and changes
 * nothing; {@code --prune} deletes objects carrying this layout's labels that the config no longer
 * wants (namespaces only with {@code --prune-namespaces}); {@code --force-conflicts} takes over fields
 * owned by another field manager; {@code --yes} confirms a production environment. A planned
 * environment is refused before any request (exit 67). Exit codes: {@code gfw exit-codes}.
 *
 * <p>Environment: KUBECONFIG, HTTPS_PROXY, GITLAB_CI (GitLab agent context), GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/provision-namespaces.java dev --dry-run=client
 * </pre>
 */
@Command(name = "provision-namespaces", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Apply an environment's namespace layout with server-side apply.",
                "Namespaces, quotas, limit ranges, network policies, RBAC and service accounts;",
                "unchanged objects are skipped, so a re-run sends no write request.",
                "Example: provision-namespaces dev --dry-run=client", ""})
class ProvisionNamespaces implements Callable<Integer> {

    static final String ENVIRONMENT_LABEL = NamespaceLayout.ENVIRONMENT_LABEL;

    /** The namespaced kinds this command manages (what --prune looks at). */
    static final List<Class<? extends HasMetadata>> NAMESPACED_KINDS = NamespaceLayout.NAMESPACED_KINDS;

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT",
            description = "yaml|json|table. With --dry-run=client: the objects (default yaml; json is a List). Otherwise: the applied objects instead of one line per object.")
    Output.Format format;

    @Option(names = "--prune", description = "Delete objects labelled as this environment's layout that the config no longer wants (never a namespace without --prune-namespaces).")
    boolean prune;

    @Option(names = "--prune-namespaces", description = "With --prune, also delete namespaces the config dropped (and everything in them). Implies --prune.")
    boolean pruneNamespaces;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "8", description = "Requests in flight at once (default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    public static void main(String... args) {
        System.exit(Cli.run(new ProvisionNamespaces(), args));
    }

    @Override
    public Integer call() {
        if (concurrency < 1 || concurrency > 64) throw new GfwException(ExitCode.USAGE, "--concurrency " + concurrency + ": use 1 to 64");
        change.validate();
        boolean diff = change.diff();
        if (diff && format != null) throw new GfwException(ExitCode.USAGE, "--diff prints differences, not objects: drop -o");
        if (pruneNamespaces) prune = true;

        EnvConfig.Env env = envOptions.load(envName);
        List<HasMetadata> objects = render(env);

        if (change.clientDryRun()) return printObjects(env, objects);

        change.confirm(env, "provision namespaces on " + env.cluster().name());

        var options = new ServerSideApply.Options();
        options.serverDryRun = change.serverDryRun();
        options.forceConflicts = change.forceConflicts;
        options.diffOnly = diff;
        options.concurrency = concurrency;

        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(env))) {
            return provision(env, objects, client, options);
        }
    }

    // ---- the objects of the layout (built in lib/NamespaceLayout, which health compares with too) ----

    static Map<String, String> selector(EnvConfig.Env env) {
        return NamespaceLayout.selector(env);
    }

    static List<HasMetadata> render(EnvConfig.Env env) {
        return NamespaceLayout.render(env);
    }

    // ---- client dry run: print, contact nothing ---------------------------------------------------

    private int printObjects(EnvConfig.Env env, List<HasMetadata> objects) {
        if (change.diff()) throw new GfwException(ExitCode.USAGE, "--diff needs the cluster: drop --dry-run=client");
        Output.Format f = format == null ? Output.Format.yaml : format;
        if (f.isTable()) {
            boolean wide = f == Output.Format.wide; // also the component label, as kubectl -o wide adds columns
            var rows = new ArrayList<List<String>>();
            for (HasMetadata o : objects) {
                String ns = o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace();
                String component = o.getMetadata().getLabels() == null ? "" : o.getMetadata().getLabels().getOrDefault("app.kubernetes.io/component", "");
                rows.add(wide ? List.of(o.getKind(), ns, o.getMetadata().getName(), component) : List.of(o.getKind(), ns, o.getMetadata().getName()));
            }
            Cli.out().print(Output.table(wide ? List.of("kind", "namespace", "name", "component") : List.of("kind", "namespace", "name"), rows));
        } else {
            Cli.out().print(Output.objects(objects, f));
            if (f == Output.Format.json) Cli.out().println();
        }
        if (prune) Cli.warn("--prune is ignored by a client dry run: what to prune depends on the cluster; use --diff --prune");
        Cli.info(env.name() + ": " + objects.size() + " objects in " + env.allNamespaces().size()
                + " namespaces (client dry run: nothing sent" + (env.planned() ? "; the environment is planned, applying it is refused" : "")
                + ")" + (env.planned() ? "" : "; --diff compares them with the cluster"));
        return ExitCode.OK;
    }

    // ---- against the cluster ----------------------------------------------------------------------

    private int provision(EnvConfig.Env env, List<HasMetadata> objects, KubernetesClient client, ServerSideApply.Options options) {
        ServerSideApply.Inventory inventory;
        try {
            inventory = ServerSideApply.Inventory.read(client, NAMESPACED_KINDS, selector(env), options);
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + " (reading the current state; nothing was changed)", e);
        }
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
            Cli.info(summary(env, results, options, false) + "; stopped by the error below with " + (objects.size() - done)
                    + " of " + objects.size() + " objects not done (a re-run is safe and continues)");
            throw f;
        }
        if (prune && !pruneNamespaces) {
            for (HasMetadata o : ServerSideApply.pruneCandidates(inventory, objects, true)) {
                if (o instanceof Namespace) {
                    Cli.warn(ServerSideApply.ref(o) + " carries this layout's labels but the config no longer has it; kept (--prune-namespaces deletes it)");
                }
            }
        }
        if (format != null && !format.isTable() && !change.diff()) {
            Cli.out().print(Output.objects(results.stream().map(ServerSideApply.Result::object).toList(), format));
            if (format == Output.Format.json) Cli.out().println();
        }
        Cli.info(summary(env, results, options, true));
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
        if (change.diff()) {
            switch (r.action()) {
                case created -> Cli.out().println("+ " + r.ref() + " (new)");
                case pruned -> Cli.out().println("- " + r.ref() + " (to be pruned)");
                case configured -> {
                    Cli.out().println("~ " + r.ref());
                    for (String d : r.diff()) Cli.out().println("    " + d);
                }
                case unchanged -> { }
            }
        } else if (format == null || format.isTable()) {
            Cli.out().println(r.line());
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
