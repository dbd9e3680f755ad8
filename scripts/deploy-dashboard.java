///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/kube/Manifests.java
//SOURCES ../lib/kube/ApplyRun.java
//SOURCES ../lib/dashboard/DashboardDeploy.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Deploys the runner dashboard into the environment's dashboard namespace: Secret
 * runner-dashboard-secrets (GITLAB_TOKEN from $GITLAB_TOKEN or --gitlab-token-file, kept when neither is
 * given; SESSION_SECRET generated once and kept; the OAuth client secret when dashboard.oauth is set),
 * ConfigMap runner-dashboard-config (PORT, GITLAB_URL, GITLAB_GROUP_ID; no secret), a read-only Role on
 * the runner namespace for its ServiceAccount, Deployment runner-dashboard (pinned image, non-root, a
 * checksum annotation that rolls the pods when config or secrets change), Service, and an Ingress when
 * dashboard.ingress is set; then waits for the rollout.
 *
 * <p>Server-side apply with field manager {@code gfw}, read-compare-skip: a re-run on an unchanged
 * cluster sends no write. A planned environment is refused (67); production needs {@code --yes}.
 *
 * <p>Environment: GITLAB_TOKEN, GITLAB_OAUTH_CLIENT_SECRET, KUBECONFIG, HTTPS_PROXY, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/deploy-dashboard.java dev --dry-run=client
 * </pre>
 */
@Command(name = "deploy-dashboard", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Deploy the runner dashboard: Deployment, ConfigMap, Secret, read-only RBAC, Service, Ingress.",
                "Secrets stay in the Secret; unchanged objects are skipped, so a re-run sends no write.",
                "Example: deploy-dashboard dev --dry-run=client", ""})
class DeployDashboard implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "With --dry-run=client: yaml (default) or json (a List); secret values are masked.")
    Output.Format format;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5m", description = "How long to wait for the rollout (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--gitlab-token-file", paramLabel = "FILE", description = "Read the dashboard's GitLab token from FILE ('-' for stdin) instead of $GITLAB_TOKEN; without either, the stored one is kept.")
    String gitlabTokenFile;

    @Option(names = "--oauth-secret-file", paramLabel = "FILE", description = "Read the OAuth application's secret from FILE ('-' for stdin) instead of $GITLAB_OAUTH_CLIENT_SECRET (with dashboard.oauth).")
    String oauthSecretFile;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", converter = Cli.Namespace.class, description = "Dashboard namespace (default: the environment's namespaces.dashboard.name).")
    String namespace;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    public static void main(String... args) {
        System.exit(Cli.run(new DeployDashboard(), args));
    }

    @Override
    public Integer call() {
        change.validate();
        if (format != null && !change.clientDryRun()) throw new GfwException(ExitCode.USAGE, "-o prints the objects of a client dry run: add --dry-run=client");
        if (format == Output.Format.table) throw new GfwException(ExitCode.USAGE, "-o table is not available here: use yaml or json");
        var waitLimit = Cli.duration(timeout, "--timeout");
        EnvConfig.Env env = envOptions.load(envName);
        DashboardDeploy.requireSection(env);
        String ns = namespace != null ? namespace : env.namespaces().dashboard().name();

        if (change.clientDryRun()) {
            List<HasMetadata> objects = DashboardDeploy.objects(env, ns, Output.MASK);
            Output.Format f = format == null ? Output.Format.yaml : format;
            Cli.out().print(Output.objects(objects.stream().map(Manifests::masked).toList(), f));
            if (f == Output.Format.json) Cli.out().println();
            Cli.info(env.name() + ": " + objects.size() + " objects in namespaces " + ns + " and " + env.namespaces().runners().name()
                    + " (client dry run: nothing sent; secret values are read or generated at apply time and never printed"
                    + (env.planned() ? "; the environment is planned, applying it is refused" : "") + ")");
            return ExitCode.OK;
        }

        change.confirm(env, "deploy the dashboard on " + env.cluster().name());
        var run = new ApplyRun(env.name(), change.diff(), change.serverDryRun(), change.forceConflicts, waitLimit);
        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(env))) {
            DashboardDeploy.deploy(client, env, ns, new DashboardDeploy.Inputs(gitlabTokenFile, oauthSecretFile), run);
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + run.doneSoFar(), e);
        }
        Cli.info(run.summary());
        return ExitCode.OK;
    }
}
