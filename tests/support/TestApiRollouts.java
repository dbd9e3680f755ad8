import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Opt-in rollouts: what the deployment controller, the replicaset controller and the kubelet would do for an apps/v1
 * Deployment, done at once after every (non-dry-run) write of it, in the namespaces a test named with
 * {@link TestApiServer#rollouts(String, Readiness)}.
 *
 * <p>Per Deployment: one ReplicaSet per pod template, named {@code <deployment>-<hash>} (FNV-32a of the template,
 * encoded as the controller does), labelled and selected by {@code pod-template-hash}, owned by the Deployment
 * ({@code ownerReferences} with {@code controller: true} and its uid), its template the Deployment's plus that label,
 * annotated {@code deployment.kubernetes.io/revision}; the current one at {@code spec.replicas} (1 if unset), older
 * ones at 0. Each ReplicaSet has that many Pods ({@code <replicaset>-<n>}, labelled as its template, owned by it),
 * ready or not as the test's {@link Readiness} says of the template: condition Ready, container
 * {@code ready}/{@code restartCount}, a crash loop as {@code waiting: CrashLoopBackOff}. Status as the controllers
 * write it: {@code observedGeneration} = {@code metadata.generation}, {@code replicas}, {@code updatedReplicas},
 * {@code readyReplicas}, {@code availableReplicas}, conditions Available and Progressing. Deleting a Deployment
 * deletes its ReplicaSets and their Pods (the dispatcher's garbage collection of owned objects).
 *
 * <p>Not like a real cluster: the rollout is instantaneous (no surge, maxUnavailable or progressDeadlineSeconds),
 * Pods are never scheduled anywhere, and a readiness change applies on the next write of the Deployment or the next
 * {@code rollouts(...)} call.
 */
final class TestApiRollouts {

  /** What the kubelet reports for the Pods of one template. */
  record PodState(boolean ready, int restartCount) {
    static final PodState READY = new PodState(true, 0);
    static final PodState NOT_READY = new PodState(false, 0);

    /** A container that keeps exiting: not ready, restarted {@code restarts} times, waiting in CrashLoopBackOff. */
    static PodState crashLooping(int restarts) {
      return new PodState(false, restarts);
    }
  }

  /** The test's answer to "how do the Pods of this template (a Deployment's spec.template) do?". */
  @FunctionalInterface
  interface Readiness {
    PodState of(JsonNode podTemplate);

    /** Every Pod becomes ready. */
    static Readiness ready() {
      return template -> PodState.READY;
    }

    /** Pods of a template matching {@code never} stay unready (no restarts); the others become ready. */
    static Readiness readyUnless(Predicate<JsonNode> never) {
      return template -> never.test(template) ? PodState.NOT_READY : PodState.READY;
    }

    /** Pods of a template matching {@code crashing} crash-loop ({@code restarts} restarts); the others are ready. */
    static Readiness crashLoopingWhen(Predicate<JsonNode> crashing, int restarts) {
      return template -> crashing.test(template) ? PodState.crashLooping(restarts) : PodState.READY;
    }
  }

  static final String HASH_LABEL = "pod-template-hash";
  private static final String REVISION = "deployment.kubernetes.io/revision";

  private final TestApiDispatcher store;
  private final Map<String, Readiness> namespaces = new ConcurrentHashMap<>();

  TestApiRollouts(TestApiDispatcher store) {
    this.store = store;
  }

  void enable(String namespace, Readiness readiness) {
    namespaces.put(namespace, readiness);
  }

  void disable(String namespace) {
    namespaces.remove(namespace);
  }

  boolean enabled(String namespace) {
    return namespace != null && namespaces.containsKey(namespace);
  }

  /** Brings the ReplicaSets, Pods and status of Deployment {@code namespace/name} up to date (gone: nothing). */
  void reconcile(String namespace, String name) {
    Readiness readiness = namespaces.get(namespace);
    String base = "/apis/apps/v1/namespaces/" + namespace;
    ObjectNode deployment = store.stored(base + "/deployments/" + name);
    if (readiness == null || deployment == null) {
      return;
    }
    String uid = deployment.path("metadata").path("uid").asText();
    JsonNode template = deployment.path("spec").path("template");
    int replicas = deployment.path("spec").path("replicas").asInt(1);
    String hash = templateHash(template);
    String current = name + "-" + hash;

    List<ObjectNode> owned = new ArrayList<>();
    for (ObjectNode rs : store.storedList(base + "/replicasets", "ReplicaSet")) {
      if (controlledBy(rs, uid)) {
        owned.add(rs);
      }
    }
    int revision = 0;
    for (ObjectNode rs : owned) {
      revision = Math.max(revision, rs.path("metadata").path("annotations").path(REVISION).asInt(0));
    }
    ObjectNode currentRs = owned.stream().filter(rs -> rs.path("metadata").path("name").asText().equals(current))
        .findFirst().orElse(null);
    if (currentRs == null) {
      currentRs = newReplicaSet(deployment, current, hash, revision + 1);
      owned.add(currentRs);
    } else if (!isNewest(currentRs, revision)) {
      // a rollback to an older template makes its ReplicaSet the newest revision again, as the controller does
      TestApiJson.objectAt(TestApiJson.objectAt(currentRs, "metadata"), "annotations").put(REVISION,
          String.valueOf(revision + 1));
    }
    int ready = 0;
    int updated = 0;
    int total = 0;
    for (ObjectNode rs : owned) {
      boolean isCurrent = rs == currentRs;
      int want = isCurrent ? replicas : 0;
      TestApiJson.objectAt(rs, "spec").put("replicas", want);
      int rsReady = reconcilePods(rs, want, readiness.of(rs.path("spec").path("template")));
      ObjectNode status = TestApiJson.objectAt(rs, "status");
      status.put("replicas", want).put("fullyLabeledReplicas", want).put("readyReplicas", rsReady)
          .put("availableReplicas", rsReady);
      storeObserved(base + "/replicasets", rs);
      total += want;
      ready += rsReady;
      if (isCurrent) {
        updated = want;
      }
    }
    ObjectNode status = TestApiJson.objectAt(deployment, "status");
    status.put("replicas", total).put("updatedReplicas", updated).put("readyReplicas", ready)
        .put("availableReplicas", ready);
    if (total - ready > 0) {
      status.put("unavailableReplicas", total - ready);
    } else {
      status.remove("unavailableReplicas");
    }
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    ArrayNode conditions = status.putArray("conditions");
    boolean available = ready >= replicas;
    conditions.addObject().put("type", "Available").put("status", available ? "True" : "False")
        .put("reason", available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable")
        .put("message", available ? "Deployment has minimum availability." : "Deployment does not have minimum availability.")
        .put("lastUpdateTime", now).put("lastTransitionTime", now);
    conditions.addObject().put("type", "Progressing").put("status", "True")
        .put("reason", available ? "NewReplicaSetAvailable" : "ReplicaSetUpdated")
        .put("message", "ReplicaSet \"" + current + "\" " + (available ? "has successfully progressed." : "is progressing."))
        .put("lastUpdateTime", now).put("lastTransitionTime", now);
    storeObserved(base + "/deployments", deployment);
  }

  /**
   * Stores an object with {@code status.observedGeneration} equal to the {@code metadata.generation} the store gives
   * it (a spec change bumps it), as a controller that has seen its latest spec: Helm's --wait checks both.
   */
  private void storeObserved(String collectionPath, ObjectNode obj) {
    ObjectNode stored = store.storeInternal(collectionPath, obj);
    for (int i = 0; i < 3; i++) {
      long generation = stored.path("metadata").path("generation").asLong(1);
      if (stored.path("status").path("observedGeneration").asLong(-1) == generation) {
        return;
      }
      TestApiJson.objectAt(stored, "status").put("observedGeneration", generation);
      stored = store.storeInternal(collectionPath, stored);
    }
    throw new IllegalStateException("the generation of " + collectionPath + " keeps changing");
  }

  private static boolean isNewest(ObjectNode rs, int newestRevision) {
    return rs.path("metadata").path("annotations").path(REVISION).asInt(0) == newestRevision;
  }

  private ObjectNode newReplicaSet(ObjectNode deployment, String name, String hash, int revision) {
    JsonNode dmeta = deployment.path("metadata");
    ObjectNode rs = TestApiJson.JSON.createObjectNode().put("apiVersion", "apps/v1").put("kind", "ReplicaSet");
    ObjectNode meta = rs.putObject("metadata").put("name", name).put("namespace", dmeta.path("namespace").asText());
    ObjectNode labels = meta.putObject("labels");
    deployment.path("spec").path("template").path("metadata").path("labels").properties()
        .forEach(e -> labels.set(e.getKey(), e.getValue()));
    labels.put(HASH_LABEL, hash);
    meta.putObject("annotations").put(REVISION, String.valueOf(revision));
    ownerReference(meta, "apps/v1", "Deployment", dmeta);
    ObjectNode spec = rs.putObject("spec");
    ObjectNode selector = deployment.path("spec").path("selector").isObject()
        ? ((ObjectNode) deployment.path("spec").path("selector")).deepCopy() : TestApiJson.JSON.createObjectNode();
    TestApiJson.objectAt(selector, "matchLabels").put(HASH_LABEL, hash);
    spec.set("selector", selector);
    ObjectNode template = ((ObjectNode) deployment.path("spec").path("template")).deepCopy();
    TestApiJson.objectAt(TestApiJson.objectAt(template, "metadata"), "labels").put(HASH_LABEL, hash);
    spec.set("template", template);
    return rs;
  }

  /** Makes {@code rs} have {@code want} Pods in the given state; answers how many are ready. */
  private int reconcilePods(ObjectNode rs, int want, PodState state) {
    JsonNode rsMeta = rs.path("metadata");
    String ns = rsMeta.path("namespace").asText();
    String rsName = rsMeta.path("name").asText();
    String pods = "/api/v1/namespaces/" + ns + "/pods";
    String rsUid = rs.path("metadata").path("uid").asText("");
    if (rsUid.isEmpty()) {
      // a new ReplicaSet: store it first so that its Pods can name its uid
      ObjectNode stored = store.storeInternal("/apis/apps/v1/namespaces/" + ns + "/replicasets", rs);
      rs.set("metadata", stored.get("metadata"));
      rsMeta = rs.path("metadata");
    }
    List<ObjectNode> mine = new ArrayList<>();
    for (ObjectNode pod : store.storedList(pods, "Pod")) {
      if (controlledBy(pod, rsMeta.path("uid").asText())) {
        mine.add(pod);
      }
    }
    mine.sort(Comparator.comparing(p -> p.path("metadata").path("name").asText()));
    while (mine.size() > want) {
      ObjectNode gone = mine.remove(mine.size() - 1);
      store.deleteInternal(pods + "/" + gone.path("metadata").path("name").asText());
    }
    for (int i = 0; i < want; i++) {
      ObjectNode pod = i < mine.size() ? mine.get(i) : newPod(rs, rsName + "-" + i);
      podStatus(pod, rs.path("spec").path("template"), state);
      store.storeInternal(pods, pod);
    }
    return state.ready() ? want : 0;
  }

  private static ObjectNode newPod(ObjectNode rs, String name) {
    JsonNode template = rs.path("spec").path("template");
    ObjectNode pod = TestApiJson.JSON.createObjectNode().put("apiVersion", "v1").put("kind", "Pod");
    ObjectNode meta = template.path("metadata").isObject() ? ((ObjectNode) template.path("metadata")).deepCopy()
        : TestApiJson.JSON.createObjectNode();
    meta.remove("creationTimestamp");
    meta.put("name", name).put("namespace", rs.path("metadata").path("namespace").asText());
    ownerReference(meta, "apps/v1", "ReplicaSet", rs.path("metadata"));
    pod.set("metadata", meta);
    pod.set("spec", template.path("spec").deepCopy());
    return pod;
  }

  private static void podStatus(ObjectNode pod, JsonNode template, PodState state) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    String ready = state.ready() ? "True" : "False";
    ObjectNode status = pod.putObject("status").put("phase", "Running");
    ArrayNode conditions = status.putArray("conditions");
    conditions.addObject().put("type", "PodScheduled").put("status", "True").put("lastTransitionTime", now);
    conditions.addObject().put("type", "Ready").put("status", ready).put("lastTransitionTime", now);
    conditions.addObject().put("type", "ContainersReady").put("status", ready).put("lastTransitionTime", now);
    ArrayNode containers = status.putArray("containerStatuses");
    for (JsonNode c : template.path("spec").path("containers")) {
      ObjectNode cs = containers.addObject().put("name", c.path("name").asText()).put("image", c.path("image").asText())
          .put("ready", state.ready()).put("started", state.ready()).put("restartCount", state.restartCount());
      if (state.ready()) {
        cs.putObject("state").putObject("running").put("startedAt", now);
      } else if (state.restartCount() > 0) {
        cs.putObject("state").putObject("waiting").put("reason", "CrashLoopBackOff")
            .put("message", "back-off restarting failed container " + c.path("name").asText());
        cs.putObject("lastState").putObject("terminated").put("exitCode", 1).put("reason", "Error");
      } else {
        cs.putObject("state").putObject("running").put("startedAt", now);
      }
    }
  }

  private static void ownerReference(ObjectNode meta, String apiVersion, String kind, JsonNode owner) {
    meta.putArray("ownerReferences").addObject().put("apiVersion", apiVersion).put("kind", kind)
        .put("name", owner.path("name").asText()).put("uid", owner.path("uid").asText())
        .put("controller", true).put("blockOwnerDeletion", true);
  }

  static boolean controlledBy(JsonNode obj, String uid) {
    for (JsonNode ref : obj.path("metadata").path("ownerReferences")) {
      if (ref.path("controller").asBoolean(false) && ref.path("uid").asText().equals(uid)) {
        return true;
      }
    }
    return false;
  }

  /** The controller's pod-template-hash: FNV-32a of the template, its decimal digits mapped to safe characters. */
  static String templateHash(JsonNode template) {
    int h = 0x811c9dc5;
    for (byte b : template.toString().getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x01000193;
    }
    String digits = Long.toString(Integer.toUnsignedLong(h));
    String alphabet = "bcdfghjklmnpqrstvwxz2456789";
    StringBuilder out = new StringBuilder();
    for (char c : digits.toCharArray()) {
      out.append(alphabet.charAt(c % alphabet.length()));
    }
    return out.toString();
  }
}
