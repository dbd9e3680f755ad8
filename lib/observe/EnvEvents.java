// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../kube/SecretValues.java

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Kubernetes events of an environment's namespaces (core/v1 Events, what {@code kubectl events} reads), oldest
 * first, one row each: when last seen, namespace, type, reason, involved object, count, message (masked with the
 * environment's Secret values). A component narrows them: attic and database share the Attic namespace, so there
 * database means the objects named after the CloudNativePG cluster ({@code attic-pg}, {@code attic-pg-1}, ...) and
 * attic every other one.
 */
final class EnvEvents {

    static final List<String> COMPONENTS = List.of("namespaces", "attic", "database", "runners", "dashboard");

    /** One event as printed. {@code last} is RFC 3339 (or empty when the event carries no time at all). */
    record Row(String last, String namespace, String type, String reason, String object, int count, String message, String uid) {
        Map<String, Object> document() {
            var m = new LinkedHashMap<String, Object>();
            m.put("lastSeen", last);
            m.put("namespace", namespace);
            m.put("type", type);
            m.put("reason", reason);
            m.put("object", object);
            m.put("count", count);
            m.put("message", message);
            return m;
        }
    }

    /** The namespaces {@code component} (null: all) looks in. "namespaces" means the events of the Namespace objects. */
    static List<String> namespaces(EnvConfig.Env env, String component) {
        if (component == null || component.equals("namespaces")) return env.allNamespaces().stream().map(EnvConfig.NamespaceSpec::name).toList();
        return switch (component) {
            case "attic", "database" -> List.of(env.namespaces().attic().name());
            case "runners" -> List.of(env.namespaces().runners().name());
            case "dashboard" -> List.of(env.namespaces().dashboard().name());
            default -> throw new GfwException(ExitCode.USAGE, "COMPONENT " + Output.quote(component) + " is not a component; use one of "
                    + String.join(", ", COMPONENTS));
        };
    }

    /** One LIST per namespace ({@code type=Warning} as a field selector with {@code warnings}); oldest first. */
    static List<Row> read(KubernetesClient client, EnvConfig.Env env, String component, boolean warnings, SecretValues secrets) {
        var rows = new ArrayList<Row>();
        for (String ns : namespaces(env, component)) {
            var list = warnings ? client.v1().events().inNamespace(ns).withField("type", "Warning").list()
                    : client.v1().events().inNamespace(ns).list();
            for (Event e : list.getItems()) {
                if (!belongs(env, component, e)) continue;
                rows.add(row(e, secrets));
            }
        }
        rows.sort(Comparator.comparing(Row::last).thenComparing(Row::namespace).thenComparing(Row::object).thenComparing(Row::reason)
                .thenComparing(Row::uid));
        return rows;
    }

    private static boolean belongs(EnvConfig.Env env, String component, Event e) {
        if (component == null) return true;
        var o = e.getInvolvedObject();
        String name = o == null || o.getName() == null ? "" : o.getName();
        String kind = o == null || o.getKind() == null ? "" : o.getKind();
        String cluster = env.cnpg().cluster();
        boolean database = name.equals(cluster) || name.startsWith(cluster + "-");
        return switch (component) {
            case "namespaces" -> kind.equals("Namespace");
            case "database" -> database;
            case "attic" -> !database;
            default -> true;
        };
    }

    static Row row(Event e, SecretValues secrets) {
        String last = first(e.getLastTimestamp(), e.getSeries() == null ? null : e.getSeries().getLastObservedTime() == null ? null
                : e.getSeries().getLastObservedTime().getTime(), e.getEventTime() == null ? null : e.getEventTime().getTime(),
                e.getFirstTimestamp(), e.getMetadata().getCreationTimestamp());
        var o = e.getInvolvedObject();
        String object = o == null ? "" : (o.getKind() == null ? "" : o.getKind().toLowerCase(java.util.Locale.ROOT)) + "/" + o.getName();
        int count = e.getCount() != null ? e.getCount() : e.getSeries() != null && e.getSeries().getCount() != null ? e.getSeries().getCount() : 1;
        String message = e.getMessage() == null ? "" : secrets.mask(e.getMessage().strip());
        return new Row(last, e.getMetadata().getNamespace(), String.valueOf(e.getType()), String.valueOf(e.getReason()), object, count,
                message, String.valueOf(e.getMetadata().getUid()));
    }

    private static String first(String... times) {
        for (String t : times) if (t != null && !t.isBlank()) return t;
        return "";
    }

    /** kubectl's columns; the message last and whole (it is what an operator reads). */
    static String table(List<Row> rows) {
        var out = new ArrayList<List<String>>();
        for (Row r : rows) {
            var line = new ArrayList<>(List.of(r.last(), r.namespace(), r.type(), r.reason(), r.object(), String.valueOf(r.count()),
                    r.message()));
            out.add(line);
        }
        return Output.table(List.of("last seen", "namespace", "type", "reason", "object", "count", "message"), out);
    }

    static String render(List<Row> rows, Output.Format format) {
        return switch (format) {
            case table, wide -> table(rows);
            case json -> Output.json(rows.stream().map(Row::document).toList()) + "\n";
            case yaml -> Output.yaml(rows.stream().map(Row::document).toList());
        };
    }

    private EnvEvents() {}
}
