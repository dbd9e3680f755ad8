// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.ArrayList;
import java.util.List;

/**
 * Data to stdout as {@code -o table|json|yaml}, the way kubectl prints it, and masking of secrets.
 * Messages for people go to stderr through {@link Cli#info}.
 */
final class Output {

    /** {@code wide}: the table with more columns, as kubectl's {@code -o wide}. */
    enum Format { table, wide, json, yaml;
        boolean isTable() { return this == table || this == wide; }
    }

    static final String MASK = "****";

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
            .disable(YAMLGenerator.Feature.SPLIT_LINES))
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    /**
     * Kubernetes objects are printed as kubectl prints them: every map (labels, annotations, a custom
     * resource's spec) with its keys sorted, as Go's encoding/json writes a map. So the same objects
     * print the same bytes whichever map built them (Map.of's order changes from one JVM to the next).
     */
    static final ObjectMapper OBJECTS_JSON = JSON.copy().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
    static final ObjectMapper OBJECTS_YAML = YAML.copy().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private static String write(ObjectMapper mapper, Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String yaml(Object value) {
        try {
            return YAML.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Several Kubernetes objects: a {@code List} in JSON, {@code ---}-separated documents in YAML, like kubectl. */
    static String objects(List<?> objects, Format format) {
        if (format == Format.json) {
            // Ordered as kubectl prints it (Map.of's order changes from one JVM to the next).
            var list = new java.util.LinkedHashMap<String, Object>();
            list.put("apiVersion", "v1");
            list.put("items", objects);
            list.put("kind", "List");
            return write(OBJECTS_JSON, list);
        }
        var sb = new StringBuilder();
        for (int i = 0; i < objects.size(); i++) {
            if (i > 0) sb.append("---\n");
            sb.append(write(OBJECTS_YAML, objects.get(i)));
        }
        return sb.toString();
    }

    /**
     * A kubectl-style table: upper-case headers, columns padded to the widest cell, three spaces apart. Every cell
     * has its control characters escaped ({@link #escapeControls}; a tab too): cells hold text from servers (GitLab
     * runner descriptions), which must not move the cursor, clear the screen or break a row.
     */
    static String table(List<String> headers, List<List<String>> rows) {
        int[] widths = new int[headers.size()];
        var all = new ArrayList<List<String>>();
        all.add(headers.stream().map(String::toUpperCase).toList());
        for (List<String> row : rows) all.add(row.stream().map(c -> c == null ? null : escapeControls(c).replace("\t", "\\t")).toList());
        for (List<String> row : all) {
            for (int i = 0; i < widths.length && i < row.size(); i++) {
                widths[i] = Math.max(widths[i], String.valueOf(row.get(i)).length());
            }
        }
        var sb = new StringBuilder();
        for (List<String> row : all) {
            var line = new StringBuilder();
            for (int i = 0; i < widths.length; i++) {
                String cell = i < row.size() ? String.valueOf(row.get(i)) : "";
                line.append(cell);
                if (i < widths.length - 1) line.append(" ".repeat(widths[i] - cell.length() + 3));
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    /** How much of a value a message quotes: enough to recognise it, not enough to fill a log. */
    static final int QUOTE_MAX = 40;

    /** {@code 'value'} for a message: cut to {@link #QUOTE_MAX} characters ("…" marks the cut), control characters escaped. */
    static String quote(String value) {
        return "'" + clip(value) + "'";
    }

    /** {@code text} with control characters escaped (not cut): a message never moves the cursor or clears a terminal. */
    static String escapeControls(String text) {
        if (text == null) return "null";
        boolean clean = text.chars().noneMatch(c -> c != ' ' && (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT));
        if (clean) return text;
        var sb = new StringBuilder();
        text.codePoints().forEach(cp -> {
            if (cp == '\t' || (!Character.isISOControl(cp) && Character.getType(cp) != Character.FORMAT)) sb.appendCodePoint(cp);
            else sb.append(String.format("\\u%04x", cp));
        });
        return sb.toString();
    }

    /** Every {@code '...'} in a message (picocli quotes the argument it rejects) as {@link #quote} writes it: cut and escaped. */
    static String quoteQuoted(String message) {
        return quoteQuoted(message, 0);
    }

    /**
     * Like {@link #quoteQuoted(String)}, but only quoted parts longer than {@code longerThan} are cut:
     * the safety net under every error line, so that a message quoting a whole input cannot fill a log
     * while names and commands gfw quotes on purpose stay whole.
     */
    static String quoteQuoted(String message, int longerThan) {
        var sb = new StringBuilder();
        int i = 0;
        while (i < message.length()) {
            int open = quoteMark(message, i, true);
            int close = open < 0 ? -1 : quoteMark(message, open + 1, false);
            if (close < 0) {
                sb.append(escapeControls(message.substring(i)));
                break;
            }
            String quoted = message.substring(open + 1, close);
            sb.append(escapeControls(message.substring(i, open))).append(quoted.length() > longerThan ? quote(quoted) : "'" + escapeControls(quoted) + "'");
            i = close + 1;
        }
        return sb.toString();
    }

    /** The next ' from {@code from} that opens (no letter or digit before it) or closes (none after it) a quote: not an apostrophe as in "gfw's". */
    private static int quoteMark(String s, int from, boolean opening) {
        for (int i = s.indexOf('\'', from); i >= 0; i = s.indexOf('\'', i + 1)) {
            int neighbour = opening ? i - 1 : i + 1;
            if (neighbour < 0 || neighbour >= s.length() || !Character.isLetterOrDigit(s.charAt(neighbour))) return i;
        }
        return -1;
    }

    /** {@link #quote} without the quotes. */
    static String clip(String value) {
        if (value == null) return "null";
        var sb = new StringBuilder();
        int n = 0;
        for (int i = 0; i < value.length(); ) {
            int cp = value.codePointAt(i);
            i += Character.charCount(cp);
            if (n++ == QUOTE_MAX) {
                sb.append('…');
                break;
            }
            switch (cp) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (Character.isISOControl(cp) || Character.getType(cp) == Character.FORMAT
                            || Character.getType(cp) == Character.LINE_SEPARATOR || Character.getType(cp) == Character.PARAGRAPH_SEPARATOR) {
                        sb.append(cp <= 0xFFFF ? String.format("\\u%04x", cp) : String.format("\\U%08x", cp));
                    } else {
                        sb.appendCodePoint(cp);
                    }
                }
            }
        }
        return sb.toString();
    }

    /** Every secret gfw sent to a server in this run (tokens in headers): {@link #redact} masks them in anything printed. */
    private static final java.util.Set<String> SENT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Remembers a secret gfw sends (a bearer token, GitLab's PRIVATE-TOKEN): a server may echo it in an error body,
     * and whatever gfw prints from that answer goes through {@link #redact}. Values under 8 characters are not
     * tokens (masking them would garble messages) and are not remembered.
     */
    static void secretSent(String secret) {
        if (secret != null && secret.length() >= 8) SENT.add(secret);
    }

    /** {@code text} with every secret gfw sent in this run ({@link #secretSent}) replaced by {@link #MASK}. */
    static String redact(String text) {
        if (text == null || SENT.isEmpty()) return text;
        for (String s : SENT) if (text.contains(s)) text = text.replace(s, MASK);
        return text;
    }

    /** The secret itself with {@code reveal}, otherwise {@link #MASK} (empty stays empty, so "missing" stays visible). */
    static String mask(String secret, boolean reveal) {
        if (reveal || secret == null || secret.isEmpty()) return secret;
        return MASK;
    }

    // ---- where things go: data to stdout, messages to stderr --------------------------------------

    /** Data goes to stdout. Looked up each time so tests running scripts in-process can capture it. */
    static java.io.PrintStream out() {
        return System.out;
    }

    /** Messages go to stderr. */
    static java.io.PrintStream err() {
        return System.err;
    }

    /** A message for people, on stderr, with every secret gfw sent masked ({@link #redact}). */
    static void info(String message) {
        err().println(redact(message));
    }

    /** A warning, on stderr: secrets gfw sent masked, control characters escaped (text from outside may be in it). */
    static void warn(String message) {
        err().println("warning: " + escapeControls(redact(message)));
    }

    private Output() {}
}
