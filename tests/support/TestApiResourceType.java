import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A served resource type, built in or from a stored CustomResourceDefinition; the paths (".spec.replicas") say where
 * the scale subresource reads and writes, or are null.
 */
record TestApiResourceType(String group, String version, String plural, String kind, boolean namespaced,
    List<String> shortNames, List<String> subresources, List<String> categories, List<String> verbs, boolean builtin,
    String specReplicasPath, String statusReplicasPath, String labelSelectorPath) {
  String groupVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  /** How the real server names the resource in messages: plural, or plural.group. */
  String qualified() {
    return group.isEmpty() ? plural : plural + "." + group;
  }

  static final List<String> ALL_VERBS = List.of("create", "delete", "deletecollection", "get", "list", "patch",
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
  static final List<TestApiResourceType> BUILTINS = parseBuiltins();

  private static List<TestApiResourceType> parseBuiltins() {
    List<TestApiResourceType> out = new ArrayList<>();
    for (String line : BUILTIN_TYPES) {
      String[] f = line.split(" ");
      String gv = f[0];
      int slash = gv.indexOf('/');
      String group = slash < 0 ? "" : gv.substring(0, slash);
      String version = slash < 0 ? gv : gv.substring(slash + 1);
      List<String> verbs = f[2].equals("SelfSubjectAccessReview") ? List.of("create") : ALL_VERBS;
      boolean scale = list(f[5]).contains("scale");
      out.add(new TestApiResourceType(group, version, f[1], f[2], f[3].equals("N"), list(f[4]), list(f[5]), list(f[6]), verbs,
          true, scale ? ".spec.replicas" : null, scale ? ".status.replicas" : null, null));
    }
    return List.copyOf(out);
  }

  private static List<String> list(String csv) {
    return csv.equals("-") ? List.of() : List.of(csv.split(","));
  }

  /** The types one stored CustomResourceDefinition serves (a version each). */
  static List<TestApiResourceType> fromCrd(JsonNode crd) {
    List<TestApiResourceType> out = new ArrayList<>();
    JsonNode spec = crd.path("spec");
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
      out.add(new TestApiResourceType(spec.path("group").asText(), v.path("name").asText(), names.path("plural").asText(),
          names.path("kind").asText(), spec.path("scope").asText().equals("Namespaced"), shortNames, subs,
          categories, ALL_VERBS, false, scale.path("specReplicasPath").asText(null),
          scale.path("statusReplicasPath").asText(null), scale.path("labelSelectorPath").asText(null)));
    }
    return out;
  }

  /** What the CloudNativePG operator installs (trimmed: no schema, which the mock would not check anyway). */
  static final String CNPG_CLUSTER_CRD = """
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
