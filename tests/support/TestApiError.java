import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.http.MockResponse;

/** An error answered as the real server's Status object (code, reason, message, details). */
final class TestApiError extends RuntimeException {
  private static final long serialVersionUID = 1L;
  final int code;
  final String reason;
  final ObjectNode details;

  TestApiError(int code, String reason, String message, ObjectNode details) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  MockResponse response() {
    return TestApiJson.json(code, TestApiJson.status(code, reason, getMessage(), details).toString());
  }

  static ObjectNode details(TestApiResourceType t, String name) {
    ObjectNode d = TestApiJson.JSON.createObjectNode();
    if (name != null) {
      d.put("name", name);
    }
    if (t != null) {
      if (!t.group().isEmpty()) {
        d.put("group", t.group());
      }
      d.put("kind", t.plural());
    }
    return d;
  }

  static TestApiError notFound(TestApiResourceType t, String name) {
    return new TestApiError(404, "NotFound", t.qualified() + " \"" + name + "\" not found", details(t, name));
  }

  static TestApiError notFoundGeneric() {
    return new TestApiError(404, "NotFound", "the server could not find the requested resource", TestApiJson.JSON.createObjectNode());
  }

  static TestApiError namespaceNotFound(String ns) {
    ObjectNode d = TestApiJson.JSON.createObjectNode().put("name", ns).put("kind", "namespaces");
    return new TestApiError(404, "NotFound", "namespaces \"" + ns + "\" not found", d);
  }

  static TestApiError alreadyExists(TestApiResourceType t, String name) {
    return new TestApiError(409, "AlreadyExists", t.qualified() + " \"" + name + "\" already exists", details(t, name));
  }

  static TestApiError badRequest(String message) {
    return new TestApiError(400, "BadRequest", message, null);
  }

  static TestApiError methodNotAllowed() {
    return new TestApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
        TestApiJson.JSON.createObjectNode());
  }

  static TestApiError invalid(TestApiResourceType t, String name, String field, String value, String detail) {
    String cause = "Invalid value: " + TestApiJson.JSON.getNodeFactory().textNode(value) + ": " + detail;
    ObjectNode d = TestApiJson.JSON.createObjectNode().put("name", name);
    if (!t.group().isEmpty()) {
      d.put("group", t.group());
    }
    d.put("kind", t.kind());
    d.putArray("causes").addObject().put("reason", "FieldValueInvalid").put("message", cause).put("field", field);
    return new TestApiError(422, "Invalid", t.kind() + " \"" + name + "\" is invalid: " + field + ": " + cause, d);
  }
}
