import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.mockwebserver.http.MockResponse;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/** JSON and YAML helpers of the test API server: merge patches, server-side apply merge, bodies, Status objects. */
final class TestApiJson {
  static final ObjectMapper JSON = new ObjectMapper();
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  /** RFC 7386 merge patch; strategic (approximately) also merges lists of named objects by name. */
  static JsonNode mergePatch(JsonNode target, JsonNode patch, boolean strategic) {
    if (!patch.isObject()) {
      if (strategic && patch.isArray() && target != null && target.isArray()) {
        return mergeNamedLists((ArrayNode) target, (ArrayNode) patch);
      }
      return patch.deepCopy();
    }
    ObjectNode result = target != null && target.isObject() ? ((ObjectNode) target).deepCopy()
        : JSON.createObjectNode();
    Iterator<Map.Entry<String, JsonNode>> it = patch.properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (strategic && e.getKey().startsWith("$")) {
        continue; // directives such as $setElementOrder/..., $retainKeys
      }
      if (e.getValue().isNull()) {
        result.remove(e.getKey());
      } else {
        result.set(e.getKey(), mergePatch(result.get(e.getKey()), e.getValue(), strategic));
      }
    }
    return result;
  }

  private static JsonNode mergeNamedLists(ArrayNode target, ArrayNode patch) {
    boolean named = patch.size() > 0;
    for (JsonNode n : patch) {
      named &= n.isObject() && n.hasNonNull("name");
    }
    for (JsonNode n : target) {
      named &= n.isObject() && n.hasNonNull("name");
    }
    if (!named) {
      return patch.deepCopy();
    }
    ArrayNode out = target.deepCopy();
    for (JsonNode p : patch) {
      String name = p.get("name").asText();
      int idx = -1;
      for (int i = 0; i < out.size(); i++) {
        if (out.get(i).get("name").asText().equals(name)) {
          idx = i;
        }
      }
      if ("delete".equals(p.path("$patch").asText())) {
        if (idx >= 0) {
          out.remove(idx);
        }
      } else if (idx >= 0) {
        out.set(idx, mergePatch(out.get(idx), p, true));
      } else {
        out.add(mergePatch(null, p, true));
      }
    }
    return out;
  }

  /** Server-side apply merge: maps merge, lists and scalars are replaced, null removes. */
  static void applyMerge(ObjectNode target, JsonNode applied) {
    Iterator<Map.Entry<String, JsonNode>> it = applied.properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode existing = target.get(e.getKey());
      if (e.getValue().isNull()) {
        target.remove(e.getKey());
      } else if (e.getValue().isObject() && existing instanceof ObjectNode o && !e.getValue().isEmpty()) {
        applyMerge(o, e.getValue());
      } else if (e.getValue().isObject() && existing instanceof ObjectNode) {
        continue; // an empty map in the apply keeps what is there
      } else {
        target.set(e.getKey(), e.getValue().deepCopy());
      }
    }
  }

  static ObjectNode objectAt(ObjectNode parent, String field) {
    JsonNode n = parent.get(field);
    if (n instanceof ObjectNode o) {
      return o;
    }
    return parent.putObject(field);
  }

  static JsonNode readTree(String s) {
    try {
      return JSON.readTree(s);
    } catch (JsonProcessingException e) {
      throw TestApiError.badRequest("the request body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  static ObjectNode parseObject(byte[] raw, String contentType) {
    if (contentType.startsWith("application/vnd.kubernetes.protobuf")) {
      return TestApiProtobuf.decode(raw);
    }
    String body = new String(raw, StandardCharsets.UTF_8);
    JsonNode n;
    try {
      boolean yaml = contentType.contains("yaml") && !body.trim().startsWith("{");
      n = yaml ? YAML.readTree(body) : JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw TestApiError.badRequest("the request body could not be decoded: " + e.getOriginalMessage());
    }
    if (!(n instanceof ObjectNode o)) {
      throw TestApiError.badRequest("the request body must be an object");
    }
    return o;
  }

  static boolean bodyDryRun(String body) {
    if (body == null || body.isBlank() || !body.trim().startsWith("{")) {
      return false;
    }
    try {
      for (JsonNode v : JSON.readTree(body).path("dryRun")) {
        if (v.asText().equals("All")) {
          return true;
        }
      }
    } catch (JsonProcessingException e) {
      return false;
    }
    return false;
  }

  static ObjectNode status(int code, String reason, String message, ObjectNode details) {
    ObjectNode s = JSON.createObjectNode().put("kind", "Status").put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", code < 300 ? "Success" : "Failure").put("message", message).put("reason", reason);
    if (details != null) {
      s.set("details", details);
    }
    s.put("code", code);
    return s;
  }

  static MockResponse json(int code, String body) {
    return new MockResponse().setResponseCode(code).setHeader("Content-Type", "application/json").setBody(body);
  }

  private TestApiJson() {
  }
}
