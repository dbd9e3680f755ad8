//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES TestApiProxy.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Kubernetes cluster every gfw test uses: the real control plane of tests/cluster.java (etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler, kwok nodes), started once per test run,
 * or the real cluster named by {@code GFW_TEST_KUBECONFIG}.
 *
 * <p>{@link #shared()} is the run-wide handle; {@link #start()} a private one, for a test that
 * counts its own requests. On the local control plane every handle talks to the server through its
 * own {@link TestApiProxy}, which records the handle's requests ({@link #requests()}) and injects
 * faults ({@link #fault}); {@link #kubeconfig()} points at that proxy with the admin token. What a
 * kubelet would do is played by kwok, configured through its resources: pods become Ready unless
 * {@link #rollouts} says otherwise, {@link #podLog} sets a container's log, and
 * {@link #portForward}/{@link #serviceBackend} route port-forwards to local stand-ins.
 *
 * <p>With {@code GFW_TEST_KUBECONFIG} nothing starts and there is no proxy and no kwok:
 * {@link #isLocal()} is false and the local-only methods throw; tests guard them.
 */
public final class TestCluster implements AutoCloseable {

  /** The context name the kubeconfig carries (also its current context). */
  public static final String CONTEXT = "dev-cluster";
  /** Env var naming a real cluster's kubeconfig; when set no control plane is started. */
  public static final String KUBECONFIG_ENV = "GFW_TEST_KUBECONFIG";

  /** One request as the proxy received it. */
  public record Request(String method, String path, String query, String contentType, String body) {
    public boolean isMutating() {
      return switch (method) {
        case "POST", "PUT", "PATCH", "DELETE" -> true;
        default -> false;
      };
    }

    public boolean isDryRun() {
      return proxied().isDryRun();
    }

    public String queryParam(String name) {
      return proxied().queryParam(name);
    }

    private TestApiProxy.Request proxied() {
      return new TestApiProxy.Request(method, path, query, contentType, body);
    }

    @Override
    public String toString() {
      return proxied().toString();
    }
  }

  private static TestCluster shared;
  private static ControlPlane plane;

  private final TestApiProxy proxy;
  private final Path kubeconfig;
  private final String url;
  private final String context;
  private final boolean sharedInstance;
  private KubernetesClient client;
  private boolean closed;

  private TestCluster(TestApiProxy proxy, Path kubeconfig, String url, String context, boolean sharedInstance) {
    this.proxy = proxy;
    this.kubeconfig = kubeconfig;
    this.url = url;
    this.context = context;
    this.sharedInstance = sharedInstance;
  }

  /** The run-wide handle, started on first use; {@link #close()} on it does nothing. */
  public static synchronized TestCluster shared() {
    if (shared == null) shared = create(true);
    return shared;
  }

  /** A private handle on the same cluster, with its own request log and faults. Close it when done. */
  public static TestCluster start() {
    return create(false);
  }

  private static synchronized TestCluster create(boolean sharedInstance) {
    String real = System.getenv(KUBECONFIG_ENV);
    if (real != null && !real.isBlank()) return forRealCluster(Path.of(real), sharedInstance);
    if (plane == null) {
      plane = ControlPlane.start();
      Runtime.getRuntime().addShutdownHook(new Thread(plane::stop, "test-cluster-stop"));
    }
    try {
      var proxy = new TestApiProxy(plane.keyStore, plane.storePassword, "127.0.0.1", plane.apiPort);
      String url = "https://127.0.0.1:" + proxy.port();
      Path file = Files.createTempFile(plane.dir, "kubeconfig-", ".yaml",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(file, kubeconfigText(url, plane.proxyCaData, plane.token));
      return new TestCluster(proxy, file, url, CONTEXT, sharedInstance);
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the test API proxy: " + e, e);
    }
  }

  private static TestCluster forRealCluster(Path file, boolean sharedInstance) {
    if (!Files.isReadable(file)) throw new IllegalStateException(KUBECONFIG_ENV + "=" + file + ": file not readable");
    try {
      io.fabric8.kubernetes.api.model.Config kc = Serialization.unmarshal(Files.readString(file), io.fabric8.kubernetes.api.model.Config.class);
      boolean hasDev = kc.getContexts() != null && kc.getContexts().stream().anyMatch(c -> CONTEXT.equals(c.getName()));
      String ctx = hasDev ? CONTEXT : kc.getCurrentContext();
      String masterUrl = Config.fromKubeconfig(ctx, file.toFile()).getMasterUrl().replaceFirst("/+$", "");
      return new TestCluster(null, file, masterUrl, ctx, sharedInstance);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String kubeconfigText(String server, String caData, String token) {
    return "apiVersion: v1\nkind: Config\nclusters:\n- name: " + CONTEXT + "\n  cluster:\n    server: " + server + "\n"
        + "    certificate-authority-data: " + caData + "\n"
        + "contexts:\n- name: " + CONTEXT + "\n  context:\n    cluster: " + CONTEXT + "\n    user: " + CONTEXT + "-user\n"
        + "current-context: " + CONTEXT + "\npreferences: {}\nusers:\n- name: " + CONTEXT + "-user\n  user:\n    token: " + token + "\n";
  }

  /** True on the suite's own control plane (proxy and kwok available); false on GFW_TEST_KUBECONFIG's cluster. */
  public boolean isLocal() {
    return proxy != null;
  }

  /** A kubeconfig (mode 0600) whose context {@value #CONTEXT} reaches the cluster (through this handle's proxy). */
  public Path kubeconfig() {
    return kubeconfig;
  }

  public String context() {
    return context;
  }

  public String url() {
    return url;
  }

  /** The version line the runner prints: what the server says, and where it comes from. */
  public static String describe() {
    TestCluster c = shared();
    String server = c.client().getKubernetesVersion().getGitVersion();
    if (!c.isLocal()) return "cluster: " + server + " (" + KUBECONFIG_ENV + ")";
    return "cluster: kube-apiserver " + server + " (tests/cluster), etcd " + ControlPlane.moduleVersion("go.etcd.io/etcd/server/v3")
        + ", kwok " + ControlPlane.moduleVersion("sigs.k8s.io/kwok");
  }

  /** A client for setup and assertions, built from {@link #kubeconfig()} like a script would. */
  public synchronized KubernetesClient client() {
    if (client == null) client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(context, kubeconfig.toFile())).build();
    return client;
  }

  /** Requests this handle's proxy received since start or {@link #resetRequests()}, oldest first (local only). */
  public List<Request> requests() {
    return requireLocal("requests()").requests().stream()
        .map(r -> new Request(r.method(), r.path(), r.query(), r.contentType(), r.body())).toList();
  }

  public void resetRequests() {
    requireLocal("resetRequests()").resetRequests();
  }

  /** POST/PUT/PATCH/DELETE requests since reset, dry-run ones included. */
  public long mutatingRequests() {
    return mutatingRequests(true);
  }

  public long mutatingRequests(boolean includeDryRun) {
    return requests().stream().filter(Request::isMutating).filter(r -> includeDryRun || !r.isDryRun()).count();
  }

  /** Answers requests matching {@code method} and exact {@code path} with {@code status} and {@code body}, {@code times} times. */
  public void fail(String method, String path, int status, String body, int times) {
    requireLocal("fail()").fault(TestApiProxy.Fault.answer(TestApiProxy.route(method, path), status, body, times));
  }

  /** Any fault, for what {@link #fail} cannot say (stalls, dropped connections). */
  public void fault(TestApiProxy.Fault f) {
    requireLocal("fault()").fault(f);
  }

  public void clearFaults() {
    requireLocal("clearFaults()").clearFaults();
  }

  /**
   * Installs {@code crd} as a cluster would (server-side apply), first waiting out a deletion of the same CRD still
   * in progress, then until the API server serves the kind (condition Established).
   */
  public void ensureCrd(io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition crd) {
    var crds = client().apiextensions().v1().customResourceDefinitions();
    String name = crd.getMetadata().getName();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < until) {
      var live = crds.withName(name).get();
      if (live == null || live.getMetadata().getDeletionTimestamp() == null) break;
      sleep(200);
    }
    crds.resource(crd).fieldManager("gfw-test").forceConflicts().serverSideApply();
    crds.withName(name).waitUntilCondition(c -> c != null && c.getStatus() != null && c.getStatus().getConditions() != null
        && c.getStatus().getConditions().stream().anyMatch(x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())), 60, TimeUnit.SECONDS);
  }

  /** Deletes CRD {@code name} and waits until it is gone (its objects with it). */
  public void deleteCrd(String name) {
    var crds = client().apiextensions().v1().customResourceDefinitions();
    crds.withName(name).delete();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (crds.withName(name).get() != null && System.nanoTime() < until) sleep(200);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // ---- kwok: what the kubelet would do ------------------------------------------------------

  /**
   * How the pods of a namespace come up (kwok Stages). {@code field} is a kwok query on the pod
   * ({@code .spec.containers.[].resources.limits.memory}, or {@link #label}); null selects every pod.
   */
  public record Readiness(String field, String value, boolean held, int restarts) {
    /** Every pod becomes Ready (kwok's default). */
    public static Readiness ready() {
      return new Readiness(null, null, false, 0);
    }

    /** Pods whose {@code field} is {@code value} run but never become Ready; the others do. */
    public static Readiness notReady(String field, String value) {
      return new Readiness(field, value, true, 0);
    }

    /** Every pod runs but never becomes Ready. */
    public static Readiness notReady() {
      return new Readiness(null, null, true, 0);
    }

    /** Pods whose {@code field} is {@code value} (every pod when field is null) crash-loop with {@code restarts} restarts. */
    public static Readiness crashLooping(String field, String value, int restarts) {
      return new Readiness(field, value, true, restarts);
    }
  }

  /** The kwok query for a pod label. */
  public static String label(String key) {
    return ".metadata.labels[\"" + key + "\"]";
  }

  private static final Map<String, Readiness> HELD = new LinkedHashMap<>();

  /**
   * How pods in {@code namespace} come up from now on: kwok's Stages are rewritten so pods there
   * (or those the readiness selects) stay unready or crash-loop, or become Ready again. Pods that
   * already exist follow the new rule where they have not become Ready yet.
   */
  public void rollouts(String namespace, Readiness readiness) {
    requireLocal("rollouts()");
    synchronized (HELD) {
      Readiness before = readiness.held() ? HELD.put(namespace, readiness) : HELD.remove(namespace);
      var kube = client();
      String name = "gfw-held-" + namespace;
      if (before != null && before.held()) {
        for (String n : List.of(name, "gfw-ready-" + namespace)) {
          kube.genericKubernetesResources("kwok.x-k8s.io/v1alpha1", "Stage").withName(n).delete();
        }
      }
      if (readiness.held()) {
        apply(KwokStages.held(name, namespace, readiness));
        if (readiness.field() != null) apply(KwokStages.readyIn("gfw-ready-" + namespace, namespace, readiness.field(), readiness.value()));
      }
      replaceStage("pod-ready", KwokStages.defaultReady(List.copyOf(HELD.keySet())));
    }
    // kwok looks at a pod again when it changes, not when a Stage does: touch the pods so the new rule reaches those running.
    String mark = randomHex(4);
    for (var p : client().pods().inNamespace(namespace).list().getItems()) {
      try {
        client().pods().inNamespace(namespace).withName(p.getMetadata().getName())
            .edit(x -> {
              var a = x.getMetadata().getAnnotations() == null ? new java.util.HashMap<String, String>() : new java.util.HashMap<>(x.getMetadata().getAnnotations());
              a.put("gfw.test/readiness-rule", mark);
              x.getMetadata().setAnnotations(a);
              return x;
            });
      } catch (RuntimeException gone) {
        // deleted meanwhile
      }
    }
    awaitPods(namespace, readiness);
  }

  /**
   * kwok applies Stages as it sees them: wait (up to 30 s) until the pods the rule speaks of show it, as the old mock's
   * synchronous rollouts did, so a test's next command reads the new state. Rules on other fields than a label apply
   * to pods still to come (a rollout's new ReplicaSet) and are not waited for.
   */
  private void awaitPods(String namespace, Readiness r) {
    String key = r.field() == null ? null : labelKey(r.field());
    if (r.field() != null && key == null) return;
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until) {
      boolean done = client().pods().inNamespace(namespace).list().getItems().stream()
          .filter(p -> p.getMetadata().getDeletionTimestamp() == null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase()))
          .allMatch(p -> {
            boolean selected = key == null || (p.getMetadata().getLabels() != null && r.value().equals(p.getMetadata().getLabels().get(key)));
            boolean heldHere = r.held() && selected;
            if (!heldHere) return podReady(p);
            if (r.restarts() > 0) return p.getStatus() != null && p.getStatus().getContainerStatuses() != null && p.getStatus().getContainerStatuses().stream()
                .anyMatch(c -> c.getState() != null && c.getState().getWaiting() != null && "CrashLoopBackOff".equals(c.getState().getWaiting().getReason()));
            return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "False".equals(c.getStatus()));
          });
      if (done) return;
      sleep(100);
    }
  }

  /** Condition Ready is True. */
  static boolean podReady(io.fabric8.kubernetes.api.model.Pod p) {
    return p.getStatus() != null && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** The label key of a {@link #label} query, or null. */
  private static String labelKey(String field) {
    String prefix = ".metadata.labels[\"";
    return field.startsWith(prefix) && field.endsWith("\"]") ? field.substring(prefix.length(), field.length() - 2) : null;
  }

  /** How the pods of Jobs in a namespace end (kwok's pod-complete stage, or a failure, or never). */
  public enum JobPods { SUCCEED, FAIL, RUN_ON }

  private static final Map<String, JobPods> JOB_RULES = new LinkedHashMap<>();

  /**
   * How the pods of Jobs in {@code namespace} end from now on: they succeed (kwok's default, so the real
   * Job controller marks the Job Complete), fail with exit code 1 (the controller retries up to the Job's
   * backoffLimit, then marks it Failed), or keep running.
   */
  public void jobs(String namespace, JobPods outcome) {
    requireLocal("jobs()");
    synchronized (HELD) {
      if (outcome == JobPods.SUCCEED) JOB_RULES.remove(namespace);
      else JOB_RULES.put(namespace, outcome);
      client().genericKubernetesResources("kwok.x-k8s.io/v1alpha1", "Stage").withName("gfw-job-fail-" + namespace).delete();
      if (outcome == JobPods.FAIL) apply(KwokStages.jobFail("gfw-job-fail-" + namespace, namespace));
      replaceStage("pod-complete", KwokStages.defaultJobComplete(List.copyOf(JOB_RULES.keySet())));
    }
  }

  /** No special rule for {@code namespace} any more: its pods become Ready. */
  public void stopRollouts(String namespace) {
    rollouts(namespace, Readiness.ready());
  }

  /** What {@code GET .../pods/POD/log} answers for every container of {@code pod} (kwok Logs). */
  public void podLog(String namespace, String pod, String text) {
    requireLocal("podLog()");
    try {
      // kwok serves the file as a kubelet serves the container runtime's: in CRI log format, one line each.
      Path file = Files.createTempFile(plane.dir, "log-", ".txt");
      String now = java.time.Instant.now().toString();
      var cri = new StringBuilder();
      for (String line : text.split("\n", -1)) {
        if (!line.isEmpty()) cri.append(now).append(" stdout F ").append(line).append('\n');
      }
      Files.writeString(file, cri.toString());
      apply(KwokStages.logs(namespace, pod, file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Port-forwards to port {@code port} of {@code pod} reach {@code host:targetPort} (kwok PortForward). */
  public void portForward(String namespace, String pod, int port, String host, int targetPort) {
    requireLocal("portForward()");
    apply(KwokStages.portForward(namespace, pod, port, host, targetPort));
  }

  /** Port-forwards to any pod of {@code namespace} on {@code port} reach {@code backend} (kwok ClusterPortForward). */
  public void serviceBackend(String namespace, int port, URI backend) {
    requireLocal("serviceBackend()");
    apply(KwokStages.clusterPortForward(namespace, port, backend.getHost(), backend.getPort()));
  }

  private static final Map<String, String> STAGE_NAMES = new LinkedHashMap<>();
  private static int stageGeneration;

  /**
   * Puts a changed Stage in place of kwok's {@code role} stage under a new name, then deletes the one before: kwok
   * takes new Stages at once but not always changes to one it already runs.
   */
  private void replaceStage(String role, String yaml) {
    String before = STAGE_NAMES.getOrDefault(role, role);
    String name = role + "-" + (++stageGeneration);
    apply(yaml.replaceFirst("(?m)^  name: " + java.util.regex.Pattern.quote(role) + "$", "  name: " + name));
    STAGE_NAMES.put(role, name);
    client().genericKubernetesResources("kwok.x-k8s.io/v1alpha1", "Stage").withName(before).delete();
  }

  private void apply(String yaml) {
    GenericKubernetesResource r = Serialization.unmarshal(yaml, GenericKubernetesResource.class);
    client().resource(r).fieldManager("gfw-test").forceConflicts().serverSideApply();
  }

  private TestApiProxy requireLocal(String what) {
    if (proxy == null) {
      throw new IllegalStateException(what + " needs the suite's own control plane, not the cluster from " + KUBECONFIG_ENV
          + "; guard the test with isLocal()");
    }
    return proxy;
  }

  /** Stops a private handle's proxy and deletes its kubeconfig; does nothing on the shared one. */
  @Override
  public void close() {
    if (sharedInstance) return;
    synchronized (this) {
      if (closed) return;
      closed = true;
    }
    if (client != null) client.close();
    if (proxy != null) {
      proxy.close();
      try {
        Files.deleteIfExists(kubeconfig);
      } catch (IOException ignored) {
        // a leftover temp file goes with the run's directory
      }
    }
  }

  /** The repository root: the directory holding jbang-catalog.json, from the working directory up. */
  static Path repo() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("jbang-catalog.json")) && Files.isDirectory(p.resolve("tests/cluster"))) return p;
    }
    throw new IllegalStateException("run from the gfw repository");
  }

  static void deleteTree(Path d) throws IOException {
    if (!Files.exists(d)) return;
    try (var walk = Files.walk(d)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

  static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** The control plane process (tests/cluster.java) and what the proxies need from it. */
  record ControlPlane(Process process, Path dir, int apiPort, String token, KeyStore keyStore, char[] storePassword, String proxyCaData) {

    static ControlPlane start() {
      try {
        Path dir = Files.createTempDirectory("gfw-test-cluster-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path kc = dir.resolve("admin.kubeconfig");
        Path repo = repo();
        var pb = new ProcessBuilder(repo.resolve("jbang").toString(), repo.resolve("tests/cluster.java").toString(),
            "--kubeconfig", kc.toString(), "--audit-log", dir.resolve("audit.log").toString(), "--stop-on-eof")
            .directory(repo.toFile())
            .redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        var ready = CompletableFuture.supplyAsync(() -> {
          try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
              if (line.equals("ready")) return true;
            }
          } catch (IOException ignored) {
            // the process ended
          }
          return false;
        });
        // The first run builds the control plane from source: give it the better part of an hour.
        boolean ok = ready.get(60, TimeUnit.MINUTES);
        if (!ok) throw new IllegalStateException("tests/cluster.java ended without \"ready\" (its messages are above)");
        String text = Files.readString(kc);
        Matcher server = Pattern.compile("server: https://127\\.0\\.0\\.1:(\\d+)").matcher(text);
        Matcher token = Pattern.compile("token: (\\S+)").matcher(text);
        if (!server.find() || !token.find()) throw new IllegalStateException("unexpected kubeconfig from tests/cluster.java");
        char[] password = randomHex(12).toCharArray();
        Path store = dir.resolve("proxy.p12");
        keytool("-genkeypair", "-alias", "proxy", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
            "-dname", "CN=gfw-test-proxy", "-ext", "san=ip:127.0.0.1,dns:localhost",
            "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass:env", "GFW_STOREPASS", new String(password));
        Path cert = dir.resolve("proxy.crt");
        keytool("-exportcert", "-rfc", "-alias", "proxy", "-keystore", store.toString(), "-storetype", "PKCS12",
            "-storepass:env", "GFW_STOREPASS", "-file", cert.toString(), new String(password));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) {
          ks.load(in, password);
        }
        String ca = java.util.Base64.getEncoder().encodeToString(Files.readAllBytes(cert));
        return new ControlPlane(p, dir, Integer.parseInt(server.group(1)), token.group(1), ks, password, ca);
      } catch (Exception e) {
        throw new IllegalStateException("cannot start the test control plane: " + e.getMessage(), e);
      }
    }

    private static void keytool(String... argsThenPassword) throws IOException, InterruptedException {
      var args = new ArrayList<String>();
      args.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
      for (int i = 0; i < argsThenPassword.length - 1; i++) args.add(argsThenPassword[i]);
      var pb = new ProcessBuilder(args).redirectErrorStream(true);
      pb.environment().put("GFW_STOREPASS", argsThenPassword[argsThenPassword.length - 1]);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) throw new IllegalStateException("keytool failed: " + out);
    }

    static String moduleVersion(String module) {
      try {
        for (String line : Files.readAllLines(repo().resolve("tests/cluster/go.mod"))) {
          String t = line.trim();
          if (t.startsWith(module + " ")) return t.substring(module.length() + 1).trim().split("\\s")[0];
        }
      } catch (IOException ignored) {
        // fall through
      }
      return "?";
    }

    void stop() {
      try (OutputStream in = process.getOutputStream()) {
        in.flush(); // closing stdin tells the control plane to stop (--stop-on-eof)
      } catch (IOException ignored) {
        // already gone
      }
      try {
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) process.descendants().forEach(ProcessHandle::destroyForcibly);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        deleteTree(dir);
      } catch (IOException ignored) {
        // temp files
      }
    }
  }

  /** The kwok resources the handle writes (see kwok's kustomize/stage/pod/fast/pod-ready.yaml for the originals). */
  static final class KwokStages {
    /** kwok's pod-ready stage (kustomize/stage/pod/fast/pod-ready.yaml, v0.8.0), minus the namespaces with a rule of their own. */
    static String defaultReady(List<String> heldNamespaces) {
      List<String> except = heldNamespaces.isEmpty() ? List.of("-") : heldNamespaces;
      return stage("pod-ready", List.of(
          expr(".metadata.namespace", "NotIn", except)), READY_TEMPLATE, false, false);
    }

    /** Pods of {@code namespace} whose {@code field} is not {@code value} become Ready. */
    static String readyIn(String name, String namespace, String field, String value) {
      return stage(name, List.of(expr(".metadata.namespace", "In", List.of(namespace)),
          expr(field, "NotIn", List.of(value))), READY_TEMPLATE, false, false);
    }

    /** The selected pods of {@code namespace} run unready, or crash-loop when restarts > 0. */
    static String held(String name, String namespace, Readiness r) {
      var exprs = new ArrayList<String>();
      exprs.add(expr(".metadata.namespace", "In", List.of(namespace)));
      if (r.field() != null) exprs.add(expr(r.field(), "In", List.of(r.value())));
      return stage(name, exprs, r.restarts() > 0 ? crashTemplate(r.restarts()) : UNREADY_TEMPLATE, true, r.restarts() > 0);
    }

    /** kwok's pod-complete stage (kustomize/stage/pod/fast/pod-complete.yaml, v0.8.0), minus namespaces with a rule of their own. */
    static String defaultJobComplete(List<String> except) {
      return jobStage("pod-complete", List.of(expr(".metadata.namespace", "NotIn", except.isEmpty() ? List.of("-") : except)), 0, "Completed", "Succeeded");
    }

    /** Running pods of Jobs in {@code namespace} exit 1. */
    static String jobFail(String name, String namespace) {
      return jobStage(name, List.of(expr(".metadata.namespace", "In", List.of(namespace))), 1, "Error", "Failed");
    }

    private static String jobStage(String name, List<String> exprs, int exitCode, String reason, String phase) {
      var sb = new StringBuilder("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: " + name + "\n"
          + "spec:\n  resourceRef:\n    apiGroup: v1\n    kind: Pod\n  selector:\n    matchExpressions:\n");
      sb.append(expr(".metadata.deletionTimestamp", "DoesNotExist", List.of()));
      sb.append(expr(".status.phase", "In", List.of("Running")));
      sb.append(expr(".metadata.ownerReferences.[].kind", "In", List.of("Job")));
      exprs.forEach(sb::append);
      String template = "{{ $now := Now }}\ncontainerStatuses:\n{{ range $index, $item := .spec.containers }}\n- image: {{ $item.image | Quote }}\n"
          + "  name: {{ $item.name | Quote }}\n  ready: false\n  restartCount: 0\n  started: false\n  state:\n    terminated:\n"
          + "      exitCode: " + exitCode + "\n      finishedAt: {{ $now | Quote }}\n      reason: " + reason + "\n      startedAt: {{ $now | Quote }}\n"
          + "{{ end }}\nphase: " + phase + "\n";
      sb.append("  next:\n    statusTemplate: |\n");
      for (String line : template.split("\n")) sb.append("      ").append(line).append('\n');
      return sb.toString();
    }

    static String logs(String namespace, String pod, Path file) {
      return "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Logs\nmetadata:\n  name: " + pod + "\n  namespace: " + namespace + "\n"
          + "spec:\n  logs:\n  - logsFile: " + file + "\n    previousLogsFile: " + file + "\n";
    }

    static String portForward(String namespace, String pod, int port, String host, int targetPort) {
      return "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: PortForward\nmetadata:\n  name: " + pod + "\n  namespace: " + namespace + "\n"
          + "spec:\n  forwards:\n  - ports: [" + port + "]\n    target: {address: \"" + host + "\", port: " + targetPort + "}\n";
    }

    static String clusterPortForward(String namespace, int port, String host, int targetPort) {
      return "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterPortForward\nmetadata:\n  name: gfw-" + namespace + "-" + port + "\n"
          + "spec:\n  selector:\n    matchNamespaces: [" + namespace + "]\n"
          + "  forwards:\n  - ports: [" + port + "]\n    target: {address: \"" + host + "\", port: " + targetPort + "}\n";
    }

    private static String expr(String key, String op, List<String> values) {
      var sb = new StringBuilder("    - key: '" + key + "'\n      operator: " + op + "\n");
      if (!values.isEmpty()) {
        sb.append("      values:\n");
        for (String v : values) sb.append("      - '").append(v).append("'\n");
      }
      return sb.toString();
    }

    /**
     * A pod stage: not being deleted, Pending or Running, not yet in the state it writes, plus the given expressions.
     */
    private static String stage(String name, List<String> exprs, String template, boolean held, boolean crash) {
      var sb = new StringBuilder("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: " + name + "\n"
          + "spec:\n  resourceRef:\n    apiGroup: v1\n    kind: Pod\n  selector:\n    matchExpressions:\n");
      sb.append(expr(".metadata.deletionTimestamp", "DoesNotExist", List.of()));
      sb.append(expr(".status.phase", "In", List.of("Pending", "Running")));
      // Each stage matches only pods not yet in the state it writes, so a rule changed mid-test also turns pods
      // that already run (Ready ones become unready or crash-loop, held ones become Ready) and is then left alone.
      sb.append(!held ? expr(".status.conditions.[] | select( .type == \"Ready\" ) | .status", "NotIn", List.of("True"))
          : crash ? expr(".status.containerStatuses.[].state.waiting.reason", "NotIn", List.of("CrashLoopBackOff"))
          : expr(".status.conditions.[] | select( .type == \"Ready\" ) | .status", "NotIn", List.of("False")));
      exprs.forEach(sb::append);
      sb.append("  next:\n    statusTemplate: |\n");
      for (String line : template.split("\n")) sb.append("      ").append(line).append('\n');
      return sb.toString();
    }

    private static String containers(String ready, String state) {
      return "containerStatuses:\n{{ range .spec.containers }}\n- image: {{ .image | Quote }}\n  name: {{ .name | Quote }}\n  ready: " + ready
          + "\n" + state + "\n{{ end }}\n"
          + "initContainerStatuses:\n{{ range .spec.initContainers }}\n- image: {{ .image | Quote }}\n  name: {{ .name | Quote }}\n  ready: true\n"
          + "  restartCount: 0\n  state:\n    terminated:\n      exitCode: 0\n      finishedAt: {{ $now | Quote }}\n      reason: Completed\n"
          + "      startedAt: {{ $now | Quote }}\n{{ end }}\n";
    }

    /** A pod's addresses and start, written once: a pod that already runs keeps them (a second pod IP would be invalid). */
    private static final String IPS = "{{ if not .status.podIP }}\n"
        + "{{ $hostIPs := NodeIPsWith .spec.nodeName }}\n{{ with $hostIPs }}\nhostIP: {{ index . 0 | Quote }}\n"
        + "hostIPs:\n{{ range . }}\n- ip: {{ . | Quote }}\n{{ end }}\n{{ end }}\n"
        + "{{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid \"\" ) ( or .metadata.name \"\" ) ( or .metadata.namespace \"\" ) }}\n"
        + "{{ with $podIPs }}\npodIP: {{ index . 0 | Quote }}\npodIPs:\n{{ range . }}\n- ip: {{ . | Quote }}\n{{ end }}\n{{ end }}\n"
        + "startTime: {{ $now | Quote }}\n{{ end }}\n"
        + "phase: Running\n";

    private static String conditions(String ready) {
      return "{{ $now := Now }}\nconditions:\n- lastTransitionTime: {{ $now | Quote }}\n  status: \"True\"\n  type: Initialized\n"
          + "- lastTransitionTime: {{ $now | Quote }}\n  status: \"" + ready + "\"\n  type: Ready\n"
          + "- lastTransitionTime: {{ $now | Quote }}\n  status: \"" + ready + "\"\n  type: ContainersReady\n";
    }

    static final String READY_TEMPLATE = conditions("True")
        + "{{ range .spec.readinessGates }}\n- lastTransitionTime: {{ $now | Quote }}\n  status: \"True\"\n  type: {{ .conditionType | Quote }}\n{{ end }}\n"
        + containers("true", "  restartCount: 0\n  started: true\n  state:\n    running:\n      startedAt: {{ $now | Quote }}") + IPS;

    static final String UNREADY_TEMPLATE = conditions("False")
        + containers("false", "  restartCount: 0\n  started: true\n  state:\n    running:\n      startedAt: {{ $now | Quote }}") + IPS;

    static String crashTemplate(int restarts) {
      return conditions("False")
          + containers("false", "  restartCount: " + restarts + "\n  started: false\n  state:\n    waiting:\n      reason: CrashLoopBackOff\n"
              + "      message: back-off restarting failed container\n  lastState:\n    terminated:\n      exitCode: 1\n      reason: Error\n"
              + "      finishedAt: {{ $now | Quote }}\n      startedAt: {{ $now | Quote }}")
          + IPS;
    }
  }
}
