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
     * The PostgreSQL image CloudNativePG 1.30.0 runs when the Cluster names none (pkg/versions/versions.go
     * DefaultImageName; the real operator wrote it to status.image for gfw's Cluster), and its major version.
     */
    static final String DEFAULT_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie";
    static final String DEFAULT_MAJOR = "18";

    /**
     * The labels CloudNativePG 1.30.0 puts on a cluster's Services, instance pods, Jobs and PodDisruptionBudgets
     * (pkg/specs/services.go CreateClusterReadWriteService, pkg/specs/pods.go, pkg/specs/jobs.go): app.kubernetes.io/name
     * is "postgresql" (utils.AppName), version the PostgreSQL major of the image.
     */
    static Map<String, String> instanceLabels(String cluster) {
        var labels = new LinkedHashMap<String, String>();
        labels.put("cnpg.io/cluster", cluster);
        labels.put("app.kubernetes.io/name", "postgresql");
        labels.put("app.kubernetes.io/instance", cluster);
        labels.put("app.kubernetes.io/version", DEFAULT_MAJOR);
        labels.put("app.kubernetes.io/component", "database");
        labels.put("app.kubernetes.io/managed-by", "cloudnative-pg");
        return labels;
    }

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
        // updateResourceStatus also writes these (seen on the real operator 1.30.0): the image, the scale selector, the instance names.
        status.put("image", DEFAULT_IMAGE);
        status.put("selector", "cnpg.io/cluster=" + cluster + ",cnpg.io/podRole=instance");
        var names = new java.util.ArrayList<String>();
        for (int n = 1; n <= instances; n++) names.add(cluster + "-" + n);
        status.put("instanceNames", names);
        String expiry = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z 'UTC'").withZone(ZoneOffset.UTC).format(certificateExpiry);
        var certificates = new LinkedHashMap<String, Object>();
        certificates.put("serverCASecret", cluster + "-ca");
        certificates.put("serverTLSSecret", cluster + "-server");
        certificates.put("clientCASecret", cluster + "-ca");
        certificates.put("replicationTLSSecret", cluster + "-replication");
        certificates.put("expirations", Map.of(cluster + "-server", expiry, cluster + "-ca", expiry, cluster + "-replication", expiry));
        status.put("certificates", certificates);
        // Ready follows the phase, not the instance count (pkg/resources/status/transactions.go SetClusterReadyCondition: True only
        // in "Cluster in healthy state"); Initialized is True once there are instances (cluster_status.go updateResourceStatus).
        boolean ready = "Cluster in healthy state".equals(phase);
        status.put("conditions", List.of(
                ready ? condition("Ready", "True", "ClusterIsReady", "Cluster is Ready") : condition("Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready"),
                instances > 0 ? condition("Initialized", "True", "BootstrapCompleted", "Cluster has been bootstrapped")
                        : condition("Initialized", "False", "BootstrapPending", "Cluster has not been bootstrapped yet")));
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

    /**
     * Instance pod {@code <cluster>-<n>} as CNPG creates and labels it (pkg/specs/pods.go: {@link #instanceLabels}, cnpg.io/instanceName,
     * cnpg.io/podRole; container postgres with ports 5432, 9187 metrics and 8000 status), with the role labels
     * (role, cnpg.io/instanceRole) the operator adds only after the instance manager reported it primary or replica over
     * HTTP (pkg/utils/labels_annotations.go SetInstanceRole); ready, no restarts.
     */
    static Pod instancePod(String ns, String cluster, int n) {
        String role = n == 1 ? "primary" : "replica";
        return new PodBuilder().withNewMetadata().withName(cluster + "-" + n).withNamespace(ns)
                .addToLabels(instanceLabels(cluster)).addToLabels("cnpg.io/instanceName", cluster + "-" + n)
                .addToLabels("cnpg.io/instanceRole", role).addToLabels("role", role).addToLabels("cnpg.io/podRole", "instance").endMetadata()
                .withNewSpec().addNewContainer().withName("postgres").withImage(DEFAULT_IMAGE)
                .addNewPort().withName("postgresql").withContainerPort(5432).withProtocol("TCP").endPort()
                .addNewPort().withName("metrics").withContainerPort(9187).withProtocol("TCP").endPort()
                .addNewPort().withName("status").withContainerPort(8000).withProtocol("TCP").endPort().endContainer().endSpec()
                .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition()
                .addNewContainerStatus().withName("postgres").withReady(true).withRestartCount(0).endContainerStatus().endStatus()
                .build();
    }

    private CnpgStatus() {}
}
