// No //SOURCES line: EnvConfig (whose Validator this uses) sources this file, which is only ever compiled with it.

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code cache:} section of an environment file: how deploy-cache runs the Attic binary cache and
 * its CloudNativePG database (image, replicas, resources, storage, chunking, compression, garbage
 * collection, ingress, the operator chart, database parameters and backups). Names and sizes that the
 * runners and the namespace layout share stay in {@code attic:} and {@code cnpg:}. Parsed with
 * {@link EnvConfig.Validator}'s rules, so problems read {@code file:line:column cache.field: message}.
 */
final class CacheConfig {

    record Cache(String image, EnvConfig.Autoscaling autoscaling, EnvConfig.Resources resources, Storage storage,
                 Chunking chunking, Compression compression, GarbageCollection garbageCollection, Ingress ingress,
                 boolean isPublic, Operator operator, Database database, DisruptionBudget disruptionBudget) {}

    /** PodDisruptionBudget attic: exactly one of the two is set (default maxUnavailable 1). */
    record DisruptionBudget(Integer minAvailable, Integer maxUnavailable) {}

    /**
     * {@code type} local: PVC attic-storage of {@code size}, {@code accessMode} and {@code storageClass}, all
     * named in the file; s3: {@code bucket}, {@code endpoint}, {@code region}, credentials in {@code credentialsSecret}.
     */
    record Storage(String type, String size, String storageClass, String bucket, String endpoint, String region, String credentialsSecret,
                   String accessMode) {
        boolean s3() { return "s3".equals(type); }
    }
    record Chunking(int narSizeThreshold, int minSize, int avgSize, int maxSize) {}
    /** {@code level} null: atticd's default for the type. */
    record Compression(String type, Integer level) {}
    record GarbageCollection(String interval, String defaultRetentionPeriod) {}
    /** {@code host} null: no Ingress. TLS from {@code tlsSecret}, or a certificate cert-manager issues with {@code clusterIssuer}. */
    record Ingress(String host, String className, String tlsSecret, String clusterIssuer, String bodySize) {}
    /**
     * The cloudnative-pg chart {@code --install-operator} installs, and the Barman Cloud plugin chart it installs beside it
     * (same repository and namespace: the plugin must run in the operator's namespace) when backups are configured. The
     * namespace is {@code cnpg.operatorNamespace}, the one field saying where the operator runs.
     */
    record Operator(String repository, String chart, String version, String pluginChart, String pluginVersion) {}
    record Database(String storageClass, Map<String, String> parameters, EnvConfig.Resources resources, Backup backup) {}
    /**
     * Backups through the Barman Cloud plugin (an ObjectStore, the Cluster's {@code spec.plugins}, a ScheduledBackup with
     * {@code method: plugin}); null when not configured. The fields are the ObjectStore's {@code configuration} and
     * {@code retentionPolicy}, and the ScheduledBackup's {@code schedule}.
     */
    record Backup(String destinationPath, String endpointUrl, String credentialsSecret, String schedule, String retentionPolicy) {}

    static final List<String> STORAGE_TYPES = List.of("local", "s3");
    /** The access modes attic-storage may have: the server's pods and the garbage collector mount it read-write. */
    static final List<String> ACCESS_MODES = List.of("ReadWriteOnce", "ReadWriteMany");
    static final List<String> COMPRESSION_TYPES = List.of("none", "brotli", "zstd", "xz");
    /**
     * An image that cannot move: {@code repo/name:tag@sha256:<64 hex>} (a tag people read and the digest
     * that runs), or {@code repo/name:<40 hex>}, a full commit-SHA tag as Attic's and upstream's CI
     * publish them (never re-pointed), for when the digest cannot be looked up. {@code latest}, {@code v1}
     * and other tags a registry may move are refused.
     */
    static final Pattern PINNED_IMAGE = Pattern.compile("[a-z0-9][a-z0-9._/:-]*:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}@sha256:[0-9a-f]{64}|[0-9a-f]{40})");
    /** atticd's humantime durations: "12 hours", "3 months", "1 day", "30m". */
    static final Pattern HUMAN_DURATION = Pattern.compile("[0-9]+ ?[a-z]+( [0-9]+ ?[a-z]+)*");
    /** Six-field cron as CNPG's ScheduledBackup takes it (seconds first). */
    static final Pattern CRON6 = Pattern.compile("\\S+( \\S+){5}");
    static final Pattern NGINX_SIZE = Pattern.compile("[0-9]+[kmgKMG]?");

    /** The section, or null when absent (deploy-cache then says what to add). Problems go to {@code v}. */
    static Cache parse(EnvConfig.Validator v, EnvChecks.Field root) {
        EnvChecks.Field c = root.get("cache");
        if (c == null || !c.mapWithKeys("image", "autoscaling", "resources", "storage", "chunking", "compression",
                "garbageCollection", "ingress", "public", "operator", "database", "disruptionBudget")) {
            return null;
        }
        String image = v.matching(c, "image", null, PINNED_IMAGE, "an image pinned by digest (repo/name:tag@sha256:<64 hex digits>) or by a full commit-SHA tag (repo/name:<40 hex digits>)");

        var autoscaling = new EnvConfig.Autoscaling(2, 10, 70, 80);
        EnvChecks.Field a = c.get("autoscaling");
        if (a != null && a.mapWithKeys("minReplicas", "maxReplicas", "cpu", "memory")) {
            autoscaling = new EnvConfig.Autoscaling(v.positive(a, "minReplicas", 2), v.positive(a, "maxReplicas", 10),
                    v.percent(a, "cpu", 70), v.percent(a, "memory", 80));
            if (autoscaling.minReplicas() > autoscaling.maxReplicas()) {
                v.problem(a.get("maxReplicas") != null ? a.get("maxReplicas") : a, "must be at least minReplicas (" + autoscaling.minReplicas() + ")");
            }
        }
        EnvConfig.Resources resources = v.resourcesBlock(c, "resources");
        if (resources.requests().isEmpty() && resources.limits().isEmpty()) {
            resources = new EnvConfig.Resources(new java.util.TreeMap<>(Map.of("cpu", "100m", "memory", "128Mi")), new java.util.TreeMap<>(Map.of("cpu", "1", "memory", "512Mi")));
        }

        Storage storage = null;
        EnvChecks.Field s = c.get("storage");
        if (s == null) {
            v.problem(c, "storage: is required (type: local with size, or type: s3 with bucket, endpoint, region, credentialsSecret)");
        } else if (s.mapWithKeys("type", "size", "accessMode", "storageClass", "bucket", "endpoint", "region", "credentialsSecret")) {
            String type = v.oneOf(s, "type", null, STORAGE_TYPES);
            if ("s3".equals(type)) {
                for (String local : List.of("size", "accessMode", "storageClass")) {
                    if (s.get(local) != null) v.problem(s.get(local), "only for type: local");
                }
                storage = new Storage(type, null, null, v.str(s, "bucket"), v.url(s, "endpoint", null, "https", "http"),
                        v.str(s, "region"), v.dnsSubdomain(s, "credentialsSecret", null), null);
            } else {
                for (String remote : List.of("bucket", "endpoint", "region", "credentialsSecret")) {
                    if (s.get(remote) != null) v.problem(s.get(remote), "only for type: s3");
                }
                EnvChecks.Field size = s.get("size");
                if (size == null) v.problem(s, "size: is required for type: local (the PVC size, e.g. 50Gi)");
                // Named, not derived: a claim's access modes and class cannot change once it exists (deploy-cache refuses that).
                String accessMode = v.oneOf(s, "accessMode", null, ACCESS_MODES);
                String storageClass = v.dnsSubdomain(s, "storageClass", null);
                storage = new Storage(type, size == null ? null : v.quantity(size), storageClass, null, null, null, null, accessMode);
                if ("ReadWriteOnce".equals(accessMode) && autoscaling.maxReplicas() > 1) {
                    v.problem(s.get("accessMode"), "ReadWriteOnce cannot serve cache.autoscaling.maxReplicas " + autoscaling.maxReplicas()
                            + " Attic pods (and attic-gc) on different nodes; use ReadWriteMany with a storage class that provides it, or maxReplicas 1");
                }
            }
        }

        var chunking = new Chunking(65536, 16384, 65536, 262144);
        EnvChecks.Field ch = c.get("chunking");
        if (ch != null && ch.mapWithKeys("narSizeThreshold", "minSize", "avgSize", "maxSize")) {
            chunking = new Chunking(v.integer(ch, "narSizeThreshold", 65536, 0, "0 or more bytes"), v.positive(ch, "minSize", 16384),
                    v.positive(ch, "avgSize", 65536), v.positive(ch, "maxSize", 262144));
            if (!(chunking.minSize() <= chunking.avgSize() && chunking.avgSize() <= chunking.maxSize())) {
                v.problem(ch, "needs minSize <= avgSize <= maxSize");
            }
        }

        var compression = new Compression("zstd", null);
        EnvChecks.Field co = c.get("compression");
        if (co != null && co.mapWithKeys("type", "level")) {
            compression = new Compression(v.oneOf(co, "type", "zstd", COMPRESSION_TYPES),
                    co.get("level") == null ? null : v.positive(co, "level", null));
        }

        var gc = new GarbageCollection("12 hours", "3 months");
        EnvChecks.Field g = c.get("garbageCollection");
        if (g != null && g.mapWithKeys("interval", "defaultRetentionPeriod")) {
            gc = new GarbageCollection(v.matching(g, "interval", "12 hours", HUMAN_DURATION, "a duration like \"12 hours\""),
                    v.matching(g, "defaultRetentionPeriod", "3 months", HUMAN_DURATION, "a duration like \"3 months\""));
        }

        Ingress ingress = new Ingress(null, null, null, null, null);
        EnvChecks.Field i = c.get("ingress");
        if (i != null && i.mapWithKeys("host", "className", "tlsSecret", "clusterIssuer", "bodySize")) {
            ingress = new Ingress(v.dnsSubdomain(i, "host", null), v.optStr(i, "className", null),
                    v.dnsSubdomain(i, "tlsSecret", ""), v.optStr(i, "clusterIssuer", null),
                    v.matching(i, "bodySize", "10g", NGINX_SIZE, "an nginx size like 10g or 512m"));
            if (ingress.tlsSecret() != null && ingress.tlsSecret().isEmpty()) ingress = new Ingress(ingress.host(), ingress.className(), null, ingress.clusterIssuer(), ingress.bodySize());
            if (ingress.clusterIssuer() != null && i.get("tlsSecret") == null) {
                // cert-manager writes the certificate into a Secret named after the host.
                ingress = new Ingress(ingress.host(), ingress.className(), ingress.host() == null ? null : ingress.host().replace('.', '-') + "-tls",
                        ingress.clusterIssuer(), ingress.bodySize());
            }
        }

        // cloudnative-pg 0.29.0 is CloudNativePG 1.30.0; plugin-barman-cloud 0.7.0 is the plugin v0.13.0 (needs CNPG 1.26+ and cert-manager).
        var operator = new Operator("https://cloudnative-pg.github.io/charts", "cloudnative-pg", "0.29.0", "plugin-barman-cloud", "0.7.0");
        EnvChecks.Field o = c.get("operator");
        if (o != null && o.mapWithKeys("repository", "chart", "version", "namespace", "plugin")) {
            Pattern semver = Pattern.compile("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");
            String pluginChart = operator.pluginChart();
            String pluginVersion = operator.pluginVersion();
            EnvChecks.Field moved = o.get("namespace");
            if (moved != null) {
                v.problem(moved, "the operator's namespace is one field now, cnpg.operatorNamespace (where --install-operator installs it,"
                        + " the Attic namespace's network policy lets it in, health and deployer-rbac look for it): move the value there"
                        + " and delete this line");
            }
            EnvChecks.Field pl = o.get("plugin");
            if (pl != null && pl.mapWithKeys("chart", "version")) {
                pluginChart = v.optStr(pl, "chart", pluginChart);
                pluginVersion = v.matching(pl, "version", pluginVersion, semver, "a chart version like 0.7.0");
            }
            operator = new Operator(v.url(o, "repository", operator.repository(), "https", "http", "oci", "file"),
                    v.optStr(o, "chart", operator.chart()),
                    v.matching(o, "version", operator.version(), semver, "a chart version like 0.29.0"),
                    pluginChart, pluginVersion);
        }

        var database = new Database(null, Map.of(), new EnvConfig.Resources(Map.of(), Map.of()), null);
        EnvChecks.Field d = c.get("database");
        if (d != null && d.mapWithKeys("storageClass", "parameters", "resources", "backup")) {
            Map<String, String> parameters = v.stringMap(d, "parameters", v::value, List.of());
            Backup backup = null;
            EnvChecks.Field b = d.get("backup");
            if (b != null && b.mapWithKeys("destinationPath", "endpointURL", "credentialsSecret", "schedule", "retentionPolicy")) {
                backup = new Backup(v.url(b, "destinationPath", null, "s3"), v.url(b, "endpointURL", "", "https", "http"),
                        v.dnsSubdomain(b, "credentialsSecret", null),
                        v.matching(b, "schedule", "0 0 3 * * *", CRON6, "a six-field cron schedule (seconds first), e.g. \"0 0 3 * * *\""),
                        v.matching(b, "retentionPolicy", "30d", Pattern.compile("[1-9][0-9]*[dwm]"), "a retention like 30d, 4w or 6m (the ObjectStore CRD's pattern ^[1-9][0-9]*[dwm]$)"));
            }
            database = new Database(v.optStr(d, "storageClass", null), parameters, v.resourcesBlock(d, "resources"), backup);
        }
        var budget = new DisruptionBudget(null, 1);
        EnvChecks.Field pdb = c.get("disruptionBudget");
        if (pdb != null && pdb.mapWithKeys("minAvailable", "maxUnavailable")) {
            if ((pdb.get("minAvailable") == null) == (pdb.get("maxUnavailable") == null)) {
                v.problem(pdb, "needs exactly one of minAvailable and maxUnavailable");
            } else if (pdb.get("minAvailable") != null) {
                budget = new DisruptionBudget(v.positive(pdb, "minAvailable", null), null);
            } else {
                budget = new DisruptionBudget(null, v.positive(pdb, "maxUnavailable", null));
            }
        }
        return new Cache(image, autoscaling, resources, storage, chunking, compression, gc, ingress, v.bool(c, "public", false), operator, database, budget);
    }

    private CacheConfig() {}
}
