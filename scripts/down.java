///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/gitlab/GitLabApi.java
//SOURCES ../lib/kube/HelmReleases.java
//SOURCES ../lib/lifecycle/Teardown.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Takes an environment down: the reverse of {@code up}, plan first ({@link Teardown}). The dashboard, the runner
 * releases and their GitLab runners (deleted in GitLab too), Attic; the database, the volumes and the Secrets that
 * open them only with {@code --delete-data}, which also asks for the environment's name to be typed (no {@code -y}
 * for that); the namespaces only with {@code --namespaces}. A re-run finds nothing left and sends nothing.
 *
 * <p>Environment: GITLAB_TOKEN (or --gitlab-token-file), only when there are GitLab runners to delete; KUBECONFIG.
 *
 * <pre>
 *   gfw down dev --dry-run             # the plan
 *   gfw down dev                       # dashboard, runners (GitLab too), Attic; the data stays
 *   gfw down dev --delete-data --namespaces   # everything; asks for "dev" to be typed
 * </pre>
 */
@Command(name = "down", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Take an environment down, the reverse of up, plan first: dashboard, runners (deleted in GitLab too), Attic; data only with --delete-data, namespaces only with --namespaces.",
        footer = {"", "Examples:", "  down dev --dry-run                     # the plan only",
                "  down dev                               # dashboard, runners, Attic; database and volumes stay",
                "  down dev --delete-data --namespaces    # everything; asks to type 'dev' first",
                "  down dev --diff                        # exit 0: nothing left to take down; 82: listed"})
class Down implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Option(names = "--delete-data", description = "Also delete the database (CloudNativePG cluster), the persistent volumes and the Secrets that open them; asks for the environment's name to be typed, -y does not answer it.")
    boolean deleteData;

    @Option(names = "--namespaces", description = "Also delete the environment's namespaces (the Attic namespace only with --delete-data: it holds the data).")
    boolean namespaces;

    @Option(names = "--gitlab-url", paramLabel = "URL", description = "GitLab API base URL (default: organization.gitlabUrl).")
    String gitlabUrl;

    @Option(names = "--gitlab-token-file", paramLabel = "FILE", description = "Read the GitLab access token from FILE ('-' for stdin) instead of $GITLAB_TOKEN.")
    String gitlabTokenFile;

    @Mixin Cli.WithDiff change;
    @Mixin Cli.OutputOption output;
    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    public static void main(String... args) {
        System.exit(Cli.run(new Down(), args));
    }

    @Override
    public Integer call() {
        change.validate();
        if (change.forceConflicts) throw new GfwException(ExitCode.USAGE, "--force-conflicts does not apply to down: it applies nothing");
        if (deleteData && "-".equals(gitlabTokenFile)) {
            throw new GfwException(ExitCode.USAGE, "--gitlab-token-file - reads stdin, where --delete-data asks for the environment's name; give the token in a file or GITLAB_TOKEN");
        }
        EnvConfig.Env env = envOptions.load(envName);
        change.confirm(env, "take down environment " + env.name());
        KubeClients.Target target = cluster.target(env);
        var helm = new HelmReleases.JvmHelm(target);
        try (KubernetesClient client = cluster.connect(target)) {
            List<Teardown.Item> plan = Teardown.plan(client, helm, env, deleteData, namespaces);
            List<Teardown.Item> going = plan.stream().filter(i -> i.kept() == null).toList();
            Cli.out().print(Teardown.render(plan, change.writes(), change.serverDryRun(), output.format));
            Cli.out().flush();
            long kept = plan.size() - going.size();
            if (going.isEmpty()) {
                Cli.info(env.name() + ": nothing to take down" + (kept == 0 ? "" : " (" + kept + " kept)"));
                return ExitCode.OK;
            }
            if (change.diff()) {
                Cli.info(env.name() + ": " + going.size() + " to take down (--diff: nothing was changed)");
                return ExitCode.DRIFT;
            }
            if (change.clientDryRun()) {
                Cli.info("dry run: nothing was deleted (" + going.size() + " would be)");
                return ExitCode.OK;
            }
            boolean dataGoes = going.stream().anyMatch(i -> i.part().equals("data") || (i.part().equals("namespaces")
                    && i.namespace() == null && i.what().equals("namespace/" + env.namespaces().attic().name())));
            if (dataGoes && change.writes()) typedName(env);
            GitLabApi gitlab = null;
            if (change.writes() && going.stream().anyMatch(i -> i.kind() == Teardown.Kind.gitlab)) {
                String token = SecretInput.read(new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token", "glpat-...",
                        "GITLAB_TOKEN is not set: needed to delete the environment's runners in GitLab; export GITLAB_TOKEN or pass --gitlab-token-file FILE: "
                                + GitLabApi.Use.DOWN.needs()), gitlabTokenFile).value();
                gitlab = new GitLabApi(gitlabUrl != null ? gitlabUrl : env.organization().gitlabUrl(), token, cluster.http(env, "GitLab"))
                        .use(GitLabApi.Use.DOWN).notices(Cli::info);
            }
            Teardown.run(client, helm, gitlab, plan, change.serverDryRun(), Cli::info);
            Cli.info(env.name() + ": " + going.size() + (change.serverDryRun() ? " checked by the API server, nothing deleted" : " taken down")
                    + (kept == 0 ? "" : "; " + kept + " kept (see the plan)"));
            return ExitCode.OK;
        }
    }

    /**
     * The data goes only when the environment's name is typed: at the terminal, or as the first line of stdin when
     * there is no terminal (a pipe in a script: still typed, never a flag).
     */
    private static void typedName(EnvConfig.Env env) {
        String prompt = "This deletes the data of " + env.name() + " (database, volumes, their Secrets) for good. Type the environment's name (" + env.name() + ") to go on: ";
        String typed;
        var console = System.console();
        if (console != null) {
            typed = console.readLine("%s", prompt);
        } else {
            Cli.err().print(prompt);
            Cli.err().flush();
            try {
                typed = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            } catch (java.io.IOException e) {
                typed = null;
            }
        }
        if (typed == null || !typed.trim().equals(env.name())) {
            throw new GfwException(ExitCode.REFUSED, "--delete-data: the environment's name was not typed" + (typed == null ? "" : " (got something else)")
                    + "; nothing was deleted");
        }
    }
}
