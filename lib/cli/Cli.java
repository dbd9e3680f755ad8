// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
// Start-up (bench/README.md): C1 only and the serial GC suit short runs on 2 cores; cds logging off
// so that the AppCDS archive of a script's //CDS line is dumped, or skipped when stale, silently;
// Netty without sun.misc.Unsafe, which Java 24+ warns about on stderr (no measurable cost).
//JAVA_OPTIONS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xlog:cds=off,cds+dynamic=off -Dio.netty.noUnsafe=true
// Sources and output are UTF-8 whatever the locale (javac and Java 17 would use ASCII when LANG is unset, as in some CI jobs).
//COMPILE_OPTIONS -encoding UTF-8
// javac's own JVM C1 only and serial GC as well: a cold build of gfw.java (48 files) costs ~5 s of CPU instead of ~11 (bench/README.md, "First run").
//COMPILE_OPTIONS -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC
//JAVA_OPTIONS -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dsun.stderr.encoding=UTF-8
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvChecks.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../core/Output.java
//SOURCES ArchiveTraining.java
//SOURCES ../core/TempFiles.java

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.Console;
import java.io.PrintStream;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * What every gfw script shares on the command line: running a picocli command with gfw's exit
 * codes and one-line errors, the common options (environment directory, cluster, output,
 * dry-run), and the safety checks that come before any change to a cluster.
 */
final class Cli {

    /** gfw's version, shown by every script's --version and by gfw version. */
    static final String VERSION = "0.1.0";

    /**
     * Runs {@code command} with {@code args} and returns the exit code (scripts pass it to System.exit).
     * Whatever happens — an Error such as StackOverflowError too — ends as one {@code error:} line and
     * a gfw exit code, never JBang's 1 with a stack trace.
     */
    static int run(Object command, String... args) {
        KubeClients.quietLogging(); // before anything touches fabric8's model classes
        int code;
        TempFiles.cleanStale(); // what a killed run left in gfw's private temporary directory
        try {
            CommandLine cl = commandLine(command, args);
            code = cl.execute(args);
        } catch (Throwable t) { // picocli passes Errors through: they are bugs too, reported the same way
            code = report(t);
        }
        if (ArchiveTraining.recording()) ArchiveTraining.run(); // only the run that records a script's AppCDS archive
        return code;
    }

    /** The picocli model of {@code command} with gfw's settings: exit codes, one-line errors, help on every (sub)command. */
    static CommandLine commandLine(Object command, String... args) {
        var cl = new CommandLine(command);
        if (cl.getCommandSpec().version().length == 0) cl.getCommandSpec().version("gfw " + VERSION); // -V of a standalone script
        if (command instanceof Subcommands s) s.addSubcommands(cl, args); // before the settings below: they apply to subcommands present
        help(cl);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            err().println("error: " + usageMessage(ex) + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return ExitCode.USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> report(ex));
        return cl;
    }

    /**
     * Every command and subcommand answers --help and -h, and its help ends with the exit codes,
     * generated from {@link ExitCode#table()} (so no script writes its own, and none goes stale).
     */
    private static void help(CommandLine cl) {
        var spec = cl.getCommandSpec();
        if (spec.optionsMap().get("--help") == null && !(cl.getCommand() instanceof CommandLine.HelpCommand)) spec.mixinStandardHelpOptions(true);
        var codes = new java.util.LinkedHashMap<String, String>();
        for (var e : ExitCode.table().entrySet()) codes.put(String.valueOf(e.getKey()), e.getValue());
        spec.usageMessage().exitCodeListHeading("%nExit codes (gfw exit-codes; never 1, which is JBang's):%n").exitCodeList(codes);
        for (CommandLine sub : cl.getSubcommands().values()) help(sub);
    }

    /**
     * picocli's message, except that an unknown option is named without its value: picocli would echo
     * {@code '--password=x'} or {@code '--rancher-token', 'x'} to stderr (and so into CI logs).
     */
    static String usageMessage(CommandLine.ParameterException ex) {
        if (!(ex instanceof CommandLine.UnmatchedArgumentException u)) return Output.quoteQuoted(GfwException.firstLine(ex.getMessage()));
        String unknownCommand = unknownCommand(u);
        if (unknownCommand != null) return unknownCommand;
        var options = u.getUnmatched().stream().filter(arg -> arg.startsWith("-") && arg.length() > 1)
                .map(arg -> "'" + arg.replaceFirst("=.*", "=" + Output.MASK) + "'").distinct().toList();
        if (options.isEmpty()) return Output.quoteQuoted(GfwException.firstLine(ex.getMessage()));
        return (options.size() == 1 ? "Unknown option: " : "Unknown options: ") + String.join(", ", options);
    }

    /**
     * A command with subcommands whose first unmatched argument is a word: a misspelled command
     * ({@code gfw provison-namespaces dev}), named with the closest real one. Null otherwise.
     */
    private static String unknownCommand(CommandLine.UnmatchedArgumentException u) {
        var cl = u.getCommandLine();
        if (cl.getSubcommands().isEmpty() || !cl.getCommandSpec().positionalParameters().isEmpty() || u.getUnmatched().isEmpty()) return null;
        String word = u.getUnmatched().get(0);
        if (word.startsWith("-")) return null;
        String closest = null;
        int best = Integer.MAX_VALUE;
        for (String name : cl.getSubcommands().keySet()) {
            int d = editDistance(word, name);
            if (d < best) {
                best = d;
                closest = name;
            }
        }
        String message = "unknown command " + Output.quote(word);
        if (closest != null && best <= Math.max(2, closest.length() / 2)) return message + "; did you mean " + closest + "?";
        return message + "; the commands are " + String.join(", ", cl.getSubcommands().keySet());
    }

    /** Levenshtein distance (the input is cut to 100 characters: a command name is short). */
    static int editDistance(String a, String b) {
        a = a.length() > 100 ? a.substring(0, 100) : a;
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** A command that adds its subcommands itself, seeing the arguments (gfw adds only the one a run names). */
    interface Subcommands {
        void addSubcommands(CommandLine commandLine, String... args);
    }

    /**
     * A quoted part of an error line longer than this is cut to 40 characters: longer than any name or
     * command gfw quotes on purpose ('kubectl -n NS delete secret ...'), so it can only be someone's input.
     */
    private static final int QUOTED_MAX = 200;

    /** Prints an exception as one line per problem and maps it to an exit code; quoted input is cut, control characters escaped. */
    static int report(Throwable ex) {
        Throwable e = unwrap(ex);
        if (e instanceof GfwException g) {
            for (String line : g.getMessage().split("\n")) err().println("error: " + Output.quoteQuoted(line, QUOTED_MAX));
            debug(e);
            return g.exitCode();
        }
        if (e instanceof KubernetesClientException k) {
            GfwException g = KubeClients.fromKubernetes(k);
            err().println("error: " + Output.quoteQuoted(g.getMessage(), QUOTED_MAX));
            debug(e);
            return g.exitCode();
        }
        try {
            String what = e.getClass().getName() + (e.getMessage() == null ? "" : ": " + Output.clip(Output.redact(GfwException.firstLine(e.getMessage()))));
            err().println("error: internal error: " + what + " (a bug in gfw; set GFW_DEBUG=1 for the stack trace)");
            debug(e);
        } catch (Throwable again) { // e.g. out of memory while reporting: the exit code still says what happened
            err().println("error: internal error (a bug in gfw)");
        }
        return ExitCode.INTERNAL;
    }

    private static Throwable unwrap(Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) e = e.getCause();
        return e;
    }

    private static void debug(Throwable e) {
        if (System.getenv("GFW_DEBUG") != null) e.printStackTrace(err());
    }

    /** Data to stdout ({@link Output#out}). */
    static PrintStream out() {
        return Output.out();
    }

    /** Messages to stderr ({@link Output#err}). */
    static PrintStream err() {
        return Output.err();
    }

    /** {@link Output#info}: scripts say Cli.info, engines Output.info; the rule is Output's. */
    static void info(String message) {
        Output.info(message);
    }

    /** {@link Output#warn}. */
    static void warn(String message) {
        Output.warn(message);
    }

    /**
     * {@code --watch}: {@code render} again every two seconds, printed to stdout whenever it changed (a blank line
     * between tables), until interrupted (Ctrl-C).
     */
    static int watch(java.util.function.Supplier<String> render, boolean table) {
        String last = null;
        while (true) {
            String now = render.get();
            if (!now.equals(last)) {
                if (last != null && table) out().println();
                out().print(now);
                out().flush();
                last = now;
            }
            try {
                Thread.sleep(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return ExitCode.OK;
            }
        }
    }

    private static final java.util.regex.Pattern DURATION_PART = java.util.regex.Pattern.compile("(\\d+)(ms|h|m|s)");

    /**
     * A duration as kubectl takes it: {@code 30s}, {@code 5m}, {@code 1h30m}, {@code 500ms}; a bare
     * number is seconds. Anything else, or zero, is a usage error naming the flag.
     */
    static java.time.Duration duration(String text, String flag) {
        String t = text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT);
        java.time.Duration d = java.time.Duration.ZERO;
        try {
            if (t.matches("\\d+")) {
                d = java.time.Duration.ofSeconds(Long.parseLong(t));
            } else {
                var m = DURATION_PART.matcher(t);
                int end = 0;
                while (m.find() && m.start() == end) {
                    long n = Long.parseLong(m.group(1));
                    d = d.plus(switch (m.group(2)) {
                        case "h" -> java.time.Duration.ofHours(n);
                        case "m" -> java.time.Duration.ofMinutes(n);
                        case "s" -> java.time.Duration.ofSeconds(n);
                        default -> java.time.Duration.ofMillis(n);
                    });
                    end = m.end();
                }
                if (end != t.length() || t.isEmpty()) d = java.time.Duration.ZERO;
            }
        } catch (ArithmeticException | NumberFormatException e) {
            d = java.time.Duration.ZERO;
        }
        if (d.isZero()) throw new GfwException(ExitCode.USAGE, flag + " " + Output.clip(text) + " is not a duration above zero; use e.g. 30s, 5m, 1h30m or 500ms");
        return d;
    }

    /**
     * {@code -n NS}: a namespace name is a DNS-1123 label (Kubernetes' rule), checked when the flag is read, so that
     * control characters, a path ({@code a/../b}) or 5,000 characters never reach a request: a usage error, exit 64.
     * Use it as {@code @Option(names = {"-n", "--namespace"}, converter = Cli.Namespace.class)}.
     */
    static final class Namespace implements CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            String problem = EnvChecks.dnsLabelProblem(value);
            if (problem == null) return value;
            throw new CommandLine.TypeConversionException("namespace " + (problem.startsWith("is ") ? Output.quote(value) + " " + problem : problem)
                    + "; a namespace name is a DNS label (e.g. attic-dev)");
        }
    }

    // ---- safety before changing a cluster -------------------------------------------------------

    /** A planned environment has no cluster yet: refuse before any request is made. */
    static void refusePlanned(EnvConfig.Env env, String action) {
        if (env.planned()) {
            throw new GfwException(ExitCode.REFUSED, "environment " + env.name() + " is planned (" + env.file()
                    + " status: planned): refusing to " + action + "; set status: active once the cluster exists");
        }
    }

    /**
     * A production environment needs {@code --yes}, or the cluster name typed at a terminal. Without
     * a terminal (CI, pipes) and without --yes it is refused.
     */
    static void confirmProduction(EnvConfig.Env env, boolean yes, String action) {
        if (!env.production() || yes) return;
        Console console = System.console();
        if (console != null) {
            String typed = console.readLine("Environment %s is production. Type the cluster name (%s) to %s: ",
                    env.name(), env.cluster().name(), action);
            if (typed != null && typed.trim().equals(env.cluster().name())) return;
        }
        throw new GfwException(ExitCode.REFUSED, "environment " + env.name() + " is production: refusing to " + action
                + " without --yes (or the cluster name typed at a terminal)");
    }

    // ---- ENV COMMAND: a parent command taking ENV, and its subcommands --------------------------

    /**
     * The parent of an {@code ENV COMMAND} command ({@code db}, {@code cache}, {@code runners}): it takes ENV; named
     * without a subcommand it prints its usage to stderr (exit 64).
     */
    abstract static class EnvCommand implements java.util.concurrent.Callable<Integer> {
        @CommandLine.Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
        String envName;

        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().usage(err());
            return ExitCode.USAGE;
        }
    }

    /** A subcommand of an {@link EnvCommand}: the parent's ENV, --env-dir and the cluster options. */
    abstract static class EnvSubcommand implements java.util.concurrent.Callable<Integer> {
        @CommandLine.ParentCommand EnvCommand parent;
        @CommandLine.Mixin EnvOptions envOptions;
        @CommandLine.Mixin ClusterOptions cluster;

        EnvConfig.Env env() {
            return envOptions.load(parent.envName);
        }
    }

    // ---- options shared by the scripts (picocli mixins) -----------------------------------------

    /** Where environment files are found. */
    static class EnvOptions {
        @Option(names = "--env-dir", paramLabel = "DIR",
                description = "Directory with <env>.yaml files (default: environments/ of the gfw repository; env GFW_ENVIRONMENTS).")
        String envDir;

        EnvConfig.Env load(String name) {
            return EnvConfig.load(name, envDir);
        }
    }

    /** Which cluster to talk to, kubectl's way. */
    static class ClusterOptions {
        @Option(names = "--kubeconfig", paramLabel = "FILE",
                description = "Kubeconfig file (default: $KUBECONFIG, kubeconfig-<env> in the current directory or repository root, ~/.kube/config).")
        String kubeconfig;

        @Option(names = "--context", paramLabel = "NAME",
                description = "Kubeconfig context (default: the environment's cluster.context; in GitLab CI its agent context).")
        String context;

        @Option(names = "--proxy", paramLabel = "URL",
                description = "Proxy for every request (API server, GitLab, chart repository), e.g. socks5h://localhost:1080, or 'none' (default: the kubeconfig's proxy-url for the API server, else $HTTPS_PROXY unless $NO_PROXY names the host, else the environment's cluster.proxy; never for loopback).")
        String proxy;

        @Option(names = "--request-timeout", paramLabel = "DURATION", defaultValue = "30s",
                description = "How long to wait for each answer of the API server (and GitLab, the chart repository), e.g. 30s, 1m (default: ${DEFAULT-VALUE}).")
        String requestTimeout = "30s";

        KubeClients.Target target(EnvConfig.Env env) {
            return KubeClients.resolve(env, kubeconfig, context, proxy);
        }

        KubernetesClient connect(EnvConfig.Env env) {
            return connect(target(env));
        }

        KubernetesClient connect(KubeClients.Target target) {
            return KubeClients.connect(target, requestTimeout());
        }

        java.time.Duration requestTimeout() {
            return duration(requestTimeout, "--request-timeout");
        }

        /** A client for another service (GitLab, a chart repository) on the route {@link Http#route} gives each of its URLs. */
        Http.Client http(EnvConfig.Env env, String service) {
            return new Http.Client(service).timeout(requestTimeout(), "--request-timeout")
                    .routes(url -> Http.route(url, proxy, null, env.cluster().proxy(), env.file() + " cluster.proxy", System.getenv()))
                    .jumphost(env.cluster().jumphost(), env.file() + " cluster.jumphost");
        }
    }

    enum DryRun { none, client, server }

    /**
     * The flags of every command that changes a cluster: {@code --dry-run=client|server}, {@code -y/--yes}
     * and {@code --force-conflicts} ({@link WithDiff} adds {@code --diff} where a command can show
     * differences). {@link #validate} is the one list of combinations that do not go together, as
     * kubectl's {@code Validate()}; {@link #confirm} runs the safety checks before the first write.
     */
    static class ChangeOptions {
        @Option(names = "--dry-run", paramLabel = "MODE", arity = "0..1", fallbackValue = "client", defaultValue = "none",
                description = "client: print what would be applied, no cluster needed; server: let the API server check it, nothing is stored. (default: ${DEFAULT-VALUE}; --dry-run alone means client)")
        DryRun dryRun = DryRun.none;

        @Option(names = {"-y", "--yes"}, description = "Confirm changes to a production environment (otherwise the cluster name is asked at a terminal).")
        boolean yes;

        @Option(names = "--force-conflicts", description = "Take over fields another field manager owns instead of stopping at the conflict.")
        boolean forceConflicts;

        /** --diff: show the differences from the live state and change nothing (only {@link WithDiff} has the flag). */
        boolean diff() {
            return false;
        }

        boolean serverDryRun() {
            return dryRun == DryRun.server;
        }

        boolean clientDryRun() {
            return dryRun == DryRun.client;
        }

        /** True when this run may write to the cluster (no dry run, no --diff). */
        boolean writes() {
            return dryRun == DryRun.none && !diff();
        }

        /**
         * The flag combinations that do not go together, checked before anything is read. A command
         * whose changing is one mode among others (cnpg-connstr --write-secret) uses {@link #validate(boolean, String)}.
         */
        void validate() {
            if (diff() && dryRun != DryRun.none) {
                throw new GfwException(ExitCode.USAGE, "--diff and --dry-run cannot be combined: --diff already changes nothing");
            }
            if (forceConflicts && dryRun == DryRun.client) {
                throw new GfwException(ExitCode.USAGE, "--force-conflicts and --dry-run=client do not go together: a client dry run sends nothing "
                        + "that could conflict; use --dry-run=server --force-conflicts to see the takeover checked");
            }
        }

        /** {@link #validate()}, and every change flag refused unless {@code changing} (the mode named {@code mode} was asked for). */
        void validate(boolean changing, String mode) {
            if (!changing) {
                String given = dryRun != DryRun.none ? "--dry-run" : diff() ? "--diff" : yes ? "--yes" : forceConflicts ? "--force-conflicts" : null;
                if (given != null) throw new GfwException(ExitCode.USAGE, given + " only applies to " + mode);
            }
            validate();
        }

        /** Before the first write: a planned environment is refused, a production one needs --yes (dry runs and --diff need neither). */
        void confirm(EnvConfig.Env env, String action) {
            refusePlanned(env, action);
            if (writes()) confirmProduction(env, yes, action);
        }
    }

    /** {@link ChangeOptions} with {@code --diff}, for commands that can show per-object differences. */
    static class WithDiff extends ChangeOptions {
        @Option(names = "--diff", description = "Print the differences from the live state; changes nothing.")
        boolean diffFlag;

        @Override
        boolean diff() {
            return diffFlag;
        }
    }

    static class OutputOption {
        @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
                description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        Output.Format format = Output.Format.table;
    }

    private Cli() {}
}
