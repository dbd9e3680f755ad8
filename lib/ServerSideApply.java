// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.4.0
//SOURCES ExitCode.java
//SOURCES GfwException.java
//SOURCES Cli.java
//SOURCES Output.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Server-side apply with field manager {@code gfw}, read-compare-skip first: an object whose live
 * state already holds every field gfw wants is left alone, so a re-run on an unchanged cluster
 * sends no mutating request at all.
 */
final class ServerSideApply {

    static final String FIELD_MANAGER = "gfw";

    enum Action { created, configured, unchanged, pruned }

    /** What happened to one object; {@code diff} lists changed fields (empty when unchanged or created). */
    record Result(HasMetadata object, Action action, boolean dryRun, List<String> diff) {
        String ref() { return ServerSideApply.ref(object); }
    }

    /** {@code kind/name} or {@code kind/name -n namespace}, as people read it. */
    static String ref(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        return o.getKind().toLowerCase() + "/" + o.getMetadata().getName() + (ns == null ? "" : " -n " + ns);
    }

    /** Reads the live object; creates or updates it only when it differs. {@code serverDryRun}: nothing is stored. */
    static Result apply(KubernetesClient client, HasMetadata desired, boolean serverDryRun, boolean forceConflicts) {
        HasMetadata live = client.resource(desired).get();
        List<String> diff = live == null ? List.of() : differences(desired, live);
        if (live != null && diff.isEmpty()) return new Result(desired, Action.unchanged, serverDryRun, diff);
        HasMetadata applied;
        try {
            var op = client.resource(desired).fieldManager(FIELD_MANAGER);
            if (serverDryRun) op = client.resource(desired).dryRun().fieldManager(FIELD_MANAGER);
            applied = forceConflicts ? op.forceConflicts().serverSideApply() : op.serverSideApply();
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                String why = e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage();
                throw new GfwException(ExitCode.CONFLICT, ref(desired) + ": " + Cli.firstLine(why)
                        + "; another field manager owns these fields, re-run with --force-conflicts to take them over", e);
            }
            throw e;
        }
        return new Result(applied == null ? desired : applied, live == null ? Action.created : Action.configured,
                serverDryRun, diff);
    }

    // ---- comparing desired with live ----------------------------------------------------------

    /** Fields of {@code desired} that {@code live} lacks or holds differently, as "path: live -> desired". */
    static List<String> differences(HasMetadata desired, HasMetadata live) {
        Map<String, Object> want = comparable(desired);
        Map<String, Object> have = comparable(live);
        var out = new ArrayList<String>();
        compare("", want, have, out);
        return out;
    }

    /** The object as a map, with what the server adds or rewrites taken out. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> comparable(HasMetadata o) {
        Map<String, Object> m = Serialization.unmarshal(Serialization.asJson(o), LinkedHashMap.class);
        m.remove("status");
        Object meta = m.get("metadata");
        if (meta instanceof Map<?, ?> md) {
            var kept = new LinkedHashMap<String, Object>();
            for (String k : List.of("name", "namespace", "labels", "annotations")) {
                if (md.get(k) != null) kept.put(k, md.get(k));
            }
            m.put("metadata", kept);
        }
        // The server turns stringData into base64 data; compare in that form.
        if ("Secret".equals(o.getKind()) && m.get("stringData") instanceof Map<?, ?> sd) {
            var data = new LinkedHashMap<String, Object>(m.get("data") instanceof Map<?, ?> d ? (Map<String, Object>) d : Map.of());
            sd.forEach((k, v) -> data.put((String) k, Base64.getEncoder().encodeToString(String.valueOf(v).getBytes(StandardCharsets.UTF_8))));
            m.remove("stringData");
            m.put("data", data);
        }
        return m;
    }

    private static final Pattern QUANTITY = Pattern.compile("[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?");

    private static void compare(String path, Object want, Object have, List<String> out) {
        if (want instanceof Map<?, ?> w) {
            if (!(have instanceof Map<?, ?> h)) {
                out.add(line(path, have, want));
                return;
            }
            for (var e : w.entrySet()) {
                compare(path.isEmpty() ? String.valueOf(e.getKey()) : path + "." + e.getKey(), e.getValue(), h.get(e.getKey()), out);
            }
        } else if (want instanceof List<?> w) {
            if (!(have instanceof List<?> h) || h.size() != w.size()) {
                out.add(line(path, have, want));
                return;
            }
            for (int i = 0; i < w.size(); i++) compare(path + "[" + i + "]", w.get(i), h.get(i), out);
        } else if (want != null && !sameScalar(want, have)) {
            out.add(line(path, have, want));
        }
    }

    /** One difference; values of Secret data are never shown, only that they change. */
    private static String line(String path, Object have, Object want) {
        if (path.equals("data") || path.startsWith("data.") || path.startsWith("stringData")) {
            return path + ": " + (have == null ? "(none)" : Output.MASK) + " -> " + Output.MASK;
        }
        return path + ": " + brief(have) + " -> " + brief(want);
    }

    /** Scalars compare as text; quantities by value, since the server canonicalises them (1024Mi is 1Gi). */
    private static boolean sameScalar(Object want, Object have) {
        if (have == null) return false;
        String w = String.valueOf(want);
        String h = String.valueOf(have);
        if (w.equals(h)) return true;
        if (QUANTITY.matcher(w).matches() && QUANTITY.matcher(h).matches()) {
            try {
                BigDecimal a = Quantity.getAmountInBytes(new Quantity(w));
                BigDecimal b = Quantity.getAmountInBytes(new Quantity(h));
                return a.compareTo(b) == 0;
            } catch (RuntimeException e) {
                return false;
            }
        }
        return false;
    }

    private static String brief(Object v) {
        if (v == null) return "(none)";
        String s = v instanceof Map || v instanceof List ? Output.json(v).replaceAll("\\s+", " ") : String.valueOf(v);
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    static boolean sameIdentity(HasMetadata a, HasMetadata b) {
        return Objects.equals(a.getKind(), b.getKind()) && Objects.equals(a.getMetadata().getName(), b.getMetadata().getName())
                && Objects.equals(a.getMetadata().getNamespace(), b.getMetadata().getNamespace());
    }

    private ServerSideApply() {}
}
