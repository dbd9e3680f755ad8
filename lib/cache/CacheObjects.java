// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../env/CacheConfig.java
//SOURCES AtticTokens.java
//SOURCES ../kube/Manifests.java

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
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
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

    static final String CONFIG_MAP = "attic-config";
    static final String DEPLOYMENT = "attic";
    static final String GC_DEPLOYMENT = "attic-gc";
    /** The migrations Job's name before its hash; its component label. */
    static final String MIGRATIONS = "attic-db-migrations";
    /** atticd's modes (server/src/main.rs ServerMode, clap's kebab-case). */
    static final String MODE_API = "api-server";
    static final String MODE_GC = "garbage-collector";
    static final String MODE_MIGRATIONS = "db-migrations";
    /** server/src/main.rs ServerMode::GarbageCollectorOnce: one collection (gc.rs run_garbage_collection_once), then exit. */
    static final String MODE_GC_ONCE = "garbage-collector-once";
    /** What the probes GET: atticd's placeholder page (server/src/api/mod.rs: the only route outside a cache; no database access). */
    static final String PROBE_PATH = "/";
    static final String STORAGE_PVC = "attic-storage";
    static final String CHECKSUM_ANNOTATION = Manifests.CHECKSUM_ANNOTATION;
    static final String DATABASE_URL = "DATABASE_URL";
    static final String CNPG_API = "postgresql.cnpg.io/v1";
    /** The Barman Cloud plugin: its API group and the name a Cluster and a Backup refer to it by. */
    static final String BARMAN_API = "barmancloud.cnpg.io/v1";
    static final String BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";
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

    /**
     * CNPG's bootstrap secret {@code cnpg.appSecret} (default {@code <cluster>-app-credentials}): basic-auth with the owner
     * and a password gfw generated. Named in the Cluster's {@code bootstrap.initdb.secret}, it is the only credential Secret
     * there is: with it set the operator writes no {@code <cluster>-app} (cloudnative-pg api/v1/cluster_funcs.go
     * ShouldInitDBCreateApplicationSecret) and keeps the owner's password equal to it.
     */
    static Secret pgCredentials(EnvConfig.Env env, String ns, String password) {
        return new SecretBuilder().withMetadata(meta(env, ns, env.cnpg().appSecret(), "database")).withType("kubernetes.io/basic-auth")
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
        initdb.put("secret", Map.of("name", env.cnpg().appSecret()));
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
        if (db.backup() != null) {
            // The Barman Cloud plugin archives WAL and takes the base backups (plugin-barman-cloud web/docs/usage.md,
            // "Configuring WAL Archiving"); spec.backup.barmanObjectStore is deprecated since CloudNativePG 1.26.
            spec.put("plugins", List.of(ordered("name", BARMAN_PLUGIN, "isWALArchiver", true,
                    "parameters", Map.of("barmanObjectName", objectStoreName(env)))));
        }
        return new GenericKubernetesResourceBuilder().withApiVersion(CNPG_API).withKind("Cluster")
                .withMetadata(meta(env, ns, env.cnpg().cluster(), "database")).addToAdditionalProperties("spec", spec).build();
    }

    /** A map that keeps its keys in the order given (Map.of's order changes from run to run). */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        var m = new LinkedHashMap<String, Object>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }

    static String objectStoreName(EnvConfig.Env env) {
        return env.cnpg().cluster() + "-backup";
    }

    /**
     * With backups configured: the plugin's ObjectStore (barmancloud.cnpg.io/v1; api/v1/objectstore_types.go at
     * plugin-barman-cloud v0.13.0): {@code configuration} is barman-cloud's BarmanObjectStoreConfiguration (S3 destination,
     * endpoint, credentials from the Secret's ACCESS_KEY_ID and ACCESS_SECRET_KEY), {@code retentionPolicy} as "30d".
     */
    static GenericKubernetesResource objectStore(EnvConfig.Env env, String ns) {
        CacheConfig.Backup b = env.cache().database().backup();
        var configuration = new LinkedHashMap<String, Object>();
        configuration.put("destinationPath", b.destinationPath());
        if (b.endpointUrl() != null && !b.endpointUrl().isEmpty()) configuration.put("endpointURL", b.endpointUrl());
        var credentials = new LinkedHashMap<String, Object>();
        credentials.put("accessKeyId", ordered("name", b.credentialsSecret(), "key", "ACCESS_KEY_ID"));
        credentials.put("secretAccessKey", ordered("name", b.credentialsSecret(), "key", "ACCESS_SECRET_KEY"));
        configuration.put("s3Credentials", credentials);
        var spec = new LinkedHashMap<String, Object>();
        spec.put("configuration", configuration);
        spec.put("retentionPolicy", b.retentionPolicy());
        return new GenericKubernetesResourceBuilder().withApiVersion(BARMAN_API).withKind("ObjectStore")
                .withMetadata(meta(env, ns, objectStoreName(env), "database")).addToAdditionalProperties("spec", spec).build();
    }

    /** With backups configured: CNPG's ScheduledBackup of the cluster, taken by the plugin (web/docs/migration.md, "Update the ScheduledBackup"). */
    static GenericKubernetesResource scheduledBackup(EnvConfig.Env env, String ns) {
        CacheConfig.Backup b = env.cache().database().backup();
        var spec = new LinkedHashMap<String, Object>();
        spec.put("schedule", b.schedule());
        spec.put("backupOwnerReference", "self");
        spec.put("cluster", Map.of("name", env.cnpg().cluster()));
        spec.put("method", "plugin");
        spec.put("pluginConfiguration", Map.of("name", BARMAN_PLUGIN));
        return new GenericKubernetesResourceBuilder().withApiVersion(CNPG_API).withKind("ScheduledBackup")
                .withMetadata(meta(env, ns, env.cnpg().cluster() + "-daily", "database")).addToAdditionalProperties("spec", spec).build();
    }

    /** The database's objects after its bootstrap Secret, in apply order: the ObjectStore (backups), the Cluster, the ScheduledBackup (backups). */
    static List<HasMetadata> databaseObjects(EnvConfig.Env env, String ns) {
        var out = new ArrayList<HasMetadata>();
        boolean backups = env.cache().database().backup() != null;
        if (backups) out.add(objectStore(env, ns));
        out.add(cluster(env, ns));
        if (backups) out.add(scheduledBackup(env, ns));
        return out;
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

    /**
     * What Nix needs to use the cache, as {@code attic use} configures it (client/src/command/use.rs): the substituter
     * and the key added to the ones Nix already has (use.rs prepends them to {@code substituters} /
     * {@code trusted-public-keys}, keeping cache.nixos.org; {@code extra-} does that in one line), and for a private
     * cache a netrc file with the token as the password for the substituter's host (nix_netrc.rs). {@code token}: the
     * netrc line's password; gfw passes a placeholder unless the user asked for a token.
     */
    static List<String> nixConf(String substituter, String publicKey, boolean isPublic, String token) {
        var out = new ArrayList<String>();
        out.add("nix.conf:");
        out.add("  extra-substituters = " + substituter);
        out.add("  extra-trusted-public-keys = " + publicKey);
        if (!isPublic) {
            out.add("  netrc-file = " + NETRC_FILE);
            out.add("netrc (" + NETRC_FILE + ", mode 0600; the cache is private):");
            out.add("  " + netrcLine(host(substituter), token));
        }
        return out;
    }

    /** Nix's default netrc file ({@code netrc-file}: $NIX_CONF_DIR/netrc). */
    static final String NETRC_FILE = "/etc/nix/netrc";

    /** A netrc line as nix_netrc.rs writes it, for the host of the environment's substituter. */
    static String netrcLine(EnvConfig.Env env, String token) {
        return netrcLine(host(apiEndpoint(env)), token);
    }

    private static String netrcLine(String host, String token) {
        return "machine " + host + " password " + token;
    }

    /** The host of a URL, as use.rs takes it for the netrc machine ({@code Url::parse(&substituter)?.host()}). */
    static String host(String url) {
        String h = java.net.URI.create(url).getHost();
        return h == null ? url : h;
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

    /**
     * One atticd container in {@code mode}. The API server gets the port and probes on {@link #PROBE_PATH}: atticd has
     * no health route, and {@code /nix-cache-info} exists only under a cache ({@code /{cache}/nix-cache-info}, which
     * needs the cache, and for a private one a token), so the root path is what tells that atticd serves.
     * {@code storage}: mount the local storage volume (the API and the collector; the migrations touch only the database).
     */
    private static PodSpec podSpec(EnvConfig.Env env, String mode, boolean storage) {
        CacheConfig.Cache c = env.cache();
        int port = env.attic().targetPort();
        String name = switch (mode) {
            case MODE_API -> "attic";
            case MODE_GC, MODE_GC_ONCE -> "attic-gc";
            default -> MIGRATIONS;
        };
        var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName(name)
                .withImage(c.image()).withArgs("--config", "/etc/attic/server.toml", "--mode", mode)
                .withEnv(secretEnv(env)).withResources(resources(c.resources()))
                .withNewSecurityContext().withAllowPrivilegeEscalation(false).withRunAsNonRoot(true)
                .withNewCapabilities().withDrop("ALL").endCapabilities().endSecurityContext()
                .addNewVolumeMount().withName("config").withMountPath("/etc/attic").withReadOnly(true).endVolumeMount();
        if (mode.equals(MODE_API)) {
            container.addNewPort().withName("http").withContainerPort(port).withProtocol("TCP").endPort()
                    .withNewReadinessProbe().withNewHttpGet().withPath(PROBE_PATH).withPort(new IntOrString("http")).endHttpGet()
                    .withPeriodSeconds(10).endReadinessProbe()
                    .withNewLivenessProbe().withNewHttpGet().withPath(PROBE_PATH).withPort(new IntOrString("http")).endHttpGet()
                    .withInitialDelaySeconds(15).withPeriodSeconds(20).endLivenessProbe();
        }
        storage = storage && !c.storage().s3();
        if (storage) container.addNewVolumeMount().withName("storage").withMountPath(STORAGE_PATH).endVolumeMount();
        var spec = new PodSpecBuilder().withContainers(container.build())
                .withNewSecurityContext().withRunAsNonRoot(true).withRunAsUser(1000L).withRunAsGroup(1000L).withFsGroup(1000L)
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().endSecurityContext()
                .addNewVolume().withName("config").withNewConfigMap().withName(CONFIG_MAP).endConfigMap().endVolume();
        if (env.namespaces().attic().serviceAccounts().contains("attic")) spec.withServiceAccountName("attic");
        if (storage) spec.addNewVolume().withName("storage").withNewPersistentVolumeClaim().withClaimName(STORAGE_PVC).endPersistentVolumeClaim().endVolume();
        if (mode.equals(MODE_MIGRATIONS) || mode.equals(MODE_GC_ONCE)) spec.withRestartPolicy("Never");
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
                .withSpec(podSpec(env, MODE_API, true)).endTemplate().endSpec().build();
    }

    /**
     * Deployment attic-gc: exactly one garbage collector (Attic's book, tutorial.md: it "cannot be replicated"):
     * replicas 1 and strategy Recreate, so an update stops the old pod before the new one starts and two never overlap.
     */
    static Deployment garbageCollector(EnvConfig.Env env, String ns, String checksum) {
        return new DeploymentBuilder().withMetadata(meta(env, ns, GC_DEPLOYMENT, "garbage-collector"))
                .withNewSpec().withReplicas(1).withNewSelector().withMatchLabels(selector("garbage-collector")).endSelector()
                .withNewStrategy().withType("Recreate").endStrategy()
                .withNewTemplate().withNewMetadata().withLabels(labels(env, "garbage-collector")).addToAnnotations(CHECKSUM_ANNOTATION, checksum).endMetadata()
                .withSpec(podSpec(env, MODE_GC, true)).endTemplate().endSpec().build();
    }

    /**
     * Job {@code attic-db-migrations-<hash>}: {@code atticd --mode db-migrations}, which runs sea-orm's migrations
     * and exits (server/src/main.rs ServerMode::DbMigrations; the API server mode runs none). The name is a hash of
     * the pod template (image, configuration and the secrets' checksum), so each new configuration or image gets one
     * Job, run once, and an unchanged one is the same Job, already complete. It cannot race: deploy-cache applies it
     * and waits for it to complete before it rolls the API and the collector; one Job runs one pod at a time
     * (parallelism 1), and a failed pod is replaced only once it has terminated ({@code podReplacementPolicy: Failed},
     * Kubernetes 1.29+), so two migrations never run at once, even when two deploy-cache runs apply the same Job.
     */
    static Job migrations(EnvConfig.Env env, String ns, String checksum) {
        var template = new io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder().withNewMetadata().withLabels(labels(env, MIGRATIONS))
                .addToAnnotations(CHECKSUM_ANNOTATION, checksum).endMetadata().withSpec(podSpec(env, MODE_MIGRATIONS, false)).build();
        String name = MIGRATIONS + "-" + Manifests.checksum(canonicalJson(template)).substring(0, 10);
        return new JobBuilder().withMetadata(meta(env, ns, name, MIGRATIONS))
                .withNewSpec().withParallelism(1).withCompletions(1).withBackoffLimit(3).withPodReplacementPolicy("Failed")
                .withTemplate(template).endSpec().build();
    }

    /**
     * Job {@code name}: one garbage collection now ({@code atticd --mode garbage-collector-once}) with the collector's
     * configuration, secrets and storage; no retries (backoffLimit 0: a failed run is reported, not repeated).
     */
    static Job gcOnce(EnvConfig.Env env, String ns, String name) {
        var template = new io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder().withNewMetadata().withLabels(labels(env, "garbage-collector-once"))
                .endMetadata().withSpec(podSpec(env, MODE_GC_ONCE, true)).build();
        return new JobBuilder().withMetadata(meta(env, ns, name, "garbage-collector-once"))
                .withNewSpec().withParallelism(1).withCompletions(1).withBackoffLimit(0).withTemplate(template).endSpec().build();
    }

    /** JSON with every object's keys sorted: the same template hashes the same whatever order its maps were built in. */
    private static String canonicalJson(Object o) {
        var mapper = com.fasterxml.jackson.databind.json.JsonMapper.builder()
                .enable(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();
        try {
            return mapper.writeValueAsString(mapper.readValue(io.fabric8.kubernetes.client.utils.Serialization.asJson(o), Object.class));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
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

    /**
     * Everything after the secrets, in apply order: ConfigMap, storage, the migrations Job (deploy-cache waits for it
     * before it goes on), Deployments, Service, HPA, PDB, Ingress.
     */
    static List<HasMetadata> atticObjects(EnvConfig.Env env, String ns, Secrets s) {
        String sum = checksum(serverToml(env), s);
        var out = new ArrayList<HasMetadata>();
        out.add(configMap(env, ns));
        if (!env.cache().storage().s3()) out.add(storage(env, ns));
        out.add(migrations(env, ns, sum));
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
