///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/kube/Manifests.java
//SOURCES ../lib/kube/ApplyRun.java
//SOURCES ../lib/cache/CacheDeploy.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Deploys the Attic binary cache and its CloudNativePG database into the environment's Attic
 * namespace, in order: the CNPG operator must be there (or --install-operator), Secret
 * attic-pg-app-credentials (created once), Cluster attic-pg (then waits until it is healthy), Secret
 * attic-jwt-signing (created once; a new key only with --rotate-jwt-key --yes), Secret attic-secrets
 * (DATABASE_URL from the Secret CNPG writes), ConfigMap attic-config (server.toml without secrets),
 * Deployments attic and attic-gc, Service, HPA, PDB, optional Ingress (then waits for the rollout);
 * finally checks /nix-cache-info, creates the environment's cache if absent and prints its public key
 * and the nix.conf lines.
 *
 * <p>Server-side apply with field manager {@code gfw}, read-compare-skip: a re-run on an unchanged
 * cluster sends no write. {@code --dry-run=client} prints every object (secret values masked) without
 * a cluster; {@code --dry-run=server} lets the API server check them; {@code --diff} prints what would
 * change. A planned environment is refused (67); production needs {@code --yes}.
 *
 * <p>Environment: KUBECONFIG, HTTPS_PROXY, GITLAB_CI, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/deploy-cache.java dev --dry-run=client
 * </pre>
 */
@Command(name = "deploy-cache", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Deploy the Attic binary cache and its CloudNativePG database.",
                "Secrets stay in Secrets; unchanged objects are skipped, so a re-run sends no write.",
                "Example: deploy-cache dev --dry-run=client", ""})
class DeployCache implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "With --dry-run=client: yaml (default) or json (a List); secret values are masked.")
    Output.Format format;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10m", description = "How long to wait, in all, for the database and the rollouts (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--install-operator", description = "Install the pinned cloudnative-pg chart (cache.operator) with Helm when the CNPG operator is missing, and with backups the Barman Cloud plugin chart (needs cert-manager).")
    boolean installOperator;

    @Option(names = "--operator-chart", paramLabel = "PATH", description = "With --install-operator: a local cloudnative-pg chart directory or .tgz instead of cache.operator.repository (air-gapped).")
    String operatorChart;

    @Option(names = "--plugin-chart", paramLabel = "PATH", description = "With --install-operator and backups: a local plugin-barman-cloud chart directory or .tgz instead of cache.operator.repository (air-gapped).")
    String pluginChart;

    @Option(names = "--rotate-jwt-key", description = "Generate a new token signing key (needs --yes): every existing Attic token stops working.")
    boolean rotateJwtKey;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", converter = Cli.Namespace.class, description = "Attic namespace (default: the environment's namespaces.attic.name).")
    String namespace;

    @Option(names = "--attic-url", paramLabel = "URL", description = "Reach Attic here for the health check and the cache (default: a port-forward to an Attic pod).")
    String atticUrl;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    public static void main(String... args) {
        System.exit(Cli.run(new DeployCache(), args));
    }

    private boolean diff;
    private EnvConfig.Env env;
    private String ns;
    private Duration waitLimit;
    /** The objects handled, the apply options and the one deadline of every wait (database, then both rollouts). */
    private ApplyRun run;

    @Override
    public Integer call() {
        change.validate();
        diff = change.diff();
        if (format != null && !change.clientDryRun()) throw new GfwException(ExitCode.USAGE, "-o prints the objects of a client dry run: add --dry-run=client");
        if (format == Output.Format.table) throw new GfwException(ExitCode.USAGE, "-o table is not available here: use yaml or json");
        if (rotateJwtKey && !change.yes) {
            throw new GfwException(ExitCode.REFUSED, "--rotate-jwt-key invalidates every Attic token issued so far (runners, laptops, CI): add --yes to confirm");
        }
        waitLimit = Cli.duration(timeout, "--timeout");
        env = envOptions.load(envName);
        CacheDeploy.requireSection(env);
        ns = namespace != null ? namespace : env.namespaces().attic().name();

        if (change.clientDryRun()) return printObjects();

        change.confirm(env, "deploy the cache on " + env.cluster().name());
        boolean writes = change.writes();
        run = new ApplyRun(env.name(), diff, change.serverDryRun(), change.forceConflicts, waitLimit);

        KubeClients.Target target = clusterOptions.target(env);
        var inputs = new CacheDeploy.Inputs(installOperator, operatorChart, rotateJwtKey, atticUrl, pluginChart);
        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(target))) {
            return new CacheDeploy(env, ns, inputs, run, target, clusterOptions.http(env, "Attic")).deploy(client, writes);
        } catch (ServerSideApply.PartialFailure f) {
            throw f;
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + run.doneSoFar(), e);
        }
    }

    // ---- client dry run: every object, secret values masked, no cluster ---------------------

    private int printObjects() {
        if (diff) throw new GfwException(ExitCode.USAGE, "--diff needs the cluster: drop --dry-run=client");
        List<HasMetadata> objects = CacheDeploy.objects(env, ns, Output.MASK);
        Output.Format f = format == null ? Output.Format.yaml : format;
        Cli.out().print(Output.objects(objects.stream().map(Manifests::masked).toList(), f));
        if (f == Output.Format.json) Cli.out().println();
        Cli.info(env.name() + ": " + objects.size() + " objects in namespace " + ns + " (client dry run: nothing sent; secret values are generated"
                + " or read at apply time and never printed" + (env.planned() ? "; the environment is planned, applying it is refused" : "") + ")");
        return ExitCode.OK;
    }
}
