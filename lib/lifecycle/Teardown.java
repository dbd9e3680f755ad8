// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../namespaces/NamespaceLayout.java
//SOURCES ../cache/CacheObjects.java
//SOURCES ../cache/CiCacheToken.java
//SOURCES ../kube/HelmReleases.java

import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code gfw down}: the reverse of {@code up}, planned from what the cluster holds, in up's order backwards — the
 * dashboard (deploy-dashboard's objects, by its labels), the runners (per type: the GitLab runner named by the id on
 * its token Secret, deleted in GitLab too; the Helm release, uninstalled; the token Secret, HPA and PDB), Attic
 * (deploy-cache's objects that hold no data). The data — the CloudNativePG cluster and its volumes, Attic's volume,
 * and the Secrets that open them (database credentials, the token signing key, the database URL) — only with
 * {@code deleteData}; the namespaces only with {@code namespaces}, and the Attic namespace (which holds the data) only
 * with both. What is already gone, or already being deleted, is not in the plan: a re-run sends nothing.
 */
final class Teardown {

    /** The parts, in the order they go. */
    static final List<String> PARTS = List.of("dashboard", "runners", "attic", "data", "namespaces");

    enum Kind { object, helm, gitlab }

    /**
     * One thing down would remove: a Kubernetes object ({@code object}), a Helm release ({@code name} the release),
     * a GitLab runner ({@code runnerId}). {@code kept} says why it stays (null: it goes).
     */
    record Item(String part, Kind kind, String what, String namespace, HasMetadata object, String release, long runnerId, String kept) {
        Map<String, Object> document(String action) {
            var m = new LinkedHashMap<String, Object>();
            m.put("part", part);
            m.put("what", what);
            if (namespace != null) m.put("namespace", namespace);
            m.put("action", action);
            return m;
        }
    }

    /** What down deletes with dashboard and Attic (the kinds deploy-dashboard and deploy-cache apply, minus the data). */
    static final List<Class<? extends HasMetadata>> DASHBOARD_KINDS = List.of(
            io.fabric8.kubernetes.api.model.networking.v1.Ingress.class, io.fabric8.kubernetes.api.model.Service.class,
            io.fabric8.kubernetes.api.model.apps.Deployment.class, io.fabric8.kubernetes.api.model.ConfigMap.class, Secret.class,
            io.fabric8.kubernetes.api.model.rbac.RoleBinding.class, io.fabric8.kubernetes.api.model.rbac.Role.class,
            io.fabric8.kubernetes.api.model.ServiceAccount.class);
    static final List<Class<? extends HasMetadata>> ATTIC_KINDS = List.of(
            io.fabric8.kubernetes.api.model.networking.v1.Ingress.class, io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler.class,
            io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class, io.fabric8.kubernetes.api.model.Service.class,
            io.fabric8.kubernetes.api.model.apps.Deployment.class, io.fabric8.kubernetes.api.model.batch.v1.Job.class,
            io.fabric8.kubernetes.api.model.ConfigMap.class);

    /** Reads the cluster (and Helm) and returns every item, kept ones included, in the order they go. No write. */
    static List<Item> plan(KubernetesClient client, HelmReleases.JvmHelm helm, EnvConfig.Env env, boolean deleteData, boolean namespaces) {
        var items = new ArrayList<Item>();
        String attic = env.namespaces().attic().name();
        String runners = env.namespaces().runners().name();
        String dashboard = env.namespaces().dashboard().name();

        // dashboard: its objects in its namespace and its Role and RoleBinding in the runner namespace
        for (String ns : List.of(dashboard, runners)) {
            for (var kind : DASHBOARD_KINDS) {
                for (HasMetadata o : labelled(client, kind, ns, env, "deploy-dashboard")) items.add(object("dashboard", o, null));
            }
        }

        // runners, type by type: GitLab first (so a failure leaves the token Secret that names it), then Helm, then gfw's objects
        for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
            if (!exists(client, r.namespace())) break;
            Secret token = client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get();
            if (token != null && !terminating(token)) {
                String id = RunnerValues.runnerIdAnnotation(token.getMetadata().getAnnotations());
                if (id != null && id.trim().matches("\\d+")) {
                    long runnerId = Long.parseLong(id.trim());
                    items.add(new Item("runners", Kind.gitlab, "gitlab runner " + runnerId + " (" + r.type() + ")", null, null, null, runnerId, null));
                }
            }
            if (helm != null && helm.get(r.namespace(), r.name()) != null) {
                items.add(new Item("runners", Kind.helm, "helm release " + r.name(), r.namespace(), null, r.name(), 0, null));
            }
            if (token != null && !terminating(token)) items.add(object("runners", token, null));
            HasMetadata hpa = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(r.namespace()).withName(r.hpaName()).get();
            if (hpa != null && !terminating(hpa)) items.add(object("runners", hpa, null));
            HasMetadata pdb = client.policy().v1().podDisruptionBudget().inNamespace(r.namespace()).withName(r.pdbName()).get();
            if (pdb != null && !terminating(pdb)) items.add(object("runners", pdb, null));
        }

        // The CI jobs' cache token: minted with the signing key, which --delete-data deletes; up and 'attic-token --ci' write it again.
        if (exists(client, runners)) {
            Secret ciToken = client.secrets().inNamespace(runners).withName(CiCacheToken.SECRET).get();
            if (ciToken != null && !terminating(ciToken)) items.add(object("runners", ciToken, null));
        }

        // Attic without its data
        for (var kind : ATTIC_KINDS) {
            for (HasMetadata o : labelled(client, kind, attic, env, "deploy-cache")) items.add(object("attic", o, null));
        }

        // the data: kept unless deleteData
        String keep = deleteData ? null : "data: kept without --delete-data";
        var data = new LinkedHashMap<String, HasMetadata>();
        if (exists(client, attic)) {
            // The backups first, then the cluster the file names (by name: it is the environment's database whoever labelled it), its object store.
            for (String[] ck : List.of(new String[] {CacheObjects.CNPG_API, "ScheduledBackup"}, new String[] {CacheObjects.CNPG_API, "Cluster"},
                    new String[] {CacheObjects.BARMAN_API, "ObjectStore"})) {
                try {
                    var kind = client.genericKubernetesResources(ck[0], ck[1]).inNamespace(attic);
                    List<? extends HasMetadata> found = ck[1].equals("Cluster")
                            ? java.util.stream.Stream.ofNullable(kind.withName(env.cnpg().cluster()).get()).toList()
                            : kind.withLabels(selector(env, "deploy-cache")).list().getItems();
                    for (HasMetadata o : found) data.put(key(o), o);
                } catch (KubernetesClientException e) {
                    if (!KubeClients.noSuchKind(e)) throw e;
                }
            }
            for (PersistentVolumeClaim p : client.persistentVolumeClaims().inNamespace(attic).withLabel("cnpg.io/cluster", env.cnpg().cluster()).list().getItems()) {
                data.put(key(p), p);
            }
            for (PersistentVolumeClaim p : labelled(client, PersistentVolumeClaim.class, attic, env, "deploy-cache")) data.put(key(p), p);
            for (Secret s : labelled(client, Secret.class, attic, env, "deploy-cache")) data.put(key(s), s);
            for (String name : List.of(env.attic().secret(), env.cnpg().appSecret())) {
                Secret s = client.secrets().inNamespace(attic).withName(name).get();
                if (s != null) data.put(key(s), s);
            }
        }
        for (HasMetadata o : data.values()) if (!terminating(o)) items.add(object("data", o, keep));

        // namespaces: kept unless namespaces; the Attic namespace holds the data, so it also needs deleteData
        for (EnvConfig.NamespaceSpec spec : env.allNamespaces()) {
            Namespace ns = client.namespaces().withName(spec.name()).get();
            if (ns == null || terminating(ns)) continue;
            String why = !namespaces ? "namespace: kept without --namespaces"
                    : spec.name().equals(attic) && !deleteData ? "namespace: holds the data, kept without --delete-data" : null;
            items.add(object("namespaces", ns, why));
        }
        return items;
    }

    private static Map<String, String> selector(EnvConfig.Env env, String owner) {
        var m = new LinkedHashMap<String, String>();
        m.put(NamespaceLayout.MANAGED_BY, "gfw");
        m.put(NamespaceLayout.ENVIRONMENT_LABEL, env.name());
        m.put(NamespaceLayout.OWNER_LABEL, owner);
        return m;
    }

    private static <T extends HasMetadata> List<T> labelled(KubernetesClient client, Class<T> kind, String ns, EnvConfig.Env env, String owner) {
        return client.resources(kind).inNamespace(ns).withLabels(selector(env, owner)).list().getItems().stream().filter(o -> !terminating(o)).toList();
    }

    private static boolean exists(KubernetesClient client, String ns) {
        return client.namespaces().withName(ns).get() != null;
    }

    static boolean terminating(HasMetadata o) {
        return o.getMetadata().getDeletionTimestamp() != null;
    }

    private static String key(HasMetadata o) {
        return o.getKind() + "/" + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
    }

    private static Item object(String part, HasMetadata o, String kept) {
        String what = o.getKind().toLowerCase(java.util.Locale.ROOT) + "/" + o.getMetadata().getName();
        return new Item(part, Kind.object, what, o.getMetadata().getNamespace(), o, null, 0, kept);
    }

    /** The plan as a table, or JSON/YAML: one row per item, what is kept with the reason. */
    static String render(List<Item> items, boolean writes, boolean serverDryRun, Output.Format format) {
        var docs = new ArrayList<Map<String, Object>>();
        for (Item i : items) docs.add(i.document(i.kept() != null ? "keep (" + i.kept().replaceFirst("^[a-z]+: ", "") + ")"
                : writes ? "delete" : serverDryRun && i.kind() == Kind.object ? "would delete (server dry run)" : "would delete"));
        return switch (format) {
            case json -> Output.json(docs) + "\n";
            case yaml -> Output.yaml(docs);
            default -> Output.table(List.of("part", "what", "namespace", "action"), docs.stream()
                    .map(m -> List.of(String.valueOf(m.get("part")), String.valueOf(m.get("what")), String.valueOf(m.getOrDefault("namespace", "-")),
                            String.valueOf(m.get("action")))).toList());
        };
    }

    /**
     * Deletes the items that go, in order: objects with background propagation (their pods and dependents go after),
     * Helm releases uninstalled, GitLab runners deleted (already gone there counts as done). The first failure stops
     * the run with what was done before it. {@code serverDryRun}: objects are sent with dryRun=All, nothing else.
     */
    static void run(KubernetesClient client, HelmReleases.JvmHelm helm, GitLabApi gitlab, List<Item> items, boolean serverDryRun, Consumer<String> said) {
        var done = new ArrayList<String>();
        for (Item i : items) {
            if (i.kept() != null) continue;
            if (serverDryRun && i.kind() != Kind.object) {
                said.accept(i.what() + ": would be deleted (not sent in a dry run)");
                continue;
            }
            try {
                switch (i.kind()) {
                    case gitlab -> {
                        try {
                            gitlab.deleteRunner(i.runnerId());
                        } catch (GfwException e) {
                            if (e.exitCode() != ExitCode.NOT_FOUND) throw e;
                            said.accept(i.what() + ": already gone in GitLab");
                        }
                    }
                    case helm -> helm.uninstall(i.namespace(), i.release());
                    case object -> {
                        var op = client.resource(i.object());
                        if (serverDryRun) op.dryRun().delete();
                        else op.withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
                    }
                }
            } catch (KubernetesClientException e) {
                throw stopped(i, KubeClients.fromKubernetes(e), done);
            } catch (GfwException e) {
                throw stopped(i, e, done);
            }
            String line = i.what() + (i.namespace() == null ? "" : " -n " + i.namespace()) + (serverDryRun ? " deleted (server dry run)" : " deleted");
            done.add(i.what());
            said.accept(line);
        }
    }

    private static GfwException stopped(Item i, GfwException why, List<String> done) {
        return new GfwException(why.exitCode(), "could not delete " + i.what() + (i.namespace() == null ? "" : " in namespace " + i.namespace())
                + ": " + why.getMessage() + "; done before it: " + (done.isEmpty() ? "nothing" : String.join(", ", done))
                + "; running down again resumes from what is left", why);
    }

    private Teardown() {}
}
