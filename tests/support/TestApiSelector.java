import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Label and field selectors (full syntax: =, ==, !=, in, notin, exists, !exists). */
final class TestApiSelector {
  private record Req(String key, String op, Set<String> values) {
  }

  private final List<Req> reqs = new ArrayList<>();

  static TestApiSelector parse(String s) {
    TestApiSelector sel = new TestApiSelector();
    if (s == null || s.isBlank()) {
      return sel;
    }
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
      } else if (c == ',' && depth == 0) {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    Pattern setOp = Pattern.compile("\\s*([^\\s!=]+)\\s+(in|notin)\\s*\\((.*)\\)\\s*");
    Pattern eqOp = Pattern.compile("\\s*([^\\s!=]+)\\s*(==|!=|=)\\s*([^\\s]*)\\s*");
    for (String p : parts) {
      Matcher m;
      if ((m = setOp.matcher(p)).matches()) {
        Set<String> vals = new HashSet<>();
        for (String v : m.group(3).split(",")) {
          vals.add(v.trim());
        }
        sel.reqs.add(new Req(m.group(1), m.group(2), vals));
      } else if ((m = eqOp.matcher(p)).matches()) {
        String op = m.group(2).equals("!=") ? "!=" : "=";
        sel.reqs.add(new Req(m.group(1), op, Set.of(m.group(3))));
      } else if (p.trim().startsWith("!")) {
        sel.reqs.add(new Req(p.trim().substring(1).trim(), "!exists", Set.of()));
      } else if (!p.isBlank()) {
        sel.reqs.add(new Req(p.trim(), "exists", Set.of()));
      }
    }
    return sel;
  }

  boolean matches(java.util.function.Function<String, String> lookup) {
    for (Req r : reqs) {
      String v = lookup.apply(r.key);
      boolean ok = switch (r.op) {
        case "=" -> v != null && r.values.contains(v);
        case "!=" -> v == null || !r.values.contains(v);
        case "in" -> v != null && r.values.contains(v);
        case "notin" -> v == null || !r.values.contains(v);
        case "exists" -> v != null;
        default -> v == null;
      };
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** The items of {@code apiVersion}/{@code kind} that match both selectors (null: match all), in list order. */
  static List<JsonNode> filter(JsonNode items, String apiVersion, String kind, String labelSelector,
      String fieldSelector) {
    TestApiSelector labels = parse(labelSelector);
    TestApiSelector fields = parse(fieldSelector);
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode item : items) {
      if (!item.path("apiVersion").asText().equals(apiVersion) || !item.path("kind").asText().equals(kind)) {
        continue;
      }
      JsonNode lbls = item.path("metadata").path("labels");
      if (labels.matches(k -> lbls.hasNonNull(k) ? lbls.get(k).asText() : null)
          && fields.matches(k -> {
            JsonNode v = TestApiFieldPaths.at(item, List.of(k.split("\\.")));
            return v == null ? null : v.asText();
          })) {
        out.add(item);
      }
    }
    return out;
  }
}
