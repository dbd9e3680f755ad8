import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Field ownership as the real server keeps it in metadata.managedFields: server-side apply (merge, conflicts, force,
 * removal of fields a manager stopped applying) and the Update entries of create, update and non-apply patches.
 */
final class TestApiFieldOwnership {
  /**
   * Server-side apply of {@code applied} (whose owned leaves are {@code appliedFields}) by {@code manager} onto the stored
   * {@code cur}: the merged object with its new managedFields. A field another manager owns that this apply changes is a
   * 409 conflict unless {@code force}, which takes it over; fields this manager applied before and no longer applies are
   * removed unless another manager owns them; unchanged ownership keeps managedFields (and their times) as they were.
   */
  static ObjectNode applyOnto(ObjectNode cur, ObjectNode applied, Set<List<String>> appliedFields, String manager,
      boolean force, boolean statusApply, String now) {
    List<TestApiManaged> before = TestApiManaged.read(cur);
    List<TestApiManaged> entries = TestApiManaged.read(cur);
    TestApiManaged mine = entries.stream()
        .filter(m -> m.manager.equals(manager) && m.operation.equals("Apply")
            && m.subresource.equals(statusApply ? "status" : ""))
        .findFirst().orElse(null);
    Set<List<String>> previous = mine == null ? Set.of() : new LinkedHashSet<>(mine.fields);
    List<TestApiManaged> others = new ArrayList<>(entries);
    others.remove(mine);
    // conflicts: a field another manager owns that this apply would change
    Map<TestApiManaged, List<List<String>>> conflicts = new LinkedHashMap<>();
    for (List<String> p : appliedFields) {
      if (Objects.equals(TestApiFieldPaths.at(applied, p), TestApiFieldPaths.at(cur, p))) {
        continue;
      }
      for (TestApiManaged o : others) {
        for (List<String> q : o.fields) {
          if (TestApiFieldPaths.isPrefix(p, q)) {
            conflicts.computeIfAbsent(o, x -> new ArrayList<>()).add(q.equals(p) ? p : q);
          }
        }
      }
    }
    if (!conflicts.isEmpty()) {
      if (!force) {
        throw conflictError(conflicts);
      }
      conflicts.forEach((o, paths) -> o.fields.removeIf(q -> paths.stream().anyMatch(p -> TestApiFieldPaths.related(p, q))));
    }
    ObjectNode merged = cur.deepCopy();
    TestApiJson.applyMerge(merged, applied);
    // fields this manager applied before and no longer does go away unless someone else owns them
    Set<List<String>> keep = new HashSet<>(appliedFields);
    others.forEach(o -> keep.addAll(o.fields));
    for (List<String> r : previous) {
      boolean stillWanted = keep.stream().anyMatch(k -> TestApiFieldPaths.related(k, r));
      if (!stillWanted) {
        TestApiFieldPaths.remove(merged, r, keep);
      }
    }
    List<TestApiManaged> after = new ArrayList<>();
    for (TestApiManaged m : entries) {
      if (m == mine) {
        continue;
      }
      if (!m.fields.isEmpty()) {
        after.add(m);
      }
    }
    TestApiManaged next = new TestApiManaged(manager, "Apply", applied.path("apiVersion").asText(), now,
        statusApply ? "status" : "", appliedFields);
    int at = mine == null ? after.size() : Math.min(entries.indexOf(mine), after.size());
    after.add(at, next);
    ObjectNode mergedMeta = TestApiJson.objectAt(merged, "metadata");
    if (TestApiManaged.sameOwnership(before, after) && cur.path("metadata").has("managedFields")) {
      mergedMeta.set("managedFields", cur.path("metadata").get("managedFields").deepCopy());
    } else {
      mergedMeta.set("managedFields", TestApiManaged.write(after));
    }
    return merged;
  }

  static TestApiError conflictError(Map<TestApiManaged, List<List<String>>> conflicts) {
    int n = conflicts.values().stream().mapToInt(List::size).sum();
    ObjectNode details = TestApiJson.JSON.createObjectNode();
    ArrayNode causes = details.putArray("causes");
    String message;
    if (n == 1) {
      Map.Entry<TestApiManaged, List<List<String>>> e = conflicts.entrySet().iterator().next();
      message = "Apply failed with 1 conflict: conflict with " + e.getKey().describe() + ": "
          + TestApiFieldPaths.show(e.getValue().get(0));
    } else {
      List<String> lines = new ArrayList<>();
      TreeMap<String, List<List<String>>> byManager = new TreeMap<>();
      conflicts.forEach((m, ps) -> byManager.computeIfAbsent(m.describe(), x -> new ArrayList<>()).addAll(ps));
      byManager.forEach((m, ps) -> {
        lines.add("conflicts with " + m + ":");
        ps.forEach(p -> lines.add("- " + TestApiFieldPaths.show(p)));
      });
      message = "Apply failed with " + n + " conflicts: " + String.join("\n", lines);
    }
    conflicts.forEach((m, ps) -> ps.forEach(p -> causes.addObject().put("reason", "FieldManagerConflict")
        .put("message", "conflict with " + m.describe()).put("field", TestApiFieldPaths.show(p))));
    return new TestApiError(409, "Conflict", message, details);
  }

  /** Ownership for create/update/non-apply patch: the writer takes the fields it changed (operation Update). */
  static void trackUpdate(ObjectNode cur, ObjectNode obj, String manager) {
    ObjectNode meta = TestApiJson.objectAt(obj, "metadata");
    JsonNode sent = meta.get("managedFields");
    JsonNode had = cur == null ? null : cur.path("metadata").get("managedFields");
    if (sent != null && !sent.isNull() && !sent.equals(had)) {
      // the client set managedFields explicitly: the real server takes them as given ([{}] clears them)
      boolean allEmpty = true;
      for (JsonNode e : sent) {
        allEmpty &= e.isEmpty();
      }
      if (allEmpty) {
        meta.remove("managedFields");
      }
      return;
    }
    Set<List<String>> now = TestApiFieldPaths.owned(obj);
    Set<List<String>> changed = new LinkedHashSet<>();
    Set<List<String>> removed = new LinkedHashSet<>();
    if (cur == null) {
      changed.addAll(now);
    } else {
      for (List<String> p : now) {
        if (!Objects.equals(TestApiFieldPaths.at(obj, p), TestApiFieldPaths.at(cur, p))) {
          changed.add(p);
        }
      }
      for (List<String> p : TestApiFieldPaths.owned(cur)) {
        if (TestApiFieldPaths.at(obj, p) == null) {
          removed.add(p);
        }
      }
    }
    if (changed.isEmpty() && removed.isEmpty()) {
      if (had != null) {
        meta.set("managedFields", had.deepCopy());
      } else {
        meta.remove("managedFields");
      }
      return;
    }
    List<TestApiManaged> entries = cur == null ? new ArrayList<>() : TestApiManaged.read(cur);
    Set<List<String>> touched = new HashSet<>(changed);
    touched.addAll(removed);
    TestApiManaged mine = null;
    for (TestApiManaged m : entries) {
      if (m.is(manager, "Update")) {
        mine = m;
      } else {
        m.fields.removeIf(q -> touched.stream().anyMatch(p -> TestApiFieldPaths.related(p, q)));
      }
    }
    String time = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    if (mine == null) {
      mine = new TestApiManaged(manager, "Update", obj.path("apiVersion").asText(), time, "", Set.of());
      entries.add(mine);
    }
    mine.fields.removeIf(q -> removed.stream().anyMatch(p -> TestApiFieldPaths.related(p, q)));
    mine.fields.addAll(changed);
    mine.time = time;
    mine.apiVersion = obj.path("apiVersion").asText();
    entries.removeIf(m -> m.fields.isEmpty());
    meta.set("managedFields", TestApiManaged.write(entries));
  }

  private TestApiFieldOwnership() {
  }
}
