import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The test API server's opt-in rollouts (what Helm's --wait and gfw's --status read): a ReplicaSet per pod
 * template owned by its Deployment, Pods labelled as the ReplicaSet's and ready as the test says, status fields as
 * the controllers write them, old ReplicaSets scaled to 0, rollback to an old template, crash loops, cascade delete.
 * Mock only: a real cluster runs its own controllers.
 */
class TestApiRolloutsTest {

  TestApiServer server;
  KubernetesClient client;
  String ns;

  @BeforeEach
  void namespace() {
    server = TestApiServer.shared();
    assumeTrue(server.isMock(), "rollouts are the test API server's; a real cluster has its own controllers");
    client = server.client();
    ns = "rollout-" + UUID.randomUUID().toString().substring(0, 8);
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  @AfterEach
  void cleanUp() {
    if (ns != null && server.isMock()) {
      server.stopRollouts(ns);
      client.namespaces().withName(ns).delete();
    }
  }

  static Deployment deployment(String ns, String image, int replicas) {
    return new DeploymentBuilder().withNewMetadata().withName("web").withNamespace(ns).endMetadata()
        .withNewSpec().withReplicas(replicas).withNewSelector().addToMatchLabels("app", "web").endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", "web").endMetadata()
        .withNewSpec().addNewContainer().withName("web").withImage(image).endContainer().endSpec().endTemplate()
        .endSpec().build();
  }

  List<ReplicaSet> replicaSets() {
    return client.apps().replicaSets().inNamespace(ns).list().getItems();
  }

  List<Pod> pods() {
    return client.pods().inNamespace(ns).withLabel("app", "web").list().getItems();
  }

  static boolean ready(Pod p) {
    return p.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  @Test
  void aDeploymentGetsAReplicaSetAndPodsThatAreReadyAsTheTestSays() {
    server.rollouts(ns, TestApiRollouts.Readiness.readyUnless(
        t -> t.path("spec").path("containers").path(0).path("image").asText().endsWith(":broken")));
    Deployment d = client.resource(deployment(ns, "nginx:1", 2)).create();

    List<ReplicaSet> rss = replicaSets();
    assertEquals(1, rss.size());
    ReplicaSet rs = rss.get(0);
    String hash = rs.getMetadata().getLabels().get("pod-template-hash");
    assertEquals("web-" + hash, rs.getMetadata().getName());
    OwnerReference owner = rs.getMetadata().getOwnerReferences().get(0);
    assertEquals(List.of("Deployment", "web", d.getMetadata().getUid(), true),
        List.of(owner.getKind(), owner.getName(), owner.getUid(), owner.getController()));
    assertEquals(hash, rs.getSpec().getSelector().getMatchLabels().get("pod-template-hash"));
    // the template is the Deployment's plus the hash label: what Helm compares to find the new ReplicaSet
    PodTemplateSpec template = Serialization.clone(rs.getSpec().getTemplate());
    template.getMetadata().getLabels().remove("pod-template-hash");
    assertEquals(d.getSpec().getTemplate(), template);
    assertEquals(List.of(2, 2, 2), List.of(rs.getSpec().getReplicas(), rs.getStatus().getReplicas(), rs.getStatus().getReadyReplicas()));

    List<Pod> pods = pods();
    assertEquals(2, pods.size());
    for (Pod p : pods) {
      assertEquals(hash, p.getMetadata().getLabels().get("pod-template-hash"));
      assertEquals(rs.getMetadata().getUid(), p.getMetadata().getOwnerReferences().get(0).getUid());
      assertTrue(ready(p), p.toString());
      assertEquals(0, p.getStatus().getContainerStatuses().get(0).getRestartCount());
    }
    Deployment live = client.apps().deployments().inNamespace(ns).withName("web").get();
    assertEquals(live.getMetadata().getGeneration(), live.getStatus().getObservedGeneration());
    assertEquals(List.of(2, 2, 2, 2), List.of(live.getStatus().getReplicas(), live.getStatus().getUpdatedReplicas(),
        live.getStatus().getReadyReplicas(), live.getStatus().getAvailableReplicas()));

    // a template that never becomes ready: a second ReplicaSet, the old one at 0 and its pods gone
    client.apps().deployments().inNamespace(ns).withName("web").edit(x -> {
      x.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("nginx:broken");
      return x;
    });
    rss = replicaSets();
    assertEquals(2, rss.size());
    ReplicaSet broken = rss.stream().filter(r -> !r.getMetadata().getName().equals(rs.getMetadata().getName())).findFirst().orElseThrow();
    assertEquals(0, client.apps().replicaSets().inNamespace(ns).withName(rs.getMetadata().getName()).get().getSpec().getReplicas());
    assertEquals(0, broken.getStatus().getReadyReplicas());
    assertEquals("2", broken.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"));
    pods = pods();
    assertEquals(2, pods.size());
    assertTrue(pods.stream().noneMatch(TestApiRolloutsTest::ready), pods.toString());
    live = client.apps().deployments().inNamespace(ns).withName("web").get();
    assertEquals(List.of(2, 2, 0), List.of(live.getStatus().getReplicas(), live.getStatus().getUpdatedReplicas(),
        live.getStatus().getReadyReplicas()));
    assertEquals(2, live.getStatus().getUnavailableReplicas());

    // back to the first template (what a rollback writes): its ReplicaSet is current again, as revision 3
    client.apps().deployments().inNamespace(ns).withName("web").edit(x -> {
      x.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("nginx:1");
      return x;
    });
    ReplicaSet back = client.apps().replicaSets().inNamespace(ns).withName(rs.getMetadata().getName()).get();
    assertEquals(2, back.getStatus().getReadyReplicas());
    assertEquals("3", back.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"));
    // each controller has seen its latest spec (Helm's --wait checks observedGeneration of both)
    for (ReplicaSet r : replicaSets()) {
      assertEquals(r.getMetadata().getGeneration(), r.getStatus().getObservedGeneration(), r.getMetadata().getName());
    }
    Deployment after = client.apps().deployments().inNamespace(ns).withName("web").get();
    assertEquals(after.getMetadata().getGeneration(), after.getStatus().getObservedGeneration());
    assertEquals(0, client.apps().replicaSets().inNamespace(ns).withName(broken.getMetadata().getName()).get().getSpec().getReplicas());
    assertTrue(pods().stream().allMatch(TestApiRolloutsTest::ready));
  }

  @Test
  void aTestCanMakeAPodCrashLoop() {
    server.rollouts(ns, TestApiRollouts.Readiness.ready());
    client.resource(deployment(ns, "nginx:1", 1)).create();
    assertTrue(ready(pods().get(0)));
    server.rollouts(ns, TestApiRollouts.Readiness.crashLoopingWhen(t -> true, 7));
    Pod p = pods().get(0);
    assertTrue(!ready(p), p.toString());
    var cs = p.getStatus().getContainerStatuses().get(0);
    assertEquals(7, cs.getRestartCount());
    assertEquals("CrashLoopBackOff", cs.getState().getWaiting().getReason());
    assertEquals(0, client.apps().deployments().inNamespace(ns).withName("web").get().getStatus().getReadyReplicas());
  }

  @Test
  void deletingTheDeploymentDeletesItsReplicaSetsAndPods() {
    server.rollouts(ns, TestApiRollouts.Readiness.ready());
    client.resource(deployment(ns, "nginx:1", 2)).create();
    client.apps().deployments().inNamespace(ns).withName("web").scale(3);
    assertEquals(3, pods().size());
    assertEquals(1, replicaSets().size());
    client.apps().deployments().inNamespace(ns).withName("web").delete();
    assertEquals(List.of(), replicaSets());
    assertEquals(List.of(), pods());
  }

  @Test
  void noRolloutsWithoutOptInNorForADryRun() {
    client.resource(deployment(ns, "nginx:1", 1)).create();
    assertEquals(List.of(), replicaSets());
    String other = "rollout-dry-" + UUID.randomUUID().toString().substring(0, 8);
    server.rollouts(other, TestApiRollouts.Readiness.ready());
    try {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(other).endMetadata().build()).create();
      client.resource(deployment(other, "nginx:1", 1)).dryRun().create();
      assertEquals(List.of(), client.apps().replicaSets().inNamespace(other).list().getItems());
      Map<String, String> hashes = new HashMap<>();
      client.resource(deployment(other, "nginx:1", 1)).create();
      client.apps().replicaSets().inNamespace(other).list().getItems()
          .forEach(r -> hashes.put(r.getMetadata().getName(), r.getMetadata().getLabels().get("pod-template-hash")));
      assertEquals(1, hashes.size());
      assertNotEquals("", hashes.values().iterator().next());
    } finally {
      server.stopRollouts(other);
      client.namespaces().withName(other).delete();
    }
  }
}
