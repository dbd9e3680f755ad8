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
        return dbVia(api.kubeconfig(), envDir, sub, more);
    }

    /** gfw db with {@code kubeconfig} (e.g. one whose cluster has a proxy-url, as fetch-kubeconfig writes it for a user behind the proxy). */
    static TestSupport.Result dbVia(Path kubeconfig, Path envDir, String sub, String... more) {
        var a = new ArrayList<>(List.of("dev", sub, "--env-dir", envDir.toString(), "--kubeconfig", kubeconfig.toString(), "--context", api.context()));
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

    /** A copy of {@code kubeconfig} whose clusters have {@code proxy-url: url}. */
    @SuppressWarnings("unchecked")
    static Path withProxyUrl(Path kubeconfig, String url) throws java.io.IOException {
        var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
        Map<String, Object> k = yaml.readValue(kubeconfig.toFile(), Map.class);
        for (Object o : (List<Object>) k.get("clusters")) ((Map<String, Object>) ((Map<String, Object>) o).get("cluster")).put("proxy-url", url);
        Path file = TestSupport.tempDir("db-proxy").resolve("kubeconfig");
        yaml.writeValue(file.toFile(), k);
        return file;
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

        // From a laptop behind the SOCKS proxy: the kubeconfig's cluster has proxy-url (as fetch-kubeconfig writes it), and
        // the port-forward to the primary, like every request to the API server, goes through it.
        TestSocksProxy proxy = TestSocksProxy.shared();
        Path proxied = withProxyUrl(api.kubeconfig(), proxy.url("socks5"));
        int connects = proxy.connects();
        var viaProxy = dbVia(proxied, env, "psql", "-c", "select 1", "--", "-At", "-X");
        assertEquals(0, viaProxy.exit(), viaProxy.toString());
        assertEquals("1", viaProxy.out().strip());
        assertTrue(proxy.connects() > connects, "the route went through the SOCKS proxy");
        assertFalse(viaProxy.out().contains(password) || viaProxy.err().contains(password), "the password is not on screen");
        // The same with the proxy gone: the route really is the proxy (nothing reaches the database without it).
        var deadProxy = dbVia(withProxyUrl(api.kubeconfig(), "socks5://127.0.0.1:" + TestSocksProxy.freePort()), env, "psql", "--request-timeout", "5s",
                "-c", "select 1", "--", "-X");
        assertEquals(ExitCode.UNAVAILABLE, deadProxy.exit(), deadProxy.toString());

        // While psql runs (through the proxy), ps (with every process's environment: 'e') never shows the password.
        var result = new TestSupport.Result[1];
        Thread run = new Thread(() -> result[0] = dbVia(proxied, env, "psql", "-c", "select pg_sleep(3)", "--", "-X"));
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

    /** Mutating requests gfw sent into {@code ns} since the last reset (the operator stand-in paused meanwhile). */
    static long writesIn(String ns, boolean includeDryRun) {
        return api.requests().stream().filter(TestCluster.Request::isMutating).filter(r -> includeDryRun || !r.isDryRun())
                .filter(r -> r.path().contains("/namespaces/" + ns + "/")).count();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> specOf(String ns, String cluster) {
        return (Map<String, Object>) kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName(cluster).get().getAdditionalProperties().get("spec");
    }

    @Test
    void restoreRecoversIntoANewClusterAndSwitchPointsAtticAtIt() throws Exception {
        Assumptions.assumeTrue(api.isLocal(), "needs kwok to run the recovery Job, and the request log");
        String ns = namespace("gfw-db-restore-");
        Path env = envDir(ns, e -> e);
        EnvConfig.Env dev = EnvConfig.load("dev", env.toString());
        String owner = "gfw_rs_" + TestCluster.randomHex(3);
        String password = "re:st@re/" + TestCluster.randomHex(8) + "%";
        String encoded = ConnectionStrings.encode(password);
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-pg-app-credentials").withNamespace(ns).endMetadata()
                .withType("kubernetes.io/basic-auth").addToStringData("username", owner).addToStringData("password", password).build()).create();
        // Attic as deploy-cache leaves it: DATABASE_URL at attic-pg-rw in its Secret, the server Deployment reading it.
        String oldUrl = "postgresql://" + owner + ":" + encoded + "@attic-pg-rw." + ns + ".svc.cluster.local:5432/attic?sslmode=" + dev.cnpg().sslmode();
        DatabaseUrl.writeSecret(kube, dev, ns, new ConnectionStrings.Parts(owner, password, "attic-pg-rw." + ns + ".svc.cluster.local", 5432, "attic",
                Map.of("sslmode", dev.cnpg().sslmode())), new DatabaseUrl.Write(false, false, false, false, "none")); // as deploy-cache applies it
        Map<String, String> appLabels = Map.of("app.kubernetes.io/name", "attic", "app.kubernetes.io/component", "server");
        kube.resource(new io.fabric8.kubernetes.api.model.apps.DeploymentBuilder().withNewMetadata().withName("attic").withNamespace(ns).endMetadata()
                .withNewSpec().withReplicas(1).withNewSelector().withMatchLabels(appLabels).endSelector().withNewTemplate().withNewMetadata().withLabels(appLabels)
                .addToAnnotations("gfw.gloriousflywheel.dev/checksum", "abc").endMetadata().withNewSpec().addNewContainer().withName("attic")
                .withImage("ghcr.io/zhaofengli/attic:test").addNewEnv().withName("ATTIC_SERVER_DATABASE_URL").withNewValueFrom().withNewSecretKeyRef()
                .withName(dev.attic().secret()).withKey("DATABASE_URL").endSecretKeyRef().endValueFrom().endEnv().endContainer().endSpec().endTemplate().endSpec().build()).create();
        var deployments = kube.apps().deployments().inNamespace(ns);
        try (var operator = new CnpgOperatorStandIn(kube, pg)) {
            operator.watch(ns);
            var spec = new LinkedHashMap<String, Object>();
            spec.put("instances", 1);
            spec.put("imageName", CnpgStatus.DEFAULT_IMAGE);
            spec.put("storage", Map.of("size", "2Gi", "storageClass", "longhorn"));
            spec.put("postgresql", Map.of("parameters", Map.of("max_connections", "200", "shared_buffers", "256MB")));
            spec.put("bootstrap", Map.of("initdb", Map.of("database", "attic", "owner", owner, "secret", Map.of("name", "attic-pg-app-credentials"))));
            spec.put("plugins", List.of(Map.of("name", DbAdmin.BARMAN_PLUGIN, "isWALArchiver", true, "parameters", Map.of("barmanObjectName", "attic-pg-backup"))));
            cluster(ns, spec);
            kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName("attic-pg").waitUntilCondition(
                    c -> c != null && DbAdmin.HEALTHY.equals(DbAdmin.map(c.getAdditionalProperties().get("status")).get("phase")), 60, TimeUnit.SECONDS);
            deployments.withName("attic").waitUntilCondition(d -> d != null && d.getStatus() != null && Integer.valueOf(1).equals(d.getStatus().getAvailableReplicas()), 60, TimeUnit.SECONDS);
            var taken = db(env, "backup", "--wait", "--timeout", "60s");
            assertEquals(0, taken.exit(), taken.toString());
            JsonNode backup = JSON.readTree(db(env, "backups", "-o", "json").out()).get(0);
            String b = backup.get("name").asText();
            String backupId = backup.get("backupId").asText();

            // Bad input: one line, exit 64, not one request into the namespace (the stand-in paused so only gfw's are counted).
            operator.paused = true;
            Thread.sleep(300);
            api.resetRequests();
            var same = db(env, "restore", "--backup", b, "--into", "attic-pg");
            assertEquals(ExitCode.USAGE, same.exit(), same.toString());
            assertTrue(same.err().contains("--into attic-pg is the running cluster") && same.err().contains("never overwrites the running one"), same.err());
            var both = db(env, "restore", "--backup", b, "--to-time", "2026-12-01T10:00:00Z", "--into", "attic-pg-r1");
            assertEquals(ExitCode.USAGE, both.exit(), both.toString());
            var badTime = db(env, "restore", "--to-time", "yesterday", "--into", "attic-pg-r1");
            assertEquals(ExitCode.USAGE, badTime.exit(), badTime.toString());
            assertTrue(badTime.err().contains("--to-time 'yesterday' is not an RFC 3339 time"), badTime.err());
            var missing = db(env, "restore", "--backup", "nope", "--into", "attic-pg-r1");
            assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
            assertTrue(missing.err().contains("backup nope not found in namespace " + ns), missing.err());
            assertEquals(0, writesIn(ns, true), api.requests().toString());

            // Dry runs write nothing: a client dry run prints the Cluster and the switch, a server dry run sends only dry runs.
            var dry = db(env, "restore", "--backup", b, "--into", "attic-pg-r1", "--switch", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("kind: Cluster") && dry.out().contains("cluster.postgresql.cnpg.io/attic-pg-r1 created (dry run: client; recovering backup " + b + " (method plugin))")
                    && dry.out().contains("deployment.apps/attic restarted (dry run: client)"), dry.out());
            var serverDry = db(env, "restore", "--backup", b, "--into", "attic-pg-r1", "--switch", "--dry-run=server");
            assertEquals(0, serverDry.exit(), serverDry.toString());
            assertTrue(serverDry.out().contains("created (dry run: server;") && serverDry.out().contains("deployment.apps/attic restarted (dry run: server)"), serverDry.out());
            assertEquals(0, writesIn(ns, false), "only dry runs: " + api.requests());
            assertTrue(writesIn(ns, true) > 0, "the server dry run reached the API server");
            assertEquals(null, kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName("attic-pg-r1").get());
            for (var r : List.of(same, missing, dry, serverDry)) assertFalse((r.out() + r.err()).contains(password) || (r.out() + r.err()).contains(encoded), r.toString());
            operator.paused = false;

            // The restore, switched: the new cluster recovers (its full-recovery Job runs), gets healthy, Attic follows it.
            String template = String.valueOf(deployments.withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations());
            var restored = db(env, "restore", "--backup", b, "--into", "attic-pg-r1", "--switch", "--timeout", "120s");
            assertEquals(0, restored.exit(), restored.toString());
            assertTrue(restored.out().startsWith("cluster.postgresql.cnpg.io/attic-pg-r1 created (recovering backup " + b + " (method plugin))\n"
                    + "cluster.postgresql.cnpg.io/attic-pg-r1 healthy\n"), restored.out());
            assertTrue(restored.out().contains("secret/" + dev.attic().secret() + " -n " + ns + " configured (key DATABASE_URL)") && restored.out().contains("deployment.apps/attic restarted\n"), restored.out());
            assertTrue(restored.err().contains("cluster/attic-pg-r1: Setting up primary (Creating primary instance attic-pg-r1-1), 0/1 instances ready"), "progress: " + restored.err());
            assertTrue(restored.err().contains("deployment/attic: rolled out"), restored.err());
            assertTrue(restored.err().contains("set cnpg.cluster: attic-pg-r1 and cnpg.appSecret: attic-pg-app-credentials in "), restored.err());
            assertFalse((restored.out() + restored.err()).contains(password) || (restored.out() + restored.err()).contains(encoded), "the password is never printed");

            // The new Cluster, field by field: copied from the running one (both as the CRD defaulted them), recovering through
            // the plugin by the backup's id, with the owner, database and credential Secret of the running one.
            Map<String, Object> r1 = specOf(ns, "attic-pg-r1");
            Map<String, Object> running = specOf(ns, "attic-pg");
            assertEquals(1, r1.get("instances"));
            assertEquals(CnpgStatus.DEFAULT_IMAGE, r1.get("imageName"));
            assertEquals("2Gi", DbAdmin.map(r1.get("storage")).get("size"));
            assertEquals("longhorn", DbAdmin.map(r1.get("storage")).get("storageClass"));
            assertEquals(running.get("storage"), r1.get("storage"));
            assertEquals(Map.of("max_connections", "200", "shared_buffers", "256MB"), DbAdmin.map(DbAdmin.map(r1.get("postgresql")).get("parameters")));
            assertEquals(running.get("postgresql"), r1.get("postgresql"));
            assertEquals(List.of("recovery"), List.copyOf(DbAdmin.map(r1.get("bootstrap")).keySet()), "recovery, no initdb");
            Map<String, Object> recovery = DbAdmin.map(DbAdmin.map(r1.get("bootstrap")).get("recovery"));
            assertEquals("attic", recovery.get("database"));
            assertEquals(owner, recovery.get("owner"));
            assertEquals(Map.of("name", "attic-pg-app-credentials"), recovery.get("secret"));
            assertEquals("attic-pg", recovery.get("source"));
            assertEquals(Map.of("backupID", backupId), recovery.get("recoveryTarget"));
            assertEquals(null, recovery.get("backup"), "a plugin backup is found through the external cluster, not backup.name");
            List<?> external = (List<?>) r1.get("externalClusters");
            assertEquals(1, external.size(), String.valueOf(external));
            assertEquals("attic-pg", DbAdmin.map(external.get(0)).get("name"));
            Map<String, Object> plugin = DbAdmin.map(DbAdmin.map(external.get(0)).get("plugin"));
            assertEquals(DbAdmin.BARMAN_PLUGIN, plugin.get("name"));
            assertEquals(Map.of("barmanObjectName", "attic-pg-backup", "serverName", "attic-pg"), plugin.get("parameters"));
            assertEquals(running.get("plugins"), r1.get("plugins"), "the same WAL archiver, under its own serverName (none copied)");
            assertEquals("attic-pg", kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).withName("attic-pg-r1").get()
                    .getMetadata().getLabels().get(DbRestore.RESTORED_FROM));
            var job = kube.batch().v1().jobs().inNamespace(ns).withName("attic-pg-r1-1-full-recovery").get();
            assertEquals(List.of("/controller/manager", "instance", "restore"), job.getSpec().getTemplate().getSpec().getContainers().get(0).getCommand());
            assertTrue(operator.recoveries.contains(ns + "/attic-pg-r1"));
            // The running cluster is untouched.
            assertEquals(spec.get("bootstrap"), specOf(ns, "attic-pg").get("bootstrap"));

            // Attic's DATABASE_URL: the new -rw service, the same owner and password (percent-encoded); Attic rolled.
            var secret = kube.secrets().inNamespace(ns).withName(dev.attic().secret()).get();
            String url = new String(java.util.Base64.getDecoder().decode(secret.getData().get("DATABASE_URL")), java.nio.charset.StandardCharsets.UTF_8);
            assertEquals("postgresql://" + owner + ":" + encoded + "@attic-pg-r1-rw." + ns + ".svc.cluster.local:5432/attic?sslmode=" + dev.cnpg().sslmode(), url);
            var annotations = deployments.withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations();
            assertTrue(annotations.containsKey(DbRestore.RESTARTED_AT) && !String.valueOf(annotations).equals(template), annotations.toString());

            // The owner logs in to the new cluster's primary with the unchanged password (what Attic does).
            api.portForward(ns, "attic-pg-r1-1", 5432, pg.host(), pg.port());
            waitReady(ns, "attic-pg-r1-1", false);
            var login = db(envDir(ns, e -> e.set("cnpg.cluster", "attic-pg-r1").add("cnpg", "appSecret", "attic-pg-app-credentials")), "psql", "-c", "select current_user", "--", "-At", "-X");
            assertEquals(0, login.exit(), login.toString());
            assertEquals(owner, login.out().strip());

            // Into an existing cluster: refused, nothing written.
            var again = db(env, "restore", "--backup", b, "--into", "attic-pg-r1");
            assertEquals(ExitCode.REFUSED, again.exit(), again.toString());
            assertTrue(again.err().contains("cluster attic-pg-r1 already exists in namespace " + ns + ": restore never touches an existing cluster"), again.err());

            // --to-time: the point in time through the plugin's archive (client dry run: the Cluster as it would be created).
            var pitr = db(env, "restore", "--to-time", "2026-12-01T10:30:00+01:00", "--into", "attic-pg-r2", "--dry-run");
            assertEquals(0, pitr.exit(), pitr.toString());
            String yaml = pitr.out().substring(0, pitr.out().indexOf("cluster.postgresql.cnpg.io/attic-pg-r2 created"));
            JsonNode c2 = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(yaml);
            assertEquals("attic-pg-r2", c2.at("/metadata/name").asText());
            JsonNode rec = c2.at("/spec/bootstrap/recovery");
            assertEquals("attic-pg", rec.get("source").asText());
            assertEquals("2026-12-01T09:30:00Z", rec.at("/recoveryTarget/targetTime").asText());
            assertEquals(1, rec.get("recoveryTarget").size(), "no backupID: the plugin picks the backup before the time");
            assertEquals(owner, rec.get("owner").asText());
            assertEquals("attic-pg-app-credentials", rec.at("/secret/name").asText());
            assertEquals("attic-pg", c2.at("/spec/externalClusters/0/plugin/parameters/serverName").asText());
            assertEquals("attic-pg-backup", c2.at("/spec/externalClusters/0/plugin/parameters/barmanObjectName").asText());
            assertTrue(pitr.out().contains("--switch would change:"), pitr.out());

            // A volume-snapshot Backup is restored by name (recovery.backup.name: the operator takes the PVCs from its snapshots).
            kube.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(ns).resource(new GenericKubernetesResourceBuilder().withApiVersion(DbAdmin.API)
                    .withKind("Backup").withNewMetadata().withName("attic-pg-snap").withNamespace(ns).endMetadata()
                    .addToAdditionalProperties("spec", Map.of("cluster", Map.of("name", "attic-pg"), "method", "volumeSnapshot")).build()).create();
            kube.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(ns).withName("attic-pg-snap").waitUntilCondition(
                    x -> x != null && "completed".equals(DbAdmin.map(x.getAdditionalProperties().get("status")).get("phase")), 30, TimeUnit.SECONDS);
            var snap = db(env, "restore", "--backup", "attic-pg-snap", "--into", "attic-pg-r5", "--dry-run");
            assertEquals(0, snap.exit(), snap.toString());
            JsonNode c5 = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(snap.out().substring(0, snap.out().indexOf("cluster.postgresql.cnpg.io/attic-pg-r5 created")));
            assertEquals("attic-pg-snap", c5.at("/spec/bootstrap/recovery/backup/name").asText());
            assertTrue(c5.at("/spec/bootstrap/recovery/source").isMissingNode() && c5.at("/spec/externalClusters").isMissingNode(), c5.toString());

            // A restore without --switch prints what --switch would change and changes nothing of Attic's; --switch alone
            // later switches to it (not created again).
            var later = db(env, "restore", "--backup", b, "--into", "attic-pg-r3");
            assertEquals(0, later.exit(), later.toString());
            assertTrue(later.out().contains("--switch would change:\nsecret/" + dev.attic().secret() + " -n " + ns + " configured (key DATABASE_URL) (--diff: nothing sent)\n")
                    && later.out().contains("deployment.apps/attic restarted (--diff: nothing sent)"), later.out());
            assertTrue(later.err().contains("'gfw db dev restore --into attic-pg-r3 --switch'"), later.err());
            assertTrue(new String(java.util.Base64.getDecoder().decode(kube.secrets().inNamespace(ns).withName(dev.attic().secret()).get().getData().get("DATABASE_URL")),
                    java.nio.charset.StandardCharsets.UTF_8).contains("@attic-pg-r1-rw."), "unchanged without --switch");
            var switched = db(env, "restore", "--into", "attic-pg-r3", "--switch", "--timeout", "120s");
            assertEquals(0, switched.exit(), switched.toString());
            assertTrue(switched.err().contains("cluster.postgresql.cnpg.io/attic-pg-r3 exists (a restore of attic-pg: backup " + b + " (method plugin)): not created again"), switched.err());
            assertTrue(new String(java.util.Base64.getDecoder().decode(kube.secrets().inNamespace(ns).withName(dev.attic().secret()).get().getData().get("DATABASE_URL")),
                    java.nio.charset.StandardCharsets.UTF_8).contains("@attic-pg-r3-rw."));

            // --timeout: a new cluster that does not come up (the stand-in holds the namespace's Clusters) ends the wait, exit 80.
            operator.holdUnready.add(ns);
            long start = System.nanoTime();
            var slow = db(env, "restore", "--backup", b, "--into", "attic-pg-r4", "--wait", "--timeout", "3s");
            assertEquals(ExitCode.CHECK_FAILED, slow.exit(), slow.toString());
            assertTrue(slow.err().contains("error: cluster attic-pg-r4 not healthy after 3s (--timeout): no phase yet, 0/1 instances ready; the recovery goes on"), slow.err());
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "--timeout ended the wait");
            operator.holdUnready.remove(ns);

            // The operator (stand-in, as CloudNativePG) with a Cluster recovering from a Backup that does not exist: a Warning
            // event ErrorNoBackup, and it waits: no Job, no pod.
            var gone = new LinkedHashMap<String, Object>(spec);
            gone.put("bootstrap", Map.of("recovery", Map.of("backup", Map.of("name", "gone"))));
            kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).resource(new GenericKubernetesResourceBuilder().withApiVersion(DbAdmin.API)
                    .withKind("Cluster").withNewMetadata().withName("attic-pg-gone").withNamespace(ns).endMetadata().addToAdditionalProperties("spec", gone).build()).create();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (DbRestore.lastWarning(kube, ns, "attic-pg-gone") == null && System.nanoTime() < until) Thread.sleep(100);
            assertEquals("ErrorNoBackup: Backup object \"" + ns + "/gone\" is missing", DbRestore.lastWarning(kube, ns, "attic-pg-gone"));
            Thread.sleep(500);
            assertEquals(null, kube.batch().v1().jobs().inNamespace(ns).withName("attic-pg-gone-1-full-recovery").get());
            assertEquals(null, kube.pods().inNamespace(ns).withName("attic-pg-gone-1").get());
        }
    }
}
