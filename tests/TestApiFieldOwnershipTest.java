import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The test API server's field ownership on its own (in-process, no HTTP): which leaves a manager owns, the Update
 * entries of plain writes, server-side apply conflicts and their messages, force, removal of fields a manager
 * stopped applying, and managedFields left alone when nothing changed — what gfw's conflict handling and "no write
 * when nothing differs" rely on, checked here so a regression points at this part and not at a script.
 */
class TestApiFieldOwnershipTest {

  static final String NOW = "2026-01-01T00:00:00Z";

  static ObjectNode obj(String json) {
    return (ObjectNode) TestApiJson.readTree(json);
  }

  static ObjectNode quota(String pods, String cpu) {
    return obj("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\","
        + "\"uid\":\"u1\",\"resourceVersion\":\"7\"},\"spec\":{\"hard\":{\"pods\":\"" + pods + "\""
        + (cpu == null ? "" : ",\"cpu\":\"" + cpu + "\"") + "}}}");
  }

  /** The object as the server stores it after {@code manager} created it with a plain POST. */
  static ObjectNode createdBy(String manager, ObjectNode o) {
    TestApiFieldOwnership.trackUpdate(null, o, manager);
    return o;
  }

  static ObjectNode apply(ObjectNode cur, ObjectNode applied, String manager, boolean force) {
    return TestApiFieldOwnership.applyOnto(cur, applied, TestApiFieldPaths.owned(applied), manager, force, false, NOW);
  }

  static List<String> managers(JsonNode o) {
    return TestApiManaged.read(o).stream().map(m -> m.manager + "/" + m.operation).toList();
  }

  static Set<String> fieldsOf(JsonNode o, String manager) {
    Set<String> out = new LinkedHashSet<>();
    TestApiManaged.read(o).stream().filter(m -> m.manager.equals(manager))
        .forEach(m -> m.fields.forEach(f -> out.add(TestApiFieldPaths.show(f))));
    return out;
  }

  @Test
  void aManagerOwnsEverythingItSentButIdentityServerMetadataAndStatus() {
    ObjectNode o = obj("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"uid\":\"x\","
        + "\"resourceVersion\":\"3\",\"labels\":{\"a\":\"1\"}},\"data\":{\"k\":\"v\",\"e\":{}},\"status\":{\"s\":1}}");
    Set<String> owned = new LinkedHashSet<>();
    TestApiFieldPaths.owned(o).forEach(p -> owned.add(TestApiFieldPaths.show(p)));
    assertEquals(Set.of(".metadata.labels.a", ".data.k", ".data.e"), owned);
    // fieldsV1 round trip; keyed list entries (k:) make the whole list one owned leaf
    Set<List<String>> back = new LinkedHashSet<>();
    TestApiFieldPaths.fromFieldsV1(TestApiFieldPaths.toFieldsV1(TestApiFieldPaths.owned(o)), List.of(), back);
    assertEquals(TestApiFieldPaths.owned(o), back);
    Set<List<String>> keyed = new LinkedHashSet<>();
    TestApiFieldPaths.fromFieldsV1(obj("{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"a\\\"}\":{\".\":{}}}}}"),
        List.of(), keyed);
    assertEquals(Set.of(List.of("spec", "containers")), keyed);
  }

  @Test
  void plainWritesRecordAnUpdateEntryAndTakeTheFieldsTheyChange() {
    ObjectNode cur = createdBy("kubectl", quota("10", "2"));
    assertEquals(List.of("kubectl/Update"), managers(cur));
    assertEquals(Set.of(".spec.hard.pods", ".spec.hard.cpu"), fieldsOf(cur, "kubectl"));
    // another manager changes one field with a PUT: it takes that field, kubectl keeps the other
    ObjectNode next = quota("20", "2");
    TestApiJson.objectAt(next, "metadata").set("managedFields", cur.path("metadata").get("managedFields").deepCopy());
    TestApiFieldOwnership.trackUpdate(cur, next, "helm");
    assertEquals(List.of("kubectl/Update", "helm/Update"), managers(next));
    assertEquals(Set.of(".spec.hard.cpu"), fieldsOf(next, "kubectl"));
    assertEquals(Set.of(".spec.hard.pods"), fieldsOf(next, "helm"));
    // a write that changes nothing keeps managedFields exactly as they were
    ObjectNode same = next.deepCopy();
    TestApiFieldOwnership.trackUpdate(next, same, "someone");
    assertEquals(next.path("metadata").path("managedFields"), same.path("metadata").path("managedFields"));
    // managedFields [{}] sent explicitly clears them, as on a real server
    ObjectNode cleared = next.deepCopy();
    TestApiJson.objectAt(cleared, "metadata").putArray("managedFields").addObject();
    TestApiFieldOwnership.trackUpdate(next, cleared, "someone");
    assertFalse(cleared.path("metadata").has("managedFields"));
  }

  @Test
  void applyingAFieldAnotherManagerOwnsIsAConflictNamingBoth() {
    ObjectNode cur = createdBy("kubectl", quota("10", "2"));
    TestApiError one = assertThrows(TestApiError.class, () -> apply(cur, quota("20", null), "gfw", false));
    assertEquals(409, one.code);
    assertTrue(one.getMessage().startsWith("Apply failed with 1 conflict: conflict with \"kubectl\" using v1"),
        one.getMessage());
    assertTrue(one.getMessage().endsWith(": .spec.hard.pods"), one.getMessage());
    assertEquals(".spec.hard.pods", one.details.path("causes").path(0).path("field").asText());
    TestApiError two = assertThrows(TestApiError.class, () -> apply(cur, quota("20", "3"), "gfw", false));
    assertTrue(two.getMessage().startsWith("Apply failed with 2 conflicts: conflicts with \"kubectl\" using v1"),
        two.getMessage());
    assertTrue(two.getMessage().contains("\n- .spec.hard.pods") && two.getMessage().contains("\n- .spec.hard.cpu"),
        two.getMessage());
    // the same value is no conflict: nothing would change
    ObjectNode shared = apply(cur, quota("10", null), "gfw", false);
    assertEquals(List.of("kubectl/Update", "gfw/Apply"), managers(shared));
    assertEquals(Set.of(".spec.hard.pods", ".spec.hard.cpu"), fieldsOf(shared, "kubectl"));
  }

  @Test
  void forceTakesTheFieldOverAndTheOtherManagerLosesIt() {
    ObjectNode cur = createdBy("kubectl", quota("10", "2"));
    ObjectNode forced = apply(cur, quota("20", null), "gfw", true);
    assertEquals("20", forced.path("spec").path("hard").path("pods").asText());
    assertEquals(Set.of(".spec.hard.cpu"), fieldsOf(forced, "kubectl"));
    assertEquals(Set.of(".spec.hard.pods"), fieldsOf(forced, "gfw"));
  }

  @Test
  void aFieldTheManagerStopsApplyingGoesAwayUnlessSomeoneElseOwnsIt() {
    ObjectNode applied = quota("10", "2");
    ObjectNode cur = apply(obj("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\"}}"),
        applied, "gfw", false);
    assertEquals(Set.of(".spec.hard.pods", ".spec.hard.cpu"), fieldsOf(cur, "gfw"));
    ObjectNode dropped = apply(cur, quota("10", null), "gfw", false);
    assertNull(TestApiFieldPaths.at(dropped, List.of("spec", "hard", "cpu")));
    assertEquals(Set.of(".spec.hard.pods"), fieldsOf(dropped, "gfw"));
    // owned by another manager too: it stays
    ObjectNode both = apply(cur, quota("10", "2"), "other", false);
    ObjectNode kept = apply(both, quota("10", null), "gfw", false);
    assertEquals("2", kept.path("spec").path("hard").path("cpu").asText());
    // re-applying what is there changes nothing, managedFields (and their times) included
    ObjectNode again = TestApiFieldOwnership.applyOnto(kept, quota("10", null),
        TestApiFieldPaths.owned(quota("10", null)), "gfw", false, false, "2030-01-01T00:00:00Z");
    assertEquals(kept.path("metadata").path("managedFields"), again.path("metadata").path("managedFields"));
  }
}
