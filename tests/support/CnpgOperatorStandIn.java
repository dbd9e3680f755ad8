// What this file needs (bench/up.java sources it):
//SOURCES CnpgStatus.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What the CloudNativePG operator does, for the namespaces it is given, against the suite's control plane: when a
 * {@code Cluster} appears it makes the bootstrap owner a login role with the bootstrap secret's password in the suite's
 * real PostgreSQL ({@link TestPostgres}), writes the Secrets and Services CloudNativePG 1.30.0 writes for that spec (no
 * {@code <cluster>-app} when {@code bootstrap.initdb.secret} is set: see {@link #clusters}), creates the instance pods
 * {@code <cluster>-1..N} labelled as CNPG labels them ({@code cnpg.io/cluster}, {@code cnpg.io/instanceName},
 * {@code cnpg.io/instanceRole}, {@code cnpg.io/podRole}; the operator makes its pods itself, without a Deployment or
 * StatefulSet: pkg/specs/pods.go, internal/controller/cluster_create.go createPrimaryInstance / joinReplicaInstance) and
 * sets the Cluster's status through the status subresource ({@link CnpgStatus#healthy}: phase, ready instances,
 * currentPrimary, certificates with their expiry, condition Ready), and moves Backups along. {@link #installOperator} puts
 * the operator's own Deployment in its namespace, as its Helm chart does. What is not the operator's is left to the
 * control plane: the Deployment and ReplicaSet controllers roll Deployments out, the scheduler and kwok make pods Ready
 * (also the instance pods), the API server's apiextensions controller establishes CRDs. Polls every 100 ms on its own
 * daemon thread; {@link #close} stops it.
 */
final class CnpgOperatorStandIn implements AutoCloseable {

    static final String API = "postgresql.cnpg.io/v1";

    private final KubernetesClient kube;
    private final TestPostgres pg;
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    /** Namespaces whose Clusters are left unready (as while a volume cannot be bound). */
    final Set<String> holdUnready = ConcurrentHashMap.newKeySet();
    /** Roles created or re-passworded, "ns/cluster owner". */
    final List<String> bootstrapped = new CopyOnWriteArrayList<>();
    private final Map<String, String> passwords = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean stop;
    /** While set, it sends nothing (a benchmark counting only what the measured tool sends). */
    volatile boolean paused;
    volatile Throwable failure;

    CnpgOperatorStandIn(KubernetesClient kube, TestPostgres pg) {
        this.kube = kube;
        this.pg = pg;
        thread = new Thread(this::loop, "cnpg-operator-stand-in");
        thread.setDaemon(true);
        thread.start();
    }

    void watch(String namespace) {
        namespaces.add(namespace);
    }

    /** The label health finds the operator by, as the cloudnative-pg chart sets it. */
    static final String OPERATOR_LABEL = "app.kubernetes.io/name";
    static final String OPERATOR_DEPLOYMENT = "cnpg-cloudnative-pg";

    /** The operator as its chart installs it: namespace {@code ns} and Deployment cnpg-cloudnative-pg, kept rolled out. */
    void installOperator(String ns) {
        if (kube.namespaces().withName(ns).get() == null) {
            kube.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        }
        if (kube.apps().deployments().inNamespace(ns).withName(OPERATOR_DEPLOYMENT).get() == null) {
            Map<String, String> labels = Map.of(OPERATOR_LABEL, "cloudnative-pg", "app.kubernetes.io/instance", "cnpg");
            kube.resource(new io.fabric8.kubernetes.api.model.apps.DeploymentBuilder().withNewMetadata().withName(OPERATOR_DEPLOYMENT).withNamespace(ns)
                    .withLabels(labels).endMetadata().withNewSpec().withReplicas(1).withNewSelector().withMatchLabels(labels).endSelector()
                    .withNewTemplate().withNewMetadata().withLabels(labels).endMetadata().withNewSpec().addNewContainer().withName("manager")
                    .withImage("ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0").endContainer().endSpec().endTemplate().endSpec().build()).create();
        }
        watch(ns);
    }


    private void loop() {
        while (!stop) {
            for (String ns : paused ? Set.<String>of() : namespaces) {
                try {
                    clusters(ns);
                    backups(ns);
                } catch (RuntimeException | java.sql.SQLException e) {
                    failure = e;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * What the operator reconciles for each Cluster, as CloudNativePG 1.30.0 (chart 0.29.0, which gfw pins) does it:
     * <ul>
     * <li>the credential Secrets (internal/controller/cluster_create.go reconcilePostgresSecrets): {@code <cluster>-app}
     * only when api/v1/cluster_funcs.go ShouldInitDBCreateApplicationSecret is true, i.e. {@code bootstrap.initdb.secret}
     * is NOT set (reconcileAppUserSecret; keys and labels of pkg/specs/secrets.go CreateSecret); with it set, the bootstrap
     * Secret the user made is the owner's only credential Secret. {@code <cluster>-superuser} only with
     * {@code enableSuperuserAccess: true} (reconcileSuperuserSecret; GetEnableSuperuserAccess defaults to false);</li>
     * <li>the owner role with the password of the application Secret (GetApplicationSecretName: the initdb secret when
     * set), kept equal to it when it changes (internal/management/controller/instance_controller.go reconcileUser);</li>
     * <li>the certificate Secrets (internal/controller/cluster_pki.go setupPostgresPKI): {@code <cluster>-ca} (Opaque,
     * ca.crt and ca.key: pkg/certs/certs.go GenerateCASecret; the server and client CA share it by default),
     * {@code <cluster>-server} and {@code <cluster>-replication} (kubernetes.io/tls: GenerateCertificateSecret). Their
     * names, types and keys are the operator's; the bytes are placeholders (nothing gfw runs reads them);</li>
     * <li>the Services {@code -rw}, {@code -ro}, {@code -r} (cluster_create.go reconcilePostgresServices, selectors of
     * pkg/specs/services.go); {@code -any} only with the operator's CREATE_ANY_SERVICE, off by default
     * (internal/configuration/configuration.go);</li>
     * <li>the instance pods and the status ({@link CnpgStatus}: cluster_status.go updateResourceStatus).</li>
     * </ul>
     */
    private void clusters(String ns) throws java.sql.SQLException {
        for (GenericKubernetesResource c : kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).list().getItems()) {
            Map<String, Object> spec = map(c.getAdditionalProperties().get("spec"));
            Map<String, Object> recovery = map(map(spec.get("bootstrap")).get("recovery"));
            // The owner, database and credential Secret of the bootstrap used (cluster_funcs.go GetApplicationDatabaseOwner,
            // GetApplicationDatabaseName, GetApplicationSecretName; cluster_defaults.go: database "app", owner = database).
            Map<String, Object> initdb = recovery.isEmpty() ? map(map(spec.get("bootstrap")).get("initdb")) : recovery;
            String name = c.getMetadata().getName();
            String database = (String) initdb.getOrDefault("database", "app");
            String owner = (String) initdb.getOrDefault("owner", recovery.isEmpty() ? "app" : database);
            String initdbSecret = (String) map(initdb.get("secret")).get("name");
            // ShouldInitDBCreateApplicationSecret / ShouldRecoveryCreateApplicationSecret
            boolean createsAppSecret = initdbSecret == null || initdbSecret.isEmpty();
            if (holdUnready.contains(ns)) continue;
            if (!recovery.isEmpty() && !recovered(c, recovery)) continue;
            String key = ns + "/" + name;
            String password;
            if (createsAppSecret) {
                Secret app = kube.secrets().inNamespace(ns).withName(name + "-app").get();
                password = app != null ? decode(app, "password") : randomPassword(64);
                if (app == null) kube.resource(ownedBy(c, credentialSecret(ns, name + "-app", name + "-rw", database, owner, password, "app"))).create();
            } else {
                Secret bootstrap = kube.secrets().inNamespace(ns).withName(initdbSecret).get();
                if (bootstrap == null) continue; // the operator waits for it (the bootstrap job cannot start)
                password = decode(bootstrap, "password");
            }
            if (Boolean.TRUE.equals(spec.get("enableSuperuserAccess")) && kube.secrets().inNamespace(ns).withName(name + "-superuser").get() == null) {
                kube.resource(ownedBy(c, credentialSecret(ns, name + "-superuser", name + "-rw", "*", "postgres", randomPassword(64), "superuser"))).create();
            }
            if (!password.equals(passwords.get(key))) {
                pg.createRole(owner, password, database);
                passwords.put(key, password);
                bootstrapped.add(key + " " + owner);
            }
            certificates(c);
            services(c);
            Map<String, Object> status = map(c.getAdditionalProperties().get("status"));
            int instances = ((Number) spec.getOrDefault("instances", 1)).intValue();
            for (int n = 1; n <= instances; n++) {
                if (kube.pods().inNamespace(ns).withName(name + "-" + n).get() == null) kube.resource(CnpgStatus.instancePod(ns, name, n)).create();
            }
            if (!"Cluster in healthy state".equals(status.get("phase")) || !Integer.valueOf(instances).equals(status.get("readyInstances"))
                    || !status.containsKey("certificates")) {
                GenericKubernetesResource fresh = kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).withName(name).get();
                // CloudNativePG's certificates are good for 90 days
                fresh.getAdditionalProperties().put("status", CnpgStatus.healthy(name, instances, java.time.Instant.now().plus(java.time.Duration.ofDays(90))));
                kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).resource(fresh).updateStatus();
            }
        }
    }

    /** Clusters whose missing Backup was reported (the real operator re-reports each minute; one event is enough here). */
    private final Set<String> reportedNoBackup = ConcurrentHashMap.newKeySet();
    /** "ns/cluster" of every Cluster bootstrapped by recovery, once its full-recovery Job completed. */
    final List<String> recoveries = new CopyOnWriteArrayList<>();

    /**
     * A Cluster with {@code bootstrap.recovery}, as CloudNativePG 1.30.0 brings it up (internal/controller/cluster_create.go
     * createPrimaryInstance): true once the primary's full-recovery Job completed, so the instance pods and status follow.
     * <ul>
     * <li>resolvePrimaryRecoverySource → getOriginBackup: {@code backup.name} naming no Backup is a Warning event
     * ErrorNoBackup {@code Backup object "ns/name" is missing} on the Cluster, and checkReadyForRecovery requeues: no
     * phase, no Job, no pod, no Secret. A Backup not completed waits the same way (no event).</li>
     * <li>createOrPatchServiceAccount: the ServiceAccount {@code <cluster>} the Job's pod runs as (pkg/specs/jobs.go
     * CreatePrimaryJob: serviceAccountName = GetServiceAccountName).</li>
     * <li>buildPrimaryInstanceJob: event Normal CreatingInstance "Primary instance (from backup)", then the Job
     * {@code <cluster>-1-full-recovery} (jobs.go CreatePrimaryJobViaRecovery: {@code /controller/manager instance restore},
     * jobRole full-recovery, restartPolicy Never, the labels CreatePrimaryJob sets, owned by the Cluster), status.phase
     * "Setting up primary" with phaseReason "Creating primary instance {@code <cluster>-1}" (RegisterPhase
     * PhaseFirstPrimary). The Job really runs: the Job controller makes its pod, kwok completes it.</li>
     * </ul>
     * What the restore job does to the data (pkg/management/postgres/restore.go) is not simulated: the suite's one
     * PostgreSQL is both clusters' database, and the owner gets the recovery secret's password as after
     * ConfigureInstanceAfterRestore and reconcileUser.
     */
    private boolean recovered(GenericKubernetesResource c, Map<String, Object> recovery) {
        String ns = c.getMetadata().getNamespace();
        String name = c.getMetadata().getName();
        String backupName = (String) map(recovery.get("backup")).get("name");
        if (backupName != null) {
            GenericKubernetesResource b = kube.genericKubernetesResources(API, "Backup").inNamespace(ns).withName(backupName).get();
            if (b == null) {
                if (reportedNoBackup.add(ns + "/" + name)) event(c, "Warning", "ErrorNoBackup", "Backup object \"" + ns + "/" + backupName + "\" is missing");
                return false;
            }
            if (!"completed".equals(map(b.getAdditionalProperties().get("status")).get("phase"))) return false;
        }
        if (kube.serviceAccounts().inNamespace(ns).withName(name).get() == null) {
            kube.resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName(name).withNamespace(ns)
                    .addToLabels("cnpg.io/cluster", name).withOwnerReferences(controllerReference(c)).endMetadata().build()).create();
        }
        String jobName = name + "-1-full-recovery";
        var job = kube.batch().v1().jobs().inNamespace(ns).withName(jobName).get();
        if (job == null) {
            var labels = new java.util.LinkedHashMap<String, String>(CnpgStatus.instanceLabels(name));
            labels.put("cnpg.io/instanceName", name + "-1");
            labels.put("cnpg.io/jobRole", "full-recovery");
            event(c, "Normal", "CreatingInstance", "Primary instance (from backup)");
            kube.resource(new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder().withNewMetadata().withName(jobName).withNamespace(ns)
                    .withLabels(labels).withOwnerReferences(controllerReference(c)).endMetadata()
                    .withNewSpec().withNewTemplate().withNewMetadata().withLabels(labels).endMetadata().withNewSpec()
                    .withHostname(jobName).withServiceAccountName(name).withRestartPolicy("Never")
                    .addNewContainer().withName("full-recovery").withImage((String) spec(c).getOrDefault("imageName", CnpgStatus.DEFAULT_IMAGE))
                    .withCommand("/controller/manager", "instance", "restore").endContainer()
                    .endSpec().endTemplate().endSpec().build()).create();
            var fresh = kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).withName(name).get();
            var status = new java.util.LinkedHashMap<String, Object>(map(fresh.getAdditionalProperties().get("status")));
            status.put("phase", "Setting up primary");
            status.put("phaseReason", "Creating primary instance " + name + "-1");
            status.put("targetPrimary", name + "-1");
            fresh.getAdditionalProperties().put("status", status);
            kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).resource(fresh).updateStatus();
            return false;
        }
        boolean complete = job.getStatus() != null && job.getStatus().getConditions() != null
                && job.getStatus().getConditions().stream().anyMatch(x -> "Complete".equals(x.getType()) && "True".equals(x.getStatus()));
        if (complete && !recoveries.contains(ns + "/" + name)) recoveries.add(ns + "/" + name);
        return complete;
    }

    private static Map<String, Object> spec(GenericKubernetesResource c) {
        return map(c.getAdditionalProperties().get("spec"));
    }

    /** An event on the Cluster as the operator's recorder writes it (source component cloudnative-pg). */
    private void event(GenericKubernetesResource c, String type, String reason, String message) {
        String now = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        kube.v1().events().inNamespace(c.getMetadata().getNamespace()).resource(new io.fabric8.kubernetes.api.model.EventBuilder()
                .withNewMetadata().withGenerateName(c.getMetadata().getName() + ".").withNamespace(c.getMetadata().getNamespace()).endMetadata()
                .withNewInvolvedObject().withApiVersion(API).withKind("Cluster").withName(c.getMetadata().getName()).withNamespace(c.getMetadata().getNamespace())
                .withUid(c.getMetadata().getUid()).endInvolvedObject().withType(type).withReason(reason).withMessage(message)
                .withNewSource().withComponent("cloudnative-pg").endSource().withFirstTimestamp(now).withLastTimestamp(now).withCount(1).build()).create();
    }

    /**
     * pkg/specs/secrets.go CreateSecret: basic-auth, these keys, these labels; {@link #ownedBy} adds what
     * cluster_create.go reconcileAppUserSecret / reconcileSuperuserSecret add through api/v1/cluster_funcs.go
     * SetInheritedDataAndOwnership (the cnpg.io/cluster label and the controller reference to the Cluster).
     */
    static Secret credentialSecret(String ns, String secretName, String host, String database, String user, String password, String userType) {
        String hostPort = host + "." + ns + ":5432";
        String fqdn = host + "." + ns + ".svc.cluster.local:5432";
        // Escaped about as Go's url.URL escapes userinfo; gfw reads none of these keys, they are here because the operator writes them.
        String userInfo = java.net.URLEncoder.encode(user, StandardCharsets.UTF_8) + ":" + java.net.URLEncoder.encode(password, StandardCharsets.UTF_8).replace("+", "%20");
        return new SecretBuilder().withNewMetadata().withName(secretName).withNamespace(ns)
                .addToLabels("cnpg.io/userType", userType).addToLabels("cnpg.io/reload", "true")
                .addToLabels("app.kubernetes.io/managed-by", "cloudnative-pg").endMetadata()
                .withType("kubernetes.io/basic-auth")
                .addToStringData("username", user).addToStringData("user", user).addToStringData("password", password)
                .addToStringData("dbname", database).addToStringData("host", host).addToStringData("port", "5432")
                .addToStringData("pgpass", host + ":5432:" + database + ":" + user + ":" + password + "\n")
                .addToStringData("uri", "postgresql://" + userInfo + "@" + hostPort + "/" + database)
                .addToStringData("jdbc-uri", "jdbc:postgresql://" + hostPort + "/" + database + "?password=" + java.net.URLEncoder.encode(password, StandardCharsets.UTF_8) + "&user=" + user)
                .addToStringData("fqdn-uri", "postgresql://" + userInfo + "@" + fqdn + "/" + database)
                .addToStringData("fqdn-jdbc-uri", "jdbc:postgresql://" + fqdn + "/" + database + "?password=" + java.net.URLEncoder.encode(password, StandardCharsets.UTF_8) + "&user=" + user)
                .build();
    }

    /**
     * cluster_pki.go: the CA (Opaque, ca.crt/ca.key), the server and the streaming_replica client certificate (kubernetes.io/tls),
     * labelled only app.kubernetes.io/managed-by (pkg/certs/certs.go GenerateCASecret, GenerateCertificateSecret) and owned by
     * the Cluster (cluster_pki.go ensureCASecret / ensureLeafCertificate: utils.SetAsOwnedBy, controller, no blockOwnerDeletion;
     * seen on the real operator 1.30.0 against the test control plane).
     */
    private void certificates(GenericKubernetesResource c) {
        String ns = c.getMetadata().getNamespace();
        String cluster = c.getMetadata().getName();
        for (String[] s : new String[][] {{cluster + "-ca", "Opaque", "ca.crt", "ca.key"}, {cluster + "-server", "kubernetes.io/tls", "tls.crt", "tls.key"},
                {cluster + "-replication", "kubernetes.io/tls", "tls.crt", "tls.key"}}) {
            if (kube.secrets().inNamespace(ns).withName(s[0]).get() != null) continue;
            kube.resource(new SecretBuilder().withNewMetadata().withName(s[0]).withNamespace(ns)
                    .addToLabels("app.kubernetes.io/managed-by", "cloudnative-pg").withOwnerReferences(controllerReference(c)).endMetadata().withType(s[1])
                    .addToStringData(s[2], "placeholder certificate of the CNPG operator stand-in\n")
                    .addToStringData(s[3], "placeholder key of the CNPG operator stand-in\n").build()).create();
        }
    }

    /**
     * pkg/specs/services.go: -rw (the primary), -ro (replicas), -r (any instance), port 5432 named postgres, with the labels
     * CreateClusterReadWriteService and friends set (app.kubernetes.io/name "postgresql", instance = the cluster, version = the
     * PostgreSQL major of the image, component "database") and owned by the Cluster (cluster_create.go reconcilePostgresServices:
     * SetInheritedDataAndOwnership). The real operator also annotates them cnpg.io/lastAppliedSpec and cnpg.io/operatorVersion
     * (serviceReconciler); gfw reads neither.
     */
    private void services(GenericKubernetesResource c) {
        String ns = c.getMetadata().getNamespace();
        String cluster = c.getMetadata().getName();
        Map<String, Map<String, String>> selectors = Map.of(
                cluster + "-rw", Map.of("cnpg.io/cluster", cluster, "cnpg.io/instanceRole", "primary"),
                cluster + "-ro", Map.of("cnpg.io/cluster", cluster, "cnpg.io/instanceRole", "replica"),
                cluster + "-r", Map.of("cnpg.io/cluster", cluster, "cnpg.io/podRole", "instance"));
        for (var e : new java.util.TreeMap<>(selectors).entrySet()) {
            if (kube.services().inNamespace(ns).withName(e.getKey()).get() != null) continue;
            kube.resource(new io.fabric8.kubernetes.api.model.ServiceBuilder().withNewMetadata().withName(e.getKey()).withNamespace(ns)
                    .addToLabels(CnpgStatus.instanceLabels(cluster)).withOwnerReferences(controllerReference(c)).endMetadata()
                    .withNewSpec().withType("ClusterIP").withSelector(e.getValue()).addNewPort().withName("postgres").withProtocol("TCP")
                    .withPort(5432).withTargetPort(new io.fabric8.kubernetes.api.model.IntOrString(5432)).endPort().endSpec().build()).create();
        }
    }

    /** pkg/utils/ownership.go SetAsOwnedBy: the one controller reference CNPG puts on what it makes for a Cluster. */
    static io.fabric8.kubernetes.api.model.OwnerReference controllerReference(GenericKubernetesResource c) {
        return new io.fabric8.kubernetes.api.model.OwnerReferenceBuilder().withApiVersion(API).withKind("Cluster")
                .withName(c.getMetadata().getName()).withUid(c.getMetadata().getUid()).withController(true).build();
    }

    /** api/v1/cluster_funcs.go SetInheritedDataAndOwnership: the cnpg.io/cluster label (LabelClusterName) and the controller reference. */
    static Secret ownedBy(GenericKubernetesResource c, Secret s) {
        s.getMetadata().getLabels().put("cnpg.io/cluster", c.getMetadata().getName());
        s.getMetadata().setOwnerReferences(List.of(controllerReference(c)));
        return s;
    }

    /** pkg/specs/secrets.go uses password.Generate(64, 10, 0, false, true): 64 letters and digits. */
    private static String randomPassword(int length) {
        String letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var r = new java.security.SecureRandom();
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.append(letters.charAt(r.nextInt(letters.length())));
        return sb.toString();
    }

    /**
     * What happens to a Backup of a Cluster the operator runs, in two steps (one per poll, so a waiting client sees
     * each phase): internal/controller/backup_controller.go startInstanceManagerBackup (BackupStatus.SetAsStarted in
     * api/v1/backup_funcs.go: phase started, method, instanceID with the primary's pod, reconciliationStartedAt), then
     * the instance manager's pkg/management/postgres/webserver/plugin_backup.go (for method plugin; the in-tree
     * methods end the same way): SetAsCompleted (phase completed, reconciliationTerminatedAt) and the plugin's answer
     * (backupId, backupName, startedAt, stoppedAt, online). Backups of a Cluster that does not exist are left alone.
     */
    private void backups(String ns) {
        var backups = kube.genericKubernetesResources(API, "Backup").inNamespace(ns);
        for (GenericKubernetesResource b : backups.list().getItems()) {
            Map<String, Object> spec = map(b.getAdditionalProperties().get("spec"));
            Map<String, Object> status = map(b.getAdditionalProperties().get("status"));
            String cluster = (String) map(spec.get("cluster")).get("name");
            GenericKubernetesResource c = cluster == null ? null : kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).withName(cluster).get();
            if (c == null) continue;
            String now = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
            var next = new java.util.LinkedHashMap<String, Object>(status);
            Object phase = status.get("phase");
            if (phase == null || "pending".equals(phase)) {
                Object primary = map(c.getAdditionalProperties().get("status")).getOrDefault("currentPrimary", cluster + "-1");
                next.put("phase", "started");
                next.put("method", spec.getOrDefault("method", "barmanObjectStore"));
                next.put("instanceID", Map.of("podName", primary));
                next.put("reconciliationStartedAt", now);
            } else if ("started".equals(phase)) {
                next.put("phase", "completed");
                next.put("reconciliationTerminatedAt", now);
                next.put("backupId", java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss").withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.now()));
                next.put("backupName", b.getMetadata().getName());
                next.put("startedAt", status.getOrDefault("reconciliationStartedAt", now));
                next.put("stoppedAt", now);
                next.put("online", true);
            } else {
                continue;
            }
            b.getAdditionalProperties().put("status", next);
            backups.resource(b).updateStatus();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static String decode(Secret s, String key) {
        if (s.getData() != null && s.getData().get(key) != null) {
            return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
        }
        return s.getStringData() == null ? null : s.getStringData().get(key);
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
