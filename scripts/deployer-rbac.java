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
//SOURCES ../lib/lifecycle/DeployerRbac.java

import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Prints the least-privilege RBAC that lets a CI job (or any user, group or ServiceAccount) run
 * {@code gfw up ENV} without being a cluster admin: the environment's namespaces, a ClusterRole bound
 * in each of them, the runner chart's rules in the runner namespace, a few cluster-scope reads and
 * get/patch of the namespaces by name (lib/lifecycle/DeployerRbac.java says why each rule is there). A cluster
 * admin applies it once; it reads and changes nothing itself.
 *
 * <p>Exit: 0 printed; 64 a flag is wrong; 66 no such environment; 65 the environment file is invalid.
 *
 * <p>Environment: GFW_ENVIRONMENTS.
 *
 * <pre>
 *   gfw deployer-rbac dev --gitlab-project-id 42 | kubectl apply -f -
 * </pre>
 */
@Command(name = "deployer-rbac", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the least-privilege RBAC for whoever runs 'gfw up ENV' (a CI job through the GitLab agent, a user, a ServiceAccount), for an admin to apply once.",
        footer = {"", "Examples:", "  deployer-rbac dev --gitlab-project-id 42 | kubectl apply -f -   # CI jobs of project 42 deploying to environment dev",
                "  deployer-rbac dev --service-account ci/deployer -o json"})
class DeployerRbacCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Who who;

    static class Who {
        @Option(names = "--gitlab-project-id", paramLabel = "ID",
                description = "CI jobs of this GitLab project that deploy to environment ENV, as the GitLab agent impersonates them (access_as: ci_job): group gitlab:project_env:ID:ENV.")
        Long projectId;

        @Option(names = "--group", paramLabel = "NAME", description = "A group, e.g. one your authenticator sets.")
        String group;

        @Option(names = "--user", paramLabel = "NAME", description = "A user.")
        String user;

        @Option(names = "--service-account", paramLabel = "NAMESPACE/NAME", description = "A ServiceAccount.")
        String serviceAccount;
    }

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "yaml", description = "yaml or json (default: ${DEFAULT-VALUE}).")
    Output.Format format = Output.Format.yaml;

    @Mixin Cli.EnvOptions envOptions;

    public static void main(String... args) {
        System.exit(Cli.run(new DeployerRbacCommand(), args));
    }

    @Override
    public Integer call() {
        if (format.isTable()) throw new GfwException(ExitCode.USAGE, "-o " + format + ": use yaml or json");
        DeployerRbac.Who subject = subject();
        EnvConfig.Env env = envOptions.load(envName);
        Cli.out().print(Output.objects(DeployerRbac.render(env, subject), format));
        return ExitCode.OK;
    }

    private DeployerRbac.Who subject() {
        if (who.projectId != null) {
            if (who.projectId <= 0) throw new GfwException(ExitCode.USAGE, "--gitlab-project-id " + who.projectId + ": a GitLab project id is a positive number");
            return DeployerRbac.Who.gitlabProjectEnvironment(who.projectId, envName);
        }
        if (who.group != null) return DeployerRbac.Who.group(name("--group", who.group));
        if (who.user != null) return DeployerRbac.Who.user(name("--user", who.user));
        String[] parts = who.serviceAccount.split("/", -1);
        if (parts.length != 2 || !parts[0].matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?") || !parts[1].matches("[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?")) {
            throw new GfwException(ExitCode.USAGE, "--service-account " + Output.quote(who.serviceAccount) + ": use NAMESPACE/NAME, e.g. ci/deployer");
        }
        return DeployerRbac.Who.serviceAccount(parts[0], parts[1]);
    }

    private static String name(String flag, String value) {
        if (value.isBlank() || value.length() > 253 || !value.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new GfwException(ExitCode.USAGE, flag + " " + Output.quote(value) + ": a name of 1 to 253 printable characters without spaces");
        }
        return value;
    }
}
