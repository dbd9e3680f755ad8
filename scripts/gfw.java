///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
// AppCDS: the first run records the classes it loads, later runs map them (~2x faster start; bench/README.md).
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//SOURCES provision-namespaces.java
//SOURCES cnpg-connstr.java
//SOURCES fetch-kubeconfig.java
//SOURCES deploy-runners.java
//SOURCES deploy-cache.java
//SOURCES attic-token.java
//SOURCES health.java
//SOURCES deploy-dashboard.java
//SOURCES up.java
//SOURCES runners.java
//SOURCES db.java
//SOURCES cache.java
//SOURCES logs.java
//SOURCES events.java
//SOURCES report.java
//SOURCES down.java
//SOURCES deployer-rbac.java
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/cli/BashCompletion.java

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
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
        description = "Operate the GloriousFlywheel clusters: Attic cache, CNPG database, GitLab runners, dashboard.",
        footer = {"", "Examples:", "  gfw provision-namespaces dev --dry-run=client   # what would be applied",
                "  gfw validate                                    # check environment files",
                "  source <(./jbang scripts/gfw.java completion)   # gfw with Tab completion"})
class gfw implements Callable<Integer>, Cli.Subcommands {

    static final String VERSION = Cli.VERSION;

    /** Every subcommand, in the order help lists them (added by {@link #addSubcommands}, not by @Command). */
    static final List<Class<?>> SUBCOMMANDS = List.of(ProvisionNamespaces.class, CnpgConnstr.class, FetchKubeconfig.class,
            DeployRunners.class, DeployCache.class, AtticToken.class, Health.class, DeployDashboard.class, Up.class, Runners.class, Db.class, Cache.class, Logs.class, Events.class, Report.class, Down.class, DeployerRbacCommand.class, Validate.class, Version.class, Completion.class, ExitCodes.class, CommandLine.HelpCommand.class);

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
        System.exit(Cli.run(new gfw(), args));
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

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Check environment files; prints each problem as file:line:column field: message.",
            footer = {"", "Examples:", "  gfw validate              # every file in the environments directory",
                    "  gfw validate dev ./x.yaml # one environment and one file"})
    static class Validate implements Callable<Integer> {
        @Parameters(paramLabel = "ENV", arity = "0..*", description = "Environments or .yaml files (default: all in the environments directory).")
        List<String> envs = new ArrayList<>();

        @Mixin Cli.EnvOptions envOptions;

        @Override
        public Integer call() {
            List<String> names = envs.isEmpty() ? EnvConfig.available(envOptions.envDir) : envs;
            if (names.isEmpty()) throw new GfwException(ExitCode.CONFIG, "no environment files found; run from the gfw repository or set --env-dir");
            int failed = 0;
            boolean internal = false;
            for (String name : names) {
                try {
                    EnvConfig.Env env = envOptions.load(name);
                    Cli.out().println(env.file() + ": ok (" + env.status() + (env.production() ? ", production" : "") + ")");
                } catch (Throwable e) { // whatever one file does, every later file is still checked
                    failed++;
                    internal |= Cli.report(e) == ExitCode.INTERNAL;
                }
            }
            return failed == 0 ? ExitCode.OK : internal ? ExitCode.INTERNAL : ExitCode.CONFIG;
        }
    }

    @Command(name = "version", mixinStandardHelpOptions = true,
            description = "Print gfw's version, and with ENV the API server's version of that environment.",
            footer = {"", "Examples:", "  gfw version       # gfw and Java", "  gfw version dev   # also the dev API server's version"})
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
                try (var client = cluster.connect(target)) {
                    var v = client.getKubernetesVersion();
                    Cli.out().println("server " + v.getGitVersion() + " (" + target.server() + ", context " + target.context() + ")");
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "completion", mixinStandardHelpOptions = true,
            description = {"Print a bash/zsh script defining a gfw command (this checkout's launcher) with Tab completion.",
                    "It completes commands, options, environment names, runner types, --dry-run modes and -o formats."},
            footer = {"", "Examples:", "  source <(./jbang scripts/gfw.java completion)   # bash; then: gfw prov<Tab>",
                    "  autoload -U bashcompinit && bashcompinit       # zsh, first",
                    "  source <(./jbang scripts/gfw.java completion)"})
    static class Completion implements Callable<Integer> {
        @Spec CommandLine.Model.CommandSpec spec;
        @Mixin Cli.EnvOptions envOptions;

        @Override
        public Integer call() {
            List<String> dirs = EnvConfig.searchPath(envOptions.envDir);
            java.nio.file.Path envDir = java.nio.file.Path.of(dirs.isEmpty() || dirs.get(0).contains("://") ? "environments" : dirs.get(0));
            Cli.out().print(BashCompletion.script(spec.root().commandLine(), BashCompletion.launcher(System.getenv("JBANG_LAUNCH_CMD"), System.getenv("GFW_SCRIPT")),
                    envDir, BashCompletion.runnerTypes(envOptions.envDir)));
            return ExitCode.OK;
        }
    }

    @Command(name = "exit-codes", mixinStandardHelpOptions = true,
            description = "Print the table of exit codes every gfw script uses (1 never comes from gfw: it is JBang's).",
            footer = {"", "Examples:", "  gfw exit-codes", "  gfw exit-codes -o wide   # with each code's name, as in lib/core/ExitCode.java"})
    static class ExitCodes implements Callable<Integer> {
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            var rows = new ArrayList<List<String>>();
            boolean wide = output.format == Output.Format.wide;
            for (Map.Entry<Integer, String> e : ExitCode.table().entrySet()) {
                rows.add(wide ? List.of(String.valueOf(e.getKey()), ExitCode.name(e.getKey()), e.getValue()) : List.of(String.valueOf(e.getKey()), e.getValue()));
            }
            switch (output.format) {
                case table, wide -> Cli.out().print(Output.table(wide ? List.of("code", "name", "meaning") : List.of("code", "meaning"), rows));
                default -> {
                    var list = new ArrayList<Map<String, Object>>();
                    for (Map.Entry<Integer, String> e : ExitCode.table().entrySet()) {
                        var m = new java.util.LinkedHashMap<String, Object>();
                        m.put("code", e.getKey());
                        m.put("name", ExitCode.name(e.getKey()));
                        m.put("meaning", e.getValue());
                        list.add(m);
                    }
                    Cli.out().print(output.format == Output.Format.json ? Output.json(list) + "\n" : Output.yaml(list));
                }
            }
            return ExitCode.OK;
        }
    }
}
