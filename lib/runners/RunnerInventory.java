// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../kube/HelmRecords.java
//SOURCES ../kube/HelmReleases.java

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What deploy-runners reads of a runner namespace, each kind once: one LIST of its Secrets (the runners' token Secrets
 * and Helm's release records, Secrets {@code sh.helm.release.v1.NAME.vN} labelled owner=helm, which
 * {@link HelmRecords} decodes), one of its HPAs and one of its PDBs — instead of a GET per object and two Helm calls per
 * release (each of which asks GET /version and lists the release's records again). A whole namespace is listed, so an
 * object not in the list is known absent. {@code up} reads it in its plan and hands the same inventory to its step;
 * what the step writes (a token Secret) is put back, so that later reads in the same run see it.
 */
final class RunnerInventory {

    final String namespace;
    private final Map<String, Secret> secrets = new ConcurrentHashMap<>();
    private final Map<String, HorizontalPodAutoscaler> hpas = new ConcurrentHashMap<>();
    private final Map<String, PodDisruptionBudget> pdbs = new ConcurrentHashMap<>();
    /** Decoded release records, by release name (decoding gunzips the chart: done once). */
    private final Map<String, HelmReleases.Deployed> releases = new ConcurrentHashMap<>();

    private RunnerInventory(String namespace) {
        this.namespace = namespace;
    }

    /** Three LISTs: the namespace's Secrets, HPAs (autoscaling/v2) and PDBs (policy/v1). */
    static RunnerInventory read(KubernetesClient client, String namespace) {
        var inv = new RunnerInventory(namespace);
        for (Secret s : client.secrets().inNamespace(namespace).list().getItems()) inv.secrets.put(s.getMetadata().getName(), s);
        for (HorizontalPodAutoscaler h : client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(namespace).list().getItems()) {
            inv.hpas.put(h.getMetadata().getName(), h);
        }
        for (PodDisruptionBudget p : client.policy().v1().podDisruptionBudget().inNamespace(namespace).list().getItems()) {
            inv.pdbs.put(p.getMetadata().getName(), p);
        }
        return inv;
    }

    /** The Secret {@code name} of the namespace, or null when it does not exist. */
    Secret secret(String name) {
        return secrets.get(name);
    }

    /** The live HPA, PDB or Secret named like {@code desired} (null: absent); other kinds are not kept. */
    HasMetadata live(HasMetadata desired) {
        String name = desired.getMetadata().getName();
        return switch (desired.getKind()) {
            case "HorizontalPodAutoscaler" -> hpas.get(name);
            case "PodDisruptionBudget" -> pdbs.get(name);
            case "Secret" -> secrets.get(name);
            default -> throw new IllegalArgumentException("the runner inventory keeps no " + desired.getKind());
        };
    }

    /** What this run wrote, so that later reads of the inventory see it. */
    void wrote(HasMetadata applied) {
        if (applied instanceof Secret s) secrets.put(s.getMetadata().getName(), s);
        else if (applied instanceof HorizontalPodAutoscaler h) hpas.put(h.getMetadata().getName(), h);
        else if (applied instanceof PodDisruptionBudget p) pdbs.put(p.getMetadata().getName(), p);
    }

    /**
     * The release as {@code helm list --all} and {@code helm get values} report it, or null when it is not installed: its
     * newest record (Helm's {@code filterLatestReleases} and {@code storage.Last} both take the highest revision), with
     * that record's chart, {@code info.status} and user-supplied values ({@code config}).
     */
    HelmReleases.Deployed release(String name) {
        HelmReleases.Deployed known = releases.get(name);
        if (known != null) return known;
        Secret newest = null;
        int revision = -1;
        for (Secret s : secrets.values()) {
            Map<String, String> l = s.getMetadata().getLabels();
            if (l == null || !"helm".equals(l.get("owner")) || !name.equals(l.get("name"))) continue;
            int v = revision(l.get("version"));
            if (v > revision) {
                revision = v;
                newest = s;
            }
        }
        if (newest == null) return null;
        JsonNode record = HelmRecords.decode(newest, namespace);
        var d = new HelmReleases.Deployed(name, namespace, record.path("version").asInt(revision), HelmRecords.chart(record),
                record.path("info").path("status").asText(null), new LinkedHashMap<>(HelmRecords.values(record)));
        releases.put(name, d);
        return d;
    }

    private static int revision(String label) {
        try {
            return label == null ? 0 : Integer.parseInt(label);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
