import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** JSON field paths. */
final class TestApiFieldPaths {
  private static final Set<String> SERVER_METADATA = Set.of("name", "namespace", "uid", "resourceVersion",
      "generation", "creationTimestamp", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds",
      "selfLink");

  /** Leaf paths a manager owns by sending this object: everything but identity, server-set metadata, status. */
  static Set<List<String>> owned(JsonNode object) {
    ObjectNode copy = (ObjectNode) object.deepCopy();
    copy.remove(List.of("apiVersion", "kind", "status"));
    if (copy.get("metadata") instanceof ObjectNode meta) {
      meta.remove(SERVER_METADATA);
      if (meta.isEmpty()) {
        copy.remove("metadata");
      }
    }
    Set<List<String>> out = new LinkedHashSet<>();
    leaves(copy, List.of(), out);
    out.remove(List.<String>of());
    return out;
  }

  static void leaves(JsonNode node, List<String> prefix, Set<List<String>> out) {
    if (node.isObject() && !node.isEmpty()) {
      node.properties().forEach(e -> {
        if (!e.getValue().isNull()) {
          leaves(e.getValue(), append(prefix, e.getKey()), out);
        }
      });
    } else {
      out.add(prefix);
    }
  }

  static List<String> append(List<String> prefix, String seg) {
    List<String> p = new ArrayList<>(prefix);
    p.add(seg);
    return List.copyOf(p);
  }

  static JsonNode at(JsonNode node, List<String> path) {
    JsonNode n = node;
    for (String seg : path) {
      if (n == null || !n.isObject()) {
        return null;
      }
      n = n.get(seg);
    }
    return n == null || n.isNull() ? null : n;
  }

  static boolean isPrefix(List<String> prefix, List<String> path) {
    return prefix.size() <= path.size() && path.subList(0, prefix.size()).equals(prefix);
  }

  static boolean related(List<String> a, List<String> b) {
    return isPrefix(a, b) || isPrefix(b, a);
  }

  static String show(List<String> path) {
    return "." + String.join(".", path);
  }

  /** Removes the field at path and then any parent maps it leaves empty (below the top level). */
  static void remove(ObjectNode root, List<String> path, Set<List<String>> keep) {
    if (path.isEmpty()) {
      return;
    }
    JsonNode parent = at(root, path.subList(0, path.size() - 1));
    if (parent instanceof ObjectNode p) {
      p.remove(path.get(path.size() - 1));
      List<String> up = path.subList(0, path.size() - 1);
      if (p.isEmpty() && up.size() > 1 && keep.stream().noneMatch(k -> k.equals(up))) {
        remove(root, up, keep);
      }
    }
  }

  static ObjectNode toFieldsV1(Set<List<String>> paths) {
    ObjectNode root = TestApiJson.JSON.createObjectNode();
    List<List<String>> sorted = new ArrayList<>(paths);
    sorted.sort(Comparator.comparing(p -> String.join("\u0000", p)));
    for (List<String> p : sorted) {
      ObjectNode n = root;
      for (String seg : p) {
        JsonNode child = n.get("f:" + seg);
        n = child instanceof ObjectNode o ? o : n.putObject("f:" + seg);
      }
    }
    return root;
  }

  /** Reads fieldsV1; keyed or indexed list entries (k:, v:, i:) make the whole list owned. */
  static void fromFieldsV1(JsonNode node, List<String> prefix, Set<List<String>> out) {
    boolean any = false;
    Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey();
      if (key.equals(".")) {
        continue;
      }
      any = true;
      if (key.startsWith("f:")) {
        fromFieldsV1(e.getValue(), append(prefix, key.substring(2)), out);
      } else {
        out.add(prefix);
      }
    }
    if (!any && !prefix.isEmpty()) {
      out.add(prefix);
    }
  }
}
