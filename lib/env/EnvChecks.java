// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/Output.java

import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * The checks every field of an environment file gets, whatever the schema: one problem per field,
 * naming file, line, column and path; Kubernetes' own limits (DNS label 63, subdomain 253);
 * values quoted cut and escaped ({@link Output#quote}), so a hostile file cannot fill a log. The
 * schema itself is {@code EnvConfig.Validator}, which extends this; new fields use these helpers
 * and so get the same limits.
 *
 * <p>Names are checked by hand-written scanners, not regular expressions with nested repetition:
 * Java's regex engine recurses per repetition and overflows its stack on a few thousand labels.
 */
abstract class EnvChecks {

    /** Kubernetes' limits (k8s.io/apimachinery validation: IsDNS1123Label, IsDNS1123Subdomain). */
    static final int DNS_LABEL_MAX = 63;
    static final int DNS_SUBDOMAIN_MAX = 253;
    /**
     * Attic's cache names (zhaofengli/attic attic/src/cache.rs, CACHE_NAME_REGEX): a letter or digit, then up to
     * 49 of letters, digits, '-', '_' and '+'; no '.'. A token whose claim names anything else is rejected whole by
     * atticd (the claim's keys are CacheNamePatterns), so gfw refuses it before minting. Patterns (token claim keys,
     * CACHE_NAME_PATTERN_REGEX) also allow '*'.
     */
    static final Pattern ATTIC_CACHE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_+-]{0,49}");
    static final Pattern ATTIC_CACHE_PATTERN = Pattern.compile("[A-Za-z0-9*][A-Za-z0-9_+*-]{0,49}");
    static final String ATTIC_CACHE_NAME_RULE = "an Attic cache name (a letter or digit, then up to 49 letters, digits, '-', '_' or '+'; no '.')";

    /** At most this many problems are listed, then "… and N more". */
    static final int MAX_PROBLEMS = 20;

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_]+)\\}");
    private static final Pattern QUANTITY = Pattern.compile("[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");

    /** A YAML node with its path, so that each accessor can report where a problem is. */
    record Field(Node node, String path, EnvChecks v) {
        String where() {
            Mark m = node.getStartMark();
            return v.file + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1) + " " + (path.isEmpty() ? "(top level)" : path);
        }
        boolean isMap() { return node instanceof MappingNode; }

        /** The child at key, or null. */
        Field get(String key) {
            if (!(node instanceof MappingNode m)) return null;
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                    return new Field(t.getValueNode(), path.isEmpty() ? key : path + "." + key, v);
                }
            }
            return null;
        }

        /** Checks this is a mapping with only the given keys (reporting the others); false (reported) if not a mapping. */
        boolean mapWithKeys(String... allowed) {
            if (!(node instanceof MappingNode m)) {
                v.problem(this, "must be a mapping (key: value lines)");
                return false;
            }
            var allowedSet = new LinkedHashSet<>(List.of(allowed));
            var seen = new LinkedHashSet<String>();
            for (NodeTuple t : m.getValue()) {
                String k = t.getKeyNode() instanceof ScalarNode s ? s.getValue() : "?";
                Field kf = new Field(t.getKeyNode(), path.isEmpty() ? keyText(k) : path + "." + keyText(k), v);
                if (!seen.add(k)) v.problem(kf, "duplicate key");
                else if (allowed.length > 0 && !allowedSet.contains(k)) {
                    v.problem(kf, "unknown field; expected one of " + String.join(", ", allowedSet));
                }
            }
            return true;
        }

        /** A key as it appears in a path: as written when it looks like a key, else quoted and cut. */
        private static String keyText(String k) {
            boolean plain = !k.isEmpty() && k.length() <= 40 && k.chars().allMatch(c -> c > ' ' && c < 127 && c != '\'');
            return plain ? k : Output.quote(k);
        }
    }

    final String file;
    final List<String> problems = new ArrayList<>();
    /** Placeholder values: {org}, {environment}. */
    protected final Map<String, String> vars = new LinkedHashMap<>();
    private final Set<String> reported = new java.util.HashSet<>();

    EnvChecks(String file) {
        this.file = file;
    }

    /** The problems as a message: at most {@link #MAX_PROBLEMS}, then how many more there are. */
    static List<String> capped(List<String> problems) {
        if (problems.size() <= MAX_PROBLEMS) return List.copyOf(problems);
        var out = new ArrayList<>(problems.subList(0, MAX_PROBLEMS));
        out.add("… and " + (problems.size() - MAX_PROBLEMS) + " more problems");
        return List.copyOf(out);
    }

    /** Reports the first problem of a field only: the rest follow from it. */
    void problem(Field f, String message) {
        if (reported.add(f.path())) problems.add(f.where() + ": " + message);
    }

    Field required(Field parent, String key) {
        Field f = parent.get(key);
        if (f == null) {
            String path = parent.path().isEmpty() ? key : parent.path() + "." + key;
            Mark m = parent.node().getStartMark();
            problems.add(file + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1) + " " + path + ": is required");
        }
        return f;
    }

    String scalar(Field f) {
        if (!(f.node() instanceof ScalarNode s)) {
            problem(f, "must be a single value, not a list or mapping");
            return null;
        }
        return s.getValue();
    }

    String expand(Field f, String raw) {
        if (raw == null) return null;
        Matcher m = PLACEHOLDER.matcher(raw);
        var sb = new StringBuilder();
        while (m.find()) {
            String value = vars.get(m.group(1));
            if (value == null) {
                problem(f, "unknown placeholder " + Output.clip("{" + m.group(1) + "}") + "; only {org} and {environment} expand");
                value = m.group();
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(value));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    String str(Field parent, String key) {
        Field f = required(parent, key);
        if (f == null) return null;
        String s = expand(f, scalar(f));
        if (s != null && s.isBlank()) problem(f, "must not be empty");
        return s;
    }

    String optStr(Field parent, String key, String dflt) {
        Field f = parent.get(key);
        if (f == null || (f.node() instanceof ScalarNode s && s.getTag().getValue().endsWith(":null"))) return dflt;
        return expand(f, scalar(f));
    }

    /** Longer values are refused before a pattern runs (a pattern with nested repetition recurses per repetition). */
    static final int PATTERN_INPUT_MAX = 1024;

    String matching(Field parent, String key, String dflt, Pattern p, String what) {
        return checked(parent, key, dflt, s -> s.length() > PATTERN_INPUT_MAX
                ? "is " + s.length() + " characters long: not " + what + " (at most " + PATTERN_INPUT_MAX + " characters are read)"
                : p.matcher(s).matches() ? null : Output.quote(s) + " is not " + what);
    }

    /** The value at key (or dflt), with {@code check}'s problem (null: none) reported at the field. */
    String checked(Field parent, String key, String dflt, Function<String, String> check) {
        String s = dflt == null ? str(parent, key) : optStr(parent, key, dflt);
        if (s != null) {
            String problem = check.apply(s);
            Field f = parent.get(key);
            if (problem != null && f != null) problem(f, problem);
        }
        return s;
    }

    String dnsLabel(Field parent, String key, String dflt) {
        return checked(parent, key, dflt, EnvChecks::dnsLabelProblem);
    }

    String dnsSubdomain(Field parent, String key, String dflt) {
        return checked(parent, key, dflt, EnvChecks::dnsSubdomainProblem);
    }

    String oneOf(Field parent, String key, String dflt, List<String> allowed) {
        return checked(parent, key, dflt, s -> allowed.contains(s) ? null
                : Output.quote(s) + " is not allowed; use one of " + String.join(", ", allowed));
    }

    String url(Field parent, String key, String dflt, String... schemes) {
        String s = dflt == null ? str(parent, key) : optStr(parent, key, dflt);
        if (s == null || s.isEmpty()) return s;
        try {
            URI u = URI.create(s);
            if (u.getRawUserInfo() != null) {
                // Never quoted: the URL holds a password. It would land in ConfigMaps (GITLAB_URL) and in messages.
                problem(parent.get(key), "holds credentials (user:password@ before the host): an environment file is no place for a secret,"
                        + " and gfw would put the URL into ConfigMaps and messages; remove them (tokens go in variables or Secrets)");
            } else if (u.getScheme() == null || !List.of(schemes).contains(u.getScheme()) || u.getHost() == null) {
                problem(parent.get(key), Output.quote(s) + " is not a " + String.join(" or ", schemes) + " URL with a host");
            }
        } catch (IllegalArgumentException e) {
            problem(parent.get(key), Output.quote(s) + " is not a valid URL");
        }
        return s;
    }

    int integer(Field parent, String key, Integer dflt, int min, String rule) {
        Field f = dflt == null ? required(parent, key) : parent.get(key);
        if (f == null) return dflt == null ? 0 : dflt;
        String s = scalar(f);
        if (s == null) return 0;
        try {
            int n = Integer.parseInt(s.trim());
            if (n < min) problem(f, "must be " + rule);
            return n;
        } catch (NumberFormatException e) {
            problem(f, "must be " + rule + ", not " + Output.quote(s));
            return 0;
        }
    }

    int positive(Field parent, String key, Integer dflt) {
        return integer(parent, key, dflt, 1, "a positive integer");
    }

    int percent(Field parent, String key, Integer dflt) {
        int n = integer(parent, key, dflt, 1, "a percentage from 1 to 100");
        Field f = parent.get(key);
        if (n > 100 && f != null) problem(f, "must be a percentage from 1 to 100");
        return n;
    }

    boolean bool(Field parent, String key, boolean dflt) {
        Field f = parent.get(key);
        if (f == null) return dflt;
        String s = scalar(f);
        if ("true".equals(s)) return true;
        if ("false".equals(s)) return false;
        if (s != null) problem(f, "must be true or false, not " + Output.quote(s));
        return dflt;
    }

    /** A field's single value with placeholders expanded. */
    String value(Field f) {
        return expand(f, scalar(f));
    }

    String quantity(Field f) {
        String s = expand(f, scalar(f));
        if (s != null && (s.length() > 64 || !QUANTITY.matcher(s).matches())) {
            problem(f, Output.quote(s) + " is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 8Gi)");
        }
        return s;
    }

    List<String> stringList(Field parent, String key, Function<Field, String> item) {
        Field f = parent.get(key);
        if (f == null) return List.of();
        if (!(f.node() instanceof SequenceNode seq)) {
            problem(f, "must be a list");
            return List.of();
        }
        var out = new ArrayList<String>();
        for (int i = 0; i < seq.getValue().size(); i++) {
            Field e = new Field(seq.getValue().get(i), f.path() + "[" + i + "]", this);
            String s = item.apply(e);
            if (s != null) out.add(s);
        }
        return List.copyOf(out);
    }

    /** {@code allowedKeys} in the order messages list them (a List: Set.of's order changes from one JVM to the next). */
    Map<String, String> stringMap(Field parent, String key, Function<Field, String> value, java.util.Collection<String> allowedKeys) {
        Field f = parent.get(key);
        if (f == null) return Map.of();
        if (!f.mapWithKeys(allowedKeys.toArray(String[]::new))) return Map.of();
        var out = new LinkedHashMap<String, String>();
        for (NodeTuple t : ((MappingNode) f.node()).getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k)) continue; // reported by mapWithKeys as '?'
            String val = value.apply(new Field(t.getValueNode(), f.path() + "." + Field.keyText(k.getValue()), this));
            if (val != null) out.put(k.getValue(), val);
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    // ---- Kubernetes names, without regular expressions ------------------------------------------

    private static boolean lowerAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }

    /** True for a DNS-1123 label's characters, ignoring length: [a-z0-9]([-a-z0-9]*[a-z0-9])?. */
    private static boolean labelChars(String s, int from, int to) {
        if (to <= from || !lowerAlnum(s.charAt(from)) || !lowerAlnum(s.charAt(to - 1))) return false;
        for (int i = from + 1; i < to - 1; i++) {
            char c = s.charAt(i);
            if (!lowerAlnum(c) && c != '-') return false;
        }
        return true;
    }

    /** Null when {@code s} is a DNS-1123 label (what Kubernetes takes for namespace names), else what is wrong. */
    static String dnsLabelProblem(String s) {
        if (s.length() > DNS_LABEL_MAX) {
            return "is " + s.length() + " characters long; Kubernetes allows at most " + DNS_LABEL_MAX + " in a DNS label";
        }
        if (!labelChars(s, 0, s.length())) {
            return Output.quote(s) + " is not a valid DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)";
        }
        return null;
    }

    /** Null when {@code s} is a DNS-1123 subdomain (what Kubernetes takes for most object names), else what is wrong. */
    static String dnsSubdomainProblem(String s) {
        if (s.length() > DNS_SUBDOMAIN_MAX) {
            return "is " + s.length() + " characters long; Kubernetes allows at most " + DNS_SUBDOMAIN_MAX + " in a DNS subdomain";
        }
        boolean ok = !s.isEmpty();
        for (int start = 0; ok && start <= s.length(); ) {
            int dot = s.indexOf('.', start);
            int end = dot < 0 ? s.length() : dot;
            ok = labelChars(s, start, end);
            if (dot < 0) break;
            start = dot + 1;
        }
        return ok ? null : Output.quote(s) + " is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.')";
    }
}
