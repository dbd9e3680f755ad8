///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/namespaces/NamespaceLayout.java
//SOURCES ../lib/namespaces/NamespaceProvision.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
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
    static final List<Class<? extends HasMetadata>> NAMESPACED_KINDS = NamespaceProvision.NAMESPACED_KINDS;

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

        var engine = new NamespaceProvision(format, prune, pruneNamespaces, diff);
        if (change.clientDryRun()) return engine.printObjects(env, objects);

        change.confirm(env, "provision namespaces on " + env.cluster().name());

        var options = new ServerSideApply.Options();
        options.serverDryRun = change.serverDryRun();
        options.forceConflicts = change.forceConflicts;
        options.diffOnly = diff;
        options.concurrency = concurrency;

        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(env))) {
            return engine.provision(env, objects, client, options);
        }
    }

    // ---- the objects of the layout (built in lib/namespaces/NamespaceLayout, which health compares with too) ----

    static Map<String, String> selector(EnvConfig.Env env) {
        return NamespaceLayout.selector(env);
    }

    static List<HasMetadata> render(EnvConfig.Env env) {
        return NamespaceLayout.render(env);
    }

    /** Wanted namespaces that exist but are being deleted. */
    static List<String> terminating(ServerSideApply.Inventory inventory, List<HasMetadata> objects) {
        return NamespaceProvision.terminating(inventory, objects);
    }
}
