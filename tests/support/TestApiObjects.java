import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.zjsonpatch.JsonPatch;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the real server does to every object it stores: name and label validation, type checks, resourceVersion
 * conflicts, canonical quantities, Namespace and Secret defaults; and the Scale view of scalable objects.
 */
final class TestApiObjects {
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN = Pattern
      .compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern LABEL_NAME = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
  private static final String DNS_LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric "
      + "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
      + "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  private static final String DNS_SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case "
      + "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
      + "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  private static final String LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric "
      + "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
      + "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  private static final String LABEL_NAME_MSG = "name part must consist of alphanumeric characters, '-', '_' or '.', "
      + "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
      + "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

  /** Defaults and checks on an object about to be stored ({@code cur}: the stored one, or null for a create). */
  static void prepare(ObjectNode obj, TestApiResourceType t, ObjectNode cur) {
    ObjectNode meta = TestApiJson.objectAt(obj, "metadata");
    String name = meta.path("name").asText();
    if (!t.namespaced()) {
      meta.remove("namespace");
    }
    if (cur == null) {
      validateName(t, name);
    }
    validateLabels(t, name, meta.get("labels"));
    normalize(obj, t);
    if (t.builtin() && t.group().isEmpty()) {
      switch (t.kind()) {
        case "Namespace" -> {
          TestApiJson.objectAt(meta, "labels").put("kubernetes.io/metadata.name", name);
          ObjectNode spec = TestApiJson.objectAt(obj, "spec");
          if (!spec.has("finalizers")) {
            spec.putArray("finalizers").add("kubernetes");
          }
          if (cur == null) {
            TestApiJson.objectAt(obj, "status").put("phase", "Active");
          }
        }
        case "Secret" -> {
          if (!obj.hasNonNull("type")) {
            obj.put("type", "Opaque");
          }
          JsonNode data = obj.get("data");
          if (data != null && data.isObject()) {
            data.properties().forEach(e -> {
              try {
                Base64.getDecoder().decode(e.getValue().asText());
              } catch (IllegalArgumentException ex) {
                throw TestApiError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 "
                    + "data in data." + e.getKey());
              }
            });
          }
          JsonNode stringData = obj.remove("stringData");
          if (stringData != null && stringData.isObject()) {
            ObjectNode d = TestApiJson.objectAt(obj, "data");
            stringData.properties().forEach(e -> d.put(e.getKey(),
                Base64.getEncoder().encodeToString(e.getValue().asText().getBytes(StandardCharsets.UTF_8))));
          }
        }
        default -> {
        }
      }
    }
  }

  /** Canonical quantities where built-in kinds hold them. */
  static void normalize(ObjectNode obj, TestApiResourceType t) {
    if (!t.builtin()) {
      return;
    }
    switch (t.kind()) {
      case "ResourceQuota" -> TestApiQuantities.canonicalizeMap(obj.path("spec").get("hard"), t.kind());
      case "LimitRange" -> obj.path("spec").path("limits").forEach(l -> {
        for (String k : List.of("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")) {
          TestApiQuantities.canonicalizeMap(l.get(k), t.kind());
        }
      });
      default -> TestApiQuantities.canonicalizeResources(obj, t.kind());
    }
  }

  private static void validateName(TestApiResourceType t, String name) {
    boolean label = t.kind().equals("Namespace") && t.group().isEmpty();
    if (t.group().equals("rbac.authorization.k8s.io")) {
      if (name.contains("/") || name.contains("%") || name.equals(".") || name.equals("..")) {
        throw TestApiError.invalid(t, name, "metadata.name", name, "may not contain '/' or '%' and may not be '.' or '..'");
      }
      return;
    }
    Pattern p = label ? DNS_LABEL : DNS_SUBDOMAIN;
    int max = label ? 63 : 253;
    if (name.length() > max) {
      throw TestApiError.invalid(t, name, "metadata.name", name, "must be no more than " + max + " characters");
    }
    if (!p.matcher(name).matches()) {
      throw TestApiError.invalid(t, name, "metadata.name", name, label ? DNS_LABEL_MSG : DNS_SUBDOMAIN_MSG);
    }
  }

  private static void validateLabels(TestApiResourceType t, String name, JsonNode labels) {
    if (labels == null || !labels.isObject()) {
      return;
    }
    Iterator<Map.Entry<String, JsonNode>> it = labels.properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey();
      String[] parts = key.split("/", -1);
      String keyName = parts[parts.length - 1];
      if (parts.length > 2 || keyName.isEmpty() || keyName.length() > 63 || !LABEL_NAME.matcher(keyName).matches()
          || (parts.length == 2 && (parts[0].length() > 253 || !DNS_SUBDOMAIN.matcher(parts[0]).matches()))) {
        throw TestApiError.invalid(t, name, "metadata.labels", key, LABEL_NAME_MSG);
      }
      String value = e.getValue().isNull() ? "" : e.getValue().asText();
      if (value.length() > 63) {
        throw TestApiError.invalid(t, name, "metadata.labels", value, "must be no more than 63 characters");
      }
      if (!value.isEmpty() && !LABEL_NAME.matcher(value).matches()) {
        throw TestApiError.invalid(t, name, "metadata.labels", value, LABEL_VALUE_MSG);
      }
    }
  }

  static void checkType(ObjectNode obj, TestApiResourceType t) {
    String apiVersion = obj.path("apiVersion").asText("");
    String kind = obj.path("kind").asText("");
    if (kind.isEmpty()) {
      throw TestApiError.badRequest("Object 'Kind' is missing in '" + obj + "'");
    }
    if (!apiVersion.equals(t.groupVersion())) {
      throw TestApiError.badRequest("the API version in the data (" + apiVersion
          + ") does not match the expected API version (" + t.groupVersion() + ")");
    }
    if (!kind.equals(t.kind())) {
      throw TestApiError.badRequest("the kind in the data (" + kind + ") does not match the expected kind (" + t.kind()
          + ")");
    }
  }

  static void checkResourceVersion(TestApiResourceType t, JsonNode obj, JsonNode cur) {
    String sent = obj.path("metadata").path("resourceVersion").asText("");
    if (!sent.isEmpty() && !sent.equals(cur.path("metadata").path("resourceVersion").asText())) {
      String name = cur.path("metadata").path("name").asText();
      throw new TestApiError(409, "Conflict", "Operation cannot be fulfilled on " + t.qualified() + " \"" + name
          + "\": the object has been modified; please apply your changes to the latest version and try again",
          TestApiError.details(t, name));
    }
  }
  /** The autoscaling/v1 Scale of an object with a scale subresource. */
  static ObjectNode scaleOf(TestApiResourceType t, ObjectNode obj) {
    ObjectNode scale = TestApiJson.JSON.createObjectNode().put("kind", "Scale").put("apiVersion", "autoscaling/v1");
    ObjectNode meta = scale.putObject("metadata");
    for (String f : List.of("name", "namespace", "uid", "resourceVersion", "creationTimestamp")) {
      if (obj.path("metadata").hasNonNull(f)) {
        meta.set(f, obj.path("metadata").get(f));
      }
    }
    JsonNode want = TestApiFieldPaths.at(obj, List.of(t.specReplicasPath().substring(1).split("\\.")));
    scale.putObject("spec").put("replicas", want == null ? 0 : want.asInt());
    ObjectNode status = scale.putObject("status");
    JsonNode have = t.statusReplicasPath() == null ? null
        : TestApiFieldPaths.at(obj, List.of(t.statusReplicasPath().substring(1).split("\\.")));
    status.put("replicas", have == null ? 0 : have.asInt());
    if (t.labelSelectorPath() != null) {
      JsonNode sel = TestApiFieldPaths.at(obj, List.of(t.labelSelectorPath().substring(1).split("\\.")));
      if (sel != null) {
        status.put("selector", sel.asText());
      }
    } else {
      List<String> parts = new ArrayList<>();
      obj.path("spec").path("selector").path("matchLabels").properties()
          .forEach(e -> parts.add(e.getKey() + "=" + e.getValue().asText()));
      if (!parts.isEmpty()) {
        status.put("selector", String.join(",", parts));
      }
    }
    return scale;
  }


  /** The object with the replicas a PUT or PATCH of its Scale asks for (a bad count is the real server's 422). */
  static ObjectNode scaled(TestApiResourceType t, ObjectNode cur, ObjectNode scale, String method, String body,
      String contentType, String name) {
    JsonNode next;
    switch (method) {
      case "PUT" -> next = TestApiJson.parseObject(body.getBytes(StandardCharsets.UTF_8), contentType);
      case "PATCH" -> {
        String type = contentType.split(";")[0].trim().toLowerCase();
        JsonNode patch = type.equals("application/apply-patch+yaml")
            ? TestApiJson.parseObject(body.getBytes(StandardCharsets.UTF_8), "application/yaml") : TestApiJson.readTree(body);
        try {
          next = type.equals("application/json-patch+json") ? JsonPatch.apply(patch, scale)
              : TestApiJson.mergePatch(scale, patch, false);
        } catch (RuntimeException e) {
          throw new TestApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
              + e.getMessage(), null);
        }
      }
      default -> throw TestApiError.methodNotAllowed();
    }
    JsonNode replicas = next.path("spec").path("replicas");
    if (!replicas.canConvertToInt() || replicas.asInt() < 0) {
      throw new TestApiError(422, "Invalid", "Scale.autoscaling \"" + name + "\" is invalid: spec.replicas: Invalid "
          + "value: " + replicas + ": must be greater than or equal to 0", null);
    }
    ObjectNode updated = cur.deepCopy();
    List<String> path = List.of(t.specReplicasPath().substring(1).split("\\."));
    ObjectNode parent = updated;
    for (String seg : path.subList(0, path.size() - 1)) {
      parent = TestApiJson.objectAt(parent, seg);
    }
    parent.put(path.get(path.size() - 1), replicas.asInt());
    String sent = next.path("metadata").path("resourceVersion").asText("");
    TestApiJson.objectAt(updated, "metadata").put("resourceVersion", sent.isEmpty()
        ? cur.path("metadata").path("resourceVersion").asText() : sent);
    return updated;
  }

  /** The last {@code tail} lines of a log ({@code tailLines}), or all of it when {@code tail} is null. */
  static String tailLines(String text, String tail) {
    if (tail == null) {
      return text;
    }
    List<String> lines = List.of(text.split("\n", -1));
    if (text.endsWith("\n")) {
      lines = lines.subList(0, lines.size() - 1);
    }
    int n = Math.max(0, Integer.parseInt(tail));
    lines = lines.subList(Math.max(0, lines.size() - n), lines.size());
    return lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
  }

  private TestApiObjects() {
  }
}
