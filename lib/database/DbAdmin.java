// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES ConnectionStrings.java
//SOURCES ../core/HealthReport.java
//SOURCES ../core/Times.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * {@code gfw db}'s story: the CloudNativePG Cluster of an environment as {@code kubectl cnpg status} shows it (read
 * from the Cluster, its pods and its Backups only), a route to the primary (a port-forward through the API server,
 * so it works wherever the kubeconfig works, SOCKS proxy included) with the database owner's or the superuser's
 * credentials, psql on that route without the password in any argv or environment, and on-demand backups.
 *
 * <p>Upstream: cloudnative-pg v1.30.0 api/v1/cluster_types.go (ClusterStatus, InstanceReportedState, the phases and
 * conditions), api/v1/backup_types.go (BackupStatus, the phases and methods), internal/cmd/plugin/status/status.go
 * (printCertificatesStatus: "Expires Soon" under 7 days; printBackupStatus), internal/cmd/plugin/psql/psql.go
 * (getPodName: the pod labelled primary), internal/cmd/plugin/backup/cmd.go (createBackup: name
 * {@code <cluster>-<compact ISO 8601>}, label {@code cnpg.io/cluster}).
 */
final class DbAdmin {

    static final String API = "postgresql.cnpg.io/v1";
    static final String HEALTHY = "Cluster in healthy state";
    /** api/v1/cluster_types.go PhaseUnrecoverable and the other phases that need a human. */
    static final List<String> FAILED_PHASES = List.of("Cluster is unrecoverable and needs manual intervention",
            "Invalid cluster definition", "Unable to create required cluster objects", "Cluster has incomplete or invalid image catalog",
            "Cluster cannot proceed to reconciliation due to an unknown plugin being required",
            "Cluster cannot proceed to reconciliation due to an error while interacting with plugins");
    /** status.go printCertificatesStatus: a certificate expiring within 7 days is "Expires Soon". */
    static final Duration CERT_SOON = Duration.ofDays(7);
    /** The Barman Cloud plugin's name in a Cluster's spec.plugins (plugin-barman-cloud). */
    static final String BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";

    // ---- status ---------------------------------------------------------------------------------

    /** One instance as the status shows it. */
    record Instance(String name, String role, String ready, String timeline, String pod) {}

    /** What status read: the rows (with the exit code they add up to) and the instances. */
    record Status(List<HealthReport.Row> rows, List<Instance> instances) {}

    static GenericKubernetesResource cluster(KubernetesClient client, EnvConfig.Env env) {
        String ns = env.namespaces().attic().name();
        GenericKubernetesResource c = client.genericKubernetesResources(API, "Cluster").inNamespace(ns).withName(env.cnpg().cluster()).get();
        if (c == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "CloudNativePG Cluster " + env.cnpg().cluster() + " not found in namespace " + ns
                    + "; 'gfw deploy-cache " + env.name() + "' creates it");
        }
        return c;
    }

    static Status status(KubernetesClient client, EnvConfig.Env env, Instant now) {
        String ns = env.namespaces().attic().name();
        String name = env.cnpg().cluster();
        GenericKubernetesResource c = cluster(client, env);
        String src = "cluster " + name + " -n " + ns;
        Map<String, Object> spec = map(c.getAdditionalProperties().get("spec"));
        Map<String, Object> st = map(c.getAdditionalProperties().get("status"));
        var rows = new ArrayList<HealthReport.Row>();
        if (st.isEmpty()) {
            rows.add(HealthReport.unknown("cluster", "phase", "the Cluster has no status yet: is the CloudNativePG operator running?", src));
            return new Status(rows, List.of());
        }

        String phase = Objects.toString(st.get("phase"), "");
        int want = number(spec.get("instances"), 1);
        int ready = number(st.get("readyInstances"), 0);
        String reason = Objects.toString(st.get("phaseReason"), "");
        String phaseDetail = (phase.isEmpty() ? "(no phase)" : phase) + ", " + ready + "/" + want + " ready" + (reason.isEmpty() ? "" : " (" + reason + ")");
        if (FAILED_PHASES.contains(phase) || ready == 0) rows.add(HealthReport.fail("cluster", "phase", phaseDetail, src));
        else if (!HEALTHY.equals(phase) || ready < want) rows.add(HealthReport.warn("cluster", "phase", phaseDetail, src));
        else rows.add(HealthReport.ok("cluster", "phase", phaseDetail, src));

        String primary = Objects.toString(st.get("currentPrimary"), "");
        String target = Objects.toString(st.get("targetPrimary"), "");
        if (primary.isEmpty()) rows.add(HealthReport.fail("cluster", "primary", "no current primary in the Cluster's status", src));
        else if (!target.isEmpty() && !target.equals(primary)) rows.add(HealthReport.warn("cluster", "primary", primary + ", switching to " + target, src));
        else rows.add(HealthReport.ok("cluster", "primary", primary + (st.get("timelineID") == null ? "" : ", timeline " + st.get("timelineID")), src));

        // The instances: the pods CNPG labels cnpg.io/cluster, their role label, readiness, and the timeline each reported.
        String podSrc = "pods -l cnpg.io/cluster=" + name + " -n " + ns;
        Map<String, Pod> pods = new TreeMap<>();
        for (Pod p : client.pods().inNamespace(ns).withLabel("cnpg.io/cluster", name).list().getItems()) {
            if ("instance".equals(label(p, "cnpg.io/podRole")) || label(p, "cnpg.io/instanceName") != null || label(p, "cnpg.io/instanceRole") != null) {
                pods.put(p.getMetadata().getName(), p);
            }
        }
        Map<String, Object> reported = map(st.get("instancesReportedState"));
        var names = new java.util.TreeSet<String>(pods.keySet());
        if (st.get("instanceNames") instanceof List<?> l) l.forEach(n -> names.add(String.valueOf(n)));
        var instances = new ArrayList<Instance>();
        for (String n : names) {
            Pod p = pods.get(n);
            Map<String, Object> rep = map(reported.get(n));
            String role = p == null ? "" : Objects.toString(label(p, "cnpg.io/instanceRole"), Objects.toString(label(p, "role"), ""));
            if (role.isEmpty() && rep.containsKey("isPrimary")) role = Boolean.TRUE.equals(rep.get("isPrimary")) ? "primary" : "replica";
            String timeline = rep.get("timeLineID") == null ? "" : String.valueOf(rep.get("timeLineID"));
            String readyText = p == null ? "no pod" : podReady(p) ? "ready" : "not ready";
            instances.add(new Instance(n, role, readyText, timeline, p == null ? "" : Objects.toString(p.getStatus() == null ? null : p.getStatus().getPhase(), "")));
            String detail = (role.isEmpty() ? "role unknown" : role) + ", " + readyText + (timeline.isEmpty() ? "" : ", timeline " + timeline);
            boolean isPrimary = "primary".equals(role) || n.equals(primary);
            if (p != null && podReady(p)) rows.add(HealthReport.ok("instance", n, detail, podSrc));
            else if (isPrimary) rows.add(HealthReport.fail("instance", n, detail, podSrc));
            else rows.add(HealthReport.warn("instance", n, detail, podSrc));
        }
        if (names.isEmpty()) rows.add(HealthReport.fail("instance", "pods", "no instance pods (label cnpg.io/cluster=" + name + ")", podSrc));

        rows.add(archiving(spec, st, src));
        rows.add(lastBackup(client, env, spec, now));
        rows.addAll(certificates(st, src, now));
        return new Status(rows, instances);
    }

    /** Whether backups are configured: the Barman Cloud plugin as WAL archiver, or the in-tree spec.backup. */
    static String backupMethod(Map<String, Object> spec) {
        if (spec.get("plugins") instanceof List<?> plugins) {
            for (Object o : plugins) {
                Map<String, Object> p = map(o);
                if (BARMAN_PLUGIN.equals(p.get("name")) && !Boolean.FALSE.equals(p.get("enabled"))) return "plugin";
            }
        }
        Map<String, Object> backup = map(spec.get("backup"));
        if (!map(backup.get("barmanObjectStore")).isEmpty()) return "barmanObjectStore";
        if (!map(backup.get("volumeSnapshot")).isEmpty()) return "volumeSnapshot";
        return null;
    }

    private static HealthReport.Row archiving(Map<String, Object> spec, Map<String, Object> st, String src) {
        String method = backupMethod(spec);
        if (method == null || "volumeSnapshot".equals(method)) {
            return HealthReport.ok("backup", "continuous archiving", "not configured (no WAL archiver in the Cluster's spec)", src);
        }
        if (st.get("conditions") instanceof List<?> conditions) {
            for (Object o : conditions) {
                Map<String, Object> cond = map(o);
                if (!"ContinuousArchiving".equals(cond.get("type"))) continue;
                String detail = Objects.toString(cond.get("reason"), "") + (cond.get("message") == null ? "" : ": " + cond.get("message"));
                return "True".equals(cond.get("status")) ? HealthReport.ok("backup", "continuous archiving", "working (" + detail + ")", src)
                        : HealthReport.fail("backup", "continuous archiving", "failing: " + detail, src);
            }
        }
        return HealthReport.unknown("backup", "continuous archiving", "configured (" + method + ") but the status has no ContinuousArchiving condition", src);
    }

    private static HealthReport.Row lastBackup(KubernetesClient client, EnvConfig.Env env, Map<String, Object> spec, Instant now) {
        String ns = env.namespaces().attic().name();
        String src = "backups -l cnpg.io/cluster=" + env.cnpg().cluster() + " -n " + ns;
        List<Map<String, Object>> backups = backups(client, env);
        Map<String, Object> done = null;
        for (var b : backups) if ("completed".equals(b.get("phase"))) done = b;
        Map<String, Object> newest = backups.isEmpty() ? null : backups.get(backups.size() - 1);
        boolean configured = backupMethod(spec) != null;
        if (done == null) {
            if (!configured && backups.isEmpty()) return HealthReport.ok("backup", "last backup", "none (backups not configured)", src);
            return HealthReport.warn("backup", "last backup", "no completed backup" + (newest == null ? "" : "; newest " + newest.get("name") + " is " + newest.get("phase")), src);
        }
        Instant stopped = Times.parse(String.valueOf(done.get("stopped")));
        String age = stopped == null ? "" : ", " + Times.human(Duration.between(stopped, now)) + " ago";
        String detail = done.get("name") + " (" + done.get("method") + ") completed " + done.get("stopped") + age;
        if (newest != done && "failed".equals(newest.get("phase"))) {
            return HealthReport.warn("backup", "last backup", detail + "; newer " + newest.get("name") + " failed", src);
        }
        return HealthReport.ok("backup", "last backup", detail, src);
    }

    private static List<HealthReport.Row> certificates(Map<String, Object> st, String src, Instant now) {
        Map<String, Object> expirations = map(map(st.get("certificates")).get("expirations"));
        if (expirations.isEmpty()) return List.of(HealthReport.unknown("certificate", "expiry", "the Cluster's status lists no certificates", src));
        var rows = new ArrayList<HealthReport.Row>();
        for (var e : new TreeMap<>(expirations).entrySet()) {
            Instant when = Times.parse(String.valueOf(e.getValue()));
            if (when == null) {
                rows.add(HealthReport.unknown("certificate", e.getKey(), "expiry '" + e.getValue() + "' is not a time", src));
                continue;
            }
            Duration left = Duration.between(now, when);
            String at = DateTimeFormatter.ISO_INSTANT.format(when);
            if (left.isNegative()) rows.add(HealthReport.fail("certificate", e.getKey(), "expired " + at, src));
            else if (left.compareTo(CERT_SOON) < 0) rows.add(HealthReport.warn("certificate", e.getKey(), "expires " + at + ", in " + Times.human(left) + " (soon)", src));
            else rows.add(HealthReport.ok("certificate", e.getKey(), "expires " + at + " (in " + left.toDays() + " days)", src));
        }
        return rows;
    }

    // ---- backups --------------------------------------------------------------------------------

    /** The cluster's Backups, oldest first: name, phase, method, start, end, and the error when failed. */
    static List<Map<String, Object>> backups(KubernetesClient client, EnvConfig.Env env) {
        String ns = env.namespaces().attic().name();
        var list = new ArrayList<Map<String, Object>>();
        for (GenericKubernetesResource b : client.genericKubernetesResources(API, "Backup").inNamespace(ns).list().getItems()) {
            Map<String, Object> spec = map(b.getAdditionalProperties().get("spec"));
            if (!env.cnpg().cluster().equals(map(spec.get("cluster")).get("name"))) continue;
            list.add(describe(b));
        }
        list.sort(Comparator.comparing((Map<String, Object> m) -> Objects.toString(m.get("started"), Objects.toString(m.get("created"), "")))
                .thenComparing(m -> String.valueOf(m.get("name"))));
        return list;
    }

    static Map<String, Object> describe(GenericKubernetesResource b) {
        Map<String, Object> spec = map(b.getAdditionalProperties().get("spec"));
        Map<String, Object> st = map(b.getAdditionalProperties().get("status"));
        var m = new LinkedHashMap<String, Object>();
        m.put("name", b.getMetadata().getName());
        m.put("phase", Objects.toString(st.get("phase"), "pending"));
        m.put("method", Objects.toString(st.get("method"), Objects.toString(spec.get("method"), "barmanObjectStore")));
        m.put("created", b.getMetadata().getCreationTimestamp());
        m.put("started", st.get("startedAt"));
        m.put("stopped", st.get("stoppedAt"));
        m.put("backupId", st.get("backupId"));
        if (st.get("error") != null) m.put("error", st.get("error"));
        return m;
    }

    /** The Backup {@code kubectl cnpg backup} creates (internal/cmd/plugin/backup/cmd.go createBackup), for the method the Cluster uses. */
    static GenericKubernetesResource newBackup(EnvConfig.Env env, Map<String, Object> clusterSpec, Instant now) {
        String method = backupMethod(clusterSpec);
        String cluster = env.cnpg().cluster();
        if (method == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "Cluster " + cluster + " has no backups configured (no " + BARMAN_PLUGIN
                    + " in spec.plugins, no spec.backup): add cache.database.backup to " + env.file() + " and run 'gfw deploy-cache " + env.name() + "'");
        }
        // pgTime.ToCompactISO8601: 20060102150405
        String name = cluster + "-" + DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(ZoneOffset.UTC).format(now);
        var spec = new LinkedHashMap<String, Object>();
        spec.put("cluster", Map.of("name", cluster));
        spec.put("method", method);
        if ("plugin".equals(method)) spec.put("pluginConfiguration", Map.of("name", BARMAN_PLUGIN));
        var b = new GenericKubernetesResource();
        b.setApiVersion(API);
        b.setKind("Backup");
        b.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace(env.namespaces().attic().name())
                .addToLabels("cnpg.io/cluster", cluster).addToLabels("app.kubernetes.io/managed-by", "gfw").build());
        b.getAdditionalProperties().put("spec", spec);
        return b;
    }

    // ---- the route to the primary -----------------------------------------------------------------

    /** How to reach the primary right now: host and port (a port-forward's loopback end), credentials, database, sslmode. */
    record Route(String host, int port, String user, String password, String database, String sslmode, String via) {
        @Override
        public String toString() {
            return user + "@" + host + ":" + port + "/" + database + " (" + via + ")";
        }
    }

    /** The credentials: the owner's (cnpg.appSecret) or, with {@code superuser}, CNPG's {@code <cluster>-superuser}. */
    static Map<String, String> credentials(KubernetesClient client, EnvConfig.Env env, boolean superuser) {
        String ns = env.namespaces().attic().name();
        String name = superuser ? env.cnpg().cluster() + "-superuser" : env.cnpg().appSecret();
        Secret s = client.secrets().inNamespace(ns).withName(name).get();
        String where = "secret " + name + " in namespace " + ns;
        if (s == null) {
            if (superuser) {
                throw new GfwException(ExitCode.NOT_FOUND, where + " not found: Cluster " + env.cnpg().cluster() + " does not allow superuser access"
                        + " (CloudNativePG writes it only with spec.enableSuperuserAccess: true); connect as the owner without --superuser");
            }
            throw new GfwException(ExitCode.NOT_FOUND, where + " not found; 'gfw deploy-cache " + env.name() + "' creates it");
        }
        Map<String, String> data = KubeClients.secretData(s, where);
        for (String k : List.of("username", "password")) {
            if (data.getOrDefault(k, "").isEmpty()) throw new GfwException(ExitCode.NOT_FOUND, where + " has no '" + k + "'");
        }
        return data;
    }

    /** The pod labelled primary (psql.go getPodName), else status.currentPrimary's pod. */
    static Pod primaryPod(KubernetesClient client, EnvConfig.Env env) {
        String ns = env.namespaces().attic().name();
        String name = env.cnpg().cluster();
        for (Pod p : client.pods().inNamespace(ns).withLabel("cnpg.io/cluster", name).list().getItems()) {
            String role = label(p, "cnpg.io/instanceRole") != null ? label(p, "cnpg.io/instanceRole") : label(p, "role");
            if ("primary".equals(role) && (p.getStatus() == null || !"Failed".equals(p.getStatus().getPhase()))) return p;
        }
        throw new GfwException(ExitCode.NOT_FOUND, "no primary pod of CNPG cluster " + name + " in namespace " + ns
                + " (labels cnpg.io/cluster=" + name + ", cnpg.io/instanceRole=primary); see 'gfw db " + env.name() + " status'");
    }

    /**
     * Opens a port-forward (bound to loopback, a free port) to the primary's PostgreSQL port through the API server —
     * the kubeconfig's route, SOCKS proxy included — runs {@code use} with the route and closes the forward.
     */
    static <T> T withPrimary(KubernetesClient client, EnvConfig.Env env, boolean superuser, Function<Route, T> use) {
        Map<String, String> cred = credentials(client, env, superuser);
        Pod pod = primaryPod(client, env);
        String db = superuser || cred.getOrDefault("dbname", "").isEmpty() ? env.cnpg().database() : cred.get("dbname");
        return KubeClients.throughPortForward(client, pod, KubeClients.containerPort(pod, "postgresql", ConnectionStrings.POSTGRES_PORT), (host, port) -> use.apply(new Route(host, port,
                cred.get("username"), cred.get("password"), db, env.cnpg().sslmode(), "port-forward to pod " + pod.getMetadata().getName())));
    }

    // ---- psql -------------------------------------------------------------------------------------

    /**
     * Runs psql on {@code route} and returns its exit code. The password goes into a pgpass file (mode 0600, in a
     * directory of mode 0700 removed afterwards) named by PGPASSFILE: no argv and no environment holds it, and psql
     * never prompts. Host, port, user, database and sslmode go in PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE.
     * {@code interactive}: psql gets the terminal; otherwise its output is copied to {@code out} and {@code err}.
     */
    static int psql(String psqlBin, Route route, List<String> args, boolean interactive, PrintStream out, PrintStream err) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("gfw-psql", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path pass = Files.createFile(dir.resolve("pgpass"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            var parts = new ConnectionStrings.Parts(route.user(), route.password(), route.host(), route.port(), route.database(), Map.of());
            Files.writeString(pass, ConnectionStrings.pgpass(parts, true) + "\n", StandardCharsets.UTF_8);
            var cmd = new ArrayList<String>();
            cmd.add(psqlBin);
            cmd.addAll(args);
            var pb = new ProcessBuilder(cmd);
            Map<String, String> e = pb.environment();
            e.keySet().removeIf(k -> k.startsWith("PG")); // the user's PGPASSWORD, PGSERVICE... would win over the route
            e.put("PGPASSFILE", pass.toString());
            e.put("PGHOST", route.host());
            e.put("PGPORT", String.valueOf(route.port()));
            e.put("PGUSER", route.user());
            e.put("PGDATABASE", route.database());
            e.put("PGSSLMODE", route.sslmode());
            e.put("PGAPPNAME", "gfw db psql");
            e.put("PGCONNECT_TIMEOUT", "15");
            if (interactive) {
                pb.inheritIO();
                return pb.start().waitFor();
            }
            pb.redirectInput(ProcessBuilder.Redirect.INHERIT);
            Process p = pb.start();
            Thread o = pump(p.getInputStream(), out);
            Thread r = pump(p.getErrorStream(), err);
            int code = p.waitFor();
            o.join();
            r.join();
            return code;
        } catch (IOException ex) {
            throw new GfwException(ExitCode.NO_INPUT, "cannot run " + psqlBin + ": " + ex.getMessage() + "; install psql (PostgreSQL's client) or pass --psql PATH");
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            return ExitCode.INTERNAL;
        } finally {
            if (dir != null) {
                try (var walk = Files.walk(dir)) {
                    for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // best effort: the directory is private to this user
                }
            }
        }
    }

    private static Thread pump(InputStream in, OutputStream out) {
        Thread t = new Thread(() -> {
            try {
                in.transferTo(out);
                out.flush();
            } catch (IOException ignored) {
                // the process ended
            }
        }, "psql-output");
        t.setDaemon(true);
        t.start();
        return t;
    }

    // ---- small helpers ----------------------------------------------------------------------------

    static String label(Pod p, String key) {
        return p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(key);
    }

    static boolean podReady(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null
                && p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static int number(Object o, int fallback) {
        return o instanceof Number n ? n.intValue() : fallback;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private DbAdmin() {}
}
