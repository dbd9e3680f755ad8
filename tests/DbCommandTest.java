import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code gfw db} against the real control plane with CloudNativePG's real CRDs (v1.30.0): status from a Cluster, its
 * pods and Backups; psql through a port-forward to the suite's real PostgreSQL; backups through the operator stand-in.
 */
class DbCommandTest {

    static TestCluster api;
    static KubernetesClient kube;
    static TestPostgres pg;
    static final List<String> NAMESPACES = new ArrayList<>();
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() {
        api = TestCluster.shared();
        kube = api.client();
        pg = TestPostgres.shared();
    }

    @AfterAll
    static void tearDown() {
        for (String n : NAMESPACES) kube.namespaces().withName(n).delete();
    }

    static String namespace(String prefix) {
        String ns = prefix + TestCluster.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        NAMESPACES.add(ns);
        return ns;
    }

    /** dev.yaml with the Attic namespace {@code ns}, edited further by {@code edit}. */
    static Path envDir(String ns, UnaryOperator<EnvFile> edit) {
        return edit.apply(EnvFile.dev().set("namespaces.attic.name", ns)).writeTo(TestSupport.tempDir("db"), "dev");
    }

    static TestSupport.Result db(Path envDir, String sub, String... more) {
        var a = new ArrayList<>(List.of("dev", sub, "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context()));
        a.addAll(List.of(more));
        return TestSupport.inProcess(new Db(), a.toArray(String[]::new));
    }

    /** Cluster attic-pg with {@code spec} as a user applies it (the real CRD validates it). */
    static void cluster(String ns, Map<String, Object> spec) {
        GenericKubernetesResource c = new GenericKubernetesResourceBuilder().withApiVersion(DbAdmin.API).withKind("Cluster")
                .withNewMetadata().withName("attic-pg").withNamespace(ns).endMetadata().addToAdditionalProperties("spec", spec).build();
        kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).resource(c).create();
    }

    /** The status as CloudNativePG writes it (CnpgStatus), with the timeline each instance reported (instancesReportedState). */
    static void status(String ns, String phase, int instances, int ready, Instant certificateExpiry) {
        Map<String, Object> st = new LinkedHashMap<>(CnpgStatus.status("attic-pg", phase, instances, ready, certificateExpiry));
        var reported = new LinkedHashMap<String, Object>();
        for (int n = 1; n <= instances; n++) reported.put("attic-pg-" + n, Map.of("isPrimary", n == 1, "timeLineID", 1));
        st.put("instancesReportedState", reported);
        st.put("timelineID", 1);
        var r = kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns);
        GenericKubernetesResource live = r.withName("attic-pg").get();
        live.getAdditionalProperties().put("status", st);
        r.resource(live).updateStatus();
    }

    static void pods(String ns, int instances) {
        for (int n = 1; n <= instances; n++) kube.resource(CnpgStatus.instancePod(ns, "attic-pg", n)).create();
    }

    static void waitReady(String ns, String pod, boolean ready) {
        kube.pods().inNamespace(ns).withName(pod).waitUntilCondition(p -> p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase())
                && (!ready || DbAdmin.podReady(p)), 60, TimeUnit.SECONDS);
    }

    static String row(String out, String check) {
        return out.lines().filter(l -> l.contains(check)).findFirst().orElse("(no row " + check + ")");
    }

    @Test
    void statusRowsForAHealthyADegradedAndAFailedCluster() throws Exception {
        // Healthy: 2 instances ready, certificates 90 days away, no backups configured.
        String ok = namespace("gfw-db-ok-");
        Path okEnv = envDir(ok, e -> e);
        cluster(ok, Map.of("instances", 2, "storage", Map.of("size", "1Gi")));
        status(ok, "Cluster in healthy state", 2, 2, Instant.now().plus(90, ChronoUnit.DAYS));
        pods(ok, 2);
        waitReady(ok, "attic-pg-1", true);
        waitReady(ok, "attic-pg-2", true);
        var healthy = db(okEnv, "status");
        assertEquals(0, healthy.exit(), healthy.toString());
        assertTrue(row(healthy.out(), "phase").matches("cluster\\s+phase\\s+ok\\s+Cluster in healthy state, 2/2 ready\\s*"), healthy.out());
        assertTrue(row(healthy.out(), "primary").matches("cluster\\s+primary\\s+ok\\s+attic-pg-1, timeline 1\\s*"), healthy.out());
        assertTrue(row(healthy.out(), "attic-pg-1 ").contains("primary, ready, timeline 1"), healthy.out());
        assertTrue(row(healthy.out(), "attic-pg-2 ").matches("instance\\s+attic-pg-2\\s+ok\\s+replica, ready, timeline 1\\s*"), healthy.out());
        assertTrue(row(healthy.out(), "last backup").contains("none (backups not configured)"), healthy.out());
        assertTrue(row(healthy.out(), "attic-pg-server").matches("certificate\\s+attic-pg-server\\s+ok\\s+expires .* \\(in (89|90) days\\)\\s*"), healthy.out());
        assertTrue(healthy.err().contains("database attic-pg: healthy"), healthy.err());
        JsonNode doc = JSON.readTree(db(okEnv, "status", "-o", "json").out());
        assertEquals(0, doc.get("exitCode").asInt());
        assertEquals("healthy", doc.get("status").asText());
        // Same input, same bytes.
        assertEquals(db(okEnv, "status", "-o", "yaml").out().replaceAll("expires \\S+|in \\d+ days", ""),
                db(okEnv, "status", "-o", "yaml").out().replaceAll("expires \\S+|in \\d+ days", ""));

        // Degraded: the replica's pod never becomes ready, the operator says it waits for it, a certificate expires in 3 days.
        Assumptions.assumeTrue(api.isLocal(), "needs kwok to hold a pod unready");
        String deg = namespace("gfw-db-deg-");
        Path degEnv = envDir(deg, e -> e);
        api.rollouts(deg, TestCluster.Readiness.notReady(TestCluster.label("cnpg.io/instanceRole"), "replica"));
        try {
            cluster(deg, Map.of("instances", 2, "storage", Map.of("size", "1Gi")));
            status(deg, "Waiting for the instances to become active", 2, 1, Instant.now().plus(3, ChronoUnit.DAYS));
            pods(deg, 2);
            waitReady(deg, "attic-pg-1", true);
            waitReady(deg, "attic-pg-2", false);
            var degraded = db(degEnv, "status");
            assertEquals(ExitCode.DEGRADED, degraded.exit(), degraded.toString());
            assertTrue(row(degraded.out(), "phase").matches("cluster\\s+phase\\s+warn\\s+Waiting for the instances to become active, 1/2 ready\\s*"), degraded.out());
            assertTrue(row(degraded.out(), "attic-pg-2 ").matches("instance\\s+attic-pg-2\\s+warn\\s+replica, not ready, timeline 1\\s*"), degraded.out());
            assertTrue(row(degraded.out(), "attic-pg-1 ").contains(" ok "), degraded.out());
            assertTrue(row(degraded.out(), "attic-pg-server").matches("certificate\\s+attic-pg-server\\s+warn\\s+expires .*, in 2 d 23 h \\(soon\\)\\s*"), degraded.out());

            // Failed: the operator gave up on the cluster, and a certificate has expired.
            status(deg, "Cluster is unrecoverable and needs manual intervention", 2, 1, Instant.now().minus(1, ChronoUnit.DAYS));
            var failed = db(degEnv, "status", "-o", "wide");
            assertEquals(ExitCode.CHECK_FAILED, failed.exit(), failed.toString());
            assertTrue(row(failed.out(), "phase").matches("cluster\\s+phase\\s+fail\\s+Cluster is unrecoverable and needs manual intervention, 1/2 ready\\s+cluster attic-pg -n " + deg + "\\s*"), failed.out());
            assertTrue(row(failed.out(), "attic-pg-ca").matches("certificate\\s+attic-pg-ca\\s+fail\\s+expired .*"), failed.out());
            assertTrue(failed.err().contains("database attic-pg: failing"), failed.err());
        } finally {
            api.rollouts(deg, TestCluster.Readiness.ready());
        }

        // No Cluster: one line, exit 68.
        String none = namespace("gfw-db-none-");
        var missing = db(envDir(none, e -> e), "status");
        assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
        assertEquals("error: CloudNativePG Cluster attic-pg not found in namespace " + none + "; 'gfw deploy-cache dev' creates it", missing.err().strip());
    }

    /** A psql run that sleeps, so that ps can look at it while it runs. */
    @Test
    void psqlRunsOnThePrimaryAndThePasswordIsInNoProcessArgvOrEnvironment() throws Exception {
        Assumptions.assumeTrue(api.isLocal(), "needs kwok's port-forward to the test PostgreSQL");
        String ns = namespace("gfw-db-psql-");
        Path env = envDir(ns, e -> e);
        String user = "gfw_db_" + TestCluster.randomHex(3);
        String password = "ps:w@rd/" + TestCluster.randomHex(8);
        pg.createRole(user, password, "attic");
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-pg-app-credentials").withNamespace(ns).endMetadata()
                .withType("kubernetes.io/basic-auth").addToStringData("username", user).addToStringData("password", password).build()).create();

        // No Cluster pods yet: nothing to connect to.
        var noPod = db(env, "psql", "-c", "select 1");
        assertEquals(ExitCode.NOT_FOUND, noPod.exit(), noPod.toString());
        assertTrue(noPod.err().contains("no primary pod of CNPG cluster attic-pg in namespace " + ns), noPod.err());

        cluster(ns, Map.of("instances", 1, "storage", Map.of("size", "1Gi")));
        pods(ns, 1);
        api.portForward(ns, "attic-pg-1", 5432, pg.host(), pg.port());
        waitReady(ns, "attic-pg-1", false);

        var one = db(env, "psql", "-c", "select 1 as one, current_user, current_database()", "--", "-At", "-X");
        assertEquals(0, one.exit(), one.toString());
        assertEquals("1|" + user + "|attic", one.out().strip());
        assertTrue(one.err().contains("psql " + user + "@127.0.0.1:") && one.err().contains("(port-forward to pod attic-pg-1)"), one.err());
        assertFalse(one.out().contains(password) || one.err().contains(password), "the password is not on screen");

        // psql's exit code is the command's.
        var bad = db(env, "psql", "-c", "select 1/0", "--", "-X");
        assertEquals(1, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("division by zero"), bad.err());

        // While psql runs, ps (with every process's environment: 'e') never shows the password.
        var result = new TestSupport.Result[1];
        Thread run = new Thread(() -> result[0] = db(env, "psql", "-c", "select pg_sleep(3)", "--", "-X"));
        run.start();
        boolean sawPsql = false;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (run.isAlive() && System.nanoTime() < until) {
            var ps = TestSupport.command("ps", "axwwe", "-o", "pid,args").run();
            for (String line : ps.out().lines().toList()) {
                assertFalse(line.contains(password), "a process shows the password: " + line.replace(password, "<password>"));
                if (line.contains("select pg_sleep(3)") && line.contains("PGPASSFILE=")) sawPsql = true;
            }
            Thread.sleep(100);
        }
        run.join();
        assertEquals(0, result[0].exit(), result[0].toString());
        assertTrue(sawPsql, "ps saw the psql process with its environment (so the check looked at the right process)");

        // --superuser where the Cluster does not allow it: one line, nothing run.
        var su = db(env, "psql", "--superuser", "-c", "select 1");
        assertEquals(ExitCode.NOT_FOUND, su.exit(), su.toString());
        assertTrue(su.err().contains("secret attic-pg-superuser in namespace " + ns + " not found: Cluster attic-pg does not allow superuser access"), su.err());

        // planned: refused before any request.
        var planned = db(envDir(ns, e -> e.set("status", "planned")), "psql", "-c", "select 1");
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
    }

    @Test
    void backupWithTheClustersMethodIsWaitedForAndListed() throws Exception {
        String ns = namespace("gfw-db-backup-");
        Path env = envDir(ns, e -> e);
        String owner = "gfw_bk_" + TestCluster.randomHex(3);
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-pg-app-credentials").withNamespace(ns).endMetadata()
                .withType("kubernetes.io/basic-auth").addToStringData("username", owner).addToStringData("password", "pw-" + TestCluster.randomHex(8)).build()).create();
        try (var operator = new CnpgOperatorStandIn(kube, pg)) {
            operator.watch(ns);
            // Without backups configured in the Cluster: refused, nothing created.
            cluster(ns, Map.of("instances", 1, "storage", Map.of("size", "1Gi"),
                    "bootstrap", Map.of("initdb", Map.of("database", "attic", "owner", owner, "secret", Map.of("name", "attic-pg-app-credentials")))));
            var none = db(env, "backup");
            assertEquals(ExitCode.NOT_FOUND, none.exit(), none.toString());
            assertTrue(none.err().contains("Cluster attic-pg has no backups configured"), none.err());
            assertEquals(0, kube.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(ns).list().getItems().size());

            // The Barman Cloud plugin as WAL archiver (what deploy-cache writes for cache.database.backup).
            // The operator stand-in writes this Cluster's status meanwhile.
            Conflicts.retry(() -> {
                var c = kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName("attic-pg").get();
                @SuppressWarnings("unchecked")
                Map<String, Object> spec = (Map<String, Object>) c.getAdditionalProperties().get("spec");
                spec.put("plugins", List.of(Map.of("name", DbAdmin.BARMAN_PLUGIN, "isWALArchiver", true, "parameters", Map.of("barmanObjectName", "attic-pg-backup"))));
                kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).resource(c).update();
            });

            // A client dry run prints the Backup and creates nothing.
            var dry = db(env, "backup", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("kind: Backup") && dry.out().contains("method: plugin") && dry.out().contains("name: " + DbAdmin.BARMAN_PLUGIN), dry.out());
            assertEquals(0, kube.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(ns).list().getItems().size());

            var taken = db(env, "backup", "--wait", "--timeout", "60s");
            assertEquals(0, taken.exit(), taken.toString());
            assertTrue(taken.out().matches("(?s)backup.postgresql.cnpg.io/attic-pg-\\d{14} created \\(method plugin\\)\n.*completed \\(started .*"), taken.out());
            // Progress while waiting: a phase before the end (the stand-in may pass "started" between two reads), then completed.
            assertTrue((taken.err().contains(": started") || taken.err().contains(": pending")) && taken.err().contains(": completed"),
                    "progress: " + taken.err());

            JsonNode list = JSON.readTree(db(env, "backups", "-o", "json").out());
            assertEquals(1, list.size(), list.toString());
            assertEquals("completed", list.get(0).get("phase").asText());
            assertEquals("plugin", list.get(0).get("method").asText());
            var table = db(env, "backups");
            assertTrue(table.out().lines().anyMatch(l -> l.matches("attic-pg-\\d{14}\\s+completed\\s+plugin\\s+\\S+\\s+\\S+\\s*")), table.out());

            // status shows it as the last backup (archiving: no ContinuousArchiving condition from this stand-in → unknown).
            var st = db(env, "status");
            assertTrue(row(st.out(), "last backup").contains(list.get(0).get("name").asText() + " (plugin) completed"), st.out());
        }
        // planned and unconfirmed production: refused before any request.
        var planned = db(envDir(ns, e -> e.set("status", "planned")), "backup");
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        var prod = db(envDir(ns, e -> e.set("production", "true")), "backup");
        assertEquals(ExitCode.REFUSED, prod.exit(), prod.toString());
        assertTrue(prod.err().contains("is production: refusing to take a backup of database attic-pg without --yes"), prod.err());
    }
}
