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
//SOURCES ../lib/kube/SecretValues.java
//SOURCES ../lib/observe/EnvEvents.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The Kubernetes events of an environment's namespaces, oldest first: when last seen, namespace, type, reason, the
 * involved object, count and message (values of the environment's Secrets masked). Read-only.
 *
 * <p>Requests: one LIST of Secrets and one LIST of events per namespace (again every 2 s with {@code --watch}).
 *
 * <pre>
 *   gfw events dev --warnings
 *   gfw events dev runners --watch
 * </pre>
 */
@Command(name = "events", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the events of an environment's namespaces, oldest first: last seen, namespace, type, reason, object, count, message.",
        footer = {"", "Examples:", "  events dev                     # every event of the environment's namespaces",
                "  events dev database --warnings # only warnings about the CloudNativePG cluster and its pods",
                "  events dev runners --watch     # new events as they happen, until Ctrl-C"})
class Events implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Parameters(index = "1", paramLabel = "COMPONENT", arity = "0..1", completionCandidates = Components.class,
            description = "Only namespaces, attic, database, runners or dashboard (default: all).")
    String component;

    @Option(names = "--warnings", description = "Only events of type Warning.")
    boolean warnings;

    @Option(names = {"-w", "--watch"}, description = "After the events so far, print each new or repeated event as it happens, until interrupted (Ctrl-C).")
    boolean watch;

    @Mixin Cli.OutputOption output;
    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    static final class Components implements Iterable<String> {
        public Iterator<String> iterator() {
            return EnvEvents.COMPONENTS.iterator();
        }
    }

    public static void main(String... args) {
        System.exit(Cli.run(new Events(), args));
    }

    @Override
    public Integer call() {
        if (component != null && !EnvEvents.COMPONENTS.contains(component)) {
            throw new GfwException(ExitCode.USAGE, "COMPONENT " + Output.quote(component) + " is not a component; use one of " + String.join(", ", EnvEvents.COMPONENTS));
        }
        if (watch && !output.format.isTable()) throw new GfwException(ExitCode.USAGE, "--watch prints table rows as they come; -o " + output.format + " does not go with it");
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "read events of an environment that has no cluster yet");
        try (KubernetesClient client = cluster.connect(env)) {
            SecretValues secrets = SecretValues.read(client, env);
            List<EnvEvents.Row> rows = EnvEvents.read(client, env, component, warnings, secrets);
            Cli.out().print(EnvEvents.render(rows, output.format));
            Cli.out().flush();
            if (!watch) {
                Cli.info(rows.size() + " event" + (rows.size() == 1 ? "" : "s") + " in " + String.join(", ", EnvEvents.namespaces(env, component)));
                return ExitCode.OK;
            }
            Set<String> seen = new HashSet<>();
            for (var r : rows) seen.add(r.uid() + "@" + r.count() + "@" + r.last());
            while (true) {
                try {
                    Thread.sleep(2000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return ExitCode.OK;
                }
                var fresh = EnvEvents.read(client, env, component, warnings, secrets).stream()
                        .filter(r -> seen.add(r.uid() + "@" + r.count() + "@" + r.last())).toList();
                if (fresh.isEmpty()) continue;
                // Only the rows: the header was printed with the first table.
                EnvEvents.table(fresh).lines().skip(1).forEach(Cli.out()::println);
                Cli.out().flush();
            }
        }
    }
}
