import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * An environment file for a test, edited by YAML path instead of string replace(...):
 * {@code EnvFile.dev().set("cnpg.instances", "one").remove("cnpg.database").text()}. Paths are
 * keys joined by '.', with {@code [i]} for list items ({@code runners[1].concurrent}). Edits splice
 * the file's text at the node's position, so comments, layout and every other line stay as they
 * are (tests assert line and column numbers). A path that does not exist fails the test at once,
 * so an edit can never silently do nothing when dev.yaml changes.
 */
final class EnvFile {

    private final String text;

    private EnvFile(String text) {
        this.text = text;
    }

    /** The repository's environments/dev.yaml. */
    static EnvFile dev() {
        return of(read(TestSupport.repo().resolve("environments/dev.yaml")));
    }

    static EnvFile of(String text) {
        return new EnvFile(text);
    }

    String text() {
        return text;
    }

    @Override
    public String toString() {
        return text;
    }

    /** Writes the file as {@code dir/<name>.yaml} and returns dir. */
    Path writeTo(Path dir, String name) {
        try {
            Files.writeString(dir.resolve(name + ".yaml"), text);
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Replaces the value at {@code path} with {@code yaml} (written as is: quote strings that need it). */
    EnvFile set(String path, String yaml) {
        Node value = node(path);
        return splice(value.getStartMark().getIndex(), valueEnd(value), yaml);
    }

    /** Adds {@code key: yaml} as the last entry of the mapping at {@code mappingPath} ("" for the top level), even if the key exists. */
    EnvFile add(String mappingPath, String key, String yaml) {
        Node n = mappingPath.isEmpty() ? root() : node(mappingPath);
        if (!(n instanceof MappingNode m) || m.getValue().isEmpty()) throw new AssertionError(mappingPath + " is not a non-empty mapping in:\n" + text);
        NodeTuple last = m.getValue().get(m.getValue().size() - 1);
        if (m.getFlowStyle() == org.yaml.snakeyaml.DumperOptions.FlowStyle.FLOW) {
            int at = valueEnd(last.getValueNode());
            return splice(at, at, ", " + key + ": " + yaml);
        }
        int column = m.getValue().get(0).getKeyNode().getStartMark().getColumn();
        int at = lineEnd(valueEnd(last.getValueNode()));
        return splice(at, at, " ".repeat(column) + key + ": " + yaml + "\n");
    }

    /** Removes the entry at {@code path} (its key and value lines) from its mapping. */
    EnvFile remove(String path) {
        int dot = path.lastIndexOf('.');
        Node parent = dot < 0 ? root() : node(path.substring(0, dot));
        String key = path.substring(dot + 1);
        if (parent instanceof MappingNode m) {
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                    int start = t.getKeyNode().getStartMark().getIndex();
                    while (start > 0 && text.charAt(start - 1) != '\n') start--;
                    return splice(start, lineEnd(valueEnd(t.getValueNode())), "");
                }
            }
        }
        throw new AssertionError("no " + path + " in:\n" + text);
    }

    /** 1-based line of the value at {@code path}. */
    int line(String path) {
        return node(path).getStartMark().getLine() + 1;
    }

    // ---- helpers ----

    private EnvFile splice(int from, int to, String replacement) {
        return new EnvFile(text.substring(0, from) + replacement + text.substring(to));
    }

    /** Where a value's own text ends (a block collection's end mark is at the next line's start). */
    private int valueEnd(Node value) {
        int end = value.getEndMark().getIndex();
        if (!(value instanceof ScalarNode) && end > 0 && text.charAt(end - 1) == '\n') {
            end--;
            while (end > 0 && Character.isWhitespace(text.charAt(end - 1))) end--;
        }
        return end;
    }

    /** After the end of the line holding index {@code i} (comments on that line included). */
    private int lineEnd(int i) {
        int nl = text.indexOf('\n', i);
        return nl < 0 ? text.length() : nl + 1;
    }

    private Node root() {
        var options = new LoaderOptions();
        options.setAllowDuplicateKeys(true);
        try (var r = new StringReader(text)) {
            return new Yaml(options).compose(r);
        }
    }

    private Node node(String path) {
        Node n = root();
        for (String step : steps(path)) {
            Node next = null;
            if (step.startsWith("[") && n instanceof SequenceNode s) {
                int i = Integer.parseInt(step.substring(1, step.length() - 1));
                if (i < s.getValue().size()) next = s.getValue().get(i);
            } else if (n instanceof MappingNode m) {
                for (NodeTuple t : m.getValue()) {
                    if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(step)) next = t.getValueNode();
                }
            }
            if (next == null) throw new AssertionError("no " + path + " (at " + step + ") in:\n" + text);
            n = next;
        }
        return n;
    }

    /** {@code a.b[1].c} as a, b, [1], c. */
    private static List<String> steps(String path) {
        var out = new ArrayList<String>();
        for (String part : path.split("\\.")) {
            int bracket = part.indexOf('[');
            out.add(bracket < 0 ? part : part.substring(0, bracket));
            while (bracket >= 0) {
                int close = part.indexOf(']', bracket);
                out.add(part.substring(bracket, close + 1));
                bracket = part.indexOf('[', close);
            }
        }
        out.removeIf(String::isEmpty);
        return out;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
