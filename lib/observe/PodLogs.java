// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../core/Output.java
//SOURCES ../dashboard/DashboardObjects.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../kube/SecretValues.java

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.BytesLimitTerminateTimeTailPrettyLoggable;
import io.fabric8.kubernetes.client.dsl.PrettyLoggable;
import io.fabric8.kubernetes.client.dsl.TailPrettyLoggable;
import io.fabric8.kubernetes.client.dsl.TimeTailPrettyLoggable;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The log lines of every pod of one component of an environment (attic, database, runners — all types or some —
 * dashboard), as stern shows them: each line prefixed {@code pod/container}, the pods' lines merged by time, and every
 * value of the environment's own Secrets masked ({@link SecretValues}). Read through the API server's
 * {@code GET /api/v1/namespaces/NS/pods/POD/log?container=C&timestamps=true} (kubectl logs' request): the timestamps
 * the kubelet adds are what the lines are merged by; they are printed only with {@code timestamps}.
 */
final class PodLogs {

    /** The components whose pods have logs, in the order gfw names them everywhere. */
    static final List<String> COMPONENTS = List.of("attic", "database", "runners", "dashboard");

    /** What to read: kubectl logs' options. {@code since} and {@code tail} null: everything. */
    record Options(Duration since, Integer tail, boolean previous, boolean timestamps) {}

    /** One container of one pod. */
    record Source(String namespace, String pod, String container) {
        String prefix() {
            return pod + "/" + container;
        }
    }

    /** One line as read: when the kubelet saw it, where from, the text (already masked). */
    record Line(Instant time, Source source, int index, String text) {
        String render(boolean timestamps) {
            return source.prefix() + " " + (timestamps && time != null ? time + " " : "") + text;
        }
    }

    /** The namespace and pods of {@code component} ({@code types}: runner types, only for runners). Sorted by name. */
    static List<Source> sources(KubernetesClient client, EnvConfig.Env env, String component, List<String> types) {
        String ns;
        List<Pod> pods;
        switch (component) {
            case "attic" -> {
                ns = env.namespaces().attic().name();
                pods = client.pods().inNamespace(ns).withLabel("app.kubernetes.io/name", "attic").list().getItems();
            }
            case "database" -> {
                ns = env.namespaces().attic().name();
                pods = client.pods().inNamespace(ns).withLabel("cnpg.io/cluster", env.cnpg().cluster()).list().getItems();
            }
            case "runners" -> {
                ns = env.namespaces().runners().name();
                List<String> names = RunnerValues.select(env, types).stream().map(RunnerValues.Release::name).toList();
                pods = client.pods().inNamespace(ns).withLabelIn("app", names.toArray(String[]::new)).list().getItems();
            }
            case "dashboard" -> {
                ns = env.namespaces().dashboard().name();
                pods = client.pods().inNamespace(ns).withLabels(DashboardObjects.selector()).list().getItems();
            }
            default -> throw new GfwException(ExitCode.USAGE, "COMPONENT " + Output.quote(component) + " is not a component; use one of "
                    + String.join(", ", COMPONENTS));
        }
        var out = new ArrayList<Source>();
        for (Pod p : pods.stream().sorted(Comparator.comparing(p -> p.getMetadata().getName())).toList()) {
            for (Container c : p.getSpec().getContainers()) out.add(new Source(ns, p.getMetadata().getName(), c.getName()));
        }
        return out;
    }

    /** The selected container's log request with {@code options} (fabric8's chain: timestamps, previous, since, tail). */
    private static PrettyLoggable request(KubernetesClient client, Source s, Options o) {
        BytesLimitTerminateTimeTailPrettyLoggable a = client.pods().inNamespace(s.namespace()).withName(s.pod()).inContainer(s.container()).usingTimestamps();
        TimeTailPrettyLoggable b = o.previous() ? a.terminated() : a;
        TailPrettyLoggable c = o.since() != null ? b.sinceSeconds((int) Math.max(1, Math.min(Integer.MAX_VALUE, o.since().toSeconds()))) : b;
        return o.tail() != null ? c.tailingLines(o.tail()) : c;
    }

    /** Splits {@code TIMESTAMP text} (the kubelet's RFC3339Nano prefix); a line without one keeps a null time. */
    static Line parse(Source s, int index, String raw, SecretValues secrets) {
        int space = raw.indexOf(' ');
        Instant t = null;
        String text = raw;
        if (space > 0) {
            try {
                t = Instant.parse(raw.substring(0, space));
                text = raw.substring(space + 1);
            } catch (DateTimeParseException e) {
                t = null;
            }
        }
        return new Line(t, s, index, secrets.mask(text));
    }

    /** What could not be read (a container waiting to start, no previous instance) and why, one line each. */
    record Read(List<Line> lines, List<String> problems) {}

    /**
     * Every source's lines read at once (8 at a time), then merged by time: lines of the same instant keep their
     * source's order and their own. A source that cannot be read is a problem, not the end: the others still show.
     */
    static Read read(KubernetesClient client, List<Source> sources, Options options, SecretValues secrets) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(8, sources.size())));
        try {
            var futures = new ArrayList<CompletableFuture<Object>>();
            for (Source s : sources) {
                futures.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return request(client, s, options).getLog();
                    } catch (KubernetesClientException e) {
                        return KubeClients.fromKubernetes(e);
                    }
                }, pool));
            }
            var lines = new ArrayList<Line>();
            var problems = new ArrayList<String>();
            for (int i = 0; i < sources.size(); i++) {
                Object r = futures.get(i).join();
                Source s = sources.get(i);
                if (r instanceof GfwException g) {
                    problems.add(s.prefix() + ": " + secrets.mask(g.getMessage()));
                    continue;
                }
                String text = r == null ? "" : (String) r;
                int n = 0;
                for (String raw : text.split("\n")) if (!raw.isEmpty()) lines.add(parse(s, n++, raw, secrets));
            }
            return new Read(merge(lines, sources), problems);
        } finally {
            pool.shutdownNow();
        }
    }

    /** By time; a line without one sorts with its source's previous line; ties by source order, then line order. */
    static List<Line> merge(List<Line> lines, List<Source> order) {
        var position = new java.util.HashMap<Source, Integer>();
        for (int i = 0; i < order.size(); i++) position.put(order.get(i), i);
        var times = new java.util.HashMap<Source, Instant>();
        var keyed = new ArrayList<Map.Entry<Instant, Line>>();
        for (Line l : lines) {
            Instant t = l.time() != null ? l.time() : times.getOrDefault(l.source(), Instant.EPOCH);
            times.put(l.source(), t);
            keyed.add(Map.entry(t, l));
        }
        keyed.sort(Comparator.<Map.Entry<Instant, Line>, Instant>comparing(Map.Entry::getKey)
                .thenComparing(e -> position.getOrDefault(e.getValue().source(), Integer.MAX_VALUE))
                .thenComparingInt(e -> e.getValue().index()));
        return keyed.stream().map(Map.Entry::getValue).toList();
    }

    /**
     * {@code -f}: every source followed at once, each line printed as it arrives (as stern does: across pods, arrival
     * is the only order there is), until interrupted or every stream ended.
     */
    static void follow(KubernetesClient client, List<Source> sources, Options options, SecretValues secrets, Consumer<Line> printer,
                       Consumer<String> problem) {
        var threads = new ArrayList<Thread>();
        for (Source s : sources) {
            Thread t = new Thread(() -> {
                try (var watch = request(client, s, options).watchLog();
                     var in = new BufferedReader(new InputStreamReader(watch.getOutput(), StandardCharsets.UTF_8))) {
                    String raw;
                    int n = 0;
                    while ((raw = in.readLine()) != null) {
                        Line l = parse(s, n++, raw, secrets);
                        synchronized (printer) {
                            printer.accept(l);
                        }
                    }
                } catch (KubernetesClientException e) {
                    problem.accept(s.prefix() + ": " + secrets.mask(KubeClients.fromKubernetes(e).getMessage()));
                } catch (java.io.IOException e) {
                    problem.accept(s.prefix() + ": " + secrets.mask(String.valueOf(e.getMessage())));
                }
            }, "log-" + s.prefix());
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private PodLogs() {}
}
