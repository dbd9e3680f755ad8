import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/** Protobuf request bodies: kubectl's typed commands (kubectl create namespace|configmap|secret|...) send them. */
final class TestApiProtobuf {
  /** A field: JSON name and type (s string, b bytes, z bool, i int64, m message, ms/mb/mm maps, rs/rm lists, q quantity). */
  private record F(String name, String type, String message) {
  }

  private static final Map<String, Map<Integer, F>> MESSAGES = new HashMap<>();

  private static void message(String name, Object... fields) {
    Map<Integer, F> m = new HashMap<>();
    for (int i = 0; i < fields.length; i += 3) {
      String[] t = ((String) fields[i + 2]).split(":");
      m.put((Integer) fields[i], new F((String) fields[i + 1], t[0], t.length > 1 ? t[1] : null));
    }
    MESSAGES.put(name, m);
  }

  static {
    // field numbers from k8s.io/api and k8s.io/apimachinery generated.proto
    message("Unknown", 1, "typeMeta", "m:TypeMeta", 2, "raw", "b", 3, "contentEncoding", "s", 4, "contentType", "s");
    message("TypeMeta", 1, "apiVersion", "s", 2, "kind", "s");
    message("ObjectMeta", 1, "name", "s", 2, "generateName", "s", 3, "namespace", "s", 6, "resourceVersion", "s",
        11, "labels", "ms", 12, "annotations", "ms", 14, "finalizers", "rs");
    message("Namespace", 1, "metadata", "m:ObjectMeta", 2, "spec", "m:NamespaceSpec");
    message("NamespaceSpec", 1, "finalizers", "rs");
    message("ConfigMap", 1, "metadata", "m:ObjectMeta", 2, "data", "ms", 3, "binaryData", "mb", 4, "immutable", "z");
    message("Secret", 1, "metadata", "m:ObjectMeta", 2, "data", "mb", 3, "type", "s", 4, "stringData", "ms",
        5, "immutable", "z");
    message("ServiceAccount", 1, "metadata", "m:ObjectMeta", 3, "imagePullSecrets", "rm:LocalObjectReference",
        4, "automountServiceAccountToken", "z");
    message("LocalObjectReference", 1, "name", "s");
    message("ResourceQuota", 1, "metadata", "m:ObjectMeta", 2, "spec", "m:ResourceQuotaSpec");
    message("ResourceQuotaSpec", 1, "hard", "mm:Quantity", 2, "scopes", "rs");
    message("Role", 1, "metadata", "m:ObjectMeta", 2, "rules", "rm:PolicyRule");
    message("ClusterRole", 1, "metadata", "m:ObjectMeta", 2, "rules", "rm:PolicyRule");
    message("PolicyRule", 1, "verbs", "rs", 2, "apiGroups", "rs", 3, "resources", "rs", 4, "resourceNames", "rs",
        5, "nonResourceURLs", "rs");
    message("RoleBinding", 1, "metadata", "m:ObjectMeta", 2, "subjects", "rm:Subject", 3, "roleRef", "m:RoleRef");
    message("ClusterRoleBinding", 1, "metadata", "m:ObjectMeta", 2, "subjects", "rm:Subject", 3, "roleRef",
        "m:RoleRef");
    message("Subject", 1, "kind", "s", 2, "apiGroup", "s", 3, "name", "s", 4, "namespace", "s");
    message("RoleRef", 1, "apiGroup", "s", 2, "kind", "s", 3, "name", "s");
    message("SelfSubjectAccessReview", 1, "metadata", "m:ObjectMeta", 2, "spec", "m:SelfSubjectAccessReviewSpec");
    message("SelfSubjectAccessReviewSpec", 1, "resourceAttributes", "m:ResourceAttributes", 2,
        "nonResourceAttributes", "m:NonResourceAttributes");
    message("ResourceAttributes", 1, "namespace", "s", 2, "verb", "s", 3, "group", "s", 4, "version", "s",
        5, "resource", "s", 6, "subresource", "s", 7, "name", "s");
    message("NonResourceAttributes", 1, "path", "s", 2, "verb", "s");
  }

  static ObjectNode decode(byte[] body) {
    if (body.length < 4 || body[0] != 'k' || body[1] != '8' || body[2] != 's' || body[3] != 0) {
      throw TestApiError.badRequest("the protobuf request body lacks the k8s envelope");
    }
    ObjectNode unknown = read(Arrays.copyOfRange(body, 4, body.length), "Unknown");
    String apiVersion = unknown.path("typeMeta").path("apiVersion").asText();
    String kind = unknown.path("typeMeta").path("kind").asText();
    if (!MESSAGES.containsKey(kind) || kind.equals("Unknown") || kind.equals("TypeMeta")) {
      throw new TestApiError(415, "UnsupportedMediaType", "the test API server decodes protobuf only for Namespace, "
          + "ConfigMap, Secret, ServiceAccount, ResourceQuota, RBAC kinds and SelfSubjectAccessReview, not " + kind
          + "; send JSON or YAML instead (kubectl create -f / kubectl apply -f)", null);
    }
    ObjectNode obj = JSON_NODES.objectNode();
    obj.put("apiVersion", apiVersion).put("kind", kind);
    obj.setAll(read(Base64.getDecoder().decode(unknown.path("raw").asText()), kind));
    return obj;
  }

  private static final JsonNodeFactory JSON_NODES = JsonNodeFactory.instance;

  private static ObjectNode read(byte[] b, String message) {
    Map<Integer, F> fields = MESSAGES.get(message);
    ObjectNode out = JSON_NODES.objectNode();
    int[] pos = {0};
    while (pos[0] < b.length) {
      long tag = varint(b, pos);
      int number = (int) (tag >>> 3);
      int wire = (int) (tag & 7);
      byte[] bytes = null;
      long value = 0;
      switch (wire) {
        case 0 -> value = varint(b, pos);
        case 1 -> pos[0] += 8;
        case 5 -> pos[0] += 4;
        case 2 -> {
          int len = (int) varint(b, pos);
          bytes = Arrays.copyOfRange(b, pos[0], pos[0] + len);
          pos[0] += len;
        }
        default -> throw TestApiError.badRequest("unsupported protobuf wire type " + wire);
      }
      F f = fields.get(number);
      if (f == null) {
        continue;
      }
      switch (f.type()) {
        case "s" -> {
          if (bytes.length > 0) { // an empty string is an unset field
            out.put(f.name(), utf8(bytes));
          }
        }
        case "b" -> out.put(f.name(), Base64.getEncoder().encodeToString(bytes));
        case "z" -> out.put(f.name(), value != 0);
        case "i" -> out.put(f.name(), value);
        case "m" -> out.set(f.name(), read(bytes, f.message()));
        case "rs" -> ((ArrayNode) arrayAt(out, f.name())).add(utf8(bytes));
        case "rm" -> ((ArrayNode) arrayAt(out, f.name())).add(read(bytes, f.message()));
        case "ms", "mb", "mm" -> {
          ObjectNode map = out.has(f.name()) ? (ObjectNode) out.get(f.name()) : out.putObject(f.name());
          MapEntry e = entry(bytes);
          String v = switch (f.type()) {
            case "ms" -> utf8(e.value);
            case "mb" -> Base64.getEncoder().encodeToString(e.value);
            default -> read(e.value, "Quantity1").path("string").asText(); // Quantity { string string = 1; }
          };
          map.put(utf8(e.key), v);
        }
        default -> throw new IllegalStateException(f.type());
      }
    }
    return out;
  }

  static {
    message("Quantity1", 1, "string", "s");
  }

  private record MapEntry(byte[] key, byte[] value) {
  }

  private static MapEntry entry(byte[] b) {
    byte[] k = new byte[0];
    byte[] v = new byte[0];
    int[] pos = {0};
    while (pos[0] < b.length) {
      long tag = varint(b, pos);
      int len = (int) varint(b, pos);
      byte[] x = Arrays.copyOfRange(b, pos[0], pos[0] + len);
      pos[0] += len;
      if ((tag >>> 3) == 1) {
        k = x;
      } else {
        v = x;
      }
    }
    return new MapEntry(k, v);
  }

  private static JsonNode arrayAt(ObjectNode o, String name) {
    return o.has(name) ? o.get(name) : o.putArray(name);
  }

  private static String utf8(byte[] b) {
    return b == null ? "" : new String(b, StandardCharsets.UTF_8);
  }

  private static long varint(byte[] b, int[] pos) {
    long result = 0;
    int shift = 0;
    while (true) {
      byte x = b[pos[0]++];
      result |= (long) (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        return result;
      }
      shift += 7;
    }
  }
}
