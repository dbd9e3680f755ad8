// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.4.0
//SOURCES EnvConfig.java
//SOURCES CacheConfig.java
//SOURCES AtticTokens.java
//SOURCES Manifests.java

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kubernetes objects of the Attic cache and its CloudNativePG database, as deploy-cache applies them
 * (upstream's tofu/stacks/attic, minus its flaw: no secret in a ConfigMap or on a command line). Pure
 * functions of the environment and the secret values passed in; nothing here talks to a cluster.
 */
final class CacheObjects {

    static final String PG_CREDENTIALS = "attic-pg-app-credentials";
    static final String CONFIG_MAP = "attic-config";
    static final String DEPLOYMENT = "attic";
    static final String GC_DEPLOYMENT = "attic-gc";
    static final String STORAGE_PVC = "attic-storage";
    static final String CHECKSUM_ANNOTATION = Manifests.CHECKSUM_ANNOTATION;
    static final String DATABASE_URL = "DATABASE_URL";
    static final String CNPG_API = "postgresql.cnpg.io/v1";
    static final String HEALTHY = "Cluster in healthy state";
    static final String STORAGE_PATH = "/var/lib/attic/storage";

    /** The secret values the objects refer to; any may be null when not known (a client dry run). */
    record Secrets(String databaseUrl, String signingKey, String s3AccessKeyId, String s3SecretAccessKey) {}

    static Map<String, String> labels(EnvConfig.Env env, String component) {
        return Manifests.labels(env, "attic", component, "deploy-cache");
    }

    /** What a Deployment's pods are selected by: stable, never changed by a config change. */
    static Map<String, String> selector(String component) {
        return Manifests.selector("attic", component);
    }

    private static ObjectMeta meta(EnvConfig.Env env, String ns, String name, String component) {
        return new ObjectMetaBuilder().withName(name).withNamespace(ns).withLabels(labels(env, component)).build();
    }

    // ---- the database ----------------------------------------------------------------------

    /** CNPG's bootstrap secret: basic-auth with the owner and a password gfw generated. */
    static Secret pgCredentials(EnvConfig.Env env, String ns, String password) {
        return new SecretBuilder().withMetadata(meta(env, ns, PG_CREDENTIALS, "database")).withType("kubernetes.io/basic-auth")
                .addToStringData("username", env.cnpg().owner()).addToStringData("password", password).build();
    }

    static GenericKubernetesResource cluster(EnvConfig.Env env, String ns) {
        CacheConfig.Database db = env.cache().database();
        var postgresql = new LinkedHashMap<String, Object>();
        postgresql.put("parameters", new TreeMap<>(db.parameters()));
        postgresql.put("pg_hba", List.of("hostssl all all all scram-sha-256"));
        var initdb = new LinkedHashMap<String, Object>();
        initdb.put("database", env.cnpg().database());
        initdb.put("owner", env.cnpg().owner());
        initdb.put("secret", Map.of("name", PG_CREDENTIALS));
        initdb.put("encoding", "UTF8");
        var storage = new LinkedHashMap<String, Object>();
        storage.put("size", env.cnpg().storage());
        if (db.storageClass() != null) storage.put("storageClass", db.storageClass());
        var spec = new LinkedHashMap<String, Object>();
        spec.put("instances", env.cnpg().instances());
        spec.put("postgresql", postgresql);
        spec.put("bootstrap", Map.of("initdb", initdb));
        spec.put("storage", storage);
        if (!db.resources().requests().isEmpty() || !db.resources().limits().isEmpty()) {
            var r = new LinkedHashMap<String, Object>();
            if (!db.resources().requests().isEmpty()) r.put("requests", db.resources().requests());
            if (!db.resources().limits().isEmpty()) r.put("limits", db.resources().limits());
            spec.put("resources", r);
        }
        CacheConfig.Backup b = db.backup();
        if (b != null) {
            var store = new LinkedHashMap<String, Object>();
            store.put("destinationPath", b.destinationPath());
            if (b.endpointUrl() != null && !b.endpointUrl().isEmpty()) store.put("endpointURL", b.endpointUrl());
            var credentials = new LinkedHashMap<String, Object>();
            credentials.put("accessKeyId", secretKey(b.credentialsSecret(), "ACCESS_KEY_ID"));
            credentials.put("secretAccessKey", secretKey(b.credentialsSecret(), "ACCESS_SECRET_KEY"));
            store.put("s3Credentials", credentials);
            var backup = new LinkedHashMap<String, Object>();
            backup.put("barmanObjectStore", store);
            backup.put("retentionPolicy", b.retentionPolicy());
            spec.put("backup", backup);
        }
        return new GenericKubernetesResourceBuilder().withApiVersion(CNPG_API).withKind("Cluster")
                .withMetadata(meta(env, ns, env.cnpg().cluster(), "database")).addToAdditionalProperties("spec", spec).build();
    }

    /** A secretKeyRef-shaped map, in a fixed order (Map.of's order changes from one JVM to the next). */
    private static Map<String, Object> secretKey(String name, String key) {
        var m = new LinkedHashMap<String, Object>();
        m.put("name", name);
        m.put("key", key);
        return m;
    }

    /** With backups configured: CNPG's ScheduledBackup of the cluster. */
    static GenericKubernetesResource scheduledBackup(EnvConfig.Env env, String ns) {
        CacheConfig.Backup b = env.cache().database().backup();
        var spec = new LinkedHashMap<String, Object>();
        spec.put("schedule", b.schedule());
        spec.put("backupOwnerReference", "self");
        spec.put("cluster", Map.of("name", env.cnpg().cluster()));
        return new GenericKubernetesResourceBuilder().withApiVersion(CNPG_API).withKind("ScheduledBackup")
                .withMetadata(meta(env, ns, env.cnpg().cluster() + "-daily", "database")).addToAdditionalProperties("spec", spec).build();
    }

    // ---- Attic's secrets and configuration -------------------------------------------------

    static Secret signingSecret(EnvConfig.Env env, String ns, String keyBase64) {
        return new SecretBuilder().withMetadata(meta(env, ns, AtticTokens.SIGNING_SECRET, "server")).withType("Opaque")
                .addToStringData(AtticTokens.SIGNING_KEY, keyBase64).build();
    }

    /**
     * DATABASE_URL only, and exactly as {@code cnpg-connstr --write-secret} writes it (name, namespace,
     * base64 data; no labels, no type): both apply it with field manager gfw, and with any other shape
     * each would remove the other's fields. The S3 credentials are not copied here: the pods read them
     * from {@code cache.storage.credentialsSecret} itself.
     */
    static Secret atticSecrets(EnvConfig.Env env, String ns, Secrets s) {
        return new SecretBuilder().withNewMetadata().withName(env.attic().secret()).withNamespace(ns).endMetadata()
                .addToData(DATABASE_URL, java.util.Base64.getEncoder().encodeToString(String.valueOf(s.databaseUrl()).getBytes(StandardCharsets.UTF_8)))
                .build();
    }

    /**
     * atticd's server.toml without a secret: the database URL and the JWT key come from
     * ATTIC_SERVER_DATABASE_URL and ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64 (server/src/config.rs).
     */
    static String serverToml(EnvConfig.Env env) {
        CacheConfig.Cache c = env.cache();
        var t = new StringBuilder();
        t.append("# Written by gfw deploy-cache. No secrets here: atticd reads the database URL from\n")
                .append("# ATTIC_SERVER_DATABASE_URL (Secret ").append(env.attic().secret()).append(") and the token key from\n")
                .append("# ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64 (Secret ").append(AtticTokens.SIGNING_SECRET).append(").\n");
        t.append("listen = \"[::]:").append(env.attic().targetPort()).append("\"\n");
        t.append("api-endpoint = \"").append(apiEndpoint(env)).append("\"\n\n");
        t.append("[database]\n\n");
        t.append("[storage]\n");
        if (c.storage().s3()) {
            t.append("type = \"s3\"\n").append("region = ").append(toml(c.storage().region())).append("\n")
                    .append("bucket = ").append(toml(c.storage().bucket())).append("\n")
                    .append("endpoint = ").append(toml(c.storage().endpoint())).append("\n");
        } else {
            t.append("type = \"local\"\n").append("path = \"").append(STORAGE_PATH).append("\"\n");
        }
        t.append("\n[chunking]\n")
                .append("nar-size-threshold = ").append(c.chunking().narSizeThreshold()).append("\n")
                .append("min-size = ").append(c.chunking().minSize()).append("\n")
                .append("avg-size = ").append(c.chunking().avgSize()).append("\n")
                .append("max-size = ").append(c.chunking().maxSize()).append("\n");
        t.append("\n[compression]\n").append("type = ").append(toml(c.compression().type())).append("\n");
        if (c.compression().level() != null) t.append("level = ").append(c.compression().level()).append("\n");
        t.append("\n[garbage-collection]\n").append("interval = ").append(toml(c.garbageCollection().interval())).append("\n")
                .append("default-retention-period = ").append(toml(c.garbageCollection().defaultRetentionPeriod())).append("\n");
        t.append("\n[jwt]\n");
        return t.toString();
    }

    /** Where clients reach the API: the ingress host if there is one, else the in-cluster Service. */
    static String apiEndpoint(EnvConfig.Env env) {
        CacheConfig.Ingress i = env.cache().ingress();
        if (i.host() != null) return (i.tlsSecret() != null ? "https://" : "http://") + i.host() + "/";
        return env.atticServerUrl() + "/";
    }

    private static String toml(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static ConfigMap configMap(EnvConfig.Env env, String ns) {
        return new ConfigMapBuilder().withMetadata(meta(env, ns, CONFIG_MAP, "server")).addToData("server.toml", serverToml(env)).build();
    }

    /** sha256 of the configuration and every secret value the pods read: any change rolls them. */
    static String checksum(String serverToml, Secrets s) {
        return Manifests.checksum(serverToml, s.databaseUrl(), s.signingKey(), s.s3AccessKeyId(), s.s3SecretAccessKey());
    }

    // ---- the workloads ---------------------------------------------------------------------

    private static List<EnvVar> secretEnv(EnvConfig.Env env) {
        var out = new ArrayList<EnvVar>();
        out.add(fromSecret("ATTIC_SERVER_DATABASE_URL", env.attic().secret(), DATABASE_URL));
        out.add(fromSecret("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64", AtticTokens.SIGNING_SECRET, AtticTokens.SIGNING_KEY));
        if (env.cache().storage().s3()) {
            String credentials = env.cache().storage().credentialsSecret();
            out.add(fromSecret("AWS_ACCESS_KEY_ID", credentials, "AWS_ACCESS_KEY_ID"));
            out.add(fromSecret("AWS_SECRET_ACCESS_KEY", credentials, "AWS_SECRET_ACCESS_KEY"));
        }
        return out;
    }

    private static EnvVar fromSecret(String name, String secret, String key) {
        return new EnvVarBuilder().withName(name).withNewValueFrom().withNewSecretKeyRef().withName(secret).withKey(key)
                .endSecretKeyRef().endValueFrom().build();
    }

    private static ResourceRequirements resources(EnvConfig.Resources r) {
        var b = new ResourceRequirementsBuilder();
        r.requests().forEach((k, v) -> b.addToRequests(k, new Quantity(v)));
        r.limits().forEach((k, v) -> b.addToLimits(k, new Quantity(v)));
        return b.build();
    }

    private static PodSpec podSpec(EnvConfig.Env env, String mode, boolean probes) {
        CacheConfig.Cache c = env.cache();
        int port = env.attic().targetPort();
        var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName(mode.equals("monolithic") ? "attic" : "attic-gc")
                .withImage(c.image()).withArgs("--config", "/etc/attic/server.toml", "--mode", mode)
                .withEnv(secretEnv(env)).withResources(resources(c.resources()))
                .withNewSecurityContext().withAllowPrivilegeEscalation(false).withRunAsNonRoot(true)
                .withNewCapabilities().withDrop("ALL").endCapabilities().endSecurityContext()
                .addNewVolumeMount().withName("config").withMountPath("/etc/attic").withReadOnly(true).endVolumeMount();
        if (probes) {
            container.addNewPort().withName("http").withContainerPort(port).withProtocol("TCP").endPort()
                    .withNewReadinessProbe().withNewHttpGet().withPath("/nix-cache-info").withPort(new IntOrString("http")).endHttpGet()
                    .withPeriodSeconds(10).endReadinessProbe()
                    .withNewLivenessProbe().withNewHttpGet().withPath("/nix-cache-info").withPort(new IntOrString("http")).endHttpGet()
                    .withInitialDelaySeconds(15).withPeriodSeconds(20).endLivenessProbe();
        }
        if (!c.storage().s3()) container.addNewVolumeMount().withName("storage").withMountPath(STORAGE_PATH).endVolumeMount();
        var spec = new PodSpecBuilder().withContainers(container.build())
                .withNewSecurityContext().withRunAsNonRoot(true).withRunAsUser(1000L).withRunAsGroup(1000L).withFsGroup(1000L)
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().endSecurityContext()
                .addNewVolume().withName("config").withNewConfigMap().withName(CONFIG_MAP).endConfigMap().endVolume();
        if (env.namespaces().attic().serviceAccounts().contains("attic")) spec.withServiceAccountName("attic");
        if (!c.storage().s3()) spec.addNewVolume().withName("storage").withNewPersistentVolumeClaim().withClaimName(STORAGE_PVC).endPersistentVolumeClaim().endVolume();
        return spec.build();
    }

    /** Deployment attic: no replicas field, the HPA owns it. */
    static Deployment server(EnvConfig.Env env, String ns, String checksum) {
        var labels = labels(env, "server");
        return new DeploymentBuilder().withMetadata(meta(env, ns, DEPLOYMENT, "server"))
                .withNewSpec().withNewSelector().withMatchLabels(selector("server")).endSelector()
                .withNewStrategy().withType("RollingUpdate").withNewRollingUpdate().withMaxUnavailable(new IntOrString(0))
                .withMaxSurge(new IntOrString(1)).endRollingUpdate().endStrategy()
                .withNewTemplate().withNewMetadata().withLabels(labels).addToAnnotations(CHECKSUM_ANNOTATION, checksum).endMetadata()
                .withSpec(podSpec(env, "monolithic", true)).endTemplate().endSpec().build();
    }

    /** Deployment attic-gc: one garbage collector. */
    static Deployment garbageCollector(EnvConfig.Env env, String ns, String checksum) {
        return new DeploymentBuilder().withMetadata(meta(env, ns, GC_DEPLOYMENT, "garbage-collector"))
                .withNewSpec().withReplicas(1).withNewSelector().withMatchLabels(selector("garbage-collector")).endSelector()
                .withNewStrategy().withType("Recreate").endStrategy()
                .withNewTemplate().withNewMetadata().withLabels(labels(env, "garbage-collector")).addToAnnotations(CHECKSUM_ANNOTATION, checksum).endMetadata()
                .withSpec(podSpec(env, "garbage-collector", false)).endTemplate().endSpec().build();
    }

    static Service service(EnvConfig.Env env, String ns) {
        return new ServiceBuilder().withMetadata(meta(env, ns, env.attic().service(), "server"))
                .withNewSpec().withType("ClusterIP").withSelector(selector("server"))
                .addNewPort().withName("http").withProtocol("TCP").withPort(env.attic().port())
                .withTargetPort(new IntOrString(env.attic().targetPort())).endPort().endSpec().build();
    }

    static HorizontalPodAutoscaler hpa(EnvConfig.Env env, String ns) {
        EnvConfig.Autoscaling a = env.cache().autoscaling();
        return new HorizontalPodAutoscalerBuilder().withMetadata(meta(env, ns, DEPLOYMENT, "server"))
                .withNewSpec().withNewScaleTargetRef().withApiVersion("apps/v1").withKind("Deployment").withName(DEPLOYMENT).endScaleTargetRef()
                .withMinReplicas(a.minReplicas()).withMaxReplicas(a.maxReplicas())
                .addNewMetric().withType("Resource").withNewResource().withName("cpu").withNewTarget().withType("Utilization")
                .withAverageUtilization(a.cpuPercent()).endTarget().endResource().endMetric()
                .addNewMetric().withType("Resource").withNewResource().withName("memory").withNewTarget().withType("Utilization")
                .withAverageUtilization(a.memoryPercent()).endTarget().endResource().endMetric()
                .endSpec().build();
    }

    /**
     * cache.disruptionBudget (default maxUnavailable 1): a drain may always evict one Attic pod, also while the
     * autoscaler sits at one replica (minAvailable 1 would then refuse every eviction; EnvConfig refuses such a budget).
     */
    static PodDisruptionBudget pdb(EnvConfig.Env env, String ns) {
        CacheConfig.DisruptionBudget b = env.cache().disruptionBudget();
        var spec = new PodDisruptionBudgetBuilder().withMetadata(meta(env, ns, DEPLOYMENT, "server")).withNewSpec();
        if (b.minAvailable() != null) spec.withMinAvailable(new IntOrString(b.minAvailable()));
        else spec.withMaxUnavailable(new IntOrString(b.maxUnavailable()));
        return spec.withNewSelector().withMatchLabels(selector("server")).endSelector().endSpec().build();
    }

    /** Local storage: one volume the server and the collector share, with the access mode and class the file names. */
    static PersistentVolumeClaim storage(EnvConfig.Env env, String ns) {
        CacheConfig.Storage s = env.cache().storage();
        var b = new PersistentVolumeClaimBuilder().withMetadata(meta(env, ns, STORAGE_PVC, "server"))
                .withNewSpec().withAccessModes(s.accessMode())
                .withNewResources().addToRequests("storage", new Quantity(s.size())).endResources();
        if (s.storageClass() != null) b.withStorageClassName(s.storageClass());
        return b.endSpec().build();
    }

    static Ingress ingress(EnvConfig.Env env, String ns) {
        CacheConfig.Ingress i = env.cache().ingress();
        var meta = meta(env, ns, DEPLOYMENT, "server");
        var annotations = new LinkedHashMap<String, String>();
        annotations.put("nginx.ingress.kubernetes.io/proxy-body-size", i.bodySize()); // large NAR uploads
        if (i.clusterIssuer() != null) annotations.put("cert-manager.io/cluster-issuer", i.clusterIssuer());
        meta.setAnnotations(annotations);
        var b = new IngressBuilder().withMetadata(meta).withNewSpec();
        if (i.className() != null) b.withIngressClassName(i.className());
        if (i.tlsSecret() != null) b.addNewTl().withHosts(i.host()).withSecretName(i.tlsSecret()).endTl();
        return b.addNewRule().withHost(i.host()).withNewHttp().addNewPath().withPath("/").withPathType("Prefix")
                .withNewBackend().withNewService().withName(env.attic().service()).withNewPort().withNumber(env.attic().port()).endPort()
                .endService().endBackend().endPath().endHttp().endRule().endSpec().build();
    }

    /** Everything after the secrets, in apply order: ConfigMap, storage, Deployments, Service, HPA, PDB, Ingress. */
    static List<HasMetadata> atticObjects(EnvConfig.Env env, String ns, Secrets s) {
        String sum = checksum(serverToml(env), s);
        var out = new ArrayList<HasMetadata>();
        out.add(configMap(env, ns));
        if (!env.cache().storage().s3()) out.add(storage(env, ns));
        out.add(server(env, ns, sum));
        out.add(service(env, ns));
        out.add(hpa(env, ns));
        out.add(pdb(env, ns));
        out.add(garbageCollector(env, ns, sum));
        if (env.cache().ingress().host() != null) out.add(ingress(env, ns));
        return out;
    }

    private CacheObjects() {}
}
