import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What CloudNativePG writes for a Cluster, shared by the operator stand-in ({@link CnpgOperatorStandIn}) and the
 * health fixtures ({@link HealthPlatform}): the Cluster's status and its instance pods.
 */
final class CnpgStatus {

    /**
     * What the operator reports for a healthy cluster of {@code instances}: primary {@code <cluster>-1}, server and CA
     * certificates good until {@code certificateExpiry} (written as Go's time.Time.String(), as CloudNativePG does).
     */
    static Map<String, Object> healthy(String cluster, int instances, Instant certificateExpiry) {
        return status(cluster, "Cluster in healthy state", instances, instances, certificateExpiry);
    }

    /**
     * The fields gfw reads, as internal/controller/cluster_status.go sets them: the certificate Secrets' names
     * (updateResourceStatus: serverCASecret, serverTLSSecret, clientCASecret, replicationTLSSecret) and their expiry
     * (refreshCertsExpirations: one entry per Secret; the server and client CA are the same {@code <cluster>-ca}), the
     * services (writeService {@code -rw}, readService {@code -r}), the primary and the Ready condition.
     */
    static Map<String, Object> status(String cluster, String phase, int instances, int readyInstances, Instant certificateExpiry) {
        var status = new LinkedHashMap<String, Object>();
        status.put("phase", phase);
        status.put("instances", instances);
        status.put("readyInstances", readyInstances);
        status.put("currentPrimary", cluster + "-1");
        status.put("targetPrimary", cluster + "-1");
        status.put("writeService", cluster + "-rw");
        status.put("readService", cluster + "-r");
        String expiry = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z 'UTC'").withZone(ZoneOffset.UTC).format(certificateExpiry);
        var certificates = new LinkedHashMap<String, Object>();
        certificates.put("serverCASecret", cluster + "-ca");
        certificates.put("serverTLSSecret", cluster + "-server");
        certificates.put("clientCASecret", cluster + "-ca");
        certificates.put("replicationTLSSecret", cluster + "-replication");
        certificates.put("expirations", Map.of(cluster + "-server", expiry, cluster + "-ca", expiry, cluster + "-replication", expiry));
        status.put("certificates", certificates);
        // The CRD (metav1.Condition) requires lastTransitionTime and message: the real API server refuses a status without them.
        boolean ready = readyInstances == instances;
        status.put("conditions", List.of(Map.of("type", "Ready", "status", ready ? "True" : "False", "reason", ready ? "ClusterIsReady" : "ClusterIsNotReady",
                "message", ready ? "Cluster is Ready" : "Cluster Is Not Ready", "lastTransitionTime", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString())));
        return status;
    }

    /** A status condition as metav1.Condition requires it (the CRD refuses one without reason, message and lastTransitionTime). */
    static Map<String, Object> condition(String type, String status, String reason, String message) {
        var c = new LinkedHashMap<String, Object>();
        c.put("type", type);
        c.put("status", status);
        c.put("reason", reason);
        c.put("message", message);
        c.put("lastTransitionTime", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        return c;
    }

    /** Instance pod {@code <cluster>-<n>} as CNPG creates and labels it; ready, no restarts. */
    static Pod instancePod(String ns, String cluster, int n) {
        String role = n == 1 ? "primary" : "replica";
        return new PodBuilder().withNewMetadata().withName(cluster + "-" + n).withNamespace(ns)
                .addToLabels("cnpg.io/cluster", cluster).addToLabels("cnpg.io/instanceName", cluster + "-" + n)
                .addToLabels("cnpg.io/instanceRole", role).addToLabels("role", role).addToLabels("cnpg.io/podRole", "instance").endMetadata()
                .withNewSpec().addNewContainer().withName("postgres").withImage("ghcr.io/cloudnative-pg/postgresql:17").endContainer().endSpec()
                .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition()
                .addNewContainerStatus().withName("postgres").withReady(true).withRestartCount(0).endContainerStatus().endStatus()
                .build();
    }

    private CnpgStatus() {}
}
