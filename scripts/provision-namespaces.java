///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/ServerSideApply.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.LimitRangeBuilder;
import io.fabric8.kubernetes.api.model.LimitRangeItemBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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

    static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    static final String ENVIRONMENT_LABEL = "gfw.gloriousflywheel.dev/environment";
    /** Which gfw command owns an object: --prune only ever touches this layout's objects. */
    static final String OWNER_LABEL = "gfw.gloriousflywheel.dev/owner";
    static final String OWNER = "provision-namespaces";
    static final String CI_JOB_ROLE = "ci-job-runner-access";
    static final String CI_JOB_GROUP = "gitlab:ci_job";

    /** The namespaced kinds this command manages (what --prune looks at). */
    static final List<Class<? extends HasMetadata>> NAMESPACED_KINDS = List.of(ResourceQuota.class, LimitRange.class,
            NetworkPolicy.class, Role.class, RoleBinding.class, ServiceAccount.class);

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

    // ---- the objects of the layout ----------------------------------------------------------------

    /** Labels that select this environment's layout objects (what --prune deletes from). */
    static Map<String, String> selector(EnvConfig.Env env) {
        var m = new LinkedHashMap<String, String>();
        m.put(MANAGED_BY, "gfw");
        m.put(ENVIRONMENT_LABEL, env.name());
        m.put(OWNER_LABEL, OWNER);
        return m;
    }

    /** Every object of the layout: the namespaces first, then per namespace its guards, RBAC and service accounts. */
    static List<HasMetadata> render(EnvConfig.Env env) {
        var namespaces = new ArrayList<HasMetadata>();
        var contents = new ArrayList<HasMetadata>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            namespaces.add(namespace(env, ns));
            contents.addAll(contents(env, ns));
        }
        namespaces.addAll(contents);
        return namespaces;
    }

    static Namespace namespace(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var labels = labels(env, ns);
        labels.put("pod-security.kubernetes.io/enforce", ns.podSecurity().enforce());
        labels.put("pod-security.kubernetes.io/warn", ns.podSecurity().warn());
        labels.put("pod-security.kubernetes.io/audit", ns.podSecurity().audit());
        return new NamespaceBuilder().withNewMetadata().withName(ns.name()).withLabels(labels).endMetadata().build();
    }

    static List<HasMetadata> contents(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var out = new ArrayList<HasMetadata>();
        // runner-quota / runner-limits in the runner namespace, attic-quota in Attic's, and so on.
        String prefix = ns.component().endsWith("s") ? ns.component().substring(0, ns.component().length() - 1) : ns.component();
        if (!ns.quota().isEmpty()) {
            var hard = new TreeMap<String, Quantity>();
            ns.quota().forEach((k, v) -> hard.put(k, new Quantity(v)));
            out.add(new ResourceQuotaBuilder().withMetadata(meta(env, ns, prefix + "-quota")).withNewSpec().withHard(hard).endSpec().build());
        }
        EnvConfig.Limits l = ns.limits();
        if (!l.defaultRequest().isEmpty() || !l.defaultLimit().isEmpty() || !l.max().isEmpty()) {
            var item = new LimitRangeItemBuilder().withType("Container");
            if (!l.defaultRequest().isEmpty()) item.withDefaultRequest(quantities(l.defaultRequest()));
            if (!l.defaultLimit().isEmpty()) item.withDefault(quantities(l.defaultLimit()));
            if (!l.max().isEmpty()) item.withMax(quantities(l.max()));
            out.add(new LimitRangeBuilder().withMetadata(meta(env, ns, prefix + "-limits")).withNewSpec().withLimits(item.build()).endSpec().build());
        }
        out.addAll(networkPolicies(env, ns));
        if (ns == env.namespaces().runners()) {
            out.add(new RoleBuilder().withMetadata(meta(env, ns, CI_JOB_ROLE))
                    .addNewRule().withApiGroups("").withResources("pods", "pods/log", "events").withVerbs("get", "list", "watch").endRule()
                    .build());
            out.add(new RoleBindingBuilder().withMetadata(meta(env, ns, CI_JOB_ROLE))
                    .addNewSubject().withKind("Group").withName(CI_JOB_GROUP).withApiGroup("rbac.authorization.k8s.io").endSubject()
                    .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(CI_JOB_ROLE).endRoleRef()
                    .build());
        }
        for (String sa : ns.serviceAccounts()) out.add(new ServiceAccountBuilder().withMetadata(meta(env, ns, sa)).build());
        return out;
    }

    /**
     * Ingress is denied by default; then allowed between pods of the same namespace (Attic and its
     * database), from the runner namespace to Attic's pod port, from the CloudNativePG operator to the
     * database pods, and from the ingress namespace to the dashboard's port.
     */
    static List<NetworkPolicy> networkPolicies(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var out = new ArrayList<NetworkPolicy>();
        out.add(new NetworkPolicyBuilder().withMetadata(meta(env, ns, "default-deny-ingress"))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress").endSpec().build());
        out.add(new NetworkPolicyBuilder().withMetadata(meta(env, ns, "allow-same-namespace"))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress")
                .addNewIngress().addNewFrom().withNewPodSelector().endPodSelector().endFrom().endIngress()
                .endSpec().build());
        if (ns == env.namespaces().attic()) {
            out.add(allowFrom(env, ns, "allow-runners-to-attic", env.namespaces().runners().name(), env.attic().targetPort()));
            out.add(allowCnpgOperator(env, ns));
        }
        if (ns == env.namespaces().dashboard()) {
            out.add(allowFrom(env, ns, "allow-ingress-to-dashboard", env.dashboard().ingressNamespace(), env.dashboard().port()));
        }
        return out;
    }

    /** The CloudNativePG operator manages the database pods through ports 8000 (instance manager) and 5432. */
    private static NetworkPolicy allowCnpgOperator(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        NetworkPolicyPeer operator = new NetworkPolicyPeerBuilder()
                .withNewNamespaceSelector().addToMatchLabels("kubernetes.io/metadata.name", env.cnpg().operatorNamespace()).endNamespaceSelector()
                .withNewPodSelector().addToMatchLabels("app.kubernetes.io/name", "cloudnative-pg").endPodSelector().build();
        return new NetworkPolicyBuilder().withMetadata(meta(env, ns, "allow-cnpg-operator"))
                .withNewSpec().withNewPodSelector().addToMatchLabels("cnpg.io/cluster", env.cnpg().cluster()).endPodSelector()
                .withPolicyTypes("Ingress")
                .addNewIngress().withFrom(operator)
                .addNewPort().withProtocol("TCP").withPort(new IntOrString(8000)).endPort()
                .addNewPort().withProtocol("TCP").withPort(new IntOrString(5432)).endPort().endIngress()
                .endSpec().build();
    }

    private static NetworkPolicy allowFrom(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String name, String fromNamespace, int port) {
        NetworkPolicyPeer from = new NetworkPolicyPeerBuilder().withNewNamespaceSelector()
                .addToMatchLabels("kubernetes.io/metadata.name", fromNamespace).endNamespaceSelector().build();
        return new NetworkPolicyBuilder().withMetadata(meta(env, ns, name))
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress")
                .addNewIngress().withFrom(from).addNewPort().withProtocol("TCP").withPort(new IntOrString(port)).endPort().endIngress()
                .endSpec().build();
    }

    static Map<String, String> labels(EnvConfig.Env env, EnvConfig.NamespaceSpec ns) {
        var m = new LinkedHashMap<String, String>();
        m.put("app.kubernetes.io/name", ns.name());
        m.put("app.kubernetes.io/component", ns.component());
        String org = env.organization() == null ? null : env.organization().name();
        m.put("app.kubernetes.io/part-of", org == null || org.isBlank() ? "gloriousflywheel" : org);
        m.putAll(selector(env));
        return m;
    }

    private static ObjectMeta meta(EnvConfig.Env env, EnvConfig.NamespaceSpec ns, String name) {
        return new ObjectMetaBuilder().withName(name).withNamespace(ns.name()).withLabels(labels(env, ns)).build();
    }

    private static Map<String, Quantity> quantities(Map<String, String> m) {
        var out = new TreeMap<String, Quantity>();
        m.forEach((k, v) -> out.put(k, new Quantity(v)));
        return out;
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
