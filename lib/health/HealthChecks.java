// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../namespaces/NamespaceLayout.java
//SOURCES ../cache/CacheObjects.java
//SOURCES ../dashboard/DashboardObjects.java
//SOURCES ../cache/AtticTokens.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES ../core/HealthReport.java
//SOURCES HealthState.java
//SOURCES ../core/Times.java

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The checks of the namespaces, the database (CloudNativePG), the cache (Attic) and the dashboard, each
 * decided only from what {@link HealthState} read; shared pod and Deployment rules ({@link #deployment},
 * {@link #pods}) are also used for the runners ({@link HealthRunners}).
 */
final class HealthChecks {

    static final String HEALTHY_PHASE = "Cluster in healthy state";
    /** A pod restarted more often than this is crash-looping (upstream health-check.sh's rule). */
    static final int CRASH_RESTARTS = 5;
    /** CloudNativePG renews its certificates 7 days before they expire: fewer days left means it did not. */
    static final int CERT_WARN_DAYS = 7;
    /** A daily backup schedule with slack: an older last backup is worth a warning. */
    static final Duration BACKUP_WARN_AGE = Duration.ofHours(36);

    // ---- namespaces -----------------------------------------------------------------------------

    /** Per namespace: it exists and is not Terminating; its labels and guards are as provision-namespaces applies them. */
    static List<HealthReport.Row> namespaces(EnvConfig.Env env, HealthState s) {
        var rows = new ArrayList<HealthReport.Row>();
        List<HasMetadata> desired = NamespaceLayout.render(env);
        for (EnvConfig.NamespaceSpec spec : env.allNamespaces()) {
            String name = spec.name();
            if (!s.namespaces.ok()) {
                rows.add(HealthReport.unknown("namespaces", name, "could not list namespaces: " + s.namespaces.error(), s.namespaces.source()));
                continue;
            }
            Namespace live = s.namespaces.items().stream().filter(n -> n.getMetadata().getName().equals(name)).findFirst().orElse(null);
            if (live == null) {
                rows.add(HealthReport.fail("namespaces", name, "does not exist; 'gfw provision-namespaces " + env.name() + "' creates it", "namespaces"));
                continue;
            }
            boolean terminating = live.getStatus() != null && "Terminating".equals(live.getStatus().getPhase());
            if (live.getMetadata().getDeletionTimestamp() != null || terminating) {
                String since = live.getMetadata().getDeletionTimestamp() == null ? "" : " since " + live.getMetadata().getDeletionTimestamp();
                rows.add(HealthReport.fail("namespaces", name, "Terminating: being deleted" + since + "; wait until it is gone, then 'gfw provision-namespaces "
                        + env.name() + "'", "namespaces"));
                continue;
            }
            rows.add(layout(env, name, desired, live, s));
        }
        return rows;
    }

    /** The namespace's labels and the layout's objects in it, compared as provision-namespaces compares them: drift counted, not listed. */
    private static HealthReport.Row layout(EnvConfig.Env env, String ns, List<HasMetadata> desired, Namespace live, HealthState s) {
        int total = 0;
        int missing = 0;
        int differ = 0;
        var unread = new ArrayList<String>();
        String source = "namespaces, " + String.join(", ", NamespaceLayout.NAMESPACED_KINDS.stream().map(k -> HasMetadata.getPlural(k)).toList());
        for (HasMetadata want : desired) {
            boolean isNamespace = want instanceof Namespace;
            if (isNamespace ? !want.getMetadata().getName().equals(ns) : !ns.equals(want.getMetadata().getNamespace())) continue;
            total++;
            HasMetadata have;
            if (isNamespace) {
                have = live;
            } else {
                HealthState.Read<HasMetadata> read = s.layout(want.getClass());
                if (!read.ok()) {
                    unread.add(read.source().split(" ")[0] + ": " + read.error());
                    continue;
                }
                have = read.items().stream().filter(o -> ns.equals(o.getMetadata().getNamespace())
                        && o.getMetadata().getName().equals(want.getMetadata().getName())).findFirst().orElse(null);
            }
            if (have == null) missing++;
            else if (!ServerSideApply.differences(want, have).isEmpty()) differ++;
        }
        String phase = live.getStatus() == null || live.getStatus().getPhase() == null ? "Active" : live.getStatus().getPhase();
        if (!unread.isEmpty()) {
            return HealthReport.unknown("namespaces", ns, phase + "; could not read " + String.join("; ", unread.stream().distinct().toList()), source);
        }
        int drift = missing + differ;
        if (drift == 0) {
            return HealthReport.ok("namespaces", ns, phase + "; labels and " + (total - 1) + " objects as provision-namespaces applies them", source);
        }
        return HealthReport.warn("namespaces", ns, phase + "; " + drift + " of " + total + " objects drift from " + env.file() + " ("
                + missing + " missing, " + differ + " differ); 'gfw provision-namespaces " + env.name() + " --diff' lists them", source);
    }

    // ---- database -------------------------------------------------------------------------------

    static List<HealthReport.Row> database(EnvConfig.Env env, HealthState s) {
        var rows = new ArrayList<HealthReport.Row>();
        String ns = env.namespaces().attic().name();
        String name = env.cnpg().cluster();
        HealthState.Read<GenericKubernetesResource> clusters = s.clusters(ns);
        String source = clusters.source();
        GenericKubernetesResource cluster = null;
        if (!clusters.ok()) {
            if (clusters.code() == 404) {
                rows.add(HealthReport.fail("database", "cluster " + name, "the API server does not serve clusters.postgresql.cnpg.io:"
                        + " the CloudNativePG operator is not installed", source));
            } else {
                rows.add(HealthReport.unknown("database", "cluster " + name, "could not read it: " + clusters.error(), source));
            }
        } else {
            cluster = clusters.items().stream().filter(c -> c.getMetadata().getName().equals(name)).findFirst().orElse(null);
            if (cluster == null) {
                rows.add(HealthReport.fail("database", "cluster " + name, "not found in namespace " + ns + "; 'gfw deploy-cache " + env.name() + "' creates it", source));
            }
        }
        if (cluster != null) rows.addAll(cluster(cluster, s.pods(ns), s.objectStores(ns), source));
        rows.add(operator(env, s));
        return rows;
    }

    private static List<HealthReport.Row> cluster(GenericKubernetesResource cluster, HealthState.Read<Pod> pods,
                                                  HealthState.Read<GenericKubernetesResource> objectStores, String source) {
        var rows = new ArrayList<HealthReport.Row>();
        String name = cluster.getMetadata().getName();
        Map<String, Object> spec = map(cluster.getAdditionalProperties().get("spec"));
        Map<String, Object> status = map(cluster.getAdditionalProperties().get("status"));
        int desired = spec.get("instances") instanceof Number n ? n.intValue() : 1;
        if (status.isEmpty()) {
            rows.add(HealthReport.unknown("database", "cluster " + name, "it has no status: the CloudNativePG operator has not reported on it", source));
            return rows;
        }
        int ready = status.get("readyInstances") instanceof Number n ? n.intValue() : 0;
        String phase = Objects.toString(status.get("phase"), "");
        String reason = status.get("phaseReason") == null ? "" : " (" + status.get("phaseReason") + ")";
        if (HEALTHY_PHASE.equals(phase)) rows.add(HealthReport.ok("database", "cluster " + name, phase, source));
        else if (ready == 0) rows.add(HealthReport.fail("database", "cluster " + name, (phase.isEmpty() ? "no phase" : phase) + reason + ", no instance ready", source));
        else rows.add(HealthReport.warn("database", "cluster " + name, (phase.isEmpty() ? "no phase" : phase) + reason, source));

        String instances = ready + "/" + desired + " ready";
        rows.add(ready >= desired ? HealthReport.ok("database", "instances", instances, source)
                : ready == 0 ? HealthReport.fail("database", "instances", instances, source)
                : HealthReport.warn("database", "instances", instances, source));

        String primary = status.get("currentPrimary") instanceof String p && !p.isBlank() ? p : null;
        if (!pods.ok()) {
            rows.add(primary == null ? HealthReport.fail("database", "primary", "none elected (status.currentPrimary is empty)", source)
                    : HealthReport.unknown("database", "primary", primary + "; its pod could not be read: " + pods.error(), pods.source()));
            rows.add(HealthReport.unknown("database", "pods", "could not read them: " + pods.error(), pods.source()));
        } else {
            List<Pod> instancePods = pods.items().stream().filter(labelled("cnpg.io/cluster", name)).toList();
            Pod primaryPod = primary == null ? null : instancePods.stream().filter(p -> p.getMetadata().getName().equals(primary)).findFirst().orElse(null);
            if (primary == null) rows.add(HealthReport.fail("database", "primary", "none elected (status.currentPrimary is empty)", source));
            else if (primaryPod == null) rows.add(HealthReport.fail("database", "primary", primary + ", but no such pod in the namespace", pods.source()));
            else if (!ready(primaryPod)) rows.add(HealthReport.fail("database", "primary", primary + ", its pod is not ready", pods.source()));
            else rows.add(HealthReport.ok("database", "primary", primary + " (ready)", source + ", " + pods.source()));
            rows.add(pods("database", "pods", instancePods, desired, pods.source() + " -l cnpg.io/cluster=" + name));
        }

        String store = walArchiverStore(spec);
        if (store != null) {
            // Backups through the Barman Cloud plugin: CNPG still sets ContinuousArchiving (internal/cmd/manager/walarchive),
            // but no status.lastSuccessfulBackup ("not set for backup plugins", api/v1/cluster_types.go); the plugin writes
            // the time into its ObjectStore's status.serverRecoveryWindow[<cluster>] (api/v1/objectstore_types.go).
            rows.add(archiving(status, source));
            rows.add(pluginLastBackup(name, store, objectStores));
        } else if (spec.get("backup") instanceof Map<?, ?> backup && !backup.isEmpty()) {
            rows.add(archiving(status, source));
            rows.add(lastBackup(status, source));
        }
        rows.add(certificate(status, source));
        return rows;
    }

    /** The ObjectStore the Cluster archives WAL to through the Barman Cloud plugin ({@code spec.plugins[].isWALArchiver}), or null. */
    private static String walArchiverStore(Map<String, Object> spec) {
        for (Object p : spec.get("plugins") instanceof List<?> l ? l : List.of()) {
            Map<String, Object> plugin = map(p);
            if (CacheObjects.BARMAN_PLUGIN.equals(plugin.get("name")) && Boolean.TRUE.equals(plugin.get("isWALArchiver"))) {
                return Objects.toString(map(plugin.get("parameters")).get("barmanObjectName"), "");
            }
        }
        return null;
    }

    private static HealthReport.Row pluginLastBackup(String cluster, String store, HealthState.Read<GenericKubernetesResource> stores) {
        String check = "last backup";
        if (!stores.ok()) {
            return HealthReport.unknown("database", check, "could not read ObjectStore " + store + ": " + stores.error()
                    + (stores.code() == 404 ? " (the Barman Cloud plugin is not installed)" : ""), stores.source());
        }
        GenericKubernetesResource os = stores.items().stream().filter(o -> o.getMetadata().getName().equals(store)).findFirst().orElse(null);
        if (os == null) return HealthReport.fail("database", check, "ObjectStore " + store + " the Cluster archives to does not exist", stores.source());
        Map<String, Object> window = map(map(map(os.getAdditionalProperties().get("status")).get("serverRecoveryWindow")).get(cluster));
        return lastBackup(Map.of("lastSuccessfulBackup", Objects.toString(window.get("lastSuccessfulBackupTime"), "")), stores.source()
                + " (status.serverRecoveryWindow." + cluster + ".lastSuccessfulBackupTime)");
    }

    private static HealthReport.Row archiving(Map<String, Object> status, String source) {
        for (Object c : status.get("conditions") instanceof List<?> l ? l : List.of()) {
            Map<String, Object> cond = map(c);
            if (!"ContinuousArchiving".equals(cond.get("type"))) continue;
            String detail = Objects.toString(cond.get("reason"), "") + (cond.get("message") == null ? "" : ": " + cond.get("message"));
            if ("True".equals(cond.get("status"))) return HealthReport.ok("database", "continuous archiving", "WAL archiving works" + (detail.isBlank() ? "" : " (" + detail + ")"), source);
            return HealthReport.fail("database", "continuous archiving", "failing" + (detail.isBlank() ? "" : ": " + detail), source);
        }
        return HealthReport.unknown("database", "continuous archiving", "backups are configured but the Cluster's status has no ContinuousArchiving condition", source);
    }

    private static HealthReport.Row lastBackup(Map<String, Object> status, String source) {
        Object last = status.get("lastSuccessfulBackup");
        if (last == null || "".equals(last)) return HealthReport.warn("database", "last backup", "no successful backup yet", source);
        Instant when = Times.parse(String.valueOf(last));
        if (when == null) return HealthReport.unknown("database", "last backup", "status.lastSuccessfulBackup '" + last + "' is not a time", source);
        Duration age = Duration.between(when, Instant.now());
        String detail = Times.human(age) + " ago (" + when + ")";
        return age.compareTo(BACKUP_WARN_AGE) > 0 ? HealthReport.warn("database", "last backup", detail + ", older than " + BACKUP_WARN_AGE.toHours() + " h", source)
                : HealthReport.ok("database", "last backup", detail, source);
    }

    private static HealthReport.Row certificate(Map<String, Object> status, String source) {
        Map<String, Object> certs = map(status.get("certificates"));
        String secret = Objects.toString(certs.get("serverTLSSecret"), null);
        Object expiry = secret == null ? null : map(certs.get("expirations")).get(secret);
        if (expiry == null) {
            return HealthReport.unknown("database", "server certificate", "the Cluster's status names no server certificate expiry (status.certificates)", source);
        }
        Instant when = Times.parse(String.valueOf(expiry));
        if (when == null) return HealthReport.unknown("database", "server certificate", "expiry '" + expiry + "' is not a time", source);
        Duration left = Duration.between(Instant.now(), when);
        String detail = secret + " expires " + when;
        if (left.isNegative()) return HealthReport.fail("database", "server certificate", secret + " expired " + Times.human(left.negated()) + " ago (" + when + ")", source);
        if (left.toDays() < CERT_WARN_DAYS) {
            return HealthReport.warn("database", "server certificate", detail + ", in " + Times.human(left) + ": CloudNativePG should have renewed it", source);
        }
        return HealthReport.ok("database", "server certificate", detail + " (in " + left.toDays() + " days)", source);
    }

    private static HealthReport.Row operator(EnvConfig.Env env, HealthState s) {
        String ns = env.cnpg().operatorNamespace();
        HealthState.Read<Deployment> read = s.deployments(ns);
        if (!read.ok()) return HealthReport.unknown("database", "operator", "could not read its Deployment: " + read.error(), read.source());
        if (read.items().isEmpty()) {
            return HealthReport.fail("database", "operator", "no CloudNativePG operator Deployment in namespace " + ns
                    + " (label " + HealthState.CNPG_OPERATOR_LABEL + "=" + HealthState.CNPG_OPERATOR_NAME + ")", read.source());
        }
        return deployment("database", "operator", read.items().get(0), read.source());
    }

    // ---- cache and dashboard --------------------------------------------------------------------

    static List<HealthReport.Row> cache(EnvConfig.Env env, HealthState s) {
        var rows = new ArrayList<HealthReport.Row>();
        String ns = env.namespaces().attic().name();
        rows.add(namedDeployment("cache", CacheObjects.DEPLOYMENT, s.deployments(ns), env, "deploy-cache"));
        // atticd's one route outside a cache is its placeholder page (server/src/api/mod.rs); the cache itself is asked below, with a token.
        rows.add(proxied("cache", "GET " + CacheObjects.PROBE_PATH, s.http("attic"), body -> body.contains(ATTIC_PAGE),
                "200, " + ATTIC_PAGE, "no '" + ATTIC_PAGE + "' page title: is this atticd?"));
        rows.add(cacheExists(env, s.http("attic-cache")));
        return rows;
    }

    /** The title of atticd's placeholder page at {@code /} (server/src/api/placeholder.html). */
    static final String ATTIC_PAGE = "Attic Binary Cache";

    /** Attic's answer to GET /_api/v1/cache-config/CACHE: 200 exists, 404 NoSuchCache; 401/403 say the token was refused. */
    private static HealthReport.Row cacheExists(EnvConfig.Env env, HealthState.HttpRead r) {
        String check = "cache " + env.attic().cache();
        if (!r.answered()) return HealthReport.unknown("cache", check, r.error(), r.source());
        if (r.status() == 200) return HealthReport.ok("cache", check, "exists", r.source());
        if (r.status() == 404) {
            return HealthReport.fail("cache", check, "Attic has no cache " + env.attic().cache() + " (" + brief(r.body()) + "); 'gfw deploy-cache " + env.name()
                    + "' creates it", r.source());
        }
        if (r.status() == 401 || r.status() == 403) {
            return HealthReport.unknown("cache", check, "Attic refused a token signed with Secret " + AtticTokens.SIGNING_SECRET + " (" + r.status()
                    + "): do the pods read that key? ('gfw attic-token " + env.name() + " --decode')", r.source());
        }
        return HealthReport.fail("cache", check, r.status() + " " + brief(r.body()), r.source());
    }

    static List<HealthReport.Row> dashboard(EnvConfig.Env env, HealthState s) {
        var rows = new ArrayList<HealthReport.Row>();
        String ns = env.namespaces().dashboard().name();
        rows.add(namedDeployment("dashboard", HealthState.DASHBOARD, s.deployments(ns), env, "deploy-dashboard"));
        rows.add(proxied("dashboard", "GET /api/health", s.http("dashboard"), body -> true, null, null));
        rows.add(clusterData(env, s.http("dashboard-k8s")));
        return rows;
    }

    /**
     * Whether the dashboard shows the cluster or its built-in mock data. Its /api/health answers ok either way
     * (app/src/routes/api/health/+server.ts), but /api/k8s/hpa says which: {@code "available": false} when its K8s client
     * could not GET its namespace object (K8S_NAMESPACE) and the hpas are MOCK_HPA_STATUS (routes/api/k8s/hpa/+server.ts,
     * lib/server/k8s/client.ts isAvailable, at GloriousFlywheel 0e2a69c). The /api routes need no session (hooks.server.ts).
     */
    private static HealthReport.Row clusterData(EnvConfig.Env env, HealthState.HttpRead r) {
        String check = "GET /api/k8s/hpa";
        if (!r.answered()) return HealthReport.unknown("dashboard", check, "no answer through a port-forward: " + r.error(), r.source());
        if (r.status() != 200) return HealthReport.fail("dashboard", check, r.status() + " " + brief(r.body()), r.source());
        com.fasterxml.jackson.databind.JsonNode body;
        try {
            body = Output.JSON.readTree(r.body());
        } catch (java.io.IOException | RuntimeException e) {
            body = null;
        }
        if (body == null || !body.path("available").isBoolean()) {
            return HealthReport.fail("dashboard", check, "200 but no \"available\" field: is this the GloriousFlywheel dashboard? (" + brief(r.body()) + ")", r.source());
        }
        if (!body.path("available").asBoolean()) {
            String runners = env.namespaces().runners().name();
            return HealthReport.fail("dashboard", check, "serving its built-in mock data (\"available\": false): it could not GET namespace " + runners
                    + " with its ServiceAccount; K8S_NAMESPACE in ConfigMap " + DashboardObjects.CONFIG_MAP + " and Role " + DashboardObjects.ROLE + " in "
                    + runners + " must allow it ('gfw deploy-dashboard " + env.name() + "'); the app keeps that answer until its pods restart", r.source());
        }
        return HealthReport.ok("dashboard", check, "the cluster's data (" + body.path("hpas").size() + " autoscalers)", r.source());
    }

    /**
     * A GET through a port-forward: no answer unknown, not 200 fail, 200 with a body {@code bodyOk} rejects fail
     * ("200 but {@code wrongBody}"), else ok with {@code okDetail} (null: "200" and the body's first line).
     */
    private static HealthReport.Row proxied(String component, String check, HealthState.HttpRead r, Predicate<String> bodyOk, String okDetail, String wrongBody) {
        if (!r.answered()) return HealthReport.unknown(component, check, "no answer through a port-forward: " + r.error(), r.source());
        if (r.status() != 200) return HealthReport.fail(component, check, r.status() + " " + brief(r.body()), r.source());
        if (!bodyOk.test(r.body())) return HealthReport.fail(component, check, "200 but " + wrongBody, r.source());
        return HealthReport.ok(component, check, okDetail != null ? okDetail : "200 " + brief(r.body()), r.source());
    }

    private static HealthReport.Row namedDeployment(String component, String name, HealthState.Read<Deployment> read, EnvConfig.Env env, String deployer) {
        String check = "deployment " + name;
        if (!read.ok()) return HealthReport.unknown(component, check, "could not read it: " + read.error(), read.source());
        Deployment d = read.items().stream().filter(x -> x.getMetadata().getName().equals(name)).findFirst().orElse(null);
        if (d == null) return HealthReport.fail(component, check, "not found; 'gfw " + deployer + " " + env.name() + "' deploys it", read.source());
        return deployment(component, check, d, read.source());
    }

    // ---- rules shared with the runner checks ------------------------------------------------------

    /** Ready replicas against the desired ones: all ready ok, some warn, none (or a rollout the controller has not seen) fail. */
    static HealthReport.Row deployment(String component, String check, Deployment d, String source) {
        int desired = d.getSpec() == null || d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
        var st = d.getStatus();
        int ready = st == null || st.getReadyReplicas() == null ? 0 : st.getReadyReplicas();
        int updated = st == null || st.getUpdatedReplicas() == null ? 0 : st.getUpdatedReplicas();
        String detail = ready + "/" + desired + " ready, " + updated + " updated";
        if (desired == 0) return HealthReport.warn(component, check, "scaled to 0 replicas", source);
        if (ready == 0) return HealthReport.fail(component, check, detail, source);
        if (ready < desired || updated < desired) return HealthReport.warn(component, check, detail, source);
        return HealthReport.ok(component, check, detail, source);
    }

    /** Pods ready and restarts; a crash loop (CrashLoopBackOff, or more than 5 restarts) fails. */
    static HealthReport.Row pods(String component, String check, List<Pod> pods, int expected, String source) {
        long ready = pods.stream().filter(HealthChecks::ready).count();
        int restarts = pods.stream().mapToInt(HealthChecks::restarts).sum();
        List<String> looping = pods.stream().filter(HealthChecks::crashLooping)
                .map(p -> p.getMetadata().getName() + " (" + restarts(p) + " restarts" + (waitingCrashLoop(p) ? ", CrashLoopBackOff" : "") + ")").toList();
        String detail = ready + "/" + pods.size() + " ready, " + restarts + " restarts";
        if (!looping.isEmpty()) return HealthReport.fail(component, check, detail + "; crash-looping: " + String.join(", ", looping), source);
        if (pods.isEmpty()) return HealthReport.fail(component, check, "no pods", source);
        if (ready == 0) return HealthReport.fail(component, check, detail, source);
        if (ready < pods.size() || ready < expected) return HealthReport.warn(component, check, detail, source);
        return HealthReport.ok(component, check, detail, source);
    }

    static boolean ready(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static int restarts(Pod p) {
        return containers(p).stream().mapToInt(c -> c.getRestartCount() == null ? 0 : c.getRestartCount()).sum();
    }

    static boolean crashLooping(Pod p) {
        return waitingCrashLoop(p) || containers(p).stream().anyMatch(c -> c.getRestartCount() != null && c.getRestartCount() > CRASH_RESTARTS);
    }

    private static boolean waitingCrashLoop(Pod p) {
        return containers(p).stream().anyMatch(c -> c.getState() != null && c.getState().getWaiting() != null
                && "CrashLoopBackOff".equals(c.getState().getWaiting().getReason()));
    }

    private static List<ContainerStatus> containers(Pod p) {
        return p.getStatus() == null || p.getStatus().getContainerStatuses() == null ? List.of() : p.getStatus().getContainerStatuses();
    }

    static Predicate<HasMetadata> labelled(String key, String value) {
        return o -> o.getMetadata().getLabels() != null && value.equals(o.getMetadata().getLabels().get(key));
    }

    // ---- small helpers ----------------------------------------------------------------------------

    /** A Status's message (what the API server's proxy answers itself), else the body's first line; at most 80 characters. */
    static String brief(String body) {
        String line = body == null ? "" : body.strip().lines().findFirst().orElse("");
        try {
            var status = Output.JSON.readTree(body == null ? "" : body);
            if (status != null && "Status".equals(status.path("kind").asText()) && status.path("message").isTextual()) line = status.path("message").asText();
        } catch (java.io.IOException | RuntimeException e) {
            // not JSON: the first line as it is
        }
        return line.length() > 80 ? line.substring(0, 77) + "..." : line;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private HealthChecks() {}
}
