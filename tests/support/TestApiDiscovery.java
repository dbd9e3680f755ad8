import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.http.MockResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Discovery, as a 1.32 server answers it: legacy ({@code /api}, {@code /apis}, {@code /apis/<g>[/<v>]}) and aggregated
 * (apidiscovery.k8s.io/v2), {@code /version}, health endpoints, and a schema-less OpenAPI v3 per group-version that
 * tells kubectl the server validates fields itself.
 */
final class TestApiDiscovery {
  private final Supplier<List<TestApiResourceType>> types;

  /** {@code types}: what the server serves now (built-in types and those of the stored CRDs). */
  TestApiDiscovery(Supplier<List<TestApiResourceType>> types) {
    this.types = types;
  }

  private List<TestApiResourceType> types() {
    return types.get();
  }

  /** The answer for a GET of a non-resource path, or null if the path names resources. */
  MockResponse nonResource(String path) {
    switch (path) {
      case "/version":
        return TestApiJson.json(200, versionJson());
      case "/healthz", "/livez", "/readyz":
        return new MockResponse().setResponseCode(200).setHeader("Content-Type", "text/plain; charset=utf-8")
            .setBody("ok");
      case "/":
        ObjectNode root = TestApiJson.JSON.createObjectNode();
        ArrayNode paths = root.putArray("paths");
        paths.add("/api").add("/api/v1").add("/apis").add("/healthz").add("/livez").add("/openapi/v3")
            .add("/readyz").add("/version");
        groupVersions().keySet().forEach(gv -> paths.add("/apis/" + gv));
        return TestApiJson.json(200, root.toString());
      case "/api":
        ObjectNode versions = TestApiJson.JSON.createObjectNode().put("kind", "APIVersions");
        versions.putArray("versions").add("v1");
        versions.putArray("serverAddressByClientCIDRs").addObject().put("clientCIDR", "0.0.0.0/0")
            .put("serverAddress", "127.0.0.1");
        return TestApiJson.json(200, versions.toString());
      case "/api/v1":
        return TestApiJson.json(200, resourceList("", "v1").toString());
      case "/apis":
        ObjectNode groups = TestApiJson.JSON.createObjectNode().put("kind", "APIGroupList").put("apiVersion", "v1");
        ArrayNode items = groups.putArray("groups");
        groupsInOrder().forEach((g, vs) -> items.add(apiGroup(g, vs)));
        return TestApiJson.json(200, groups.toString());
      case "/openapi/v3":
        return TestApiJson.json(200, openApiIndex().toString());
      default:
        break;
    }
    String[] s = path.substring(1).split("/");
    if (s[0].equals("apis") && (s.length == 2 || s.length == 3)) {
      List<String> vs = groupsInOrder().get(s[1]);
      if (vs == null || (s.length == 3 && !vs.contains(s[2]))) {
        throw TestApiError.notFoundGeneric();
      }
      return TestApiJson.json(200, s.length == 2 ? apiGroup(s[1], vs).put("kind", "APIGroup").put("apiVersion", "v1").toString()
          : resourceList(s[1], s[2]).toString());
    }
    if (s[0].equals("openapi") && s.length > 2 && s[1].equals("v3")) {
      String gv = path.substring("/openapi/v3/".length());
      ObjectNode doc = openApiDoc(gv);
      if (doc == null) {
        throw TestApiError.notFoundGeneric();
      }
      return TestApiJson.json(200, doc.toString());
    }
    return null;
  }

  /** Aggregated discovery (apidiscovery.k8s.io/v2), what kubectl asks a 1.30+ server first. */
  MockResponse aggregatedDiscovery(boolean core) {
    ObjectNode list = TestApiJson.JSON.createObjectNode().put("kind", "APIGroupDiscoveryList")
        .put("apiVersion", "apidiscovery.k8s.io/v2");
    list.putObject("metadata");
    ArrayNode items = list.putArray("items");
    Map<String, List<String>> groups = new LinkedHashMap<>();
    if (core) {
      groups.put("", List.of("v1"));
    } else {
      groups.putAll(groupsInOrder());
    }
    List<TestApiResourceType> all = types();
    groups.forEach((group, versions) -> {
      ObjectNode item = items.addObject();
      item.putObject("metadata").put("name", group);
      ArrayNode vs = item.putArray("versions");
      for (String version : versions) {
        ObjectNode v = vs.addObject().put("version", version);
        ArrayNode rs = v.putArray("resources");
        for (TestApiResourceType t : all) {
          if (!t.group().equals(group) || !t.version().equals(version)) {
            continue;
          }
          ObjectNode r = rs.addObject().put("resource", t.plural());
          r.putObject("responseKind").put("group", group).put("version", version).put("kind", t.kind());
          r.put("scope", t.namespaced() ? "Namespaced" : "Cluster").put("singularResource", t.kind().toLowerCase());
          addVerbsAndNames(r, t);
          if (!t.subresources().isEmpty()) {
            ArrayNode subs = r.putArray("subresources");
            for (String sub : t.subresources()) {
              ObjectNode sr = subs.addObject().put("subresource", sub);
              sr.putObject("responseKind").put("group", group).put("version", version).put("kind", t.kind());
              ArrayNode sv = sr.putArray("verbs");
              subresourceVerbs(sub).forEach(sv::add);
            }
          }
        }
        v.put("freshness", "Current");
      }
    });
    return new MockResponse().setResponseCode(200)
        .setHeader("Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        .setBody(list.toString());
  }

  private static List<String> subresourceVerbs(String sub) {
    return switch (sub) {
      case "status", "scale" -> List.of("get", "patch", "update");
      case "log", "proxy" -> List.of("get");
      case "finalize" -> List.of("update");
      default -> List.of("create");
    };
  }

  private static String versionJson() {
    return TestApiJson.JSON.createObjectNode().put("major", "1").put("minor", "32").put("gitVersion", TestApiServer.SERVER_VERSION)
        .put("gitCommit", "59526cd4867447956156ae3a602fcbac5ab2d0c2").put("gitTreeState", "clean")
        .put("buildDate", "2025-04-22T16:02:27Z").put("goVersion", "go1.23.6").put("compiler", "gc")
        .put("platform", "linux/amd64").toString();
  }

  /** "group/version" -> types, in a stable order. */
  private Map<String, List<TestApiResourceType>> groupVersions() {
    Map<String, List<TestApiResourceType>> m = new LinkedHashMap<>();
    for (TestApiResourceType t : types()) {
      if (!t.group().isEmpty()) {
        m.computeIfAbsent(t.groupVersion(), x -> new ArrayList<>()).add(t);
      }
    }
    return m;
  }

  /** group -> versions, preferred (first declared) first. */
  private Map<String, List<String>> groupsInOrder() {
    Map<String, List<String>> m = new LinkedHashMap<>();
    for (TestApiResourceType t : types()) {
      if (!t.group().isEmpty()) {
        List<String> vs = m.computeIfAbsent(t.group(), x -> new ArrayList<>());
        if (!vs.contains(t.version())) {
          vs.add(t.version());
        }
      }
    }
    return m;
  }

  private static ObjectNode apiGroup(String group, List<String> versions) {
    ObjectNode g = TestApiJson.JSON.createObjectNode().put("name", group);
    ArrayNode vs = g.putArray("versions");
    for (String v : versions) {
      vs.addObject().put("groupVersion", group + "/" + v).put("version", v);
    }
    g.putObject("preferredVersion").put("groupVersion", group + "/" + versions.get(0)).put("version", versions.get(0));
    return g;
  }

  /** What both discovery formats (APIResourceList and aggregated v2) say of a resource alike. */
  private static void addVerbsAndNames(ObjectNode r, TestApiResourceType t) {
    ArrayNode verbs = r.putArray("verbs");
    t.verbs().forEach(verbs::add);
    if (!t.shortNames().isEmpty()) {
      ArrayNode sn = r.putArray("shortNames");
      t.shortNames().forEach(sn::add);
    }
    if (!t.categories().isEmpty()) {
      ArrayNode c = r.putArray("categories");
      t.categories().forEach(c::add);
    }
  }

  private ObjectNode resourceList(String group, String version) {
    ObjectNode list = TestApiJson.JSON.createObjectNode().put("kind", "APIResourceList").put("apiVersion", "v1")
        .put("groupVersion", group.isEmpty() ? version : group + "/" + version);
    ArrayNode rs = list.putArray("resources");
    for (TestApiResourceType t : types()) {
      if (!t.group().equals(group) || !t.version().equals(version)) {
        continue;
      }
      ObjectNode r = rs.addObject().put("name", t.plural()).put("singularName", t.kind().toLowerCase())
          .put("namespaced", t.namespaced()).put("kind", t.kind());
      addVerbsAndNames(r, t);
      for (String sub : t.subresources()) {
        ObjectNode s = rs.addObject().put("name", t.plural() + "/" + sub).put("singularName", "")
            .put("namespaced", t.namespaced()).put("kind", t.kind());
        ArrayNode sv = s.putArray("verbs");
        subresourceVerbs(sub).forEach(sv::add);
      }
    }
    return list;
  }

  /** OpenAPI v3 index; kubectl reads it to learn that the server validates fields itself (fieldValidation). */
  private ObjectNode openApiIndex() {
    ObjectNode root = TestApiJson.JSON.createObjectNode();
    ObjectNode paths = root.putObject("paths");
    Set<String> gvs = new LinkedHashSet<>();
    types().forEach(t -> gvs.add(t.group().isEmpty() ? "api/" + t.version() : "apis/" + t.groupVersion()));
    for (String gv : gvs) {
      ObjectNode doc = openApiDoc(gv);
      String hash = Integer.toHexString(doc.toString().hashCode());
      paths.putObject(gv).put("serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash);
    }
    return root;
  }

  /** A minimal OpenAPI v3 document per group-version: operations and their parameters, no schemas. */
  private ObjectNode openApiDoc(String gvPath) {
    List<TestApiResourceType> ts = types().stream()
        .filter(t -> (t.group().isEmpty() ? "api/" + t.version() : "apis/" + t.groupVersion()).equals(gvPath))
        .toList();
    if (ts.isEmpty()) {
      return null;
    }
    ObjectNode doc = TestApiJson.JSON.createObjectNode().put("openapi", "3.0.0");
    doc.putObject("info").put("title", "Kubernetes").put("version", TestApiServer.SERVER_VERSION);
    ObjectNode paths = doc.putObject("paths");
    for (TestApiResourceType t : ts) {
      String base = "/" + gvPath + (t.namespaced() ? "/namespaces/{namespace}/" : "/") + t.plural();
      ObjectNode gvk = TestApiJson.JSON.createObjectNode().put("group", t.group()).put("version", t.version()).put("kind", t.kind());
      ObjectNode collection = paths.putObject(base);
      operation(collection, "get", "list", gvk, List.of("labelSelector", "fieldSelector", "limit", "continue", "watch"));
      operation(collection, "post", "post", gvk, List.of("dryRun", "fieldManager", "fieldValidation"));
      ObjectNode item = paths.putObject(base + "/{name}");
      operation(item, "get", "get", gvk, List.of());
      operation(item, "put", "put", gvk, List.of("dryRun", "fieldManager", "fieldValidation"));
      operation(item, "patch", "patch", gvk, List.of("dryRun", "fieldManager", "fieldValidation", "force"));
      operation(item, "delete", "delete", gvk, List.of("dryRun", "gracePeriodSeconds", "propagationPolicy"));
    }
    doc.putObject("components").putObject("schemas");
    return doc;
  }

  private static void operation(ObjectNode path, String method, String action, ObjectNode gvk, List<String> params) {
    ObjectNode op = path.putObject(method);
    op.put("operationId", action + gvk.path("kind").asText());
    ArrayNode ps = op.putArray("parameters");
    for (String p : params) {
      ps.addObject().put("name", p).put("in", "query").put("uniqueItems", true).putObject("schema").put("type", "string");
    }
    op.putObject("responses").putObject("200").put("description", "OK");
    op.put("x-kubernetes-action", action);
    op.set("x-kubernetes-group-version-kind", gvk);
  }
}
