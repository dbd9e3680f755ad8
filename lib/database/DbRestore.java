// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../env/EnvChecks.java
//SOURCES ../core/Output.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/Watches.java
//SOURCES ConnectionStrings.java
//SOURCES DatabaseUrl.java
//SOURCES DbAdmin.java

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.PrintStream;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * {@code gfw db ENV restore}'s story: recovery of the environment's database into a NEW CloudNativePG Cluster (never
 * over the running one), built as CloudNativePG recovers, then Attic pointed at it ({@code --switch}).
 *
 * <p>Upstream (cloudnative-pg v1.30.0, plugin-barman-cloud v0.7.0):
 * <ul>
 * <li>api/v1/cluster_types.go BootstrapRecovery ({@code backup.name}, or {@code source} naming an
 * {@code externalClusters} entry, {@code recoveryTarget}, and {@code database}/{@code owner}/{@code secret}),
 * RecoveryTarget ({@code backupID}, {@code targetTime}), ExternalCluster ({@code plugin}, {@code barmanObjectStore}).</li>
 * <li>internal/controller/cluster_create.go createPrimaryInstance → resolvePrimaryRecoverySource → getOriginBackup
 * and checkReadyForRecovery: a {@code backup.name} that does not exist gets a Warning event ErrorNoBackup and the
 * cluster waits (requeue each minute); one not completed waits too. So gfw checks the Backup first.</li>
 * <li>api/v1/cluster_funcs.go GetRecoverySourcePlugin: recovery through a plugin works only with {@code source} and an
 * external cluster; the Barman Cloud plugin (internal/cnpgi/restore/restore.go loadBackupObjectFromExternalCluster)
 * picks the backup from its catalog by {@code recoveryTarget} ({@code backupID}, {@code targetTime}) or the latest.
 * So a Backup of method {@code plugin} is restored by its {@code status.backupId} through the external cluster, and
 * only volumeSnapshot and barmanObjectStore Backups by {@code backup.name}.</li>
 * <li>plugin-barman-cloud internal/cnpgi/operator/config/config.go NewFromCluster: the recovery {@code serverName}
 * defaults to the NEW cluster's name, so gfw sets it to the source's; the WAL archiver's {@code serverName} defaults
 * to the new cluster's name, which keeps its archive apart (internal/cnpgi/common/check.go CheckBackupDestination
 * refuses a non-empty archive), so gfw drops a {@code serverName} copied from the source.</li>
 * <li>pkg/management/postgres/restore.go Restore and ConfigureInstanceAfterRestore: with {@code recovery.database}
 * and {@code owner} set the instance manager configures that owner and database after the restore; api/v1
 * cluster_funcs.go GetApplicationSecretName: {@code recovery.secret} is the owner's credential Secret (no
 * {@code <cluster>-app} is made: ShouldRecoveryCreateApplicationSecret), so naming the running cluster's Secret keeps
 * the owner's password and Attic's login.</li>
 * <li>api/v1/cluster_funcs.go GetServiceReadWriteName: the new primary is Service {@code <into>-rw}.</li>
 * </ul>
 */
final class DbRestore {

    static final String RESTORED_FROM = "gfw.gloriousflywheel.dev/restored-from";
    static final String RESTORE_SOURCE = "gfw.gloriousflywheel.dev/restore-source";
    /** What a restored cluster copies from the running one's spec, as it is. */
    static final List<String> COPIED = List.of("instances", "imageName", "imageCatalogRef", "imagePullPolicy", "postgresql", "storage", "walStorage",
            "resources", "affinity", "enableSuperuserAccess", "superuserSecret", "primaryUpdateStrategy", "primaryUpdateMethod", "monitoring");
    /** The annotation {@code kubectl rollout restart} sets on a pod template. */
    static final String RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

    /** What the command was asked. {@code backup} or {@code toTime} (RFC 3339), the new cluster's name, and how it changes things. */
    record Request(String backup, String toTime, String into, boolean doSwitch, boolean await, boolean clientDryRun, boolean serverDryRun,
                   boolean diff, boolean forceConflicts, long deadlineNanos, String timeoutText) {
        boolean writes() {
            return !clientDryRun && !serverDryRun && !diff;
        }

        String mode() {
            return diff ? "--diff: nothing sent" : clientDryRun ? "dry run: client" : serverDryRun ? "dry run: server" : null;
        }
    }

    /**
     * The whole story: the new Cluster (printed for a client dry run or --diff, checked by the API server for a server dry
     * run), the wait for it (--wait, --switch), then the switch or what it would change. A Cluster {@code into} that
     * exists is refused, except with --switch when it is gfw's restore of the running cluster (a restore made earlier
     * without --switch): then it is waited for and switched to, not created again.
     */
    static int run(KubernetesClient client, EnvConfig.Env env, Request r, PrintStream out, Consumer<String> progress) {
        String ns = env.namespaces().attic().name();
        var clusters = client.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns);
        GenericKubernetesResource running = DbAdmin.cluster(client, env);
        GenericKubernetesResource c = clusters.withName(r.into()).get();
        String ref = "cluster.postgresql.cnpg.io/" + r.into();
        if (c != null) {
            boolean ours = running.getMetadata().getName().equals(c.getMetadata().getLabels() == null ? null : c.getMetadata().getLabels().get(RESTORED_FROM));
            if (!ours || !r.doSwitch() || r.backup() != null || r.toTime() != null) {
                throw new GfwException(ExitCode.REFUSED, "cluster " + r.into() + " already exists in namespace " + ns + ": restore never touches an existing cluster;"
                        + (ours ? " it is a restore of " + running.getMetadata().getName() + ": switch Attic to it with 'gfw db " + env.name() + " restore --into " + r.into() + " --switch' (no --backup/--to-time), or"
                        : "") + " name another --into");
            }
            progress.accept(ref + " exists (a restore of " + running.getMetadata().getName() + ": " + c.getMetadata().getAnnotations().get(RESTORE_SOURCE) + "): not created again");
        } else {
            if ((r.backup() == null) == (r.toTime() == null)) throw new GfwException(ExitCode.USAGE, "give one of --backup NAME or --to-time TIME");
            GenericKubernetesResource backup = r.backup() == null ? null : completedBackup(client, env, r.backup());
            c = newCluster(env, running, backup, r.toTime(), r.into());
            String what = c.getMetadata().getAnnotations().get(RESTORE_SOURCE);
            if (r.clientDryRun() || r.diff()) {
                out.print(Output.objects(List.of(c), Output.Format.yaml));
                out.println(ref + " created (" + r.mode() + "; recovering " + what + ")");
            } else if (r.serverDryRun()) {
                clusters.resource(c).dryRun().create();
                out.println(ref + " created (dry run: server; recovering " + what + ")");
            } else {
                clusters.resource(c).create();
                out.println(ref + " created (recovering " + what + ")");
            }
        }
        if (r.writes() && (r.await() || r.doSwitch())) {
            waitHealthy(client, ns, r.into(), r, progress);
            out.println(ref + " healthy");
        }
        if (!r.doSwitch()) out.println("--switch would change:");
        switchAttic(client, env, c, r, r.doSwitch(), out, progress);
        if (!r.doSwitch() && r.writes()) {
            progress.accept("to switch Attic once " + r.into() + " is healthy: 'gfw db " + env.name() + " restore --into " + r.into() + " --switch'" + (env.production() ? " -y" : ""));
        }
        return ExitCode.OK;
    }

    // ---- checks before any request ----------------------------------------------------------------

    /** --into: a DNS label (a Cluster's pods and Services carry it), never the running cluster. */
    static void checkInto(EnvConfig.Env env, String into) {
        String problem = EnvChecks.dnsLabelProblem(into);
        if (problem != null) throw new GfwException(ExitCode.USAGE, "--into " + Output.quote(into) + " " + problem);
        if (into.equals(env.cnpg().cluster())) {
            throw new GfwException(ExitCode.USAGE, "--into " + into + " is the running cluster (cnpg.cluster in " + env.file()
                    + "): restore recovers into a NEW cluster and never overwrites the running one; name another, e.g. --into " + into + "-restored");
        }
    }

    /** --to-time: an RFC 3339 time with its offset (RecoveryTarget.targetTime), written back in UTC; else a usage error. */
    static String targetTime(String t) {
        try {
            return DateTimeFormatter.ISO_INSTANT.format(OffsetDateTime.parse(t).toInstant());
        } catch (DateTimeParseException e) {
            throw new GfwException(ExitCode.USAGE, "--to-time " + Output.quote(t) + " is not an RFC 3339 time with an offset, e.g. 2026-12-01T09:30:00Z");
        }
    }

    // ---- the new Cluster ------------------------------------------------------------------------------

    /** The Backup {@code name} of the running cluster, completed; else NOT_FOUND or USAGE with what to do. */
    static GenericKubernetesResource completedBackup(KubernetesClient client, EnvConfig.Env env, String name) {
        String ns = env.namespaces().attic().name();
        GenericKubernetesResource b = client.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(ns).withName(name).get();
        String list = "'gfw db " + env.name() + " backups' lists them";
        if (b == null) throw new GfwException(ExitCode.NOT_FOUND, "backup " + name + " not found in namespace " + ns + "; " + list);
        Object of = DbAdmin.map(DbAdmin.map(b.getAdditionalProperties().get("spec")).get("cluster")).get("name");
        if (!env.cnpg().cluster().equals(of)) {
            throw new GfwException(ExitCode.USAGE, "backup " + name + " is of cluster " + of + ", not of " + env.cnpg().cluster() + " (cnpg.cluster); " + list);
        }
        Map<String, Object> d = DbAdmin.describe(b);
        if (!"completed".equals(d.get("phase"))) {
            throw new GfwException(ExitCode.NOT_FOUND, "backup " + name + " is " + d.get("phase") + ", not completed: CloudNativePG would wait for it"
                    + " (cluster_create.go checkReadyForRecovery); pick a completed one, " + list);
        }
        return b;
    }

    /**
     * The Cluster {@code into}, recovering the running cluster {@code running} from {@code backup} (a completed Backup)
     * or to {@code toTime} through the running cluster's WAL archive.
     */
    static GenericKubernetesResource newCluster(EnvConfig.Env env, GenericKubernetesResource running, GenericKubernetesResource backup, String toTime, String into) {
        Map<String, Object> src = DbAdmin.map(running.getAdditionalProperties().get("spec"));
        String source = running.getMetadata().getName();
        var spec = new LinkedHashMap<String, Object>();
        for (String k : COPIED) if (src.containsKey(k)) spec.put(k, src.get(k));

        // The owner, database and credential Secret the running cluster was bootstrapped with (GetApplicationDatabaseOwner,
        // GetApplicationDatabaseName, GetApplicationSecretName), so Attic logs in to the new one as before.
        Map<String, Object> boot = DbAdmin.map(src.get("bootstrap"));
        Map<String, Object> was = DbAdmin.map(boot.get("initdb"));
        if (was.isEmpty()) was = DbAdmin.map(boot.get("recovery"));
        if (was.isEmpty()) was = DbAdmin.map(boot.get("pg_basebackup"));
        var recovery = new LinkedHashMap<String, Object>();
        recovery.put("database", Objects.toString(was.get("database"), env.cnpg().database()));
        recovery.put("owner", Objects.toString(was.get("owner"), env.cnpg().owner()));
        Object secret = DbAdmin.map(was.get("secret")).get("name");
        recovery.put("secret", Map.of("name", secret == null ? source + "-app" : String.valueOf(secret)));

        String method;
        String what;
        if (backup != null) {
            Map<String, Object> d = DbAdmin.describe(backup);
            method = String.valueOf(d.get("method"));
            what = "backup " + backup.getMetadata().getName();
            if ("plugin".equals(method)) {
                Object id = d.get("backupId");
                if (id == null) throw new GfwException(ExitCode.NOT_FOUND, what + " has no status.backupId: the plugin cannot find it in its catalog");
                recovery.put("source", source);
                recovery.put("recoveryTarget", Map.of("backupID", String.valueOf(id)));
                spec.put("externalClusters", List.of(pluginSource(env, src, source)));
            } else {
                recovery.put("backup", Map.of("name", backup.getMetadata().getName()));
            }
        } else {
            method = DbAdmin.backupMethod(src);
            what = "time " + toTime;
            recovery.put("source", source);
            recovery.put("recoveryTarget", Map.of("targetTime", toTime));
            if ("plugin".equals(method)) {
                spec.put("externalClusters", List.of(pluginSource(env, src, source)));
            } else if ("barmanObjectStore".equals(method)) {
                var store = new LinkedHashMap<String, Object>(DbAdmin.map(DbAdmin.map(src.get("backup")).get("barmanObjectStore")));
                store.putIfAbsent("serverName", source);
                spec.put("externalClusters", List.of(Map.of("name", source, "barmanObjectStore", store)));
            } else {
                throw new GfwException(ExitCode.NOT_FOUND, "--to-time needs the WAL archive of cluster " + source + ", and it has none ("
                        + (method == null ? "no backups configured" : "volume snapshots only") + "); restore a backup with --backup NAME ('gfw db " + env.name() + " backups')");
            }
        }
        spec.put("bootstrap", Map.of("recovery", recovery));

        // Backups of the new cluster as the running one takes them, archived under its own name (serverName dropped).
        if (src.get("plugins") instanceof List<?> plugins) {
            var copy = new ArrayList<Object>();
            for (Object o : plugins) {
                var p = new LinkedHashMap<String, Object>(DbAdmin.map(o));
                if (p.get("parameters") instanceof Map<?, ?> params) {
                    var q = new LinkedHashMap<String, Object>(DbAdmin.map(params));
                    q.remove("serverName");
                    p.put("parameters", q);
                }
                copy.add(p);
            }
            spec.put("plugins", copy);
        }
        if (src.get("backup") instanceof Map<?, ?> b) {
            var backupSpec = new LinkedHashMap<String, Object>(DbAdmin.map(b));
            if (backupSpec.get("barmanObjectStore") instanceof Map<?, ?> store) {
                var s = new LinkedHashMap<String, Object>(DbAdmin.map(store));
                s.remove("serverName");
                backupSpec.put("barmanObjectStore", s);
            }
            spec.put("backup", backupSpec);
        }

        var c = new GenericKubernetesResource();
        c.setApiVersion(DbAdmin.API);
        c.setKind("Cluster");
        c.setMetadata(new ObjectMetaBuilder().withName(into).withNamespace(running.getMetadata().getNamespace())
                .addToLabels("app.kubernetes.io/managed-by", "gfw").addToLabels(RESTORED_FROM, source)
                .addToAnnotations(RESTORE_SOURCE, what + " (method " + method + ")").build());
        c.getAdditionalProperties().put("spec", spec);
        return c;
    }

    /** An external cluster for the Barman Cloud plugin (plugin-barman-cloud docs/usage.md "Restoring a Cluster"): the source's store and serverName. */
    private static Map<String, Object> pluginSource(EnvConfig.Env env, Map<String, Object> src, String source) {
        Map<String, Object> params = null;
        if (src.get("plugins") instanceof List<?> plugins) {
            for (Object o : plugins) {
                Map<String, Object> p = DbAdmin.map(o);
                if (DbAdmin.BARMAN_PLUGIN.equals(p.get("name"))) params = DbAdmin.map(p.get("parameters"));
            }
        }
        if (params == null || params.get("barmanObjectName") == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "cluster " + source + " names no " + DbAdmin.BARMAN_PLUGIN + " with a barmanObjectName in spec.plugins:"
                    + " the object store to recover from is unknown; see cache.database.backup in " + env.file());
        }
        var parameters = new LinkedHashMap<String, Object>();
        parameters.put("barmanObjectName", params.get("barmanObjectName"));
        parameters.put("serverName", Objects.toString(params.get("serverName"), source));
        return Map.of("name", source, "plugin", Map.of("name", DbAdmin.BARMAN_PLUGIN, "parameters", parameters));
    }

    // ---- waiting for it -----------------------------------------------------------------------------

    /**
     * Waits (a watch on the Cluster) until CloudNativePG reports it healthy with every instance ready, with progress; the
     * time running out is {@link ExitCode#CHECK_FAILED} naming the phase and the Cluster's last warning event.
     */
    static void waitHealthy(KubernetesClient client, String ns, String name, Request r, Consumer<String> progress) {
        var last = new AtomicReference<String>();
        Watches.Ended<GenericKubernetesResource> end = Watches.until(client.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName(name), c -> {
            if (c == null) return false;
            String now = state(c);
            if (healthy(c)) return true;
            if (!now.equals(last.getAndSet(now))) progress.accept("cluster/" + name + ": " + now);
            return false;
        }, r.deadlineNanos());
        if (end.done()) {
            progress.accept("cluster/" + name + ": " + state(end.last()));
            return;
        }
        String warning = lastWarning(client, ns, name);
        throw new GfwException(ExitCode.CHECK_FAILED, "cluster " + name + " not healthy after " + r.timeoutText() + " (--timeout): "
                + (end.last() == null ? "not found" : state(end.last())) + (warning == null ? "" : "; last warning: " + warning)
                + "; the recovery goes on: 'kubectl -n " + ns + " get cluster " + name + "' and 'kubectl -n " + ns + " get events --field-selector involvedObject.name=" + name + "'");
    }

    private static boolean healthy(GenericKubernetesResource c) {
        Map<String, Object> st = DbAdmin.map(c.getAdditionalProperties().get("status"));
        int want = DbAdmin.number(DbAdmin.map(c.getAdditionalProperties().get("spec")).get("instances"), 1);
        return DbAdmin.HEALTHY.equals(st.get("phase")) && DbAdmin.number(st.get("readyInstances"), 0) >= want;
    }

    private static String state(GenericKubernetesResource c) {
        Map<String, Object> st = DbAdmin.map(c.getAdditionalProperties().get("status"));
        int want = DbAdmin.number(DbAdmin.map(c.getAdditionalProperties().get("spec")).get("instances"), 1);
        String phase = Objects.toString(st.get("phase"), "no phase yet");
        String reason = Objects.toString(st.get("phaseReason"), "");
        return phase + (reason.isEmpty() ? "" : " (" + reason + ")") + ", " + DbAdmin.number(st.get("readyInstances"), 0) + "/" + want + " instances ready";
    }

    /** The newest Warning event about object {@code name} ("ErrorNoBackup: ..."), or null. */
    static String lastWarning(KubernetesClient client, String ns, String name) {
        List<Event> events = client.v1().events().inNamespace(ns).withField("involvedObject.name", name).list().getItems();
        return events.stream().filter(e -> "Warning".equals(e.getType()))
                .max(Comparator.comparing((Event e) -> String.valueOf(e.getLastTimestamp() != null ? e.getLastTimestamp() : e.getMetadata().getCreationTimestamp())))
                .map(e -> e.getReason() + ": " + e.getMessage()).orElse(null);
    }

    // ---- the switch -----------------------------------------------------------------------------------

    /**
     * Attic's DATABASE_URL pointed at {@code <into>-rw} with the owner's credentials from the new cluster's
     * {@code recovery.secret} (written as cnpg-connstr writes it: {@link DatabaseUrl#writeSecret}, the password
     * percent-encoded and never printed), then a rollout of every Attic Deployment that reads it (the server and the
     * garbage collector) as {@code kubectl rollout restart} does. {@code apply} false: only what it would change.
     */
    static void switchAttic(KubernetesClient client, EnvConfig.Env env, GenericKubernetesResource restored, Request r, boolean apply,
                            PrintStream out, Consumer<String> progress) {
        String ns = env.namespaces().attic().name();
        String into = restored.getMetadata().getName();
        Map<String, Object> recovery = DbAdmin.map(DbAdmin.map(DbAdmin.map(restored.getAdditionalProperties().get("spec")).get("bootstrap")).get("recovery"));
        String secretName = String.valueOf(DbAdmin.map(recovery.get("secret")).get("name"));
        Secret s = client.secrets().inNamespace(ns).withName(secretName).get();
        String where = "secret " + secretName + " in namespace " + ns;
        if (s == null) throw new GfwException(ExitCode.NOT_FOUND, where + " (the owner's credentials the restored cluster uses) not found");
        Map<String, String> data = KubeClients.secretData(s, where);
        for (String k : List.of("username", "password")) {
            if (data.getOrDefault(k, "").isEmpty()) throw new GfwException(ExitCode.NOT_FOUND, where + " has no '" + k + "'");
        }
        var params = new LinkedHashMap<String, String>();
        params.put("sslmode", env.cnpg().sslmode());
        var parts = new ConnectionStrings.Parts(data.get("username"), data.get("password"), into + "-rw." + ns + ".svc.cluster.local",
                ConnectionStrings.POSTGRES_PORT, Objects.toString(recovery.get("database"), env.cnpg().database()), params);
        boolean writes = apply && r.writes();
        String mode = writes ? null : apply ? r.mode() : "--diff: nothing sent";
        progress.accept("Attic's " + DatabaseUrl.DATABASE_URL + (writes ? " -> " : " would be ") + ConnectionStrings.uri(parts, false));
        DatabaseUrl.writeSecret(client, env, ns, parts, new DatabaseUrl.Write(!writes && !r.clientDryRun() && !(apply && r.serverDryRun()),
                !writes && r.clientDryRun(), apply && r.serverDryRun(), r.forceConflicts(), r.clientDryRun() ? "client" : "server"));

        var deployments = client.apps().deployments().inNamespace(ns);
        String now = Instant.now().toString();
        var rolled = new ArrayList<String>();
        for (String d : List.of("attic", "attic-gc")) {
            if (deployments.withName(d).get() == null) continue;
            if (writes) {
                deployments.withName(d).edit(x -> restart(x, now));
                rolled.add(d);
            } else if (apply && r.serverDryRun()) {
                deployments.withName(d).dryRun().edit(x -> restart(x, now));
            }
            out.println("deployment.apps/" + d + " restarted" + (writes ? "" : " (" + mode + ")"));
        }
        for (String d : rolled) waitForRollout(client, ns, d, r, progress);
        if (writes) {
            progress.accept("Attic now uses cluster " + into + ": set cnpg.cluster: " + into + " and cnpg.appSecret: " + secretName + " in " + env.file()
                    + ", or the next 'gfw deploy-cache " + env.name() + "' points it back at " + env.cnpg().cluster());
        }
    }

    private static Deployment restart(Deployment d, String now) {
        var meta = d.getSpec().getTemplate().getMetadata();
        if (meta.getAnnotations() == null) meta.setAnnotations(new LinkedHashMap<>());
        meta.getAnnotations().put(RESTARTED_AT, now);
        return d;
    }

    /** Until every replica is updated and available (a watch, as kubectl rollout status), within the run's --timeout. */
    private static void waitForRollout(KubernetesClient client, String ns, String name, Request r, Consumer<String> progress) {
        var last = new AtomicReference<String>();
        Watches.Ended<Deployment> end = Watches.until(client.apps().deployments().inNamespace(ns).withName(name), d -> {
            if (d == null) return false;
            if (rolledOut(d)) return true;
            String now = "deployment/" + name + ": " + rollout(d);
            if (!now.equals(last.getAndSet(now))) progress.accept(now);
            return false;
        }, r.deadlineNanos());
        if (end.done()) {
            progress.accept("deployment/" + name + ": rolled out");
            return;
        }
        throw new GfwException(ExitCode.CHECK_FAILED, "deployment " + name + " in namespace " + ns + " did not roll out within " + r.timeoutText()
                + " (--timeout): " + (end.last() == null ? "not found" : rollout(end.last())) + "; DATABASE_URL was switched already; check 'kubectl -n " + ns + " get pods'");
    }

    private static boolean rolledOut(Deployment d) {
        var st = d.getStatus();
        long generation = d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration();
        int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
        return st != null && st.getObservedGeneration() != null && st.getObservedGeneration() >= generation
                && n(st.getUpdatedReplicas()) >= want && n(st.getAvailableReplicas()) >= want && n(st.getReplicas()) == want;
    }

    private static String rollout(Deployment d) {
        var st = d.getStatus();
        int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
        return (st == null ? 0 : n(st.getUpdatedReplicas())) + "/" + want + " updated, " + (st == null ? 0 : n(st.getAvailableReplicas())) + " available";
    }

    private static int n(Integer i) {
        return i == null ? 0 : i;
    }

    private DbRestore() {}
}
