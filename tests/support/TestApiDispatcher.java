import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.internal.MockDispatcher;
import io.fabric8.mockwebserver.internal.SimpleRequest;
import io.fabric8.zjsonpatch.JsonPatch;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The test API server's request handling: CRUD from fabric8's KubernetesCrudDispatcher, plus what a real API server
 * does (authentication, routing by resource type, dry runs, subresources, server-side apply, validation), the
 * request log, and rollouts where a test asks for them ({@link TestApiRollouts}).
 */
final class TestApiDispatcher extends KubernetesCrudDispatcher {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Map<ServerRequest, Queue<ServerResponse>> expectations;
  private final MockDispatcher expectationDispatcher;
  private final Runnable afterRequest;
  private final boolean logRequests;
  private final Queue<TestApiServer.Request> log = new ConcurrentLinkedQueue<>();
  private final ThreadLocal<Boolean> dryRun = ThreadLocal.withInitial(() -> false);
  final Map<String, String> podLogs = new ConcurrentHashMap<>();
  private final TestApiDiscovery discovery = new TestApiDiscovery(this::types);
  final TestApiRollouts rollouts = new TestApiRollouts(this);
  final TestApiServiceProxy serviceProxy = new TestApiServiceProxy(this);

  TestApiDispatcher(Map<ServerRequest, Queue<ServerResponse>> expectations, Runnable afterRequest, boolean logRequests) {
    this.expectations = expectations;
    this.expectationDispatcher = new MockDispatcher(expectations);
    this.afterRequest = afterRequest;
    this.logRequests = logRequests;
  }

  List<TestApiServer.Request> requests() {
    return List.copyOf(log);
  }

  void resetRequests() {
    log.clear();
  }

  /** What a fresh cluster has: the system namespaces and the CloudNativePG operator's CRD. */
  void seed() {
    for (String ns : List.of("default", "kube-system", "kube-public", "kube-node-lease")) {
      internal("POST", "/api/v1/namespaces", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\""
          + ns + "\"}}");
    }
    internal("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", TestApiResourceType.CNPG_CLUSTER_CRD);
    log.clear();
  }

  private void internal(String method, String path, String body) {
    Headers h = Headers.builder().add("Content-Type", "application/json").add("Authorization", "Bearer seed")
        .add("User-Agent", "kube-apiserver/" + TestApiServer.SERVER_VERSION).build();
    MockResponse r = dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.valueOf(method), path, h,
        new Buffer(body.getBytes(StandardCharsets.UTF_8))));
    if (r.code() >= 300) {
      throw new IllegalStateException("seeding " + path + " failed: " + r.code() + " " + r.getBody().readUtf8());
    }
  }

  @Override
  public void processEvent(String path, AttributeSet pathAttributes, AttributeSet oldAttributes,
      GenericKubernetesResource resource, String newState) {
    if (!dryRun.get()) {
      super.processEvent(path, pathAttributes, oldAttributes, resource, newState);
    }
  }

  @Override
  public MockResponse dispatch(RecordedRequest rr) {
    String uri = rr.getPath();
    int q = uri.indexOf('?');
    String path = q < 0 ? uri : uri.substring(0, q);
    String query = q < 0 ? "" : uri.substring(q + 1);
    byte[] raw = rr.getBody() == null ? new byte[0] : rr.getBody().getBytes();
    String body = new String(raw, StandardCharsets.UTF_8);
    String contentType = Objects.toString(rr.getHeader("Content-Type"), "");
    if (logRequests) {
      log.add(new TestApiServer.Request(rr.getMethod(), path, query, contentType, body));
    }
    try {
      MockResponse r = route(rr, path, query, raw, contentType);
      if (r.getWebSocketListener() == null && r.getBody() != null && r.getBody().size() > 0
          && r.getHeaders().header("Content-Type") == null) {
        r.setHeader("Content-Type", "application/json");
      }
      return r;
    } catch (TestApiError e) {
      return e.response();
    } catch (RuntimeException e) {
      return TestApiJson.json(500, TestApiJson.status(500, "InternalError", "test API server: " + e, null).toString());
    } finally {
      afterRequest.run();
    }
  }

  private MockResponse route(RecordedRequest rr, String path, String query, byte[] raw, String contentType) {
    String method = rr.getMethod();
    String body = new String(raw, StandardCharsets.UTF_8);
    boolean open = path.equals("/version") || path.equals("/healthz") || path.equals("/livez")
        || path.equals("/readyz");
    String auth = rr.getHeader("Authorization");
    if (!open && (auth == null || auth.isBlank())) {
      return TestApiJson.json(401, TestApiJson.status(401, "Unauthorized", "Unauthorized", null).toString());
    }
    // expect() rules registered on the mock take precedence, as with KubernetesMixedDispatcher
    Queue<ServerResponse> rule = expectations.get(new SimpleRequest(rr.method(), rr.getPath()));
    if (rule == null || rule.isEmpty()) {
      rule = expectations.get(new SimpleRequest(rr.getPath()));
    }
    if (rule != null && !rule.isEmpty()) {
      return expectationDispatcher.dispatch(rr);
    }
    if (method.equals("GET")) {
      String accept = Objects.toString(rr.getHeader("Accept"), "");
      if ((path.equals("/api") || path.equals("/apis")) && accept.contains("as=APIGroupDiscoveryList")
          && accept.contains("v=v2")) {
        return discovery.aggregatedDiscovery(path.equals("/api"));
      }
      MockResponse nonResource = discovery.nonResource(path);
      if (nonResource != null) {
        return nonResource;
      }
    }
    MockResponse proxied = serviceProxy.handle(method, path, query);
    if (proxied != null) {
      return proxied;
    }
    TestApiResourcePath rp = TestApiResourcePath.parse(path);
    if (rp == null) {
      throw TestApiError.notFoundGeneric();
    }
    TestApiResourceType t = types().stream()
        .filter(x -> x.group().equals(rp.group()) && x.version().equals(rp.version()) && x.plural().equals(rp.resource()))
        .findFirst().orElseThrow(TestApiError::notFoundGeneric);
    if (t.namespaced() != (rp.namespace() != null) && !(t.namespaced() && rp.name() == null)) {
      throw TestApiError.notFoundGeneric();
    }
    if (rp.sub() != null && !(rp.sub().equals("status") || (rp.sub().equals("log") && t.kind().equals("Pod"))
        || (rp.sub().equals("scale") && t.specReplicasPath() != null))) {
      throw new TestApiError(404, "NotFound", "the test API server does not serve the " + rp.sub() + " subresource",
          TestApiJson.JSON.createObjectNode());
    }
    TestApiParams params = TestApiParams.parse(query);
    boolean dry = params.all("dryRun").contains("All") || (method.equals("DELETE") && TestApiJson.bodyDryRun(body));
    if (!params.all("dryRun").stream().allMatch(v -> v.equals("All"))) {
      throw badRequest("dryRun", "Unsupported value: \"" + params.first("dryRun") + "\": supported values: \"All\"");
    }
    String manager = params.first("fieldManager");
    if (manager == null) {
      String ua = Objects.toString(rr.getHeader("User-Agent"), "");
      manager = ua.isEmpty() ? "unknown" : ua.split("/")[0];
    }
    synchronized (this) {
      dryRun.set(dry);
      try {
        MockResponse r;
        if ("scale".equals(rp.sub())) {
          r = scale(t, rp, method, params, body, contentType, manager);
        } else {
          r = switch (method) {
            case "GET" -> get(t, rp, params, query, rr.getHeader("Upgrade") != null);
            case "POST" -> create(t, rp, TestApiJson.parseObject(raw, contentType), manager);
            case "PUT" -> update(t, rp, TestApiJson.parseObject(raw, contentType), manager);
            case "PATCH" -> patch(t, rp, params, body, contentType, manager);
            case "DELETE" -> delete(t, rp, params, dry);
            default -> throw TestApiError.methodNotAllowed();
          };
        }
        if (!dry && !method.equals("GET") && r.code() < 300 && t.kind().equals("Deployment")
            && t.groupVersion().equals("apps/v1") && rollouts.enabled(rp.namespace())) {
          rollouts.reconcile(rp.namespace(), rp.name() != null ? rp.name()
              : TestApiJson.readTree(new String(r.getBody().getBytes(), StandardCharsets.UTF_8)).path("metadata").path("name").asText());
        }
        return r;
      } finally {
        dryRun.set(false);
      }
    }
  }

  private static TestApiError badRequest(String field, String message) {
    return TestApiError.badRequest(field + ": " + message);
  }
  /** Built-in types plus those of the stored CustomResourceDefinitions. */
  List<TestApiResourceType> types() {
    List<TestApiResourceType> out = new ArrayList<>(TestApiResourceType.BUILTINS);
    List<String> crds = new ArrayList<>();
    synchronized (map) {
      map.forEach((k, v) -> {
        if (k.getAttribute("plural") != null
            && k.getAttribute("plural").getValues().iterator().next().toString().equals("customresourcedefinitions")) {
          crds.add(v);
        }
      });
    }
    for (String crdJson : crds) {
      out.addAll(TestApiResourceType.fromCrd(TestApiJson.readTree(crdJson)));
    }
    return out;
  }
  // ---- reads

  private MockResponse get(TestApiResourceType t, TestApiResourcePath rp, TestApiParams params, String query, boolean upgrade) {
    if ("log".equals(rp.sub())) {
      if (current(t, rp) == null) {
        throw TestApiError.notFound(t, rp.name());
      }
      String text = TestApiObjects.tailLines(podLogs.getOrDefault(rp.namespace() + "/" + rp.name(), ""),
          params.first("tailLines"));
      return new MockResponse().setResponseCode(200).setHeader("Content-Type", "text/plain").setBody(text);
    }
    boolean watch = "true".equals(params.first("watch")) || "1".equals(params.first("watch"));
    if (rp.name() != null) {
      MockResponse r = super.handleGet(rp.objectPath() + (rp.sub() != null ? "/" + rp.sub() : ""));
      if (r.code() == 404) {
        throw TestApiError.notFound(t, rp.name());
      }
      return r;
    }
    if (watch && !upgrade) {
      // A streaming HTTP watch (kubectl get -w) cannot be held open through the mock web server: answer an
      // event stream that ends at once, as a real server does when the watch times out.
      return new MockResponse().setResponseCode(200).setHeader("Content-Type", "application/json");
    }
    if (watch) {
      return super.handleGet(rp.collectionPath() + "?" + query);
    }
    // A list: the mock's own selector support is partial, so filter here.
    MockResponse r = super.handleGet(rp.collectionPath());
    JsonNode list = TestApiJson.readTree(r.getBody().readUtf8());
    List<JsonNode> items = TestApiSelector.filter(list.path("items"), t.groupVersion(), t.kind(),
        params.first("labelSelector"), params.first("fieldSelector"));
    items.sort(Comparator.comparing((JsonNode i) -> i.path("metadata").path("namespace").asText(""))
        .thenComparing(i -> i.path("metadata").path("name").asText("")));
    ObjectNode out = TestApiJson.JSON.createObjectNode().put("kind", t.kind() + "List").put("apiVersion", t.groupVersion());
    out.putObject("metadata").put("resourceVersion", list.path("metadata").path("resourceVersion").asText("0"));
    out.putArray("items").addAll(items);
    return TestApiJson.json(200, out.toString());
  }

  /** The scale subresource (autoscaling/v1 Scale) of deployments, statefulsets, replicasets and scalable CRDs. */
  private MockResponse scale(TestApiResourceType t, TestApiResourcePath rp, String method, TestApiParams params, String body,
      String contentType, String manager) {
    TestApiResourcePath main = new TestApiResourcePath(rp.group(), rp.version(), rp.namespace(), rp.resource(), rp.name(), null);
    ObjectNode cur = current(t, main);
    if (cur == null) {
      throw TestApiError.notFound(t, rp.name());
    }
    ObjectNode scale = TestApiObjects.scaleOf(t, cur);
    if (method.equals("GET")) {
      return TestApiJson.json(200, scale.toString());
    }
    ObjectNode updated = TestApiObjects.scaled(t, cur, scale, method, body, contentType, rp.name());
    MockResponse r = update(t, main, updated, manager);
    return TestApiJson.json(200, TestApiObjects.scaleOf(t, (ObjectNode) TestApiJson.readTree(r.getBody().readUtf8())).toString());
  }

  private ObjectNode current(TestApiResourceType t, TestApiResourcePath rp) {
    Map.Entry<AttributeSet, String> e = findResource(getKey(rp.objectPath()));
    if (e == null) {
      return null;
    }
    ObjectNode o = (ObjectNode) TestApiJson.readTree(e.getValue());
    // the mock keys on plural+version only; make sure it is this group's object
    return o.path("apiVersion").asText().equals(t.groupVersion()) ? o : null;
  }

  private void requireNamespace(String ns) {
    Map.Entry<AttributeSet, String> e = findResource(getKey("/api/v1/namespaces/" + ns));
    if (e == null) {
      throw TestApiError.namespaceNotFound(ns);
    }
    if (TestApiJson.readTree(e.getValue()).path("metadata").hasNonNull("deletionTimestamp")) {
      throw new TestApiError(403, "Forbidden", "unable to create new content in namespace " + ns
          + " because it is being terminated", TestApiJson.JSON.createObjectNode());
    }
  }

  // ---- writes

  private MockResponse create(TestApiResourceType t, TestApiResourcePath rp, ObjectNode obj, String manager) {
    if (rp.name() != null || (t.namespaced() && rp.namespace() == null)) {
      throw TestApiError.methodNotAllowed();
    }
    TestApiObjects.checkType(obj, t);
    if (t.kind().equals("SelfSubjectAccessReview")) {
      // no authorization here: everything is allowed
      obj.putObject("status").put("allowed", true).put("reason", "test API server allows everything");
      return TestApiJson.json(201, obj.toString());
    }
    ObjectNode meta = TestApiJson.objectAt(obj, "metadata");
    String name = meta.path("name").asText("");
    if (name.isEmpty()) {
      String gen = meta.path("generateName").asText("");
      if (gen.isEmpty()) {
        throw TestApiError.invalid(t, "", "metadata.name", "", "name or generateName is required");
      }
      name = gen + randomSuffix();
      meta.put("name", name);
    }
    if (t.namespaced()) {
      requireNamespace(rp.namespace());
    }
    TestApiResourcePath self = new TestApiResourcePath(rp.group(), rp.version(), rp.namespace(), rp.resource(), name, null);
    if (current(t, self) != null) {
      throw TestApiError.alreadyExists(t, name);
    }
    TestApiObjects.prepare(obj, t, null);
    TestApiFieldOwnership.trackUpdate(null, obj, manager);
    return store(HttpMethod.POST, rp.collectionPath(), obj, 201);
  }

  private MockResponse update(TestApiResourceType t, TestApiResourcePath rp, ObjectNode obj, String manager) {
    if (rp.name() == null) {
      throw TestApiError.methodNotAllowed();
    }
    TestApiObjects.checkType(obj, t);
    ObjectNode cur = current(t, rp);
    if (cur == null) {
      throw TestApiError.notFound(t, rp.name());
    }
    String bodyName = obj.path("metadata").path("name").asText("");
    if (!bodyName.isEmpty() && !bodyName.equals(rp.name())) {
      throw TestApiError.badRequest("the name of the object (" + bodyName + ") does not match the name on the URL ("
          + rp.name() + ")");
    }
    TestApiJson.objectAt(obj, "metadata").put("name", rp.name());
    TestApiObjects.checkResourceVersion(t, obj, cur);
    if ("status".equals(rp.sub())) {
      // only status changes through the status subresource
      ObjectNode next = cur.deepCopy();
      if (obj.has("status")) {
        next.set("status", obj.get("status"));
      } else {
        next.remove("status");
      }
      return store(HttpMethod.PUT, rp.objectPath() + "/status", next, 200);
    }
    // status changes only through the status subresource
    if (cur.has("status")) {
      obj.set("status", cur.get("status"));
    } else {
      obj.remove("status");
    }
    TestApiObjects.prepare(obj, t, cur);
    TestApiFieldOwnership.trackUpdate(cur, obj, manager);
    return store(HttpMethod.PUT, rp.objectPath(), obj, 200);
  }

  private MockResponse patch(TestApiResourceType t, TestApiResourcePath rp, TestApiParams params, String body, String contentType,
      String manager) {
    if (rp.name() == null) {
      throw TestApiError.methodNotAllowed();
    }
    String type = contentType.split(";")[0].trim().toLowerCase();
    if (type.equals("application/apply-patch+yaml")) {
      return apply(t, rp, params, body);
    }
    ObjectNode cur = current(t, rp);
    if (cur == null) {
      throw TestApiError.notFound(t, rp.name());
    }
    JsonNode patch = TestApiJson.readTree(body);
    JsonNode merged;
    switch (type) {
      case "application/json-patch+json":
        try {
          merged = JsonPatch.apply(patch, cur);
        } catch (RuntimeException e) {
          throw new TestApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
              + e.getMessage(), null);
        }
        break;
      case "application/merge-patch+json":
        merged = TestApiJson.mergePatch(cur, patch, false);
        break;
      case "application/strategic-merge-patch+json":
        merged = TestApiJson.mergePatch(cur, patch, true);
        break;
      default:
        throw new TestApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
            + "accepted media types include: application/json-patch+json, application/merge-patch+json, "
            + "application/apply-patch+yaml, application/strategic-merge-patch+json", null);
    }
    if (!(merged instanceof ObjectNode obj)) {
      throw TestApiError.badRequest("the patch did not produce an object");
    }
    return update(t, rp, obj, manager);
  }

  /** Server-side apply: create if absent, else merge with field ownership like the real server. */
  private MockResponse apply(TestApiResourceType t, TestApiResourcePath rp, TestApiParams params, String body) {
    String manager = params.first("fieldManager");
    if (manager == null || manager.isEmpty()) {
      throw TestApiError.badRequest("PATCH " + rp.objectPath()
          + ": fieldManager is required for apply requests (set the fieldManager query parameter)");
    }
    boolean force = "true".equals(params.first("force"));
    ObjectNode applied = TestApiJson.parseObject(body.getBytes(StandardCharsets.UTF_8), "application/yaml");
    TestApiObjects.checkType(applied, t);
    ObjectNode meta = TestApiJson.objectAt(applied, "metadata");
    String bodyName = meta.path("name").asText("");
    if (!bodyName.isEmpty() && !bodyName.equals(rp.name())) {
      throw TestApiError.badRequest("the name of the object (" + bodyName + ") does not match the name on the URL ("
          + rp.name() + ")");
    }
    meta.put("name", rp.name());
    if (meta.has("managedFields")) {
      throw TestApiError.badRequest("metadata.managedFields must be nil");
    }
    if (!t.namespaced()) {
      meta.remove("namespace");
    } else if (meta.hasNonNull("namespace") && !meta.get("namespace").asText().equals(rp.namespace())) {
      throw TestApiError.badRequest("the namespace of the provided object does not match the namespace sent on the "
          + "request");
    }
    boolean statusApply = "status".equals(rp.sub());
    if (!statusApply) {
      applied.remove("status");
    }
    TestApiObjects.normalize(applied, t);
    Set<List<String>> appliedFields = TestApiFieldPaths.owned(applied);
    if (statusApply) {
      appliedFields.clear();
      TestApiFieldPaths.leaves(applied.path("status"), List.of("status"), appliedFields);
    }
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    ObjectNode cur = current(t, rp);
    if (cur == null) {
      if (statusApply) {
        throw TestApiError.notFound(t, rp.name());
      }
      if (t.namespaced()) {
        requireNamespace(rp.namespace());
      }
      ObjectNode obj = applied.deepCopy();
      TestApiJson.objectAt(obj, "metadata").set("managedFields", TestApiManaged.write(List.of(
          new TestApiManaged(manager, "Apply", applied.path("apiVersion").asText(), now, "", appliedFields))));
      TestApiObjects.prepare(obj, t, null);
      return store(HttpMethod.POST, rp.collectionPath(), obj, 201);
    }
    TestApiObjects.checkResourceVersion(t, applied, cur);
    ObjectNode merged = TestApiFieldOwnership.applyOnto(cur, applied, appliedFields, manager, force, statusApply, now);
    if (statusApply) {
      return store(HttpMethod.PUT, rp.objectPath() + "/status", merged, 200);
    }
    if (cur.has("status")) {
      merged.set("status", cur.get("status"));
    }
    TestApiObjects.prepare(merged, t, cur);
    return store(HttpMethod.PUT, rp.objectPath(), merged, 200);
  }

  private MockResponse delete(TestApiResourceType t, TestApiResourcePath rp, TestApiParams params, boolean dry) {
    if (rp.sub() != null) {
      throw TestApiError.methodNotAllowed();
    }
    if (rp.name() == null) {
      // deletecollection: the objects a list with the same selectors returns
      MockResponse listed = get(t, rp, params, "", false);
      JsonNode list = TestApiJson.readTree(listed.getBody().readUtf8());
      if (!dry) {
        for (JsonNode item : list.path("items")) {
          TestApiResourcePath p = new TestApiResourcePath(rp.group(), rp.version(),
              t.namespaced() ? item.path("metadata").path("namespace").asText() : null, rp.resource(),
              item.path("metadata").path("name").asText(), null);
          deleteOne(t, p);
        }
      }
      return TestApiJson.json(200, list.toString());
    }
    ObjectNode cur = current(t, rp);
    if (cur == null) {
      throw TestApiError.notFound(t, rp.name());
    }
    if (dry) {
      return TestApiJson.json(200, cur.toString());
    }
    return deleteOne(t, rp);
  }

  private MockResponse deleteOne(TestApiResourceType t, TestApiResourcePath rp) {
    if (t.kind().equals("Namespace") && t.group().isEmpty()) {
      // what the namespace controller does, at once
      storedIn(rp.name()).keySet().forEach(super::handleDelete);
    }
    ObjectNode gone = current(t, rp);
    MockResponse r = super.handleDelete(rp.objectPath());
    if (r.code() == 404) {
      throw TestApiError.notFound(t, rp.name());
    }
    if (gone != null && rp.namespace() != null) {
      collectGarbage(rp.namespace(), gone.path("metadata").path("uid").asText());
    }
    return r;
  }

  /** What the garbage collector does (background propagation), at once: objects the deleted one controlled go too. */
  private void collectGarbage(String namespace, String ownerUid) {
    storedIn(namespace).forEach((path, obj) -> {
      if (TestApiRollouts.controlledBy(obj, ownerUid)) {
        super.handleDelete(path);
        collectGarbage(namespace, obj.path("metadata").path("uid").asText());
      }
    });
  }

  /** Every stored object of a namespace, by its path. */
  private Map<String, ObjectNode> storedIn(String namespace) {
    Map<String, ObjectNode> out = new LinkedHashMap<>();
    synchronized (map) {
      map.forEach((k, v) -> {
        if (k.getAttribute("namespace") != null
            && k.getAttribute("namespace").getValues().iterator().next().toString().equals(namespace)) {
          ObjectNode o = (ObjectNode) TestApiJson.readTree(v);
          String apiVersion = o.path("apiVersion").asText();
          int slash = apiVersion.indexOf('/');
          String group = slash < 0 ? "" : apiVersion.substring(0, slash);
          String version = slash < 0 ? apiVersion : apiVersion.substring(slash + 1);
          String plural = k.getAttribute("plural").getValues().iterator().next().toString();
          out.put(TestApiResourcePath.prefix(group, version) + "/namespaces/" + namespace + "/" + plural + "/"
              + o.path("metadata").path("name").asText(), o);
        }
      });
    }
    return out;
  }

  // ---- writes of the simulated controllers (TestApiRollouts): no request log, no admission

  /** The stored object at an object path, or null. */
  ObjectNode stored(String objectPath) {
    Map.Entry<AttributeSet, String> e = findResource(getKey(objectPath));
    return e == null ? null : (ObjectNode) TestApiJson.readTree(e.getValue());
  }

  /** The stored objects of a kind under a collection path. */
  List<ObjectNode> storedList(String collectionPath, String kind) {
    List<ObjectNode> out = new ArrayList<>();
    for (JsonNode item : TestApiJson.readTree(super.handleGet(collectionPath).getBody().readUtf8()).path("items")) {
      if (item.path("kind").asText().equals(kind)) {
        out.add((ObjectNode) item);
      }
    }
    return out;
  }

  /** Creates or replaces {@code obj} under a collection path; answers it as stored (uid, resourceVersion). */
  ObjectNode storeInternal(String collectionPath, ObjectNode obj) {
    String path = collectionPath + "/" + obj.path("metadata").path("name").asText();
    ObjectNode cur = stored(path);
    if (cur != null) {
      TestApiJson.objectAt(obj, "metadata").set("resourceVersion", cur.path("metadata").path("resourceVersion"));
    }
    MockResponse r = store(cur == null ? HttpMethod.POST : HttpMethod.PUT, cur == null ? collectionPath : path, obj, 200);
    return (ObjectNode) TestApiJson.readTree(r.getBody().readUtf8());
  }

  void deleteInternal(String objectPath) {
    super.handleDelete(objectPath);
  }

  private MockResponse store(HttpMethod method, String path, ObjectNode obj, int code) {
    Headers h = Headers.builder().add("Content-Type", "application/json").build();
    RecordedRequest r = new RecordedRequest("HTTP/1.1", method, path, h,
        new Buffer(obj.toString().getBytes(StandardCharsets.UTF_8)));
    Map.Entry<AttributeSet, String> before = method == HttpMethod.PUT ? findResource(getKey(path)) : null;
    MockResponse resp = method == HttpMethod.POST ? super.handleCreate(r) : super.handleUpdate(r);
    if (resp.code() < 300) {
      resp.setResponseCode(code);
      if (dryRun.get() && before != null) {
        // nothing was stored, so the object keeps its resourceVersion
        ObjectNode out = (ObjectNode) TestApiJson.readTree(resp.getBody().readUtf8());
        TestApiJson.objectAt(out, "metadata").put("resourceVersion",
            TestApiJson.readTree(before.getValue()).path("metadata").path("resourceVersion").asText());
        resp.setBody(out.toString());
      }
    }
    return resp;
  }

  private static String randomSuffix() {
    String chars = "bcdfghjklmnpqrstvwxz2456789";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      sb.append(chars.charAt(RANDOM.nextInt(chars.length())));
    }
    return sb.toString();
  }
}
