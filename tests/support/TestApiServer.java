///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS io.fabric8:kubernetes-server-mock:7.4.0
//DEPS io.fabric8:kubernetes-client:7.4.0
// The server's parts, one file per concern (this file is the facade that bench scripts name):
//SOURCES TestApiDispatcher.java
//SOURCES TestApiDiscovery.java
//SOURCES TestApiError.java
//SOURCES TestApiFieldOwnership.java
//SOURCES TestApiFieldPaths.java
//SOURCES TestApiJson.java
//SOURCES TestApiManaged.java
//SOURCES TestApiObjects.java
//SOURCES TestApiParams.java
//SOURCES TestApiProtobuf.java
//SOURCES TestApiQuantities.java
//SOURCES TestApiResourcePath.java
//SOURCES TestApiResourceType.java
//SOURCES TestApiRollouts.java
//SOURCES TestApiSelector.java
//SOURCES TestApiServiceProxy.java

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;

/**
 * The local Kubernetes API server every gfw test uses: fabric8's kubernetes-server-mock in CRUD mode,
 * taught what gfw and kubectl need from a real kube-apiserver (reports itself as v1.32.4).
 *
 * <p>Use: {@code TestApiServer.shared()} (one per JVM, stopped at exit) or {@code TestApiServer.start()} (a
 * private one, for tests that count requests or need an empty cluster). {@code kubeconfig()} is a 0600 file whose
 * context {@value #CONTEXT} (also the current context) points at {@code https://127.0.0.1:<port>} with
 * {@code insecure-skip-tls-verify: true} (the mock's certificate is self-signed for "localhost") and a bearer
 * token; a request without an Authorization header gets 401 (kubectl sends no token over plain http, hence TLS).
 * With env {@code GFW_TEST_KUBECONFIG=<file>} no mock starts and everything targets that real cluster (context
 * {@value #CONTEXT} if the file has it, else its current context); {@link #isMock()} is then false and the
 * mock-only methods throw.
 *
 * <p>What it does beyond the mock's CRUD, like the real server:
 * <ul>
 * <li>server-side apply (PATCH application/apply-patch+yaml, JSON or YAML body): creates if absent (201), else
 * merges (200); records metadata.managedFields; a field the manager applied before and no longer applies is
 * removed unless another manager owns it; changing a field another manager owns is a 409 "Apply failed with 1
 * conflict: conflict with \"kubectl\": .spec.hard.pods" unless {@code force=true}, which takes it over;
 * {@code fieldManager} is required. Create, update and merge/JSON/strategic patches record an Update entry for
 * their manager ({@code fieldManager}, else the User-Agent up to "/", e.g. "fabric8-kubernetes-client"), so an
 * object created by one manager conflicts with another manager's apply that changes its fields, as on a real
 * cluster. Re-applying the same object changes nothing (same resourceVersion).
 * <li>{@code dryRun=All} on POST/PUT/PATCH/DELETE (query, or DeleteOptions body): answers the resulting object,
 * stores nothing.
 * <li>Secret {@code stringData} becomes base64 {@code data}; Secret type defaults to Opaque; invalid base64 is 400.
 * <li>creating in a missing namespace is 404 {@code namespaces "x" not found}; deleting a namespace deletes what
 * is in it, at once; namespaces get label kubernetes.io/metadata.name, spec.finalizers and status.phase Active;
 * default, kube-system, kube-public, kube-node-lease exist from the start, as does the CloudNativePG CRD
 * clusters.postgresql.cnpg.io (status subresource: Cluster status changes only through .../status).
 * <li>requests for unknown types or group-versions are 404; names, label keys and values are validated (422 with
 * the real messages); quantities (quota hard, LimitRange, container resources) are canonicalised (0.5 -> 500m,
 * 1024Mi -> 1Gi) and invalid ones are 400.
 * <li>discovery, legacy and aggregated (apidiscovery.k8s.io/v2, so kubectl needs two requests): {@code /api},
 * {@code /apis}, {@code /apis/<g>[/<v>]} for v1, apps, autoscaling v2/v1, batch,
 * policy, networking, rbac, apiextensions, storage, coordination, scheduling, discovery, events, authorization and
 * every stored CRD), {@code /version}, {@code /healthz}, and a schema-less OpenAPI v3 telling kubectl the server
 * validates fields itself: {@code kubectl get/describe/apply [--server-side] [--dry-run=server]/diff/create -f/
 * replace/patch/label/scale/delete/api-resources/auth can-i/logs/wait} work. kubectl's typed commands send
 * protobuf, decoded for {@code kubectl create namespace|configmap|secret|serviceaccount|quota|role|rolebinding}
 * only (others: 415).
 * <li>list filtering by label selectors (=, !=, in, notin, exists) and field selectors on any field path; lists
 * have their real kind (NamespaceList) and are sorted by namespace and name.
 * <li>subresources: status (the only way to change a CRD's status), scale (Deployment, StatefulSet, ReplicaSet,
 * scalable CRDs such as the CNPG Cluster's spec.instances), pods/log; others are 404.
 * <li>a thread-safe request log ({@link #requests()}, {@link #mutatingRequests()}); {@link #podLog} sets what
 * {@code .../pods/x/log} answers; SelfSubjectAccessReview always allows; {@link #mockServer()} exposes expect().
 * <li>the service proxy ({@link TestApiServiceProxy}): GET {@code .../services/NAME:PORT/proxy/PATH} reaches the stand-in
 * a test registered with {@link #serviceBackend}, once a Ready pod backs the Service (else 503, as a real server).
 * <li>rollouts, opt-in per namespace ({@link #rollouts}): Deployments get ReplicaSets, Pods (ready, not ready or
 * crash-looping as the test says) and status, as Helm's {@code --wait} and gfw's status checks read them; deleting an
 * object deletes what it controls (ownerReferences with {@code controller: true}), as the garbage collector does.
 * </ul>
 *
 * <p>Not like a real server: lists in server-side apply and strategic merge patch are replaced whole (a real
 * server merges lists such as containers by key; strategic patches here merge lists of objects by name only);
 * an object is visible only in the API version it was written with (an autoscaling/v2 HPA is not listed under
 * v1); no admission, defaulting beyond the above or controllers other than the opt-in rollouts (no default
 * ServiceAccount); fieldValidation is accepted, unknown fields are kept; a create keeps the status it carries
 * (built-in kinds); watches work over WebSocket (fabric8) but an HTTP streaming watch ({@code kubectl get -w})
 * ends at once; no Table output (kubectl prints NAME and AGE only); resourceVersions and uids are sequential.
 *
 * <p>Where each part lives: this file is the facade (start, kubeconfig, request log); {@link TestApiDispatcher}
 * routes requests and stores objects; {@link TestApiResourceType} and {@link TestApiResourcePath} the served types
 * and request paths; {@link TestApiError} the Status errors; {@link TestApiFieldOwnership}, {@link TestApiManaged}
 * and {@link TestApiFieldPaths} managedFields and apply conflicts; {@link TestApiSelector} and
 * {@link TestApiQuantities} selectors and quantities; {@link TestApiObjects} validation and defaults;
 * {@link TestApiDiscovery} discovery and OpenAPI; {@link TestApiProtobuf} protobuf bodies; {@link TestApiJson}
 * patches and JSON helpers; {@link TestApiRollouts} the opt-in rollouts.
 *
 * <p>Standalone (the benchmark): {@code jbang tests/support/TestApiServer.java [--port N] [--kubeconfig FILE]}
 * starts a server, writes the kubeconfig, prints its path on stdout and serves until killed; no request log.
 */
public final class TestApiServer implements AutoCloseable {

  /** The context name the kubeconfig carries (also its current context). */
  public static final String CONTEXT = "dev-cluster";
  /** Env var naming a real cluster's kubeconfig; when set no mock is started. */
  public static final String KUBECONFIG_ENV = "GFW_TEST_KUBECONFIG";
  static final String SERVER_VERSION = "v1.32.4";

  // The mock web server logs every request at INFO through java.util.logging; keep the logger referenced
  // so the level sticks (JUL holds loggers weakly).
  private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");
  static {
    MOCK_LOG.setLevel(Level.WARNING);
  }

  /** One request as the server received it: path without query, raw query ("" if none), body ("" if none). */
  public record Request(String method, String path, String query, String contentType, String body) {
    public boolean isMutating() {
      return switch (method) {
        case "POST", "PUT", "PATCH", "DELETE" -> true;
        default -> false;
      };
    }

    /** dryRun=All in the query, or (DELETE) in the DeleteOptions body. */
    public boolean isDryRun() {
      return TestApiParams.parse(query).all("dryRun").contains("All") || (method.equals("DELETE") && TestApiJson.bodyDryRun(body));
    }

    /** First value of a query parameter, URL-decoded, or null. */
    public String queryParam(String name) {
      return TestApiParams.parse(query).first(name);
    }

    @Override
    public String toString() {
      return method + " " + path + (query.isEmpty() ? "" : "?" + query);
    }
  }

  private static TestApiServer shared;

  private final KubernetesMockServer mock;
  private final TestApiDispatcher api;
  private final Path kubeconfig;
  private final String url;
  private final String context;
  private final boolean sharedInstance;
  private final boolean ownsKubeconfig;
  private KubernetesClient client;
  private boolean closed;

  private TestApiServer(KubernetesMockServer mock, TestApiDispatcher api, Path kubeconfig, String url, String context,
      boolean sharedInstance, boolean ownsKubeconfig) {
    this.mock = mock;
    this.api = api;
    this.kubeconfig = kubeconfig;
    this.url = url;
    this.context = context;
    this.sharedInstance = sharedInstance;
    this.ownsKubeconfig = ownsKubeconfig;
  }

  /** The JVM-wide server, started on first use and stopped at JVM exit; {@link #close()} on it does nothing. */
  public static synchronized TestApiServer shared() {
    if (shared == null) {
      TestApiServer s = create(0, null, true, true);
      Runtime.getRuntime().addShutdownHook(new Thread(s::shutdown, "test-api-server-shutdown"));
      shared = s;
    }
    return shared;
  }

  /** A fresh private server (on a real cluster: another handle on that cluster). Close it when done. */
  public static TestApiServer start() {
    return create(0, null, true, false);
  }

  private static TestApiServer create(int port, Path kubeconfigOut, boolean logRequests, boolean sharedInstance) {
    String real = System.getenv(KUBECONFIG_ENV);
    if (real != null && !real.isBlank()) {
      return forRealCluster(Path.of(real), sharedInstance);
    }
    return startMock(port, kubeconfigOut, logRequests, sharedInstance);
  }

  private static TestApiServer forRealCluster(Path file, boolean sharedInstance) {
    if (!Files.isReadable(file)) {
      throw new IllegalStateException(KUBECONFIG_ENV + "=" + file + ": file not readable");
    }
    try {
      io.fabric8.kubernetes.api.model.Config kc = Serialization.unmarshal(Files.readString(file),
          io.fabric8.kubernetes.api.model.Config.class);
      boolean hasDev = kc.getContexts() != null && kc.getContexts().stream().anyMatch(c -> CONTEXT.equals(c.getName()));
      String ctx = hasDev ? CONTEXT : kc.getCurrentContext();
      String masterUrl = Config.fromKubeconfig(ctx, file.toFile()).getMasterUrl().replaceFirst("/+$", ""); // as written in the kubeconfig
      return new TestApiServer(null, null, file, masterUrl, ctx, sharedInstance, false);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static TestApiServer startMock(int port, Path kubeconfigOut, boolean logRequests, boolean sharedInstance) {
    Map<ServerRequest, Queue<ServerResponse>> expectations = new ConcurrentHashMap<>();
    MockWebServer web = new MockWebServer();
    String token = "gfw-test-" + randomHex(16);
    TestApiDispatcher api = new TestApiDispatcher(expectations, web::reset, logRequests);
    VersionInfo version = new VersionInfo.Builder().withMajor("1").withMinor("32").withGitVersion(SERVER_VERSION)
        .withPlatform("linux/amd64").build();
    KubernetesMockServer mock = new KubernetesMockServer(new Context(fabric8Mapper()), web, expectations,
        api, true, version);
    try {
      mock.init(InetAddress.getByName("127.0.0.1"), port);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // onStart() registered "/" and "/version" expectations; TestApiDispatcher answers those itself, with query strings too.
    mock.clearExpectations();
    String url = "https://127.0.0.1:" + mock.getPort();
    api.seed();
    Path file = writeKubeconfig(kubeconfigOut, url, token);
    return new TestApiServer(mock, api, file, url, CONTEXT, sharedInstance, kubeconfigOut == null);
  }

  /** fabric8's own mapper, so expect().andReturn(code, object) serialises model objects as the client does. */
  @SuppressWarnings("deprecation")
  private static ObjectMapper fabric8Mapper() {
    return Serialization.jsonMapper();
  }

  private static Path writeKubeconfig(Path target, String url, String token) {
    String yaml = "apiVersion: v1\n"
        + "kind: Config\n"
        + "clusters:\n"
        + "- name: " + CONTEXT + "\n"
        + "  cluster:\n"
        + "    server: " + url + "\n"
        // the mock's certificate is self-signed for "localhost" without IP SANs: verification cannot pass
        + "    insecure-skip-tls-verify: true\n"
        + "contexts:\n"
        + "- name: " + CONTEXT + "\n"
        + "  context:\n"
        + "    cluster: " + CONTEXT + "\n"
        + "    user: " + CONTEXT + "-user\n"
        + "current-context: " + CONTEXT + "\n"
        + "preferences: {}\n"
        + "users:\n"
        + "- name: " + CONTEXT + "-user\n"
        + "  user:\n"
        + "    token: " + token + "\n";
    try {
      Path file = target;
      if (file == null) {
        file = Files.createTempFile("gfw-test-kubeconfig-", ".yaml",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else if (!Files.exists(file)) {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      }
      Files.writeString(file, yaml);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public boolean isMock() {
    return mock != null;
  }

  /** A kubeconfig (mode 0600) whose context {@value #CONTEXT} points at this server. */
  public Path kubeconfig() {
    return kubeconfig;
  }

  /** The context to use with {@link #kubeconfig()}: {@value #CONTEXT} (on a real cluster: see class doc). */
  public String context() {
    return context;
  }

  public String url() {
    return url;
  }

  /** A client for setup and assertions, built from {@link #kubeconfig()} like a script would. */
  public synchronized KubernetesClient client() {
    if (client == null) {
      client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(context, kubeconfig.toFile())).build();
    }
    return client;
  }

  /** Requests received since start or {@link #resetRequests()}, oldest first (mock only). */
  public List<Request> requests() {
    return requireMock("requests()").requests();
  }

  public void resetRequests() {
    requireMock("resetRequests()").resetRequests();
  }

  /** POST/PUT/PATCH/DELETE requests since reset, dry-run ones included. */
  public long mutatingRequests() {
    return mutatingRequests(true);
  }

  public long mutatingRequests(boolean includeDryRun) {
    return requests().stream().filter(Request::isMutating).filter(r -> includeDryRun || !r.isDryRun()).count();
  }

  /** The underlying fabric8 mock, for expect() rules that take precedence over CRUD (mock only). */
  public KubernetesMockServer mockServer() {
    requireMock("mockServer()");
    return mock;
  }

  /** Sets what GET .../pods/{pod}/log answers (mock only; the pod must exist for the log to be served). */
  public void podLog(String namespace, String pod, String text) {
    requireMock("podLog()").podLogs.put(namespace + "/" + pod, text);
  }

  /**
   * Rollouts in {@code namespace} from now on (mock only): every write of an apps/v1 Deployment there gets its
   * ReplicaSets, Pods and status as a cluster's controllers would make them, the Pods ready or not as
   * {@code readiness} says of their template (see {@link TestApiRollouts}); Deployments already there are rolled out
   * at once. Call again to change the readiness (e.g. to make a pod crash-loop). Other namespaces stay
   * controller-less.
   */
  public void rollouts(String namespace, TestApiRollouts.Readiness readiness) {
    TestApiDispatcher api = requireMock("rollouts()");
    synchronized (api) {
      api.rollouts.enable(namespace, readiness);
      for (var d : api.storedList("/apis/apps/v1/namespaces/" + namespace + "/deployments", "Deployment")) {
        api.rollouts.reconcile(namespace, d.path("metadata").path("name").asText());
      }
    }
  }

  /**
   * Where the service proxy ({@code .../services/NAME:PORT/proxy/...}, see {@link TestApiServiceProxy}) sends requests
   * for Service {@code namespace/service} once a Ready pod backs it: a local stand-in at {@code backend} (mock only).
   */
  public void serviceBackend(String namespace, String service, java.net.URI backend) {
    requireMock("serviceBackend()").serviceProxy.backends.put(namespace + "/" + service, backend);
  }

  /** No more rollouts in {@code namespace}: what exists stays as it is (mock only). */
  public void stopRollouts(String namespace) {
    requireMock("stopRollouts()").rollouts.disable(namespace);
  }

  private TestApiDispatcher requireMock(String what) {
    if (api == null) {
      throw new IllegalStateException(what + " is only available on the mock API server, not on the real cluster from "
          + KUBECONFIG_ENV + "; guard the test with isMock()");
    }
    return api;
  }

  /** Stops a private server and deletes its kubeconfig; does nothing on the shared one (stopped at JVM exit). */
  @Override
  public void close() {
    if (!sharedInstance) {
      shutdown();
    }
  }

  private synchronized void shutdown() {
    if (closed) {
      return;
    }
    closed = true;
    if (client != null) {
      client.close();
    }
    if (mock != null) {
      mock.destroy();
    }
    if (ownsKubeconfig) {
      try {
        Files.deleteIfExists(kubeconfig);
      } catch (IOException ignored) {
        // a leftover temp file is harmless
      }
    }
  }

  /** Standalone: start, write the kubeconfig, print its path, serve until killed. */
  public static void main(String[] args) throws InterruptedException {
    int port = 0;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--kubeconfig" -> out = Path.of(args[++i]);
        case "-h", "--help" -> {
          System.out.println("usage: TestApiServer [--port N] [--kubeconfig FILE]");
          return;
        }
        default -> {
          System.err.println("TestApiServer: unknown argument " + args[i] + " (use --port N, --kubeconfig FILE)");
          System.exit(2);
        }
      }
    }
    TestApiServer server = startMock(port, out, false, false);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "test-api-server-shutdown"));
    System.out.println(server.kubeconfig());
    System.out.flush();
    System.err.println("test API server listening on " + server.url() + " (Ctrl-C to stop)");
    Thread.currentThread().join();
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    StringBuilder sb = new StringBuilder();
    for (byte x : b) {
      sb.append(String.format("%02x", x));
    }
    return sb.toString();
  }
}
