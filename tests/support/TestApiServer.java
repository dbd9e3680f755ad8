///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS io.fabric8:kubernetes-server-mock:7.4.0
//DEPS io.fabric8:kubernetes-client:7.4.0

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
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

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.net.InetAddress;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
 * </ul>
 *
 * <p>Not like a real server: lists in server-side apply and strategic merge patch are replaced whole (a real
 * server merges lists such as containers by key; strategic patches here merge lists of objects by name only);
 * an object is visible only in the API version it was written with (an autoscaling/v2 HPA is not listed under
 * v1); no admission, defaulting beyond the above or controllers (no default ServiceAccount, no pods for a
 * Deployment); fieldValidation is accepted, unknown fields are kept; a create keeps the status it carries
 * (built-in kinds); watches work over WebSocket (fabric8) but an HTTP streaming watch ({@code kubectl get -w})
 * ends at once; no Table output (kubectl prints NAME and AGE only); resourceVersions and uids are sequential.
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
      return Params.parse(query).all("dryRun").contains("All") || (method.equals("DELETE") && Api.bodyDryRun(body));
    }

    /** First value of a query parameter, URL-decoded, or null. */
    public String queryParam(String name) {
      return Params.parse(query).first(name);
    }

    @Override
    public String toString() {
      return method + " " + path + (query.isEmpty() ? "" : "?" + query);
    }
  }

  private static TestApiServer shared;

  private final KubernetesMockServer mock;
  private final Api api;
  private final Path kubeconfig;
  private final String url;
  private final String context;
  private final boolean sharedInstance;
  private final boolean ownsKubeconfig;
  private KubernetesClient client;
  private boolean closed;

  private TestApiServer(KubernetesMockServer mock, Api api, Path kubeconfig, String url, String context,
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
    Api api = new Api(expectations, web::reset, logRequests);
    VersionInfo version = new VersionInfo.Builder().withMajor("1").withMinor("32").withGitVersion(SERVER_VERSION)
        .withPlatform("linux/amd64").build();
    KubernetesMockServer mock = new KubernetesMockServer(new Context(fabric8Mapper()), web, expectations,
        api, true, version);
    try {
      mock.init(InetAddress.getByName("127.0.0.1"), port);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // onStart() registered "/" and "/version" expectations; Api answers those itself, with query strings too.
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

  private Api requireMock(String what) {
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

  // ---------------------------------------------------------------------------------------------------------------
  // Query parameters

  record Params(Map<String, List<String>> values) {
    static Params parse(String query) {
      Map<String, List<String>> m = new LinkedHashMap<>();
      if (query != null && !query.isEmpty()) {
        for (String part : query.split("&")) {
          if (part.isEmpty()) {
            continue;
          }
          int eq = part.indexOf('=');
          String k = decode(eq < 0 ? part : part.substring(0, eq));
          String v = eq < 0 ? "" : decode(part.substring(eq + 1));
          m.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
        }
      }
      return new Params(m);
    }

    private static String decode(String s) {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    String first(String name) {
      List<String> v = values.get(name);
      return v == null || v.isEmpty() ? null : v.get(0);
    }

    List<String> all(String name) {
      return values.getOrDefault(name, List.of());
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Resource types (discovery) and request paths

  /** A served resource; the paths (".spec.replicas") say where the scale subresource reads and writes, or are null. */
  record ResourceType(String group, String version, String plural, String kind, boolean namespaced,
      List<String> shortNames, List<String> subresources, List<String> categories, List<String> verbs, boolean builtin,
      String specReplicasPath, String statusReplicasPath, String labelSelectorPath) {
    String groupVersion() {
      return group.isEmpty() ? version : group + "/" + version;
    }

    /** How the real server names the resource in messages: plural, or plural.group. */
    String qualified() {
      return group.isEmpty() ? plural : plural + "." + group;
    }
  }

  private static final List<String> ALL_VERBS = List.of("create", "delete", "deletecollection", "get", "list", "patch",
      "update", "watch");

  /** group/version, plural, Kind, N(amespaced)/C(luster), shortNames, subresources, categories ("-" for none). */
  private static final String[] BUILTIN_TYPES = {
      "v1 configmaps ConfigMap N cm - -",
      "v1 endpoints Endpoints N ep - -",
      "v1 events Event N ev - -",
      "v1 limitranges LimitRange N limits - -",
      "v1 namespaces Namespace C ns status,finalize -",
      "v1 nodes Node C no status -",
      "v1 persistentvolumeclaims PersistentVolumeClaim N pvc status -",
      "v1 persistentvolumes PersistentVolume C pv status -",
      "v1 pods Pod N po status,log,exec,portforward,eviction,ephemeralcontainers all",
      "v1 podtemplates PodTemplate N - - -",
      "v1 replicationcontrollers ReplicationController N rc status,scale all",
      "v1 resourcequotas ResourceQuota N quota status -",
      "v1 secrets Secret N - - -",
      "v1 serviceaccounts ServiceAccount N sa token -",
      "v1 services Service N svc status,proxy all",
      "apps/v1 controllerrevisions ControllerRevision N - - -",
      "apps/v1 daemonsets DaemonSet N ds status all",
      "apps/v1 deployments Deployment N deploy status,scale all",
      "apps/v1 replicasets ReplicaSet N rs status,scale all",
      "apps/v1 statefulsets StatefulSet N sts status,scale all",
      "autoscaling/v2 horizontalpodautoscalers HorizontalPodAutoscaler N hpa status all",
      "autoscaling/v1 horizontalpodautoscalers HorizontalPodAutoscaler N hpa status all",
      "batch/v1 cronjobs CronJob N cj status all",
      "batch/v1 jobs Job N - status all",
      "policy/v1 poddisruptionbudgets PodDisruptionBudget N pdb status -",
      "networking.k8s.io/v1 ingressclasses IngressClass C - - -",
      "networking.k8s.io/v1 ingresses Ingress N ing status -",
      "networking.k8s.io/v1 networkpolicies NetworkPolicy N netpol - -",
      "rbac.authorization.k8s.io/v1 clusterrolebindings ClusterRoleBinding C - - -",
      "rbac.authorization.k8s.io/v1 clusterroles ClusterRole C - - -",
      "rbac.authorization.k8s.io/v1 rolebindings RoleBinding N - - -",
      "rbac.authorization.k8s.io/v1 roles Role N - - -",
      "authorization.k8s.io/v1 selfsubjectaccessreviews SelfSubjectAccessReview C - - -",
      "apiextensions.k8s.io/v1 customresourcedefinitions CustomResourceDefinition C crd,crds status -",
      "storage.k8s.io/v1 storageclasses StorageClass C sc - -",
      "coordination.k8s.io/v1 leases Lease N - - -",
      "scheduling.k8s.io/v1 priorityclasses PriorityClass C pc - -",
      "discovery.k8s.io/v1 endpointslices EndpointSlice N - - -",
      "events.k8s.io/v1 events Event N ev - -",
  };

  /** Group order as a real server lists them (preferred version first). */
  private static final List<ResourceType> BUILTINS = parseBuiltins();

  private static List<ResourceType> parseBuiltins() {
    List<ResourceType> out = new ArrayList<>();
    for (String line : BUILTIN_TYPES) {
      String[] f = line.split(" ");
      String gv = f[0];
      int slash = gv.indexOf('/');
      String group = slash < 0 ? "" : gv.substring(0, slash);
      String version = slash < 0 ? gv : gv.substring(slash + 1);
      List<String> verbs = f[2].equals("SelfSubjectAccessReview") ? List.of("create") : ALL_VERBS;
      boolean scale = list(f[5]).contains("scale");
      out.add(new ResourceType(group, version, f[1], f[2], f[3].equals("N"), list(f[4]), list(f[5]), list(f[6]), verbs,
          true, scale ? ".spec.replicas" : null, scale ? ".status.replicas" : null, null));
    }
    return List.copyOf(out);
  }

  private static List<String> list(String csv) {
    return csv.equals("-") ? List.of() : List.of(csv.split(","));
  }

  /** A request path: /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{sub}]] or /apis/{g}/{v}/... */
  record ResourcePath(String group, String version, String namespace, String resource, String name, String sub) {
    static ResourcePath parse(String path) {
      String[] s = path.substring(1).split("/", -1);
      String group;
      String version;
      int i;
      if (s.length >= 3 && s[0].equals("api")) {
        group = "";
        version = s[1];
        i = 2;
      } else if (s.length >= 4 && s[0].equals("apis")) {
        group = s[1];
        version = s[2];
        i = 3;
      } else {
        return null;
      }
      String[] r = Arrays.copyOfRange(s, i, s.length);
      for (String seg : r) {
        if (seg.isEmpty()) {
          return null;
        }
      }
      String ns = null;
      boolean namespaceSub = r.length == 3 && (r[2].equals("status") || r[2].equals("finalize"));
      if (r[0].equals("namespaces") && r.length >= 3 && !namespaceSub) {
        ns = r[1];
        r = Arrays.copyOfRange(r, 2, r.length);
      }
      if (r.length > 3) {
        return null;
      }
      return new ResourcePath(group, version, ns, r[0], r.length > 1 ? r[1] : null, r.length > 2 ? r[2] : null);
    }

    static String prefix(String group, String version) {
      return group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version;
    }

    String collectionPath() {
      return prefix(group, version) + (namespace != null ? "/namespaces/" + namespace : "") + "/" + resource;
    }

    String objectPath() {
      return collectionPath() + "/" + name;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Errors answered as the real server's Status objects

  static final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int code;
    final String reason;
    final ObjectNode details;

    ApiError(int code, String reason, String message, ObjectNode details) {
      super(message);
      this.code = code;
      this.reason = reason;
      this.details = details;
    }

    MockResponse response() {
      return Api.json(code, Api.status(code, reason, getMessage(), details).toString());
    }

    static ObjectNode details(ResourceType t, String name) {
      ObjectNode d = Api.JSON.createObjectNode();
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

    static ApiError notFound(ResourceType t, String name) {
      return new ApiError(404, "NotFound", t.qualified() + " \"" + name + "\" not found", details(t, name));
    }

    static ApiError notFoundGeneric() {
      return new ApiError(404, "NotFound", "the server could not find the requested resource", Api.JSON.createObjectNode());
    }

    static ApiError namespaceNotFound(String ns) {
      ObjectNode d = Api.JSON.createObjectNode().put("name", ns).put("kind", "namespaces");
      return new ApiError(404, "NotFound", "namespaces \"" + ns + "\" not found", d);
    }

    static ApiError alreadyExists(ResourceType t, String name) {
      return new ApiError(409, "AlreadyExists", t.qualified() + " \"" + name + "\" already exists", details(t, name));
    }

    static ApiError badRequest(String message) {
      return new ApiError(400, "BadRequest", message, null);
    }

    static ApiError methodNotAllowed() {
      return new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
          Api.JSON.createObjectNode());
    }

    static ApiError invalid(ResourceType t, String name, String field, String value, String detail) {
      String cause = "Invalid value: " + Api.JSON.getNodeFactory().textNode(value) + ": " + detail;
      ObjectNode d = Api.JSON.createObjectNode().put("name", name);
      if (!t.group().isEmpty()) {
        d.put("group", t.group());
      }
      d.put("kind", t.kind());
      d.putArray("causes").addObject().put("reason", "FieldValueInvalid").put("message", cause).put("field", field);
      return new ApiError(422, "Invalid", t.kind() + " \"" + name + "\" is invalid: " + field + ": " + cause, d);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Field ownership (managedFields)

  /** One metadata.managedFields entry; fields are leaf paths (lists count as one leaf). */
  static final class Managed {
    final String manager;
    final String operation;
    String apiVersion;
    String time;
    final String subresource;
    final Set<List<String>> fields;

    Managed(String manager, String operation, String apiVersion, String time, String subresource,
        Set<List<String>> fields) {
      this.manager = manager;
      this.operation = operation;
      this.apiVersion = apiVersion;
      this.time = time;
      this.subresource = subresource == null ? "" : subresource;
      this.fields = new LinkedHashSet<>(fields);
    }

    boolean is(String manager, String operation) {
      return this.manager.equals(manager) && this.operation.equals(operation) && subresource.isEmpty();
    }

    /** How the real server names a manager in conflict messages. */
    String describe() {
      String m = "\"" + manager + "\"" + (subresource.isEmpty() ? "" : " with subresource \"" + subresource + "\"");
      if (operation.equals("Update")) {
        return m + " using " + apiVersion + (time == null ? "" : " at " + time);
      }
      return m;
    }

    static List<Managed> read(JsonNode object) {
      List<Managed> out = new ArrayList<>();
      for (JsonNode e : object.path("metadata").path("managedFields")) {
        Set<List<String>> fields = new LinkedHashSet<>();
        Fields.fromFieldsV1(e.path("fieldsV1"), List.of(), fields);
        out.add(new Managed(e.path("manager").asText(""), e.path("operation").asText(""),
            e.path("apiVersion").asText(""), e.hasNonNull("time") ? e.get("time").asText() : null,
            e.path("subresource").asText(""), fields));
      }
      return out;
    }

    static ArrayNode write(List<Managed> entries) {
      ArrayNode a = Api.JSON.createArrayNode();
      for (Managed m : entries) {
        ObjectNode e = a.addObject();
        e.put("manager", m.manager).put("operation", m.operation).put("apiVersion", m.apiVersion);
        if (m.time != null) {
          e.put("time", m.time);
        }
        e.put("fieldsType", "FieldsV1");
        e.set("fieldsV1", Fields.toFieldsV1(m.fields));
        if (!m.subresource.isEmpty()) {
          e.put("subresource", m.subresource);
        }
      }
      return a;
    }

    /** Same managers, operations and fields (times ignored). */
    static boolean sameOwnership(List<Managed> a, List<Managed> b) {
      if (a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        Managed x = a.get(i);
        Managed y = b.get(i);
        if (!x.manager.equals(y.manager) || !x.operation.equals(y.operation) || !x.subresource.equals(y.subresource)
            || !x.fields.equals(y.fields) || !Objects.equals(x.apiVersion, y.apiVersion)) {
          return false;
        }
      }
      return true;
    }
  }

  /** JSON field paths. */
  static final class Fields {
    private static final Set<String> SERVER_METADATA = Set.of("name", "namespace", "uid", "resourceVersion",
        "generation", "creationTimestamp", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds",
        "selfLink");

    /** Leaf paths a manager owns by sending this object: everything but identity, server-set metadata, status. */
    static Set<List<String>> owned(JsonNode object) {
      ObjectNode copy = (ObjectNode) object.deepCopy();
      copy.remove(List.of("apiVersion", "kind", "status"));
      if (copy.get("metadata") instanceof ObjectNode meta) {
        meta.remove(SERVER_METADATA);
        if (meta.isEmpty()) {
          copy.remove("metadata");
        }
      }
      Set<List<String>> out = new LinkedHashSet<>();
      leaves(copy, List.of(), out);
      out.remove(List.<String>of());
      return out;
    }

    static void leaves(JsonNode node, List<String> prefix, Set<List<String>> out) {
      if (node.isObject() && !node.isEmpty()) {
        node.properties().forEach(e -> {
          if (!e.getValue().isNull()) {
            leaves(e.getValue(), append(prefix, e.getKey()), out);
          }
        });
      } else {
        out.add(prefix);
      }
    }

    static List<String> append(List<String> prefix, String seg) {
      List<String> p = new ArrayList<>(prefix);
      p.add(seg);
      return List.copyOf(p);
    }

    static JsonNode at(JsonNode node, List<String> path) {
      JsonNode n = node;
      for (String seg : path) {
        if (n == null || !n.isObject()) {
          return null;
        }
        n = n.get(seg);
      }
      return n == null || n.isNull() ? null : n;
    }

    static boolean isPrefix(List<String> prefix, List<String> path) {
      return prefix.size() <= path.size() && path.subList(0, prefix.size()).equals(prefix);
    }

    static boolean related(List<String> a, List<String> b) {
      return isPrefix(a, b) || isPrefix(b, a);
    }

    static String show(List<String> path) {
      return "." + String.join(".", path);
    }

    /** Removes the field at path and then any parent maps it leaves empty (below the top level). */
    static void remove(ObjectNode root, List<String> path, Set<List<String>> keep) {
      if (path.isEmpty()) {
        return;
      }
      JsonNode parent = at(root, path.subList(0, path.size() - 1));
      if (parent instanceof ObjectNode p) {
        p.remove(path.get(path.size() - 1));
        List<String> up = path.subList(0, path.size() - 1);
        if (p.isEmpty() && up.size() > 1 && keep.stream().noneMatch(k -> k.equals(up))) {
          remove(root, up, keep);
        }
      }
    }

    static ObjectNode toFieldsV1(Set<List<String>> paths) {
      ObjectNode root = Api.JSON.createObjectNode();
      List<List<String>> sorted = new ArrayList<>(paths);
      sorted.sort(Comparator.comparing(p -> String.join("\u0000", p)));
      for (List<String> p : sorted) {
        ObjectNode n = root;
        for (String seg : p) {
          JsonNode child = n.get("f:" + seg);
          n = child instanceof ObjectNode o ? o : n.putObject("f:" + seg);
        }
      }
      return root;
    }

    /** Reads fieldsV1; keyed or indexed list entries (k:, v:, i:) make the whole list owned. */
    static void fromFieldsV1(JsonNode node, List<String> prefix, Set<List<String>> out) {
      boolean any = false;
      Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        String key = e.getKey();
        if (key.equals(".")) {
          continue;
        }
        any = true;
        if (key.startsWith("f:")) {
          fromFieldsV1(e.getValue(), append(prefix, key.substring(2)), out);
        } else {
          out.add(prefix);
        }
      }
      if (!any && !prefix.isEmpty()) {
        out.add(prefix);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Label and field selectors (full syntax: =, ==, !=, in, notin, exists, !exists)

  static final class Selector {
    private record Req(String key, String op, Set<String> values) {
    }

    private final List<Req> reqs = new ArrayList<>();

    static Selector parse(String s) {
      Selector sel = new Selector();
      if (s == null || s.isBlank()) {
        return sel;
      }
      List<String> parts = new ArrayList<>();
      int depth = 0;
      int start = 0;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '(') {
          depth++;
        } else if (c == ')') {
          depth--;
        } else if (c == ',' && depth == 0) {
          parts.add(s.substring(start, i));
          start = i + 1;
        }
      }
      parts.add(s.substring(start));
      Pattern setOp = Pattern.compile("\\s*([^\\s!=]+)\\s+(in|notin)\\s*\\((.*)\\)\\s*");
      Pattern eqOp = Pattern.compile("\\s*([^\\s!=]+)\\s*(==|!=|=)\\s*([^\\s]*)\\s*");
      for (String p : parts) {
        Matcher m;
        if ((m = setOp.matcher(p)).matches()) {
          Set<String> vals = new HashSet<>();
          for (String v : m.group(3).split(",")) {
            vals.add(v.trim());
          }
          sel.reqs.add(new Req(m.group(1), m.group(2), vals));
        } else if ((m = eqOp.matcher(p)).matches()) {
          String op = m.group(2).equals("!=") ? "!=" : "=";
          sel.reqs.add(new Req(m.group(1), op, Set.of(m.group(3))));
        } else if (p.trim().startsWith("!")) {
          sel.reqs.add(new Req(p.trim().substring(1).trim(), "!exists", Set.of()));
        } else if (!p.isBlank()) {
          sel.reqs.add(new Req(p.trim(), "exists", Set.of()));
        }
      }
      return sel;
    }

    boolean matches(java.util.function.Function<String, String> lookup) {
      for (Req r : reqs) {
        String v = lookup.apply(r.key);
        boolean ok = switch (r.op) {
          case "=" -> v != null && r.values.contains(v);
          case "!=" -> v == null || !r.values.contains(v);
          case "in" -> v != null && r.values.contains(v);
          case "notin" -> v == null || !r.values.contains(v);
          case "exists" -> v != null;
          default -> v == null;
        };
        if (!ok) {
          return false;
        }
      }
      return true;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Quantities, canonicalised like resource.Quantity does (0.5 -> 500m, 1024Mi -> 1Gi, 2000 -> 2k)

  static final class Quantities {
    private static final Pattern QUANTITY = Pattern.compile("([+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))"
        + "(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");
    private static final List<String> BINARY = List.of("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei");
    private static final Map<String, Integer> DECIMAL = Map.of("n", -9, "u", -6, "m", -3, "", 0, "k", 3, "M", 6,
        "G", 9, "T", 12, "P", 15, "E", 18);

    /** Canonical form, or null if this is not a quantity. */
    static String canonical(String s) {
      Matcher m = QUANTITY.matcher(s.trim());
      if (!m.matches()) {
        return null;
      }
      BigDecimal num = new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1));
      String suffix = m.group(2) == null ? "" : m.group(2);
      if (suffix.startsWith("e") || suffix.startsWith("E")) {
        return s.trim();
      }
      int bin = BINARY.indexOf(suffix);
      if (bin > 0) {
        BigDecimal value = num.multiply(BigDecimal.valueOf(1024).pow(bin));
        boolean integral = value.stripTrailingZeros().scale() <= 0;
        if (value.abs().compareTo(BigDecimal.valueOf(1024)) < 0 || !integral) {
          return decimalSI(value);
        }
        BigInteger v = value.toBigIntegerExact();
        int j = 0;
        BigInteger k = BigInteger.valueOf(1024);
        while (j < 6 && v.mod(k).signum() == 0) {
          v = v.divide(k);
          j++;
        }
        return v + BINARY.get(j);
      }
      return decimalSI(num.scaleByPowerOfTen(DECIMAL.get(suffix)));
    }

    private static String decimalSI(BigDecimal value) {
      if (value.signum() == 0) {
        return "0";
      }
      BigDecimal v = value.stripTrailingZeros();
      if (v.scale() > 9) {
        v = v.setScale(9, RoundingMode.UP).stripTrailingZeros();
      }
      int exp10 = -v.scale();
      int e3 = Math.min(Math.floorDiv(exp10, 3) * 3, 18);
      BigInteger mantissa = v.scaleByPowerOfTen(-e3).toBigIntegerExact();
      String suffix = DECIMAL.entrySet().stream().filter(e -> e.getValue() == e3).findFirst().orElseThrow().getKey();
      return mantissa + suffix;
    }

    /** Canonicalises every value of a quantity map in place; a bad value is the real server's 400. */
    static void canonicalizeMap(JsonNode map, String kind) {
      if (!(map instanceof ObjectNode o)) {
        return;
      }
      List<String> keys = new ArrayList<>();
      o.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        JsonNode v = o.get(k);
        if (v.isNumber() || v.isTextual()) {
          String c = canonical(v.asText());
          if (c == null) {
            throw ApiError.badRequest(kind + " in version \"v1\" cannot be handled as a " + kind
                + ": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
          }
          o.put(k, c);
        }
      }
    }

    /** Container-style {limits, requests} maps anywhere in the object. */
    static void canonicalizeResources(JsonNode node, String kind) {
      if (node.isObject()) {
        JsonNode res = node.get("resources");
        if (res != null && res.isObject()) {
          canonicalizeMap(res.get("limits"), kind);
          canonicalizeMap(res.get("requests"), kind);
        }
        node.elements().forEachRemaining(n -> canonicalizeResources(n, kind));
      } else if (node.isArray()) {
        node.elements().forEachRemaining(n -> canonicalizeResources(n, kind));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The dispatcher: CRUD from fabric8's KubernetesCrudDispatcher, plus what a real API server does

  static final class Api extends KubernetesCrudDispatcher {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

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

    private final Map<ServerRequest, Queue<ServerResponse>> expectations;
    private final MockDispatcher expectationDispatcher;
    private final Runnable afterRequest;
    private final boolean logRequests;
    private final Queue<Request> log = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<Boolean> dryRun = ThreadLocal.withInitial(() -> false);
    final Map<String, String> podLogs = new ConcurrentHashMap<>();

    Api(Map<ServerRequest, Queue<ServerResponse>> expectations, Runnable afterRequest, boolean logRequests) {
      this.expectations = expectations;
      this.expectationDispatcher = new MockDispatcher(expectations);
      this.afterRequest = afterRequest;
      this.logRequests = logRequests;
    }

    List<Request> requests() {
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
      internal("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CNPG_CLUSTER_CRD);
      log.clear();
    }

    private void internal(String method, String path, String body) {
      Headers h = Headers.builder().add("Content-Type", "application/json").add("Authorization", "Bearer seed")
          .add("User-Agent", "kube-apiserver/" + SERVER_VERSION).build();
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
        log.add(new Request(rr.getMethod(), path, query, contentType, body));
      }
      try {
        MockResponse r = route(rr, path, query, raw, contentType);
        if (r.getWebSocketListener() == null && r.getBody() != null && r.getBody().size() > 0
            && r.getHeaders().header("Content-Type") == null) {
          r.setHeader("Content-Type", "application/json");
        }
        return r;
      } catch (ApiError e) {
        return e.response();
      } catch (RuntimeException e) {
        return json(500, status(500, "InternalError", "test API server: " + e, null).toString());
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
        return json(401, status(401, "Unauthorized", "Unauthorized", null).toString());
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
          return aggregatedDiscovery(path.equals("/api"));
        }
        MockResponse nonResource = nonResource(path);
        if (nonResource != null) {
          return nonResource;
        }
      }
      ResourcePath rp = ResourcePath.parse(path);
      if (rp == null) {
        throw ApiError.notFoundGeneric();
      }
      ResourceType t = types().stream()
          .filter(x -> x.group().equals(rp.group()) && x.version().equals(rp.version()) && x.plural().equals(rp.resource()))
          .findFirst().orElseThrow(ApiError::notFoundGeneric);
      if (t.namespaced() != (rp.namespace() != null) && !(t.namespaced() && rp.name() == null)) {
        throw ApiError.notFoundGeneric();
      }
      if (rp.sub() != null && !(rp.sub().equals("status") || (rp.sub().equals("log") && t.kind().equals("Pod"))
          || (rp.sub().equals("scale") && t.specReplicasPath() != null))) {
        throw new ApiError(404, "NotFound", "the test API server does not serve the " + rp.sub() + " subresource",
            Api.JSON.createObjectNode());
      }
      Params params = Params.parse(query);
      boolean dry = params.all("dryRun").contains("All") || (method.equals("DELETE") && bodyDryRun(body));
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
          if ("scale".equals(rp.sub())) {
            return scale(t, rp, method, params, body, contentType, manager);
          }
          return switch (method) {
            case "GET" -> get(t, rp, params, query, rr.getHeader("Upgrade") != null);
            case "POST" -> create(t, rp, parseObject(raw, contentType), manager);
            case "PUT" -> update(t, rp, parseObject(raw, contentType), manager);
            case "PATCH" -> patch(t, rp, params, body, contentType, manager);
            case "DELETE" -> delete(t, rp, params, dry);
            default -> throw ApiError.methodNotAllowed();
          };
        } finally {
          dryRun.set(false);
        }
      }
    }

    private static ApiError badRequest(String field, String message) {
      return ApiError.badRequest(field + ": " + message);
    }

    // ---- non-resource endpoints: version, health, discovery, OpenAPI

    private MockResponse nonResource(String path) {
      switch (path) {
        case "/version":
          return json(200, versionJson());
        case "/healthz", "/livez", "/readyz":
          return new MockResponse().setResponseCode(200).setHeader("Content-Type", "text/plain; charset=utf-8")
              .setBody("ok");
        case "/":
          ObjectNode root = JSON.createObjectNode();
          ArrayNode paths = root.putArray("paths");
          paths.add("/api").add("/api/v1").add("/apis").add("/healthz").add("/livez").add("/openapi/v3")
              .add("/readyz").add("/version");
          groupVersions().keySet().forEach(gv -> paths.add("/apis/" + gv));
          return json(200, root.toString());
        case "/api":
          ObjectNode versions = JSON.createObjectNode().put("kind", "APIVersions");
          versions.putArray("versions").add("v1");
          versions.putArray("serverAddressByClientCIDRs").addObject().put("clientCIDR", "0.0.0.0/0")
              .put("serverAddress", "127.0.0.1");
          return json(200, versions.toString());
        case "/api/v1":
          return json(200, resourceList("", "v1").toString());
        case "/apis":
          ObjectNode groups = JSON.createObjectNode().put("kind", "APIGroupList").put("apiVersion", "v1");
          ArrayNode items = groups.putArray("groups");
          groupsInOrder().forEach((g, vs) -> items.add(apiGroup(g, vs)));
          return json(200, groups.toString());
        case "/openapi/v3":
          return json(200, openApiIndex().toString());
        default:
          break;
      }
      String[] s = path.substring(1).split("/");
      if (s[0].equals("apis") && (s.length == 2 || s.length == 3)) {
        List<String> vs = groupsInOrder().get(s[1]);
        if (vs == null || (s.length == 3 && !vs.contains(s[2]))) {
          throw ApiError.notFoundGeneric();
        }
        return json(200, s.length == 2 ? apiGroup(s[1], vs).put("kind", "APIGroup").put("apiVersion", "v1").toString()
            : resourceList(s[1], s[2]).toString());
      }
      if (s[0].equals("openapi") && s.length > 2 && s[1].equals("v3")) {
        String gv = path.substring("/openapi/v3/".length());
        ObjectNode doc = openApiDoc(gv);
        if (doc == null) {
          throw ApiError.notFoundGeneric();
        }
        return json(200, doc.toString());
      }
      return null;
    }

    /** Aggregated discovery (apidiscovery.k8s.io/v2), what kubectl asks a 1.30+ server first. */
    private MockResponse aggregatedDiscovery(boolean core) {
      ObjectNode list = JSON.createObjectNode().put("kind", "APIGroupDiscoveryList")
          .put("apiVersion", "apidiscovery.k8s.io/v2");
      list.putObject("metadata");
      ArrayNode items = list.putArray("items");
      Map<String, List<String>> groups = new LinkedHashMap<>();
      if (core) {
        groups.put("", List.of("v1"));
      } else {
        groups.putAll(groupsInOrder());
      }
      List<ResourceType> all = types();
      groups.forEach((group, versions) -> {
        ObjectNode item = items.addObject();
        item.putObject("metadata").put("name", group);
        ArrayNode vs = item.putArray("versions");
        for (String version : versions) {
          ObjectNode v = vs.addObject().put("version", version);
          ArrayNode rs = v.putArray("resources");
          for (ResourceType t : all) {
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
      return JSON.createObjectNode().put("major", "1").put("minor", "32").put("gitVersion", SERVER_VERSION)
          .put("gitCommit", "59526cd4867447956156ae3a602fcbac5ab2d0c2").put("gitTreeState", "clean")
          .put("buildDate", "2025-04-22T16:02:27Z").put("goVersion", "go1.23.6").put("compiler", "gc")
          .put("platform", "linux/amd64").toString();
    }

    /** Built-in types plus those of the stored CustomResourceDefinitions. */
    List<ResourceType> types() {
      List<ResourceType> out = new ArrayList<>(BUILTINS);
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
        JsonNode spec = readTree(crdJson).path("spec");
        JsonNode names = spec.path("names");
        List<String> shortNames = new ArrayList<>();
        names.path("shortNames").forEach(n -> shortNames.add(n.asText()));
        List<String> categories = new ArrayList<>();
        names.path("categories").forEach(n -> categories.add(n.asText()));
        for (JsonNode v : spec.path("versions")) {
          if (!v.path("served").asBoolean(true)) {
            continue;
          }
          List<String> subs = new ArrayList<>();
          v.path("subresources").fieldNames().forEachRemaining(subs::add);
          JsonNode scale = v.path("subresources").path("scale");
          out.add(new ResourceType(spec.path("group").asText(), v.path("name").asText(), names.path("plural").asText(),
              names.path("kind").asText(), spec.path("scope").asText().equals("Namespaced"), shortNames, subs,
              categories, ALL_VERBS, false, scale.path("specReplicasPath").asText(null),
              scale.path("statusReplicasPath").asText(null), scale.path("labelSelectorPath").asText(null)));
        }
      }
      return out;
    }

    /** "group/version" -> types, in a stable order. */
    private Map<String, List<ResourceType>> groupVersions() {
      Map<String, List<ResourceType>> m = new LinkedHashMap<>();
      for (ResourceType t : types()) {
        if (!t.group().isEmpty()) {
          m.computeIfAbsent(t.groupVersion(), x -> new ArrayList<>()).add(t);
        }
      }
      return m;
    }

    /** group -> versions, preferred (first declared) first. */
    private Map<String, List<String>> groupsInOrder() {
      Map<String, List<String>> m = new LinkedHashMap<>();
      for (ResourceType t : types()) {
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
      ObjectNode g = JSON.createObjectNode().put("name", group);
      ArrayNode vs = g.putArray("versions");
      for (String v : versions) {
        vs.addObject().put("groupVersion", group + "/" + v).put("version", v);
      }
      g.putObject("preferredVersion").put("groupVersion", group + "/" + versions.get(0)).put("version", versions.get(0));
      return g;
    }

    /** What both discovery formats (APIResourceList and aggregated v2) say of a resource alike. */
    private static void addVerbsAndNames(ObjectNode r, ResourceType t) {
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
      ObjectNode list = JSON.createObjectNode().put("kind", "APIResourceList").put("apiVersion", "v1")
          .put("groupVersion", group.isEmpty() ? version : group + "/" + version);
      ArrayNode rs = list.putArray("resources");
      for (ResourceType t : types()) {
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
      ObjectNode root = JSON.createObjectNode();
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
      List<ResourceType> ts = types().stream()
          .filter(t -> (t.group().isEmpty() ? "api/" + t.version() : "apis/" + t.groupVersion()).equals(gvPath))
          .toList();
      if (ts.isEmpty()) {
        return null;
      }
      ObjectNode doc = JSON.createObjectNode().put("openapi", "3.0.0");
      doc.putObject("info").put("title", "Kubernetes").put("version", SERVER_VERSION);
      ObjectNode paths = doc.putObject("paths");
      for (ResourceType t : ts) {
        String base = "/" + gvPath + (t.namespaced() ? "/namespaces/{namespace}/" : "/") + t.plural();
        ObjectNode gvk = JSON.createObjectNode().put("group", t.group()).put("version", t.version()).put("kind", t.kind());
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

    // ---- reads

    private MockResponse get(ResourceType t, ResourcePath rp, Params params, String query, boolean upgrade) {
      if ("log".equals(rp.sub())) {
        if (current(t, rp) == null) {
          throw ApiError.notFound(t, rp.name());
        }
        String text = podLogs.getOrDefault(rp.namespace() + "/" + rp.name(), "");
        String tail = params.first("tailLines");
        if (tail != null) {
          List<String> lines = List.of(text.split("\n", -1));
          if (text.endsWith("\n")) {
            lines = lines.subList(0, lines.size() - 1);
          }
          int n = Math.max(0, Integer.parseInt(tail));
          lines = lines.subList(Math.max(0, lines.size() - n), lines.size());
          text = lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
        }
        return new MockResponse().setResponseCode(200).setHeader("Content-Type", "text/plain").setBody(text);
      }
      boolean watch = "true".equals(params.first("watch")) || "1".equals(params.first("watch"));
      if (rp.name() != null) {
        MockResponse r = super.handleGet(rp.objectPath() + (rp.sub() != null ? "/" + rp.sub() : ""));
        if (r.code() == 404) {
          throw ApiError.notFound(t, rp.name());
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
      JsonNode list = readTree(r.getBody().readUtf8());
      Selector labels = Selector.parse(params.first("labelSelector"));
      Selector fields = Selector.parse(params.first("fieldSelector"));
      List<JsonNode> items = new ArrayList<>();
      for (JsonNode item : list.path("items")) {
        if (!item.path("apiVersion").asText().equals(t.groupVersion()) || !item.path("kind").asText().equals(t.kind())) {
          continue;
        }
        JsonNode lbls = item.path("metadata").path("labels");
        if (labels.matches(k -> lbls.hasNonNull(k) ? lbls.get(k).asText() : null)
            && fields.matches(k -> {
              JsonNode v = Fields.at(item, List.of(k.split("\\.")));
              return v == null ? null : v.asText();
            })) {
          items.add(item);
        }
      }
      items.sort(Comparator.comparing((JsonNode i) -> i.path("metadata").path("namespace").asText(""))
          .thenComparing(i -> i.path("metadata").path("name").asText("")));
      ObjectNode out = JSON.createObjectNode().put("kind", t.kind() + "List").put("apiVersion", t.groupVersion());
      out.putObject("metadata").put("resourceVersion", list.path("metadata").path("resourceVersion").asText("0"));
      out.putArray("items").addAll(items);
      return json(200, out.toString());
    }

    /** The scale subresource (autoscaling/v1 Scale) of deployments, statefulsets, replicasets and scalable CRDs. */
    private MockResponse scale(ResourceType t, ResourcePath rp, String method, Params params, String body,
        String contentType, String manager) {
      ResourcePath main = new ResourcePath(rp.group(), rp.version(), rp.namespace(), rp.resource(), rp.name(), null);
      ObjectNode cur = current(t, main);
      if (cur == null) {
        throw ApiError.notFound(t, rp.name());
      }
      ObjectNode scale = scaleOf(t, cur);
      if (method.equals("GET")) {
        return json(200, scale.toString());
      }
      JsonNode next;
      switch (method) {
        case "PUT" -> next = parseObject(body.getBytes(StandardCharsets.UTF_8), contentType);
        case "PATCH" -> {
          String type = contentType.split(";")[0].trim().toLowerCase();
          JsonNode patch = type.equals("application/apply-patch+yaml")
              ? parseObject(body.getBytes(StandardCharsets.UTF_8), "application/yaml") : readTree(body);
          try {
            next = type.equals("application/json-patch+json") ? JsonPatch.apply(patch, scale)
                : mergePatch(scale, patch, false);
          } catch (RuntimeException e) {
            throw new ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                + e.getMessage(), null);
          }
        }
        default -> throw ApiError.methodNotAllowed();
      }
      JsonNode replicas = next.path("spec").path("replicas");
      if (!replicas.canConvertToInt() || replicas.asInt() < 0) {
        throw new ApiError(422, "Invalid", "Scale.autoscaling \"" + rp.name() + "\" is invalid: spec.replicas: Invalid "
            + "value: " + replicas + ": must be greater than or equal to 0", null);
      }
      ObjectNode updated = cur.deepCopy();
      List<String> path = List.of(t.specReplicasPath().substring(1).split("\\."));
      ObjectNode parent = updated;
      for (String seg : path.subList(0, path.size() - 1)) {
        parent = objectAt(parent, seg);
      }
      parent.put(path.get(path.size() - 1), replicas.asInt());
      String sent = next.path("metadata").path("resourceVersion").asText("");
      objectAt(updated, "metadata").put("resourceVersion", sent.isEmpty()
          ? cur.path("metadata").path("resourceVersion").asText() : sent);
      MockResponse r = update(t, main, updated, manager);
      return json(200, scaleOf(t, (ObjectNode) readTree(r.getBody().readUtf8())).toString());
    }

    private static ObjectNode scaleOf(ResourceType t, ObjectNode obj) {
      ObjectNode scale = JSON.createObjectNode().put("kind", "Scale").put("apiVersion", "autoscaling/v1");
      ObjectNode meta = scale.putObject("metadata");
      for (String f : List.of("name", "namespace", "uid", "resourceVersion", "creationTimestamp")) {
        if (obj.path("metadata").hasNonNull(f)) {
          meta.set(f, obj.path("metadata").get(f));
        }
      }
      JsonNode want = Fields.at(obj, List.of(t.specReplicasPath().substring(1).split("\\.")));
      scale.putObject("spec").put("replicas", want == null ? 0 : want.asInt());
      ObjectNode status = scale.putObject("status");
      JsonNode have = t.statusReplicasPath() == null ? null
          : Fields.at(obj, List.of(t.statusReplicasPath().substring(1).split("\\.")));
      status.put("replicas", have == null ? 0 : have.asInt());
      if (t.labelSelectorPath() != null) {
        JsonNode sel = Fields.at(obj, List.of(t.labelSelectorPath().substring(1).split("\\.")));
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

    private ObjectNode current(ResourceType t, ResourcePath rp) {
      Map.Entry<AttributeSet, String> e = findResource(getKey(rp.objectPath()));
      if (e == null) {
        return null;
      }
      ObjectNode o = (ObjectNode) readTree(e.getValue());
      // the mock keys on plural+version only; make sure it is this group's object
      return o.path("apiVersion").asText().equals(t.groupVersion()) ? o : null;
    }

    private void requireNamespace(String ns) {
      Map.Entry<AttributeSet, String> e = findResource(getKey("/api/v1/namespaces/" + ns));
      if (e == null) {
        throw ApiError.namespaceNotFound(ns);
      }
      if (readTree(e.getValue()).path("metadata").hasNonNull("deletionTimestamp")) {
        throw new ApiError(403, "Forbidden", "unable to create new content in namespace " + ns
            + " because it is being terminated", JSON.createObjectNode());
      }
    }

    // ---- writes

    private MockResponse create(ResourceType t, ResourcePath rp, ObjectNode obj, String manager) {
      if (rp.name() != null || (t.namespaced() && rp.namespace() == null)) {
        throw ApiError.methodNotAllowed();
      }
      checkType(obj, t);
      if (t.kind().equals("SelfSubjectAccessReview")) {
        // no authorization here: everything is allowed
        obj.putObject("status").put("allowed", true).put("reason", "test API server allows everything");
        return json(201, obj.toString());
      }
      ObjectNode meta = objectAt(obj, "metadata");
      String name = meta.path("name").asText("");
      if (name.isEmpty()) {
        String gen = meta.path("generateName").asText("");
        if (gen.isEmpty()) {
          throw ApiError.invalid(t, "", "metadata.name", "", "name or generateName is required");
        }
        name = gen + randomSuffix();
        meta.put("name", name);
      }
      if (t.namespaced()) {
        requireNamespace(rp.namespace());
      }
      ResourcePath self = new ResourcePath(rp.group(), rp.version(), rp.namespace(), rp.resource(), name, null);
      if (current(t, self) != null) {
        throw ApiError.alreadyExists(t, name);
      }
      prepare(obj, t, null);
      trackUpdate(null, obj, manager);
      return store(HttpMethod.POST, rp.collectionPath(), obj, 201);
    }

    private MockResponse update(ResourceType t, ResourcePath rp, ObjectNode obj, String manager) {
      if (rp.name() == null) {
        throw ApiError.methodNotAllowed();
      }
      checkType(obj, t);
      ObjectNode cur = current(t, rp);
      if (cur == null) {
        throw ApiError.notFound(t, rp.name());
      }
      String bodyName = obj.path("metadata").path("name").asText("");
      if (!bodyName.isEmpty() && !bodyName.equals(rp.name())) {
        throw ApiError.badRequest("the name of the object (" + bodyName + ") does not match the name on the URL ("
            + rp.name() + ")");
      }
      objectAt(obj, "metadata").put("name", rp.name());
      checkResourceVersion(t, obj, cur);
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
      prepare(obj, t, cur);
      trackUpdate(cur, obj, manager);
      return store(HttpMethod.PUT, rp.objectPath(), obj, 200);
    }

    private MockResponse patch(ResourceType t, ResourcePath rp, Params params, String body, String contentType,
        String manager) {
      if (rp.name() == null) {
        throw ApiError.methodNotAllowed();
      }
      String type = contentType.split(";")[0].trim().toLowerCase();
      if (type.equals("application/apply-patch+yaml")) {
        return apply(t, rp, params, body);
      }
      ObjectNode cur = current(t, rp);
      if (cur == null) {
        throw ApiError.notFound(t, rp.name());
      }
      JsonNode patch = readTree(body);
      JsonNode merged;
      switch (type) {
        case "application/json-patch+json":
          try {
            merged = JsonPatch.apply(patch, cur);
          } catch (RuntimeException e) {
            throw new ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                + e.getMessage(), null);
          }
          break;
        case "application/merge-patch+json":
          merged = mergePatch(cur, patch, false);
          break;
        case "application/strategic-merge-patch+json":
          merged = mergePatch(cur, patch, true);
          break;
        default:
          throw new ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
              + "accepted media types include: application/json-patch+json, application/merge-patch+json, "
              + "application/apply-patch+yaml, application/strategic-merge-patch+json", null);
      }
      if (!(merged instanceof ObjectNode obj)) {
        throw ApiError.badRequest("the patch did not produce an object");
      }
      return update(t, rp, obj, manager);
    }

    /** Server-side apply: create if absent, else merge with field ownership like the real server. */
    private MockResponse apply(ResourceType t, ResourcePath rp, Params params, String body) {
      String manager = params.first("fieldManager");
      if (manager == null || manager.isEmpty()) {
        throw ApiError.badRequest("PATCH " + rp.objectPath()
            + ": fieldManager is required for apply requests (set the fieldManager query parameter)");
      }
      boolean force = "true".equals(params.first("force"));
      ObjectNode applied = parseObject(body.getBytes(StandardCharsets.UTF_8), "application/yaml");
      checkType(applied, t);
      ObjectNode meta = objectAt(applied, "metadata");
      String bodyName = meta.path("name").asText("");
      if (!bodyName.isEmpty() && !bodyName.equals(rp.name())) {
        throw ApiError.badRequest("the name of the object (" + bodyName + ") does not match the name on the URL ("
            + rp.name() + ")");
      }
      meta.put("name", rp.name());
      if (meta.has("managedFields")) {
        throw ApiError.badRequest("metadata.managedFields must be nil");
      }
      if (!t.namespaced()) {
        meta.remove("namespace");
      } else if (meta.hasNonNull("namespace") && !meta.get("namespace").asText().equals(rp.namespace())) {
        throw ApiError.badRequest("the namespace of the provided object does not match the namespace sent on the "
            + "request");
      }
      boolean statusApply = "status".equals(rp.sub());
      if (!statusApply) {
        applied.remove("status");
      }
      normalize(applied, t);
      Set<List<String>> appliedFields = Fields.owned(applied);
      if (statusApply) {
        appliedFields.clear();
        Fields.leaves(applied.path("status"), List.of("status"), appliedFields);
      }
      String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
      ObjectNode cur = current(t, rp);
      if (cur == null) {
        if (statusApply) {
          throw ApiError.notFound(t, rp.name());
        }
        if (t.namespaced()) {
          requireNamespace(rp.namespace());
        }
        ObjectNode obj = applied.deepCopy();
        objectAt(obj, "metadata").set("managedFields", Managed.write(List.of(
            new Managed(manager, "Apply", applied.path("apiVersion").asText(), now, "", appliedFields))));
        prepare(obj, t, null);
        return store(HttpMethod.POST, rp.collectionPath(), obj, 201);
      }
      checkResourceVersion(t, applied, cur);
      List<Managed> before = Managed.read(cur);
      List<Managed> entries = Managed.read(cur);
      Managed mine = entries.stream()
          .filter(m -> m.manager.equals(manager) && m.operation.equals("Apply")
              && m.subresource.equals(statusApply ? "status" : ""))
          .findFirst().orElse(null);
      Set<List<String>> previous = mine == null ? Set.of() : new LinkedHashSet<>(mine.fields);
      List<Managed> others = new ArrayList<>(entries);
      others.remove(mine);
      // conflicts: a field another manager owns that this apply would change
      Map<Managed, List<List<String>>> conflicts = new LinkedHashMap<>();
      for (List<String> p : appliedFields) {
        if (Objects.equals(Fields.at(applied, p), Fields.at(cur, p))) {
          continue;
        }
        for (Managed o : others) {
          for (List<String> q : o.fields) {
            if (Fields.isPrefix(p, q)) {
              conflicts.computeIfAbsent(o, x -> new ArrayList<>()).add(q.equals(p) ? p : q);
            }
          }
        }
      }
      if (!conflicts.isEmpty()) {
        if (!force) {
          throw conflictError(conflicts);
        }
        conflicts.forEach((o, paths) -> o.fields.removeIf(q -> paths.stream().anyMatch(p -> Fields.related(p, q))));
      }
      ObjectNode merged = cur.deepCopy();
      applyMerge(merged, applied);
      // fields this manager applied before and no longer does go away unless someone else owns them
      Set<List<String>> keep = new HashSet<>(appliedFields);
      others.forEach(o -> keep.addAll(o.fields));
      for (List<String> r : previous) {
        boolean stillWanted = keep.stream().anyMatch(k -> Fields.related(k, r));
        if (!stillWanted) {
          Fields.remove(merged, r, keep);
        }
      }
      List<Managed> after = new ArrayList<>();
      for (Managed m : entries) {
        if (m == mine) {
          continue;
        }
        if (!m.fields.isEmpty()) {
          after.add(m);
        }
      }
      Managed next = new Managed(manager, "Apply", applied.path("apiVersion").asText(), now,
          statusApply ? "status" : "", appliedFields);
      int at = mine == null ? after.size() : Math.min(entries.indexOf(mine), after.size());
      after.add(at, next);
      ObjectNode mergedMeta = objectAt(merged, "metadata");
      if (Managed.sameOwnership(before, after) && cur.path("metadata").has("managedFields")) {
        mergedMeta.set("managedFields", cur.path("metadata").get("managedFields").deepCopy());
      } else {
        mergedMeta.set("managedFields", Managed.write(after));
      }
      if (statusApply) {
        return store(HttpMethod.PUT, rp.objectPath() + "/status", merged, 200);
      }
      if (cur.has("status")) {
        merged.set("status", cur.get("status"));
      }
      prepare(merged, t, cur);
      return store(HttpMethod.PUT, rp.objectPath(), merged, 200);
    }

    private static ApiError conflictError(Map<Managed, List<List<String>>> conflicts) {
      int n = conflicts.values().stream().mapToInt(List::size).sum();
      ObjectNode details = JSON.createObjectNode();
      ArrayNode causes = details.putArray("causes");
      String message;
      if (n == 1) {
        Map.Entry<Managed, List<List<String>>> e = conflicts.entrySet().iterator().next();
        message = "Apply failed with 1 conflict: conflict with " + e.getKey().describe() + ": "
            + Fields.show(e.getValue().get(0));
      } else {
        List<String> lines = new ArrayList<>();
        TreeMap<String, List<List<String>>> byManager = new TreeMap<>();
        conflicts.forEach((m, ps) -> byManager.computeIfAbsent(m.describe(), x -> new ArrayList<>()).addAll(ps));
        byManager.forEach((m, ps) -> {
          lines.add("conflicts with " + m + ":");
          ps.forEach(p -> lines.add("- " + Fields.show(p)));
        });
        message = "Apply failed with " + n + " conflicts: " + String.join("\n", lines);
      }
      conflicts.forEach((m, ps) -> ps.forEach(p -> causes.addObject().put("reason", "FieldManagerConflict")
          .put("message", "conflict with " + m.describe()).put("field", Fields.show(p))));
      return new ApiError(409, "Conflict", message, details);
    }

    /** Ownership for create/update/non-apply patch: the writer takes the fields it changed (operation Update). */
    private void trackUpdate(ObjectNode cur, ObjectNode obj, String manager) {
      ObjectNode meta = objectAt(obj, "metadata");
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
      Set<List<String>> now = Fields.owned(obj);
      Set<List<String>> changed = new LinkedHashSet<>();
      Set<List<String>> removed = new LinkedHashSet<>();
      if (cur == null) {
        changed.addAll(now);
      } else {
        for (List<String> p : now) {
          if (!Objects.equals(Fields.at(obj, p), Fields.at(cur, p))) {
            changed.add(p);
          }
        }
        for (List<String> p : Fields.owned(cur)) {
          if (Fields.at(obj, p) == null) {
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
      List<Managed> entries = cur == null ? new ArrayList<>() : Managed.read(cur);
      Set<List<String>> touched = new HashSet<>(changed);
      touched.addAll(removed);
      Managed mine = null;
      for (Managed m : entries) {
        if (m.is(manager, "Update")) {
          mine = m;
        } else {
          m.fields.removeIf(q -> touched.stream().anyMatch(p -> Fields.related(p, q)));
        }
      }
      String time = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
      if (mine == null) {
        mine = new Managed(manager, "Update", obj.path("apiVersion").asText(), time, "", Set.of());
        entries.add(mine);
      }
      mine.fields.removeIf(q -> removed.stream().anyMatch(p -> Fields.related(p, q)));
      mine.fields.addAll(changed);
      mine.time = time;
      mine.apiVersion = obj.path("apiVersion").asText();
      entries.removeIf(m -> m.fields.isEmpty());
      meta.set("managedFields", Managed.write(entries));
    }

    private MockResponse delete(ResourceType t, ResourcePath rp, Params params, boolean dry) {
      if (rp.sub() != null) {
        throw ApiError.methodNotAllowed();
      }
      if (rp.name() == null) {
        // deletecollection: the objects a list with the same selectors returns
        MockResponse listed = get(t, rp, params, "", false);
        JsonNode list = readTree(listed.getBody().readUtf8());
        if (!dry) {
          for (JsonNode item : list.path("items")) {
            ResourcePath p = new ResourcePath(rp.group(), rp.version(),
                t.namespaced() ? item.path("metadata").path("namespace").asText() : null, rp.resource(),
                item.path("metadata").path("name").asText(), null);
            deleteOne(t, p);
          }
        }
        return json(200, list.toString());
      }
      ObjectNode cur = current(t, rp);
      if (cur == null) {
        throw ApiError.notFound(t, rp.name());
      }
      if (dry) {
        return json(200, cur.toString());
      }
      return deleteOne(t, rp);
    }

    private MockResponse deleteOne(ResourceType t, ResourcePath rp) {
      if (t.kind().equals("Namespace") && t.group().isEmpty()) {
        // what the namespace controller does, at once
        List<String> paths = new ArrayList<>();
        synchronized (map) {
          map.forEach((k, v) -> {
            if (k.getAttribute("namespace") != null
                && k.getAttribute("namespace").getValues().iterator().next().toString().equals(rp.name())) {
              JsonNode o = readTree(v);
              String apiVersion = o.path("apiVersion").asText();
              int slash = apiVersion.indexOf('/');
              String group = slash < 0 ? "" : apiVersion.substring(0, slash);
              String version = slash < 0 ? apiVersion : apiVersion.substring(slash + 1);
              String plural = k.getAttribute("plural").getValues().iterator().next().toString();
              paths.add(ResourcePath.prefix(group, version) + "/namespaces/" + rp.name() + "/" + plural + "/"
                  + o.path("metadata").path("name").asText());
            }
          });
        }
        paths.forEach(super::handleDelete);
      }
      MockResponse r = super.handleDelete(rp.objectPath());
      if (r.code() == 404) {
        throw ApiError.notFound(t, rp.name());
      }
      return r;
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
          ObjectNode out = (ObjectNode) readTree(resp.getBody().readUtf8());
          objectAt(out, "metadata").put("resourceVersion",
              readTree(before.getValue()).path("metadata").path("resourceVersion").asText());
          resp.setBody(out.toString());
        }
      }
      return resp;
    }

    // ---- what the real server does to every object it stores

    private void prepare(ObjectNode obj, ResourceType t, ObjectNode cur) {
      ObjectNode meta = objectAt(obj, "metadata");
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
            objectAt(meta, "labels").put("kubernetes.io/metadata.name", name);
            ObjectNode spec = objectAt(obj, "spec");
            if (!spec.has("finalizers")) {
              spec.putArray("finalizers").add("kubernetes");
            }
            if (cur == null) {
              objectAt(obj, "status").put("phase", "Active");
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
                  throw ApiError.badRequest("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 "
                      + "data in data." + e.getKey());
                }
              });
            }
            JsonNode stringData = obj.remove("stringData");
            if (stringData != null && stringData.isObject()) {
              ObjectNode d = objectAt(obj, "data");
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
    private static void normalize(ObjectNode obj, ResourceType t) {
      if (!t.builtin()) {
        return;
      }
      switch (t.kind()) {
        case "ResourceQuota" -> Quantities.canonicalizeMap(obj.path("spec").get("hard"), t.kind());
        case "LimitRange" -> obj.path("spec").path("limits").forEach(l -> {
          for (String k : List.of("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")) {
            Quantities.canonicalizeMap(l.get(k), t.kind());
          }
        });
        default -> Quantities.canonicalizeResources(obj, t.kind());
      }
    }

    private static void validateName(ResourceType t, String name) {
      boolean label = t.kind().equals("Namespace") && t.group().isEmpty();
      if (t.group().equals("rbac.authorization.k8s.io")) {
        if (name.contains("/") || name.contains("%") || name.equals(".") || name.equals("..")) {
          throw ApiError.invalid(t, name, "metadata.name", name, "may not contain '/' or '%' and may not be '.' or '..'");
        }
        return;
      }
      Pattern p = label ? DNS_LABEL : DNS_SUBDOMAIN;
      int max = label ? 63 : 253;
      if (name.length() > max) {
        throw ApiError.invalid(t, name, "metadata.name", name, "must be no more than " + max + " characters");
      }
      if (!p.matcher(name).matches()) {
        throw ApiError.invalid(t, name, "metadata.name", name, label ? DNS_LABEL_MSG : DNS_SUBDOMAIN_MSG);
      }
    }

    private static void validateLabels(ResourceType t, String name, JsonNode labels) {
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
          throw ApiError.invalid(t, name, "metadata.labels", key, LABEL_NAME_MSG);
        }
        String value = e.getValue().isNull() ? "" : e.getValue().asText();
        if (value.length() > 63) {
          throw ApiError.invalid(t, name, "metadata.labels", value, "must be no more than 63 characters");
        }
        if (!value.isEmpty() && !LABEL_NAME.matcher(value).matches()) {
          throw ApiError.invalid(t, name, "metadata.labels", value, LABEL_VALUE_MSG);
        }
      }
    }

    private static void checkType(ObjectNode obj, ResourceType t) {
      String apiVersion = obj.path("apiVersion").asText("");
      String kind = obj.path("kind").asText("");
      if (kind.isEmpty()) {
        throw ApiError.badRequest("Object 'Kind' is missing in '" + obj + "'");
      }
      if (!apiVersion.equals(t.groupVersion())) {
        throw ApiError.badRequest("the API version in the data (" + apiVersion
            + ") does not match the expected API version (" + t.groupVersion() + ")");
      }
      if (!kind.equals(t.kind())) {
        throw ApiError.badRequest("the kind in the data (" + kind + ") does not match the expected kind (" + t.kind()
            + ")");
      }
    }

    private static void checkResourceVersion(ResourceType t, JsonNode obj, JsonNode cur) {
      String sent = obj.path("metadata").path("resourceVersion").asText("");
      if (!sent.isEmpty() && !sent.equals(cur.path("metadata").path("resourceVersion").asText())) {
        String name = cur.path("metadata").path("name").asText();
        throw new ApiError(409, "Conflict", "Operation cannot be fulfilled on " + t.qualified() + " \"" + name
            + "\": the object has been modified; please apply your changes to the latest version and try again",
            ApiError.details(t, name));
      }
    }

    // ---- JSON helpers

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
        throw ApiError.badRequest("the request body is not valid JSON: " + e.getOriginalMessage());
      }
    }

    static ObjectNode parseObject(byte[] raw, String contentType) {
      if (contentType.startsWith("application/vnd.kubernetes.protobuf")) {
        return Protobuf.decode(raw);
      }
      String body = new String(raw, StandardCharsets.UTF_8);
      JsonNode n;
      try {
        boolean yaml = contentType.contains("yaml") && !body.trim().startsWith("{");
        n = yaml ? YAML.readTree(body) : JSON.readTree(body);
      } catch (JsonProcessingException e) {
        throw ApiError.badRequest("the request body could not be decoded: " + e.getOriginalMessage());
      }
      if (!(n instanceof ObjectNode o)) {
        throw ApiError.badRequest("the request body must be an object");
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

    private static String randomSuffix() {
      String chars = "bcdfghjklmnpqrstvwxz2456789";
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < 5; i++) {
        sb.append(chars.charAt(RANDOM.nextInt(chars.length())));
      }
      return sb.toString();
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Protobuf request bodies: kubectl's typed commands (kubectl create namespace|configmap|secret|...) send them

  static final class Protobuf {
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
        throw ApiError.badRequest("the protobuf request body lacks the k8s envelope");
      }
      ObjectNode unknown = read(Arrays.copyOfRange(body, 4, body.length), "Unknown");
      String apiVersion = unknown.path("typeMeta").path("apiVersion").asText();
      String kind = unknown.path("typeMeta").path("kind").asText();
      if (!MESSAGES.containsKey(kind) || kind.equals("Unknown") || kind.equals("TypeMeta")) {
        throw new ApiError(415, "UnsupportedMediaType", "the test API server decodes protobuf only for Namespace, "
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
          default -> throw ApiError.badRequest("unsupported protobuf wire type " + wire);
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

  /** What the CloudNativePG operator installs (trimmed: no schema, which the mock would not check anyway). */
  private static final String CNPG_CLUSTER_CRD = """
      {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
       "metadata":{"name":"clusters.postgresql.cnpg.io"},
       "spec":{"group":"postgresql.cnpg.io",
        "names":{"kind":"Cluster","listKind":"ClusterList","plural":"clusters","singular":"cluster"},
        "scope":"Namespaced",
        "versions":[{"name":"v1","served":true,"storage":true,
          "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}},
          "subresources":{"status":{},"scale":{"specReplicasPath":".spec.instances",
            "statusReplicasPath":".status.instances","labelSelectorPath":".status.selector"}}}]}}
      """;
}
