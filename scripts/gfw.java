///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
// AppCDS: the first run records the classes it loads, later runs map them (~2x faster start; bench/README.md).
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//DEPS commons-codec:commons-codec:1.21.0
//SOURCES provision-namespaces.java
//SOURCES cnpg-connstr.java
//SOURCES fetch-kubeconfig.java
//SOURCES deploy-runners.java
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/ServerSideApply.java

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * gfw: every GloriousFlywheel task as one command. Each subcommand is also a standalone script in
 * scripts/ (gfw provision-namespaces dev == provision-namespaces.java dev).
 *
 * <pre>
 *   gfw provision-namespaces dev --dry-run=client   # what would be applied, no cluster needed
 *   gfw validate                                    # check every environments/*.yaml
 *   gfw completion > gfw.bash && source gfw.bash    # bash/zsh completion
 * </pre>
 *
 * Environment: GFW_ENVIRONMENTS (directory of environment files), KUBECONFIG, HTTPS_PROXY,
 * GITLAB_CI (selects the GitLab agent context), GFW_DEBUG (stack traces).
 */
@Command(name = "gfw", mixinStandardHelpOptions = true, versionProvider = gfw.VersionProvider.class,
        description = "Operate the GloriousFlywheel clusters: Attic cache, CNPG database, GitLab runners, dashboard.")
class gfw implements Callable<Integer>, Cli.Subcommands {

    static final String VERSION = Cli.VERSION;

    /** Every subcommand, in the order help lists them (added by {@link #addSubcommands}, not by @Command). */
    static final List<Class<?>> SUBCOMMANDS = List.of(ProvisionNamespaces.class, CnpgConnstr.class, FetchKubeconfig.class,
            DeployRunners.class, Validate.class, Version.class, Completion.class, ExitCodes.class, CommandLine.HelpCommand.class);

    /**
     * A run naming a subcommand ({@code gfw version dev}) gets only that one: picocli's model of all of
     * them costs ~100 ms of every start (bench/README.md). help, completion and anything else get all.
     */
    @Override
    public void addSubcommands(CommandLine cl, String... args) {
        String first = args.length > 0 ? args[0] : "";
        for (Class<?> c : SUBCOMMANDS) {
            Command a = c.getAnnotation(Command.class);
            boolean named = a.name().equals(first) || Arrays.asList(a.aliases()).contains(first);
            if (named && c != CommandLine.HelpCommand.class && c != Completion.class) {
                cl.addSubcommand(c);
                return;
            }
        }
        for (Class<?> c : SUBCOMMANDS) cl.addSubcommand(c);
    }

    @Spec CommandLine.Model.CommandSpec spec;

    public static void main(String... args) {
        int code = Cli.run(new gfw(), args);
        if (ArchiveTraining.recording()) ArchiveTraining.run();
        System.exit(code);
    }

    /**
     * The AppCDS archive (//CDS) keeps the classes of the one run that records it, the first after a
     * build. Whatever that run was (--help, a dry run), this makes the archive also hold what a cluster
     * command loads: an environment, a kubeconfig, a client, GET and LIST against a throwaway loopback
     * HTTP server. Only in that recording run, silent, errors ignored; later runs are ~0.5 s faster for it.
     */
    static final class ArchiveTraining {
        /** True in the run that records the archive (Linux; ProcessHandle does not show the JVM options there). */
        static boolean recording() {
            try {
                for (String arg : java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/cmdline")).split("\0")) {
                    if (arg.startsWith("-XX:ArchiveClassesAtExit") || arg.startsWith("-XX:AOTCacheOutput")) return true;
                }
            } catch (java.io.IOException | RuntimeException e) {
                // not Linux: no training
            }
            return false;
        }

        static void run() {
            com.sun.net.httpserver.HttpServer server = null;
            java.nio.file.Path kubeconfig = null;
            try {
                server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
                server.createContext("/", ex -> {
                    String body = switch (ex.getRequestURI().getPath()) {
                        case "/version" -> "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0\"}";
                        case "/api/v1/namespaces" -> "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                + "\"items\":[{\"metadata\":{\"name\":\"default\",\"labels\":{\"a\":\"b\"}},\"status\":{\"phase\":\"Active\"}}]}";
                        default -> null;
                    };
                    byte[] b = body == null ? new byte[0] : body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    ex.getResponseHeaders().add("Content-Type", "application/json");
                    ex.sendResponseHeaders(body == null ? 404 : 200, b.length == 0 ? -1 : b.length);
                    ex.getResponseBody().write(b);
                    ex.close();
                });
                server.start();
                String context = "training";
                kubeconfig = java.nio.file.Files.createTempFile("gfw-cds-training-", ".yaml");
                java.nio.file.Files.writeString(kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:"
                        + server.getAddress().getPort() + "\ncontexts:\n- name: " + context + "\n  context:\n    cluster: c\n    user: u\n"
                        + "current-context: " + context + "\nusers:\n- name: u\n  user:\n    token: t\n");
                KubeClients.Target target = new KubeClients.Target(kubeconfig, "--kubeconfig", context, null, null);
                List<String> envs = EnvConfig.available(null);
                if (!envs.isEmpty()) target = KubeClients.resolve(EnvConfig.load(envs.get(0), null), kubeconfig.toString(), context, "none");
                try (var client = KubeClients.connect(target)) {
                    client.getKubernetesVersion();
                    List<io.fabric8.kubernetes.api.model.Namespace> items = client.namespaces().list().getItems();
                    Output.yaml(items);
                    Output.json(items);
                }
            } catch (Throwable e) {
                // a recording that misses some classes only costs time later
            } finally {
                if (server != null) server.stop(0);
                try {
                    if (kubeconfig != null) java.nio.file.Files.deleteIfExists(kubeconfig);
                } catch (java.io.IOException e) {
                    // a temp file left behind
                }
            }
        }
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(Cli.err());
        return ExitCode.USAGE;
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        public String[] getVersion() {
            return new String[] {"gfw " + VERSION, "java " + System.getProperty("java.version")};
        }
    }

    @Command(name = "validate", description = "Check environment files; prints each problem as file:line:column field: message.")
    static class Validate implements Callable<Integer> {
        @Parameters(paramLabel = "ENV", arity = "0..*", description = "Environments or .yaml files (default: all in the environments directory).")
        List<String> envs = new ArrayList<>();

        @Mixin Cli.EnvOptions envOptions;

        @Override
        public Integer call() {
            List<String> names = envs.isEmpty() ? EnvConfig.available(envOptions.envDir) : envs;
            if (names.isEmpty()) throw new GfwException(ExitCode.CONFIG, "no environment files found; run from the gfw repository or set --env-dir");
            int failed = 0;
            for (String name : names) {
                try {
                    EnvConfig.Env env = envOptions.load(name);
                    Cli.out().println(env.file() + ": ok (" + env.status() + (env.production() ? ", production" : "") + ")");
                } catch (GfwException e) {
                    failed++;
                    for (String line : e.getMessage().split("\n")) Cli.err().println("error: " + line);
                }
            }
            return failed == 0 ? ExitCode.OK : ExitCode.CONFIG;
        }
    }

    @Command(name = "version", description = "Print gfw's version, and with ENV the API server's version of that environment.")
    static class Version implements Callable<Integer> {
        @Parameters(paramLabel = "ENV", arity = "0..1", description = "Also ask this environment's API server for its version.")
        String env;

        @Mixin Cli.EnvOptions envOptions;
        @Mixin Cli.ClusterOptions cluster;

        @Override
        public Integer call() {
            Cli.out().println("gfw " + VERSION + " (java " + System.getProperty("java.version") + ")");
            if (env != null) {
                EnvConfig.Env e = envOptions.load(env);
                var target = cluster.target(e);
                try (var client = KubeClients.connect(target)) {
                    var v = client.getKubernetesVersion();
                    Cli.out().println("server " + v.getGitVersion() + " (" + target.server() + ", context " + target.context() + ")");
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "completion", description = {"Print a bash/zsh completion script for gfw.",
            "bash: source <(gfw completion)   zsh: autoload -U bashcompinit && bashcompinit && source <(gfw completion)"})
    static class Completion implements Callable<Integer> {
        @Spec CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Cli.out().print(AutoComplete.bash("gfw", spec.root().commandLine()));
            return ExitCode.OK;
        }
    }

    @Command(name = "exit-codes", description = "Print the table of exit codes every gfw script uses.")
    static class ExitCodes implements Callable<Integer> {
        @Override
        public Integer call() {
            var rows = new ArrayList<List<String>>();
            for (Map.Entry<Integer, String> e : ExitCode.table().entrySet()) rows.add(List.of(String.valueOf(e.getKey()), e.getValue()));
            Cli.out().print(Output.table(List.of("code", "meaning"), rows));
            return ExitCode.OK;
        }
    }
}
