import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/** One metadata.managedFields entry; fields are leaf paths (lists count as one leaf). */
final class TestApiManaged {
  final String manager;
  final String operation;
  String apiVersion;
  String time;
  final String subresource;
  final Set<List<String>> fields;

  TestApiManaged(String manager, String operation, String apiVersion, String time, String subresource,
      Set<List<String>> fields) {
    this.manager = manager;
    this.operation = operation;
    this.apiVersion = apiVersion;
    this.time = time;
    this.subresource = subresource == null ? "" : subresource;
    this.fields = new LinkedHashSet<>(fields);
  }

  boolean is(String manager, String operation) {
    return this.manager.equals(manager) && this.operation.equals(operation) && subresource.isEmpty();
  }

  /** How the real server names a manager in conflict messages. */
  String describe() {
    String m = "\"" + manager + "\"" + (subresource.isEmpty() ? "" : " with subresource \"" + subresource + "\"");
    if (operation.equals("Update")) {
      return m + " using " + apiVersion + (time == null ? "" : " at " + time);
    }
    return m;
  }

  static List<TestApiManaged> read(JsonNode object) {
    List<TestApiManaged> out = new ArrayList<>();
    for (JsonNode e : object.path("metadata").path("managedFields")) {
      Set<List<String>> fields = new LinkedHashSet<>();
      TestApiFieldPaths.fromFieldsV1(e.path("fieldsV1"), List.of(), fields);
      out.add(new TestApiManaged(e.path("manager").asText(""), e.path("operation").asText(""),
          e.path("apiVersion").asText(""), e.hasNonNull("time") ? e.get("time").asText() : null,
          e.path("subresource").asText(""), fields));
    }
    return out;
  }

  static ArrayNode write(List<TestApiManaged> entries) {
    ArrayNode a = TestApiJson.JSON.createArrayNode();
    for (TestApiManaged m : entries) {
      ObjectNode e = a.addObject();
      e.put("manager", m.manager).put("operation", m.operation).put("apiVersion", m.apiVersion);
      if (m.time != null) {
        e.put("time", m.time);
      }
      e.put("fieldsType", "FieldsV1");
      e.set("fieldsV1", TestApiFieldPaths.toFieldsV1(m.fields));
      if (!m.subresource.isEmpty()) {
        e.put("subresource", m.subresource);
      }
    }
    return a;
  }

  /** Same managers, operations and fields (times ignored). */
  static boolean sameOwnership(List<TestApiManaged> a, List<TestApiManaged> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      TestApiManaged x = a.get(i);
      TestApiManaged y = b.get(i);
      if (!x.manager.equals(y.manager) || !x.operation.equals(y.operation) || !x.subresource.equals(y.subresource)
          || !x.fields.equals(y.fields) || !Objects.equals(x.apiVersion, y.apiVersion)) {
        return false;
      }
    }
    return true;
  }
}
