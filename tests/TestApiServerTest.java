import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The test API server behaves like a kube-apiserver where gfw and kubectl depend on it: server-side apply
 * (create, update, removal, conflicts, force), dry runs, Secret stringData, namespace checks and cascading
 * deletion, discovery for the real kubectl, the request log. Uses a private server so request counts are
 * its own; with GFW_TEST_KUBECONFIG the same checks run against that real cluster (mock-only ones skip).
 */
class TestApiServerTest {

  static TestApiServer server;
  static KubernetesClient client;
  final List<String> namespaces = new ArrayList<>();

  @BeforeAll
  static void startServer() {
    server = TestApiServer.start();
    client = server.client();
  }

  @AfterAll
  static void stopServer() {
    server.close();
  }

  @AfterEach
  void deleteNamespaces() {
    namespaces.forEach(ns -> client.namespaces().withName(ns).delete());
  }

  /** A fresh namespace name, deleted after the test. */
  String namespaceName() {
    String ns = "tas-" + UUID.randomUUID().toString().substring(0, 8);
    namespaces.add(ns);
    return ns;
  }

  static Namespace namespace(String name, Map<String, String> labels) {
    return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
  }

  static ResourceQuota quota(String ns, String pods) {
    return new ResourceQuotaBuilder().withNewMetadata().withName("runner-quota").withNamespace(ns).endMetadata()
        .withNewSpec().addToHard("pods", new Quantity(pods)).addToHard("requests.cpu", new Quantity("16"))
        .addToHard("requests.memory", new Quantity("32Gi")).endSpec().build();
  }

  @Test
  void serverSideApplyCreatesUpdatesAndIsIdempotent() {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of("app.kubernetes.io/part-of", "glorious-flywheel"))).fieldManager("gfw")
        .serverSideApply();
    client.resource(quota(ns, "50")).fieldManager("gfw").serverSideApply();

    Namespace created = client.namespaces().withName(ns).get();
    assertEquals("glorious-flywheel", created.getMetadata().getLabels().get("app.kubernetes.io/part-of"));
    assertEquals(ns, created.getMetadata().getLabels().get("kubernetes.io/metadata.name"));
    assertEquals("Active", created.getStatus().getPhase());
    ResourceQuota q = client.resourceQuotas().inNamespace(ns).withName("runner-quota").get();
    assertEquals("50", q.getSpec().getHard().get("pods").toString());
    ManagedFieldsEntry entry = q.getMetadata().getManagedFields().get(0);
    assertEquals("gfw", entry.getManager());
    assertEquals("Apply", entry.getOperation());

    client.resource(quota(ns, "60")).fieldManager("gfw").serverSideApply();
    ResourceQuota updated = client.resourceQuotas().inNamespace(ns).withName("runner-quota").get();
    assertEquals("60", updated.getSpec().getHard().get("pods").toString());
    assertEquals("32Gi", updated.getSpec().getHard().get("requests.memory").toString());
    assertNotEquals(q.getMetadata().getResourceVersion(), updated.getMetadata().getResourceVersion());

    client.resource(quota(ns, "60")).fieldManager("gfw").serverSideApply();
    ResourceQuota again = client.resourceQuotas().inNamespace(ns).withName("runner-quota").get();
    assertEquals(updated.getMetadata().getResourceVersion(), again.getMetadata().getResourceVersion(),
        "applying the same object again changes nothing");
  }

  @Test
  void applyDropsFieldsTheManagerNoLongerSets() {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of("a", "1", "b", "2"))).fieldManager("gfw").serverSideApply();
    client.resource(namespace(ns, Map.of("a", "1"))).fieldManager("gfw").serverSideApply();
    Map<String, String> labels = client.namespaces().withName(ns).get().getMetadata().getLabels();
    assertEquals("1", labels.get("a"));
    assertFalse(labels.containsKey("b"), "label b was removed from the applied configuration: " + labels);
  }

  @Test
  void applyConflictsWithAnotherManagerUnlessForced() {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of())).fieldManager("gfw").serverSideApply();
    client.resource(quota(ns, "50")).fieldManager("kubectl").serverSideApply();

    KubernetesClientException e = assertThrows(KubernetesClientException.class,
        () -> client.resource(quota(ns, "70")).fieldManager("gfw").serverSideApply());
    assertEquals(409, e.getCode());
    assertTrue(e.getStatus().getMessage().contains("conflict with \"kubectl\""), e.getStatus().getMessage());
    assertTrue(e.getStatus().getMessage().contains(".spec.hard.pods"), e.getStatus().getMessage());
    assertEquals("50", client.resourceQuotas().inNamespace(ns).withName("runner-quota").get().getSpec().getHard()
        .get("pods").toString());

    client.resource(quota(ns, "70")).fieldManager("gfw").forceConflicts().serverSideApply();
    assertEquals("70", client.resourceQuotas().inNamespace(ns).withName("runner-quota").get().getSpec().getHard()
        .get("pods").toString());
  }

  @Test
  void dryRunsStoreNothing() {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of())).serverSideApply();
    ConfigMap cm = new ConfigMapBuilder().withNewMetadata().withName("cfg").withNamespace(ns).endMetadata()
        .addToData("k", "v").build();

    ConfigMap answered = client.resource(cm).dryRun().serverSideApply();
    assertEquals("v", answered.getData().get("k"), "a dry run answers the resulting object");
    assertNull(client.configMaps().inNamespace(ns).withName("cfg").get());
    client.resource(cm).dryRun().create();
    assertNull(client.configMaps().inNamespace(ns).withName("cfg").get());

    client.resource(cm).create();
    client.configMaps().inNamespace(ns).withName("cfg").dryRun().delete();
    assertNotNull(client.configMaps().inNamespace(ns).withName("cfg").get());
    client.resource(new ConfigMapBuilder(cm).addToData("k", "changed").build()).dryRun().forceConflicts()
        .serverSideApply();
    assertEquals("v", client.configMaps().inNamespace(ns).withName("cfg").get().getData().get("k"));
  }

  @Test
  void secretStringDataReadsBackAsBase64Data() {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of())).serverSideApply();
    Secret s = new SecretBuilder().withNewMetadata().withName("attic-pg-app").withNamespace(ns).endMetadata()
        .addToStringData("password", "p@ss:word#1").build();
    client.resource(s).serverSideApply();

    Secret read = client.secrets().inNamespace(ns).withName("attic-pg-app").get();
    assertTrue(read.getStringData() == null || read.getStringData().isEmpty(), "stringData is not stored");
    assertEquals("p@ss:word#1",
        new String(Base64.getDecoder().decode(read.getData().get("password")), StandardCharsets.UTF_8));
    assertEquals("Opaque", read.getType());
  }

  @Test
  void namespacedObjectsNeedTheirNamespaceAndGoWithIt() {
    String ns = namespaceName();
    KubernetesClientException e = assertThrows(KubernetesClientException.class,
        () -> client.resource(quota(ns, "5")).serverSideApply());
    assertEquals(404, e.getCode());
    assertEquals("namespaces \"" + ns + "\" not found", e.getStatus().getMessage());

    client.resource(namespace(ns, Map.of())).serverSideApply();
    client.resource(quota(ns, "5")).serverSideApply();
    assertNotNull(client.resourceQuotas().inNamespace(ns).withName("runner-quota").get());
    assumeTrue(server.isMock(), "a real cluster deletes namespace contents asynchronously");
    client.namespaces().withName(ns).delete();
    assertTrue(client.resourceQuotas().inNamespace(ns).list().getItems().isEmpty());
    assertNull(client.namespaces().withName(ns).get());
  }

  @Test
  void invalidNamesAndLabelsAreRejectedLikeTheRealServer() {
    KubernetesClientException e = assertThrows(KubernetesClientException.class,
        () -> client.resource(namespace("Bad_Name", Map.of())).serverSideApply());
    assertEquals(422, e.getCode());
    assertTrue(e.getStatus().getMessage().startsWith("Namespace \"Bad_Name\" is invalid: metadata.name"),
        e.getStatus().getMessage());
    String ns = namespaceName();
    e = assertThrows(KubernetesClientException.class,
        () -> client.resource(namespace(ns, Map.of("team", "not valid"))).serverSideApply());
    assertEquals(422, e.getCode());
    assertTrue(e.getStatus().getMessage().contains("metadata.labels"), e.getStatus().getMessage());
  }

  @Test
  void requestLogRecordsWhatArrived() {
    assumeTrue(server.isMock(), "the request log exists only on the mock");
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of())).serverSideApply();
    server.resetRequests();
    client.resource(quota(ns, "50")).fieldManager("gfw").serverSideApply();
    client.resource(quota(ns, "50")).dryRun().fieldManager("gfw").serverSideApply();
    client.resourceQuotas().inNamespace(ns).withName("runner-quota").get();

    List<TestApiServer.Request> log = server.requests();
    assertEquals(3, log.size(), log.toString());
    TestApiServer.Request apply = log.get(0);
    assertEquals("PATCH", apply.method());
    assertEquals("/api/v1/namespaces/" + ns + "/resourcequotas/runner-quota", apply.path());
    assertEquals("gfw", apply.queryParam("fieldManager"));
    assertTrue(apply.contentType().startsWith("application/apply-patch+yaml"), apply.contentType());
    assertTrue(apply.body().contains("\"runner-quota\""), apply.body());
    assertEquals(2, server.mutatingRequests());
    assertEquals(1, server.mutatingRequests(false));
    server.resetRequests();
    assertEquals(0, server.mutatingRequests());
  }

  @Test
  void discoveryAndVersionLookReal() {
    assertEquals("1", client.getKubernetesVersion().getMajor());
    assertTrue(client.getApiGroups().getGroups().stream().anyMatch(g -> g.getName().equals("postgresql.cnpg.io")));
    assertTrue(client.supports("policy/v1", "PodDisruptionBudget"));
    assertTrue(client.supports("autoscaling/v2", "HorizontalPodAutoscaler"));
  }

  @Test
  void kubeconfigIsPrivateAndNamesTheContext() throws IOException {
    assumeTrue(server.isMock(), "a given kubeconfig is the caller's");
    assertEquals(java.util.Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
        Files.getPosixFilePermissions(server.kubeconfig()));
    String text = Files.readString(server.kubeconfig());
    assertTrue(text.contains("name: dev-cluster"), text);
    assertTrue(text.contains("server: " + server.url()), text);
  }

  // ---- the real kubectl reads what we wrote and applies like it would against a cluster

  record Run(int exit, String out, String err) {
  }

  Run kubectl(String... args) throws IOException, InterruptedException {
    Path kubectl = Path.of("/usr/bin/kubectl");
    assumeTrue(Files.isExecutable(kubectl), "kubectl is not installed");
    Path cache = Files.createTempDirectory("kubectl-cache");
    List<String> cmd = new ArrayList<>(List.of(kubectl.toString(), "--kubeconfig", server.kubeconfig().toString(),
        "--context", server.context(), "--cache-dir", cache.toString(), "--request-timeout", "20s"));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("kubectl", ".out");
    Path err = Files.createTempFile("kubectl", ".err");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kubectl " + String.join(" ", args) + " did not finish within 60 s");
    }
    Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return r;
  }

  @Test
  void kubectlReadsNamespacesAndQuotas() throws Exception {
    String ns = namespaceName();
    client.resource(namespace(ns, Map.of("app.kubernetes.io/part-of", "glorious-flywheel"))).serverSideApply();
    client.resource(quota(ns, "50")).serverSideApply();

    Run json = kubectl("get", "ns", "-o", "json");
    assertEquals(0, json.exit(), json.err());
    JsonNode list = new ObjectMapper().readTree(json.out());
    assertTrue(list.path("items").findValuesAsText("name").contains(ns), json.out());

    Run labels = kubectl("get", "ns", ns, "--show-labels");
    assertEquals(0, labels.exit(), labels.err());
    assertTrue(labels.out().contains("app.kubernetes.io/part-of=glorious-flywheel"), labels.out());

    Run yaml = kubectl("get", "resourcequota", "-n", ns, "-o", "yaml");
    assertEquals(0, yaml.exit(), yaml.err());
    assertTrue(yaml.out().contains("name: runner-quota"), yaml.out());
    assertTrue(yaml.out().contains("pods: \"50\""), yaml.out());
  }

  @Test
  void kubectlServerSideApplyCreatesAndConflicts() throws Exception {
    String ns = namespaceName();
    Path file = Files.createTempFile("apply", ".yaml");
    Files.writeString(file, """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: %s
          labels:
            pod-security.kubernetes.io/enforce: privileged
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata:
          name: runner-quota
          namespace: %s
        spec:
          hard:
            pods: 50
            requests.cpu: "16"
        """.formatted(ns, ns));
    Run first = kubectl("apply", "--server-side", "-f", file.toString());
    assertEquals(0, first.exit(), first.err());
    assertTrue(first.out().contains("namespace/" + ns + " serverside-applied"), first.out());
    ResourceQuota q = client.resourceQuotas().inNamespace(ns).withName("runner-quota").get();
    assertEquals("50", q.getSpec().getHard().get("pods").toString());
    assertEquals("kubectl", q.getMetadata().getManagedFields().get(0).getManager());
    assertEquals("privileged",
        client.namespaces().withName(ns).get().getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));

    client.resource(quota(ns, "60")).fieldManager("gfw").forceConflicts().serverSideApply();
    Run conflict = kubectl("apply", "--server-side", "-f", file.toString());
    assertNotEquals(0, conflict.exit());
    assertTrue(conflict.err().contains("conflict with \"gfw\": .spec.hard.pods"), conflict.err());
    Files.delete(file);
  }
}
