import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code gfw cache} against the Attic stand-in (atticd's cache-config routes) reached through a port-forward to an
 * Attic pod, and against the suite's real PostgreSQL holding tables as Attic's migrations create them.
 */
class CacheCommandTest {

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

    static Path envDir(String ns, UnaryOperator<EnvFile> edit) {
        return edit.apply(EnvFile.dev().set("namespaces.attic.name", ns)).writeTo(TestSupport.tempDir("cache"), "dev");
    }

    static TestSupport.Result cache(Path envDir, String sub, String... more) {
        var a = new ArrayList<>(List.of("dev", sub, "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context()));
        a.addAll(List.of(more));
        return TestSupport.inProcess(new Cache(), a.toArray(String[]::new));
    }

    static void waitReady(String ns, String pod) {
        kube.pods().inNamespace(ns).withName(pod).waitUntilCondition(p -> p != null && DbAdmin.podReady(p), 60, TimeUnit.SECONDS);
    }

    static List<String> patches(AtticStandIn attic) {
        return attic.requests.stream().filter(r -> r.startsWith("PATCH ")).toList();
    }

    @Test
    void infoShowsTheConfigurationAndConfigureSendsOnlyWhatDiffers() throws Exception {
        Assumptions.assumeTrue(api.isLocal(), "needs kwok's port-forward to the Attic stand-in");
        String ns = namespace("gfw-cache-cfg-");
        Path env = envDir(ns, e -> e);
        String key = AtticTokens.newSigningKey(new SecureRandom());
        kube.resource(new SecretBuilder().withNewMetadata().withName(AtticTokens.SIGNING_SECRET).withNamespace(ns).endMetadata()
                .addToStringData(AtticTokens.SIGNING_KEY, key).build()).create();
        try (var attic = new AtticStandIn(() -> key)) {
            attic.caches.put("main", "main:" + "A".repeat(43) + "=");
            attic.settings.put("main", new java.util.concurrent.ConcurrentHashMap<>(Map.of("store_dir", "/nix/store", "priority", 41,
                    "upstream_cache_key_names", List.of("cache.nixos.org-1"))));
            api.serviceBackend(ns, 8080, URI.create("http://127.0.0.1:" + attic.port()));
            kube.resource(new PodBuilder().withNewMetadata().withName("attic-0").withNamespace(ns).withLabels(CacheObjects.selector("server")).endMetadata()
                    .withNewSpec().addNewContainer().withName("attic").withImage("ghcr.io/zhaofengli/attic:latest").endContainer().endSpec().build()).create();
            waitReady(ns, "attic-0");

            var info = cache(env, "info");
            assertEquals(0, info.exit(), info.toString());
            assertTrue(info.out().lines().anyMatch(l -> l.matches("public\\s+false\\s*")), info.out());
            assertTrue(info.out().lines().anyMatch(l -> l.matches("priority\\s+41\\s*")), info.out());
            assertTrue(info.out().lines().anyMatch(l -> l.matches("retention\\s+global\\s*")), info.out());
            assertTrue(info.out().lines().anyMatch(l -> l.matches("upstreamKeys\\s+cache.nixos.org-1\\s*")), info.out());
            assertTrue(info.out().contains("main:" + "A".repeat(43) + "="), info.out());
            assertTrue(info.out().lines().anyMatch(l -> l.matches("substituter\\s+http://127\\.0\\.0\\.1:\\d+/main\\s*")), info.out());
            JsonNode json = JSON.readTree(cache(env, "info", "-o", "json").out());
            assertEquals(false, json.get("public").asBoolean());
            assertTrue(attic.requests.stream().anyMatch(r -> r.equals("GET /_api/v1/cache-config/main 200")), attic.requests.toString());

            // Nothing differs: no PATCH at all.
            var same = cache(env, "configure", "--priority", "41", "--private", "--retention", "global", "--upstream-key", "cache.nixos.org-1");
            assertEquals(0, same.exit(), same.toString());
            assertEquals("cache main unchanged", same.out().strip());
            assertEquals(List.of(), patches(attic));

            // --diff: what would change, nothing sent.
            var diff = cache(env, "configure", "--retention", "30d", "--priority", "40", "--diff");
            assertEquals(0, diff.exit(), diff.toString());
            assertEquals("cache main configured (--diff: nothing sent)\n  priority: 41 -> 40\n  retention: global -> 30d\n", diff.out());
            assertEquals(List.of(), patches(attic));

            var changed = cache(env, "configure", "--retention", "30d", "--priority", "40");
            assertEquals(0, changed.exit(), changed.toString());
            assertEquals("cache main configured", changed.out().strip());
            assertEquals(List.of("PATCH /_api/v1/cache-config/main 200"), patches(attic));
            assertEquals(List.of(Map.of("priority", 40, "retention_period", Map.of("Period", 2_592_000))), attic.configured);
            var after = cache(env, "info");
            assertTrue(after.out().lines().anyMatch(l -> l.matches("retention\\s+30d\\s*")), after.out());
            assertTrue(after.out().lines().anyMatch(l -> l.matches("priority\\s+40\\s*")), after.out());

            var again = cache(env, "configure", "--retention", "30d", "--priority", "40");
            assertEquals("cache main unchanged", again.out().strip());
            assertEquals(1, patches(attic).size(), "no second PATCH");

            // Bad input: one line, exit 64, nothing read.
            var bad = cache(env, "configure", "--retention", "30 days");
            assertEquals(ExitCode.USAGE, bad.exit(), bad.toString());
            assertEquals(1, bad.err().lines().count(), bad.err());
            var both = cache(env, "configure", "--public", "--private");
            assertEquals(ExitCode.USAGE, both.exit(), both.toString());
            var planned = cache(envDir(ns, e -> e.set("status", "planned")), "configure", "--public");
            assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
            var prod = cache(envDir(ns, e -> e.set("production", "true")), "configure", "--public");
            assertEquals(ExitCode.REFUSED, prod.exit(), prod.toString());
            assertEquals(1, patches(attic).size());
        }
    }

    /**
     * Attic's tables as its migrations leave them (server/src/database/migration, entity/*.rs: cache, nar, object,
     * chunk, chunkref), with the columns usage reads and those that are NOT NULL.
     */
    static final String ATTIC_SCHEMA = """
            create table cache (id bigserial primary key, name varchar(50) not null unique, keypair text not null, is_public boolean not null,
              store_dir text not null, priority integer not null, upstream_cache_key_names text not null, created_at timestamptz not null,
              deleted_at timestamptz, retention_period integer);
            create table nar (id bigserial primary key, state char(1) not null, nar_hash text not null, nar_size bigint not null,
              compression varchar(10) not null, num_chunks integer not null, holders_count integer not null default 0,
              completeness_hint boolean not null default true, created_at timestamptz not null);
            create table object (id bigserial primary key, cache_id bigint not null references cache(id) on delete cascade,
              nar_id bigint not null references nar(id) on delete cascade, store_path_hash varchar(32) not null, store_path text not null,
              "references" text not null, system text, deriver text, sigs text not null, ca text, created_at timestamptz not null,
              last_accessed_at timestamptz, created_by text);
            create table chunk (id bigserial primary key, state char(1) not null, chunk_hash text not null, chunk_size bigint not null,
              file_hash text, file_size bigint, compression varchar(10) not null, remote_file text not null, remote_file_id text not null unique,
              holders_count integer not null default 0, created_at timestamptz not null);
            create table chunkref (id bigserial primary key, nar_id bigint not null references nar(id) on delete cascade, seq integer not null,
              chunk_id bigint references chunk(id) on delete set null, chunk_hash text not null, compression varchar(10) not null);
            """;

    @Test
    void usageCountsPathsNarsAndDeduplicatedChunksFromAtticsDatabase() throws Exception {
        Assumptions.assumeTrue(api.isLocal(), "needs kwok's port-forward to the test PostgreSQL");
        String ns = namespace("gfw-cache-use-");
        String db = "attic_use_" + TestCluster.randomHex(3);
        Path env = envDir(ns, e -> e.set("cnpg.database", db));
        String owner = "gfw_use_" + TestCluster.randomHex(3);
        String password = "u:se@" + TestCluster.randomHex(8);
        pg.createRole(owner, password, db);
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-pg-app-credentials").withNamespace(ns).endMetadata()
                .withType("kubernetes.io/basic-auth").addToStringData("username", owner).addToStringData("password", password).build()).create();
        var props = new Properties();
        props.setProperty("user", owner);
        props.setProperty("password", password);
        try (var c = DriverManager.getConnection("jdbc:postgresql://" + pg.host() + ":" + pg.port() + "/" + db, props); var st = c.createStatement()) {
            st.execute(ATTIC_SCHEMA);
            st.execute("insert into cache values (1, 'main', 'k', false, '/nix/store', 41, '[]', now(), null, null),"
                    + " (2, 'other', 'k', false, '/nix/store', 41, '[]', now(), null, null)");
            // Two NARs of main (1000 and 3000 bytes), one of the other cache; chunk 2 is shared by both of main's NARs.
            st.execute("insert into nar values (1, 'V', 'h1', 1000, 'zstd', 2, 1, true, now()), (2, 'V', 'h2', 3000, 'zstd', 2, 2, true, now()),"
                    + " (3, 'V', 'h3', 500, 'zstd', 1, 1, true, now())");
            st.execute("insert into chunk values (1, 'V', 'c1', 600, 'f1', 300, 'zstd', '{}', 'r1', 1, now()), (2, 'V', 'c2', 400, 'f2', 100, 'zstd', '{}', 'r2', 2, now()),"
                    + " (3, 'V', 'c3', 2600, 'f3', 1000, 'zstd', '{}', 'r3', 1, now()), (4, 'V', 'c4', 500, 'f4', 250, 'zstd', '{}', 'r4', 1, now())");
            st.execute("insert into chunkref (nar_id, seq, chunk_id, chunk_hash, compression) values (1, 0, 1, 'c1', 'zstd'), (1, 1, 2, 'c2', 'zstd'),"
                    + " (2, 0, 2, 'c2', 'zstd'), (2, 1, 3, 'c3', 'zstd'), (3, 0, 4, 'c4', 'zstd')");
            // Three store paths in main (two of them the same NAR), one in other; the last upload to main at 2026-11-30T12:00:00Z.
            st.execute("insert into object (cache_id, nar_id, store_path_hash, store_path, \"references\", sigs, created_at) values"
                    + " (1, 1, 'a', '/nix/store/a', '[]', '[]', '2026-11-01T00:00:00Z'), (1, 2, 'b', '/nix/store/b', '[]', '[]', '2026-11-30T12:00:00Z'),"
                    + " (1, 2, 'c', '/nix/store/c', '[]', '[]', '2026-11-15T00:00:00Z'), (2, 3, 'd', '/nix/store/d', '[]', '[]', '2026-12-01T00:00:00Z')");
        }
        GenericKubernetesResourceBuilder b = new GenericKubernetesResourceBuilder().withApiVersion(DbAdmin.API).withKind("Cluster")
                .withNewMetadata().withName("attic-pg").withNamespace(ns).endMetadata().addToAdditionalProperties("spec", Map.of("instances", 1, "storage", Map.of("size", "1Gi")));
        kube.genericKubernetesResources(DbAdmin.API, "Cluster").inNamespace(ns).resource(b.build()).create();
        kube.resource(CnpgStatus.instancePod(ns, "attic-pg", 1)).create();
        api.portForward(ns, "attic-pg-1", 5432, pg.host(), pg.port());
        kube.pods().inNamespace(ns).withName("attic-pg-1").waitUntilCondition(p -> p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase()), 60, TimeUnit.SECONDS);

        var r = cache(env, "usage", "-o", "json");
        assertEquals(0, r.exit(), r.toString());
        JsonNode u = JSON.readTree(r.out());
        assertEquals(3, u.get("storePaths").asLong());
        assertEquals(2, u.get("nars").asLong());
        assertEquals(4000, u.get("narBytes").asLong());
        assertEquals(3, u.get("chunks").asLong(), "chunk c2 is counted once");
        assertEquals(3600, u.get("chunkBytes").asLong());
        assertEquals(1400, u.get("storedBytes").asLong(), "after deduplication and compression");
        assertEquals("2026-11-30T12:00:00Z", u.get("lastUpload").asText());
        assertEquals(4, u.get("serverChunks").asLong());
        assertEquals(1650, u.get("serverStoredBytes").asLong());
        var table = cache(env, "usage");
        assertTrue(table.out().lines().anyMatch(l -> l.matches("storedBytes\\s+1\\.4 KiB\\s*")), table.out());

        // The SQL ran read-only: the owner's session could not have written (a read-only transaction refuses it).
        assertTrue(CacheAdmin.CACHE_USAGE.strip().startsWith("with ") && !CacheAdmin.CACHE_USAGE.toLowerCase().matches("(?s).*\\b(insert|update|delete)\\b.*"));

        // gc: a Job running atticd --mode garbage-collector-once, and usage before it.
        var dry = cache(env, "gc", "--dry-run");
        assertEquals(0, dry.exit(), dry.toString());
        assertTrue(dry.out().contains("- garbage-collector-once") && dry.out().contains("restartPolicy: Never"), dry.out());
        assertEquals(0, kube.batch().v1().jobs().inNamespace(ns).list().getItems().size(), "a client dry run creates nothing");
        // What the collector's pod needs before the Job controller can make it and the scheduler place it (without them the
        // Job never completes: FailedCreate, serviceaccount "attic" not found; then the claim unbound, storage class absent):
        // the ServiceAccount provision-namespaces makes, and the storage claim deploy-cache makes, bound to a volume.
        EnvConfig.Env dev = EnvConfig.load("dev", env.toString());
        var claim = CacheObjects.storage(dev, ns);
        kube.resource(new io.fabric8.kubernetes.api.model.PersistentVolumeBuilder().withNewMetadata().withName("gfw-" + ns).endMetadata()
                .withNewSpec().withCapacity(Map.of("storage", claim.getSpec().getResources().getRequests().get("storage")))
                .withAccessModes(claim.getSpec().getAccessModes()).withStorageClassName(claim.getSpec().getStorageClassName())
                .withNewHostPath().withPath("/var/lib/gfw-test/" + ns).endHostPath()
                .withNewClaimRef().withNamespace(ns).withName(claim.getMetadata().getName()).endClaimRef().endSpec().build()).create();
        kube.resource(claim).create();
        kube.resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata().withName("attic").withNamespace(ns).endMetadata().build()).create();
        // Without --wait: the Job is created and usage before is shown.
        var gc = cache(env, "gc");
        assertEquals(0, gc.exit(), gc.toString());
        assertTrue(gc.out().matches("(?s)job\\.batch/attic-gc-once-\\d{14} created \\(atticd --mode garbage-collector-once\\)\n.*"), gc.out());
        assertTrue(gc.out().lines().anyMatch(l -> l.matches("storePaths\\s+3\\s*")), gc.out());
        var jobs = kube.batch().v1().jobs().inNamespace(ns).list().getItems();
        assertEquals(1, jobs.size());
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "garbage-collector-once"), jobs.get(0).getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());

        // --wait: the Job's pod runs and exits 0 (kwok's pod-complete stage), the Job controller marks it Complete; progress on
        // the way, usage before and after.
        Thread.sleep(1100); // Job names are per second
        var waited = cache(env, "gc", "--wait", "--timeout", "90s");
        assertEquals(0, waited.exit(), waited.toString());
        assertTrue(waited.out().matches("(?s)job\\.batch/(attic-gc-once-\\d{14}) created \\(atticd --mode garbage-collector-once\\)\njob\\.batch/\\1 completed\n.*"), waited.out());
        assertTrue(waited.out().lines().anyMatch(l -> l.matches("USAGE\\s+BEFORE\\s+AFTER\\s*")), waited.out());
        assertTrue(waited.out().lines().anyMatch(l -> l.matches("storePaths\\s+3\\s+3\\s*")), waited.out());
        assertTrue(waited.err().matches("(?s).*job/attic-gc-once-\\d{14}: \\d active, 0 succeeded, 0 failed\n.*job/attic-gc-once-\\d{14}: complete \\(0 active, 1 succeeded, 0 failed\\).*"),
                "progress: " + waited.err());

        // A collector that exits 1: the Job fails at once (backoffLimit 0); the reason and the pod's exit code, exit 80.
        api.jobs(ns, TestCluster.JobPods.FAIL);
        try {
            Thread.sleep(1100);
            var failed = cache(env, "gc", "--wait", "--timeout", "90s");
            assertEquals(ExitCode.CHECK_FAILED, failed.exit(), failed.toString());
            assertTrue(failed.err().matches("(?s).*error: job\\.batch/attic-gc-once-\\d{14} failed \\(BackoffLimitExceeded: Job has reached the specified backoff limit;"
                    + " pod attic-gc-once-\\d{14}-\\w+ exited 1 \\(Error\\)\\); see its log: 'kubectl -n " + ns + " logs job/attic-gc-once-\\d{14}'\n"), failed.err());
            assertTrue(failed.out().lines().noneMatch(l -> l.contains("completed")), failed.out());

            // A collector that runs on: --timeout ends the wait, exit 80, the Job goes on.
            api.jobs(ns, TestCluster.JobPods.RUN_ON);
            Thread.sleep(1100);
            long start = System.nanoTime();
            var slow = cache(env, "gc", "--wait", "--timeout", "3s");
            long took = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertEquals(ExitCode.CHECK_FAILED, slow.exit(), slow.toString());
            assertTrue(slow.err().matches("(?s).*error: job\\.batch/attic-gc-once-\\d{14} not complete after 3s \\(--timeout\\): 1 active, 0 succeeded, 0 failed; it goes on: .*"), slow.err());
            assertTrue(took < 20, "--timeout 3s ended the wait (took " + took + " s)");
        } finally {
            api.jobs(ns, TestCluster.JobPods.SUCCEED);
        }

        // A cache that is not in the database: one line, exit 68.
        var other = cache(envDir(ns, e -> e.set("cnpg.database", db).set("attic.cache", "nope")), "usage");
        assertEquals(ExitCode.NOT_FOUND, other.exit(), other.toString());
        assertTrue(other.err().contains("cache nope is not in Attic's database"), other.err());
    }
}
