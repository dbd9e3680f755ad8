import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.http.MockResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The API server's service proxy, {@code GET /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH}, as
 * kube-apiserver answers it: 404 {@code services "NAME" not found} for a missing Service, 503 {@code no endpoints
 * available for service "NAME"} when the port is not one of the Service's (by number or name) or no pod its selector
 * picks is Ready (so an unready Deployment's Service really answers nothing), else the request is passed to the
 * stand-in a test registered for the Service ({@link TestApiServer#serviceBackend}) — the one thing a real cluster
 * would do with pod networking — and its status, content type and body come back as they are. GET only (what gfw
 * sends); other methods are 405.
 */
final class TestApiServiceProxy {

  private static final Pattern PATH = Pattern.compile("/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?");

  private final TestApiDispatcher store;
  /** "namespace/service" to the base URI of the stand-in that serves it. */
  final Map<String, URI> backends = new ConcurrentHashMap<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  TestApiServiceProxy(TestApiDispatcher store) {
    this.store = store;
  }

  /** The answer to a service proxy request, or null when {@code path} is not one. */
  MockResponse handle(String method, String path, String query) {
    Matcher m = PATH.matcher(path);
    if (!m.matches()) {
      return null;
    }
    if (!method.equals("GET")) {
      throw TestApiError.methodNotAllowed();
    }
    String ns = m.group(1);
    String[] parts = m.group(2).split(":");
    // [scheme:]name[:port]: "http:attic:80", "attic:80", "attic"
    String name = parts.length == 3 ? parts[1] : parts[0];
    String port = parts.length == 3 ? parts[2] : parts.length == 2 ? parts[1] : "";
    ObjectNode service;
    ObjectNode selector;
    synchronized (store) {
      service = store.stored("/api/v1/namespaces/" + ns + "/services/" + name);
      if (service == null) {
        return status(404, "NotFound", "services \"" + name + "\" not found");
      }
      selector = (ObjectNode) service.path("spec").path("selector");
      if (!hasPort(service, port) || !readyPodSelected(ns, selector)) {
        return status(503, "ServiceUnavailable", "no endpoints available for service \"" + name + "\"");
      }
    }
    URI backend = backends.get(ns + "/" + name);
    if (backend == null) {
      return status(503, "ServiceUnavailable", "error trying to reach service: the test registered no stand-in for " + ns + "/" + name);
    }
    String rest = m.group(3) == null ? "/" : m.group(3);
    try {
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(backend.toString().replaceAll("/+$", "") + rest
          + (query.isEmpty() ? "" : "?" + query))).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      MockResponse out = new MockResponse().setResponseCode(r.statusCode()).setBody(new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
      r.headers().firstValue("Content-Type").ifPresent(t -> out.setHeader("Content-Type", t));
      return out;
    } catch (IOException e) {
      return status(503, "ServiceUnavailable", "error trying to reach service: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return status(503, "ServiceUnavailable", "interrupted");
    }
  }

  private static boolean hasPort(ObjectNode service, String port) {
    JsonNode ports = service.path("spec").path("ports");
    if (port.isEmpty()) {
      return ports.size() == 1;
    }
    for (JsonNode p : ports) {
      if (p.path("port").asText().equals(port) || p.path("name").asText().equals(port)) {
        return true;
      }
    }
    return false;
  }

  /** An endpoint: a Ready, not deleted pod of the namespace carrying every label of the Service's selector. */
  private boolean readyPodSelected(String ns, ObjectNode selector) {
    if (selector.isEmpty()) {
      return false;
    }
    for (ObjectNode pod : store.storedList("/api/v1/namespaces/" + ns + "/pods", "Pod")) {
      JsonNode labels = pod.path("metadata").path("labels");
      boolean selected = true;
      for (Iterator<Map.Entry<String, JsonNode>> it = selector.fields(); it.hasNext();) {
        var e = it.next();
        if (!labels.path(e.getKey()).asText("\u0000").equals(e.getValue().asText())) {
          selected = false;
        }
      }
      if (!selected || pod.path("metadata").has("deletionTimestamp")) {
        continue;
      }
      for (JsonNode c : pod.path("status").path("conditions")) {
        if (c.path("type").asText().equals("Ready") && c.path("status").asText().equals("True")) {
          return true;
        }
      }
    }
    return false;
  }

  private static MockResponse status(int code, String reason, String message) {
    return TestApiJson.json(code, TestApiJson.status(code, reason, message, null).toString());
  }
}
