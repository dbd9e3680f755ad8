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
//SOURCES ../lib/runners/RunnerValues.java
//SOURCES ../lib/kube/SecretValues.java
//SOURCES ../lib/observe/PodLogs.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The log lines of every pod of a component (attic, database, runners, dashboard), merged by time and prefixed
 * {@code pod/container} as stern does; any value of the environment's own Secrets in a line is masked. Read-only.
 *
 * <p>Requests: one LIST of the environment's Secrets per namespace (the values to mask), one LIST of the component's
 * pods, one {@code GET .../pods/POD/log} per container (8 at a time; with {@code -f} all at once, kept open).
 *
 * <pre>
 *   gfw logs dev attic --since 10m
 *   gfw logs dev runners dind -f
 * </pre>
 */
@Command(name = "logs", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the logs of every pod of a component (attic, database, runners [TYPE...], dashboard), merged by time, prefixed pod/container, secrets masked.",
        footer = {"", "Examples:", "  logs dev attic --since 10m             # the last ten minutes of every Attic pod",
                "  logs dev runners dind --tail 50        # the last 50 lines of each dind runner manager",
                "  logs dev database -f                   # follow the database pods until Ctrl-C",
                "  logs dev attic --previous              # the containers' previous instances (after a crash)"})
class Logs implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Parameters(index = "1", paramLabel = "COMPONENT", completionCandidates = Components.class,
            description = "attic, database, runners or dashboard.")
    String component;

    @Parameters(index = "2..*", paramLabel = "TYPE", arity = "0..*", description = "Runner types (only with runners; default: all).")
    List<String> types = new ArrayList<>();

    @Option(names = "--since", paramLabel = "DURATION", description = "Only lines newer than DURATION, e.g. 10m, 1h (default: all).")
    String sinceText;

    @Option(names = "--tail", paramLabel = "LINES", description = "Only the last LINES lines of each container (default: all).")
    Integer tail;

    @Option(names = {"-f", "--follow"}, description = "Keep printing new lines as they come, until interrupted (Ctrl-C).")
    boolean follow;

    @Option(names = {"-p", "--previous"}, description = "The previous instance of each container (the one that crashed or was restarted).")
    boolean previous;

    @Option(names = "--timestamps", description = "Print each line's timestamp (RFC 3339, as the kubelet recorded it) after its prefix.")
    boolean timestamps;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    /** The component names for completion and help. */
    static final class Components implements Iterable<String> {
        public Iterator<String> iterator() {
            return PodLogs.COMPONENTS.iterator();
        }
    }

    public static void main(String... args) {
        System.exit(Cli.run(new Logs(), args));
    }

    @Override
    public Integer call() {
        if (!PodLogs.COMPONENTS.contains(component)) {
            throw new GfwException(ExitCode.USAGE, "COMPONENT " + Output.quote(component) + " is not a component; use one of " + String.join(", ", PodLogs.COMPONENTS));
        }
        if (!types.isEmpty() && !component.equals("runners")) throw new GfwException(ExitCode.USAGE, "runner types (" + String.join(", ", types) + ") only go with the component runners");
        if (tail != null && tail < 0) throw new GfwException(ExitCode.USAGE, "--tail " + tail + " is below zero; give the number of lines to show");
        Duration since = sinceText == null ? null : Cli.duration(sinceText, "--since");
        EnvConfig.Env env = envOptions.load(envName);
        if (component.equals("runners")) RunnerValues.select(env, types); // unknown types: one clear line before any request
        Cli.refusePlanned(env, "read logs of an environment that has no cluster yet");
        var options = new PodLogs.Options(since, tail, previous, timestamps);
        try (KubernetesClient client = cluster.connect(env)) {
            SecretValues secrets = SecretValues.read(client, env);
            List<PodLogs.Source> sources = PodLogs.sources(client, env, component, types);
            if (sources.isEmpty()) {
                throw new GfwException(ExitCode.NOT_FOUND, "no pods of " + component + (types.isEmpty() ? "" : " " + String.join(", ", types))
                        + " in environment " + env.name() + "; 'gfw health " + env.name() + "' shows what runs");
            }
            if (follow) {
                PodLogs.follow(client, sources, options, secrets, l -> {
                    Cli.out().println(l.render(timestamps));
                    Cli.out().flush();
                }, p -> Cli.warn("cannot read " + p));
                return ExitCode.OK;
            }
            PodLogs.Read read = PodLogs.read(client, sources, options, secrets);
            for (PodLogs.Line l : read.lines()) Cli.out().println(l.render(timestamps));
            Cli.out().flush();
            for (String p : read.problems()) Cli.warn("cannot read " + p);
            return read.problems().size() == sources.size() ? ExitCode.NOT_FOUND : ExitCode.OK;
        }
    }
}
