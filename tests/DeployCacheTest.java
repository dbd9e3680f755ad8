import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * deploy-cache against the test API server, with the CNPG operator stand-in (real PostgreSQL behind
 * it), the Job controller stand-in, the Attic stand-in (atticd's routes and auth rules, verifying tokens
 * with a second JWT library) reached through a port-forward stand-in, as a user runs it.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeployCacheTest {

    static TestCluster api;
    static KubernetesClient kube;
    static TestPostgres pg;
    static CnpgOperatorStandIn operator;
    static AtticStandIn attic;
    /** What gfw writes as api-endpoint in dev's server.toml; the stand-in answers as an atticd configured so. */
    static final String API_ENDPOINT = "http://attic.attic-cache-dev.svc.cluster.local/";
    static String ns;
    static String envDir;
    static final List<String> NAMESPACES = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        api = TestCluster.shared();
        Assumptions.assumeTrue(api.isLocal(), "the operator and Attic stand-ins, reached through kwok's port-forwards, need the suite's control plane");
        kube = api.client();
        pg = TestPostgres.shared();
        operator = new CnpgOperatorStandIn(kube, pg);
        ns = namespace("gfw-cache-");
        attic = new AtticStandIn(() -> signingKey(ns));
        attic.apiEndpoint = API_ENDPOINT;
        api.serviceBackend(ns, 8080, java.net.URI.create("http://127.0.0.1:" + attic.port()));
        envDir = TestSupport.repo().resolve("environments").toString();
    }

    static String namespace(String prefix) {
        String name = prefix + TestCluster.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build()).create();
        // The ServiceAccount the Attic pods run as, which provision-namespaces creates: without it no pod is admitted.
        kube.serviceAccounts().inNamespace(name).resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder().withNewMetadata()
                .withName("attic").withNamespace(name).endMetadata().build()).create();
        NAMESPACES.add(name);
        operator.watch(name);
        return name;
    }

    @AfterAll
    static void tearDown() {
        if (operator != null) operator.close();
        if (attic != null) attic.close();
        for (String n : NAMESPACES) kube.namespaces().withName(n).delete();
    }

    /** A request to the Attic stand-in, no token. */
    static java.net.http.HttpResponse<String> get(String path) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + attic.port() + path)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    static String signingKey(String namespace) {
        Secret s = kube.secrets().inNamespace(namespace).withName("attic-jwt-signing").get();
        return s == null ? "" : decode(s, "hs256-secret-base64");
    }

    static String decode(Secret s, String key) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
    }

    static TestSupport.Result deploy(String env, String namespace, String... more) {
        return deployWith(api, env, namespace, more);
    }

    static TestSupport.Result deployWith(TestCluster cluster, String env, String namespace, String... more) {
        var args = new ArrayList<>(List.of(env, "--env-dir", envDir, "-n", namespace, "--kubeconfig", cluster.kubeconfig().toString(),
                "--context", cluster.context()));
        args.addAll(List.of(more));
        if (!args.contains("--timeout")) args.addAll(List.of("--timeout", "60s"));
        return TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
    }

    /** Everything a run printed or stored in a ConfigMap must be free of these. */
    static List<String> secretsOf(String namespace) {
        var out = new ArrayList<String>();
        Secret pgc = kube.secrets().inNamespace(namespace).withName("attic-pg-app-credentials").get();
        String password = decode(pgc, "password");
        out.add(password);
        out.add(java.net.URLEncoder.encode(password, StandardCharsets.UTF_8));
        out.add(decode(kube.secrets().inNamespace(namespace).withName("attic-secrets").get(), "DATABASE_URL"));
        out.add(signingKey(namespace));
        out.add(new String(Base64.getDecoder().decode(signingKey(namespace)), StandardCharsets.US_ASCII));
        return out;
    }

    static void assertHoldsNone(String where, String text, List<String> secrets) {
        for (String s : secrets) assertFalse(text.contains(s), where + " holds a secret value");
    }

    @Test
    @Order(1)
    void deploysDatabaseAndAtticThenAReRunSendsNoWrite() throws Exception {
        var run = TestSupport.script("deploy-cache", "dev", "--env-dir", envDir, "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--timeout", "60s").run();
        assertEquals(0, run.exit(), run.toString());
        assertTrue(run.out().contains("cluster/attic-pg -n " + ns + " created"), run.out());
        assertTrue(run.err().contains("cluster/attic-pg: healthy, 1/1 instances ready"), run.err());

        // The owner's password: basic-auth, 32 characters, some needing percent-encoding.
        Secret pgc = kube.secrets().inNamespace(ns).withName("attic-pg-app-credentials").get();
        assertEquals("kubernetes.io/basic-auth", pgc.getType());
        assertEquals("attic", decode(pgc, "username"));
        String password = decode(pgc, "password");
        assertEquals(32, password.length());
        assertFalse(password.equals(java.net.URLEncoder.encode(password, StandardCharsets.UTF_8)), "has characters that need encoding");

        // DATABASE_URL logs in, with psql (libpq) and with pgjdbc, once pointed at the test server.
        String url = decode(kube.secrets().inNamespace(ns).withName("attic-secrets").get(), "DATABASE_URL");
        assertTrue(url.startsWith("postgresql://attic:") && url.contains("@attic-pg-rw." + ns + ".svc.cluster.local:5432/attic?sslmode=require"), "url shape");
        String local = url.replace("attic-pg-rw." + ns + ".svc.cluster.local:5432", pg.host() + ":" + pg.port());
        var psql = pg.psql(local, "select current_user");
        assertEquals(0, psql.exit(), psql.err());
        assertEquals("attic", psql.out().trim());
        URI u = URI.create(local);
        String[] userInfo = u.getRawUserInfo().split(":", 2);
        var props = new Properties();
        props.setProperty("user", URLDecoder.decode(userInfo[0], StandardCharsets.UTF_8));
        props.setProperty("password", URLDecoder.decode(userInfo[1], StandardCharsets.UTF_8));
        props.setProperty("sslmode", "require");
        try (var c = DriverManager.getConnection("jdbc:postgresql://" + u.getHost() + ":" + u.getPort() + "/attic", props);
             var rs = c.createStatement().executeQuery("select current_user")) {
            assertTrue(rs.next());
            assertEquals("attic", rs.getString(1));
        }

        // What the operator leaves for gfw's Cluster spec (bootstrap.initdb.secret set, no enableSuperuserAccess), as
        // CloudNativePG 1.30.0 does: no attic-pg-app and no attic-pg-superuser, the certificate Secrets, the three Services;
        // gfw reads the bootstrap Secret it made, and cnpg-connstr prints exactly the DATABASE_URL deploy-cache stored.
        assertNull(kube.secrets().inNamespace(ns).withName("attic-pg-app").get(), "CNPG writes no <cluster>-app when bootstrap.initdb.secret is set");
        assertNull(kube.secrets().inNamespace(ns).withName("attic-pg-superuser").get(), "superuser access is off by default");
        assertEquals("Opaque", kube.secrets().inNamespace(ns).withName("attic-pg-ca").get().getType());
        assertEquals("kubernetes.io/tls", kube.secrets().inNamespace(ns).withName("attic-pg-server").get().getType());
        assertEquals("kubernetes.io/tls", kube.secrets().inNamespace(ns).withName("attic-pg-replication").get().getType());
        for (String svc : List.of("attic-pg-rw", "attic-pg-ro", "attic-pg-r")) assertNotNull(kube.services().inNamespace(ns).withName(svc).get(), svc);
        assertNull(kube.services().inNamespace(ns).withName("attic-pg-any").get(), "-any only with the operator's CREATE_ANY_SERVICE");
        var printed = TestSupport.inProcess(new CnpgConnstr(), "dev", "--env-dir", envDir, "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--reveal");
        assertEquals(0, printed.exit(), printed.toString());
        assertEquals(url, printed.out().strip());

        // Secrets only in Secrets: the ConfigMap, stdout and stderr hold none of them.
        List<String> secrets = secretsOf(ns);
        ConfigMap cm = kube.configMaps().inNamespace(ns).withName("attic-config").get();
        String toml = cm.getData().get("server.toml");
        assertTrue(toml.contains("listen = \"[::]:8080\"") && toml.contains("[storage]\ntype = \"local\"") && toml.contains("[compression]\ntype = \"zstd\""), toml);
        assertHoldsNone("ConfigMap attic-config", toml, secrets);
        assertFalse(toml.contains("postgresql://") || toml.contains("token-hs256-secret-base64"), toml);
        assertHoldsNone("stdout", run.out(), secrets);
        assertHoldsNone("stderr", run.err(), secrets);

        // The Deployment reads them through secretKeyRef and rolls on a change (checksum annotation).
        Deployment d = kube.apps().deployments().inNamespace(ns).withName("attic").get();
        var container = d.getSpec().getTemplate().getSpec().getContainers().get(0);
        // The API alone under the HPA (atticd --mode api-server runs no migrations and no collector: server/src/main.rs).
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "api-server"), container.getArgs());
        EnvVar dbEnv = container.getEnv().stream().filter(e -> e.getName().equals("ATTIC_SERVER_DATABASE_URL")).findFirst().orElseThrow();
        assertEquals("attic-secrets", dbEnv.getValueFrom().getSecretKeyRef().getName());
        assertEquals("DATABASE_URL", dbEnv.getValueFrom().getSecretKeyRef().getKey());
        EnvVar keyEnv = container.getEnv().stream().filter(e -> e.getName().equals("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64")).findFirst().orElseThrow();
        assertEquals("attic-jwt-signing", keyEnv.getValueFrom().getSecretKeyRef().getName());
        assertTrue(container.getEnv().stream().allMatch(e -> e.getValue() == null), "no env value in clear");
        // Probes on what atticd serves: "/" (its placeholder page); it has no /nix-cache-info outside a cache (the stand-in answers 404 there, as atticd's fallback).
        assertEquals("/", container.getReadinessProbe().getHttpGet().getPath());
        assertEquals("/", container.getLivenessProbe().getHttpGet().getPath());
        assertEquals(200, get("/").statusCode());
        assertEquals(404, get("/nix-cache-info").statusCode());
        assertEquals(1000L, d.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsUser());
        assertTrue(d.getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config").matches("[0-9a-f]{64}"));
        assertEquals(8080, kube.services().inNamespace(ns).withName("attic").get().getSpec().getPorts().get(0).getTargetPort().getIntVal());
        assertEquals(80, kube.services().inNamespace(ns).withName("attic").get().getSpec().getPorts().get(0).getPort());
        assertNotNull(kube.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName("attic").get());
        assertNotNull(kube.policy().v1().podDisruptionBudget().inNamespace(ns).withName("attic").get());
        // Exactly one garbage collector: replicas 1, Recreate (two never overlap), no HPA on it.
        Deployment gc = kube.apps().deployments().inNamespace(ns).withName("attic-gc").get();
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "garbage-collector"), gc.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());
        assertEquals(1, gc.getSpec().getReplicas());
        assertEquals("Recreate", gc.getSpec().getStrategy().getType());
        assertEquals("attic", kube.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName("attic").get().getSpec().getScaleTargetRef().getName());
        // The migrations: one Job, atticd --mode db-migrations, complete before the API and the collector were applied.
        var migrations = kube.batch().v1().jobs().inNamespace(ns).list().getItems();
        assertEquals(1, migrations.size(), migrations.toString());
        var job = migrations.get(0);
        assertTrue(job.getMetadata().getName().matches("attic-db-migrations-[0-9a-f]{10}"), job.getMetadata().getName());
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "db-migrations"), job.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());
        assertEquals("Never", job.getSpec().getTemplate().getSpec().getRestartPolicy());
        assertEquals(1, job.getSpec().getParallelism());
        assertEquals("Failed", job.getSpec().getPodReplacementPolicy());
        assertTrue(job.getStatus() != null && job.getStatus().getConditions() != null && job.getStatus().getConditions().stream()
                .anyMatch(c -> "Complete".equals(c.getType()) && "True".equals(c.getStatus())), "the Job controller marked it Complete: " + job.getStatus());
        List<String> lines = run.out().lines().toList();
        int jobLine = lines.indexOf("job/" + job.getMetadata().getName() + " -n " + ns + " created");
        assertTrue(jobLine >= 0 && jobLine < lines.indexOf("deployment/attic -n " + ns + " created")
                && jobLine < lines.indexOf("deployment/attic-gc -n " + ns + " created"), run.out());
        assertTrue(run.err().contains("job/" + job.getMetadata().getName() + ": complete (database migrations done)"), run.err());

        // The cache, created through Attic's API with a token the stand-in verified independently.
        assertEquals(1, attic.created.size(), attic.requests.toString());
        assertEquals("Generate", attic.created.get(0).get("keypair"));
        String publicKey = attic.caches.get("main");
        assertTrue(run.out().contains("cache/main created"), run.out());
        assertTrue(run.out().contains("public key: " + publicKey), run.out());
        // nix.conf lines that add to cache.nixos.org (as 'attic use' does), and for this private cache the netrc
        // line Nix needs, with a placeholder where the token goes: deploy-cache prints no token.
        assertTrue(run.out().contains("\nnix.conf:\n  extra-substituters = " + API_ENDPOINT + "main\n  extra-trusted-public-keys = " + publicKey + "\n"
                + "  netrc-file = /etc/nix/netrc\n"), run.out());
        assertTrue(run.out().contains("\n  machine attic.attic-cache-dev.svc.cluster.local password <token: gfw attic-token dev --sub NAME --pull main -o netrc>\n"), run.out());
        assertFalse(run.out().lines().anyMatch(l -> l.trim().startsWith("substituters") || l.trim().startsWith("trusted-public-keys")), "never replaces Nix's own: " + run.out());
        assertFalse(run.out().contains("eyJ") || run.err().contains("eyJ"), "no token printed");
        // The cache answers what Nix asks first, with a token (private), and refuses it without one.
        assertTrue(attic.requests.contains("GET /main/nix-cache-info 200"), attic.requests.toString());
        assertEquals(401, get("/main/nix-cache-info").statusCode());

        // A re-run on the unchanged cluster: no write request, Attic not asked to create anything.
        api.resetRequests();
        int posts = attic.created.size();
        var again = deploy("dev", ns);
        assertEquals(0, again.exit(), again.toString());
        assertEquals(0, api.mutatingRequests(), api.requests().stream().filter(TestCluster.Request::isMutating).toList().toString());
        assertTrue(again.err().contains("up to date, no write request sent"), again.err());
        assertTrue(again.out().contains("cache/main unchanged"), again.out());
        assertEquals(posts, attic.created.size());
        assertFalse(again.out().lines().anyMatch(l -> l.endsWith(" created") || l.endsWith(" configured")), again.out());
        assertHoldsNone("re-run output", again.out() + again.err(), secrets);

        // cnpg-connstr --write-secret writes the same DATABASE_URL the same way: neither undoes the other.
        api.resetRequests();
        var connstr = TestSupport.inProcess(new CnpgConnstr(), "dev", "--env-dir", envDir, "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--write-secret");
        assertEquals(0, connstr.exit(), connstr.toString());
        assertTrue(connstr.out().contains("secret/attic-secrets -n " + ns + " unchanged"), connstr.out());
        assertEquals(0, api.requests().stream().filter(q -> q.isMutating() && q.path().contains("/namespaces/" + ns + "/secrets")).count(), api.requests().toString());
    }

    @Test
    @Order(2)
    void aChangedImageRollsTheDeployment() throws Exception {
        Path dir = TestSupport.tempDir("cache-env");
        String dev = Files.readString(Path.of(envDir, "dev.yaml"));
        String newImage = "ghcr.io/zhaofengli/attic:next@sha256:" + "ab".repeat(32);
        String changed = dev.replaceFirst("(?m)^  image: ghcr.io/zhaofengli/attic:\\S+", "  image: " + newImage);
        Files.writeString(dir.resolve("dev.yaml"), changed);
        var args = new ArrayList<>(List.of("dev", "--env-dir", dir.toString(), "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--timeout", "60s"));
        // --diff first: the image line of both Deployments, nothing sent.
        api.resetRequests();
        var diffArgs = new ArrayList<>(args);
        diffArgs.add("--diff");
        var diff = TestSupport.inProcess(new DeployCache(), diffArgs.toArray(String[]::new));
        assertEquals(0, diff.exit(), diff.toString());
        assertTrue(diff.out().contains("~ deployment/attic -n " + ns + "\n    spec.template.spec.containers[0].image: ") && diff.out().contains("-> ghcr.io/zhaofengli/attic:next@sha256:abab"), diff.out());
        assertTrue(diff.err().contains("1 to create, 2 to configure"), diff.err()); // a new image: a new migrations Job
        assertTrue(diff.out().lines().anyMatch(l -> l.matches("\\+ job/attic-db-migrations-[0-9a-f]{10} -n " + ns + " \\(new\\)")), diff.out());
        String oldJob = kube.batch().v1().jobs().inNamespace(ns).list().getItems().get(0).getMetadata().getName();
        assertEquals(0, api.requests().stream().filter(q -> q.isMutating() && q.path().contains("/namespaces/" + ns + "/") && !q.path().endsWith("/status")).count(),
                api.requests().toString());

        var r = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("deployment/attic -n " + ns + " configured"), r.out());
        assertTrue(r.out().contains("deployment/attic-gc -n " + ns + " configured"), r.out());
        assertEquals(newImage, kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
        // The Deployment controller rolls the new template out: a ReplicaSet of attic with the new image.
        java.util.function.Supplier<List<String>> images = () -> kube.apps().replicaSets().inNamespace(ns).list().getItems().stream()
                .filter(rs -> rs.getMetadata().getOwnerReferences().stream().anyMatch(o -> o.getName().equals("attic")))
                .map(rs -> rs.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).toList();
        long deadline = System.currentTimeMillis() + 30_000;
        while (!images.get().contains(newImage) && System.currentTimeMillis() < deadline) Thread.sleep(200);
        assertTrue(images.get().contains(newImage), images.get().toString());
        // The new image's migrations ran (one Job, with that image), the earlier configuration's Job is gone.
        var migrations = kube.batch().v1().jobs().inNamespace(ns).list().getItems();
        assertEquals(1, migrations.size(), migrations.toString());
        assertFalse(migrations.get(0).getMetadata().getName().equals(oldJob));
        assertEquals(newImage, migrations.get(0).getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
        assertTrue(r.out().contains("job/" + oldJob + " -n " + ns + " deleted"), r.out());
    }

    @Test
    @Order(3)
    void dryRunsAndDiffStoreNothing() {
        String fresh = namespace("gfw-cache-dry-");
        var client = TestSupport.inProcess(new DeployCache(), "dev", "--env-dir", envDir, "-n", fresh, "--dry-run=client", "-o", "yaml");
        assertEquals(0, client.exit(), client.toString());
        assertTrue(client.out().contains("kind: Cluster") && client.out().contains("kind: Deployment") && client.out().contains("hostssl all all all scram-sha-256"), client.out());
        assertTrue(client.out().contains("password: '****'") || client.out().contains("password: \"****\""), client.out());
        assertFalse(client.out().contains("postgresql://"), client.out());

        api.resetRequests();
        var server = deploy("dev", fresh, "--dry-run=server");
        assertEquals(0, server.exit(), server.toString());
        assertTrue(server.out().contains("cluster/attic-pg -n " + fresh + " created (server dry run)"), server.out());
        // gfw's requests: the operator stand-in keeps writing status in the class's other namespace meanwhile.
        assertTrue(api.requests().stream().filter(q -> q.isMutating() && q.path().contains("/namespaces/" + fresh + "/"))
                .allMatch(TestCluster.Request::isDryRun), api.requests().toString());
        assertTrue(kube.secrets().inNamespace(fresh).list().getItems().isEmpty(), "nothing stored");

        api.resetRequests();
        var diff = deploy("dev", fresh, "--diff");
        assertEquals(0, diff.exit(), diff.toString());
        assertTrue(diff.out().contains("+ cluster/attic-pg -n " + fresh + " (new)"), diff.out());
        assertEquals(0, api.mutatingRequests(true), api.requests().toString());
    }

    @Test
    @Order(4)
    void plannedAndProductionAreRefusedBeforeAnyRequest() throws Exception {
        operator.paused = true; // its polls would be in the request log
        Thread.sleep(300);
        try {
            refusedBeforeAnyRequest();
        } finally {
            operator.paused = false;
        }
    }

    void refusedBeforeAnyRequest() throws Exception {
        api.resetRequests();
        var planned = deploy("prod", ns);
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        assertTrue(planned.err().contains("is planned"), planned.err());

        Path dir = TestSupport.tempDir("cache-prod");
        Files.writeString(dir.resolve("prod.yaml"), Files.readString(Path.of(envDir, "prod.yaml")).replace("status: planned", "status: active"));
        var prod = TestSupport.inProcess(new DeployCache(), "prod", "--env-dir", dir.toString(), "-n", ns,
                "--kubeconfig", api.kubeconfig().toString(), "--context", api.context());
        assertEquals(ExitCode.REFUSED, prod.exit(), prod.toString());
        assertTrue(prod.err().contains("is production: refusing to deploy the cache on prod-cluster without --yes"), prod.err());
        assertEquals(0, api.requests().size(), api.requests().toString());
    }

    @Test
    @Order(5)
    void anUnreadyClusterWithinTimeoutIsOneClearLine() {
        String slow = namespace("gfw-cache-slow-");
        operator.holdUnready.add(slow);
        var r = deploy("dev", slow, "--timeout", "2s");
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), r.err());
        assertTrue(r.err().contains("cluster attic-pg in namespace " + slow + " was not ready within 2s"), r.err());
        assertTrue(r.err().contains("waiting"), "progress on stderr: " + r.err());
    }

    @Test
    @Order(6)
    void aCacheApiErrorIsOneClearLine() {
        attic.failWith = 500;
        try {
            var r = deploy("dev", ns);
            assertEquals(ExitCode.REMOTE_ERROR, r.exit(), r.toString());
            assertEquals(1, r.err().lines().filter(l -> l.startsWith("error:")).count(), r.err());
            assertTrue(r.err().contains("answered GET /_api/v1/cache-config/main with 500: InternalServerError"), r.err());
        } finally {
            attic.failWith = null;
        }
    }

    @Test
    @Order(7)
    void aMissingOperatorIsExit68WithHowToInstallIt() {
        // The CRD stays on the run's shared control plane; this handle's proxy answers for it as a cluster without the operator would.
        String crd = "clusters.postgresql.cnpg.io";
        String path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd;
        String notFound = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"customresourcedefinitions.apiextensions.k8s.io \\\"" + crd
                + "\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"" + crd + "\",\"group\":\"apiextensions.k8s.io\",\"kind\":\"customresourcedefinitions\"},\"code\":404}";
        try (TestCluster without = TestCluster.start()) {
            without.fail("GET", path, 404, notFound, -1);
            var r = deployWith(without, "dev", ns);
            assertEquals(ExitCode.NOT_FOUND, r.exit(), r.toString());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().contains("the CloudNativePG operator is not installed (no CRD " + crd + "); re-run with --install-operator"), r.err());
            // --install-operator installs the pinned chart (here the fixture, as air-gapped) with Helm, then deploys: the CRD is
            // missing for the first look only, as on a cluster where the chart brings it.
            without.clearFaults();
            without.fail("GET", path, 404, notFound, 1);
            var installed = deployWith(without, "dev", ns, "--timeout", "30s", "--install-operator", "--operator-chart",
                    TestSupport.repo().resolve("tests/fixtures/cloudnative-pg").toString());
            assertEquals(0, installed.exit(), installed.toString());
            assertTrue(installed.out().contains("helmrelease/cnpg -n cnpg-system installed (chart cloudnative-pg-0.29.0, revision 1)"), installed.out());
            assertNotNull(kube.apiextensions().v1().customResourceDefinitions().withName(crd).get());
        }
    }

    @Test
    @Order(8)
    void aNewDatabasePasswordOrSigningKeyReachesTheSecretsAndRollsThePods() {
        String before = kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
        // As when an operator changes the owner's password in the bootstrap secret: CNPG sets the role's to it
        // (instance_controller.go reconcileUser; the stand-in re-passwords the role the same way).
        String password = "n3w:p@ss/" + TestCluster.randomHex(4) + "#%";
        long rolesBefore = operator.bootstrapped.stream().filter(b -> b.equals(ns + "/attic-pg attic")).count();
        Secret app = kube.secrets().inNamespace(ns).withName("attic-pg-app-credentials").get();
        app.getData().put("password", Base64.getEncoder().encodeToString(password.getBytes(StandardCharsets.UTF_8)));
        kube.secrets().inNamespace(ns).resource(app).update();
        long until = System.nanoTime() + 10_000_000_000L;
        while (operator.bootstrapped.stream().filter(b -> b.equals(ns + "/attic-pg attic")).count() == rolesBefore && System.nanoTime() < until) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        var r = deploy("dev", ns);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("secret/attic-secrets -n " + ns + " configured"), r.out());
        assertTrue(r.out().contains("deployment/attic -n " + ns + " configured"), r.out());
        assertTrue(r.out().contains("secret/attic-pg-app-credentials -n " + ns + " unchanged"), r.out());
        String url = decode(kube.secrets().inNamespace(ns).withName("attic-secrets").get(), "DATABASE_URL");
        var psql = pg.psql(url.replace("attic-pg-rw." + ns + ".svc.cluster.local:5432", pg.host() + ":" + pg.port()), "select 1");
        assertEquals(0, psql.exit(), psql.err());
        assertHoldsNone("output after a password change", r.out() + r.err(), List.of(password, url));
        String afterPassword = kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
        assertFalse(before.equals(afterPassword), "the checksum follows the secrets");

        // A new signing key only with --rotate-jwt-key --yes, with a warning that tokens stop working.
        String key = signingKey(ns);
        var refused = deploy("dev", ns, "--rotate-jwt-key");
        assertEquals(ExitCode.REFUSED, refused.exit(), refused.toString());
        assertEquals(key, signingKey(ns));
        var rotated = deploy("dev", ns, "--rotate-jwt-key", "--yes");
        assertEquals(0, rotated.exit(), rotated.toString());
        assertFalse(key.equals(signingKey(ns)), "a new key");
        assertTrue(rotated.err().contains("every Attic token issued before is now rejected"), rotated.err());
        assertTrue(rotated.out().contains("secret/attic-jwt-signing -n " + ns + " configured"), rotated.out());
        assertFalse(afterPassword.equals(kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config")));
        assertHoldsNone("rotation output", rotated.out() + rotated.err(), List.of(signingKey(ns)));
    }

    @Test
    @Order(9)
    void aCacheSectionWithAMovableImageIsRejectedWithFileAndLine() throws Exception {
        Path dir = TestSupport.tempDir("cache-bad");
        String dev = Files.readString(Path.of(envDir, "dev.yaml"));
        Files.writeString(dir.resolve("dev.yaml"), dev.replaceFirst("(?m)^  image: (ghcr.io/zhaofengli/attic):\\S+", "  image: $1:latest")
                .replace("    type: local\n    size: 20Gi", "    type: s3\n    size: 20Gi"));
        var r = TestSupport.inProcess(new DeployCache(), "dev", "--env-dir", dir.toString(), "--dry-run=client");
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertTrue(r.err().matches("(?s).*dev.yaml:\\d+:\\d+ cache.image: '[^']+' is not an image pinned by digest .* or by a full commit-SHA tag.*"), r.err());
        assertTrue(r.err().contains("cache.storage.size: only for type: local"), r.err());
        assertTrue(r.err().contains("cache.storage.bucket: is required"), r.err());
        assertTrue(r.out().isEmpty(), r.out());
    }

    @Test
    @Order(10)
    void prodRendersS3IngressAndBackupsWithoutASecretInTheConfig() throws Exception {
        var r = TestSupport.inProcess(new DeployCache(), "prod", "--env-dir", envDir, "--dry-run=client", "-o", "json");
        assertEquals(0, r.exit(), r.toString());
        Map<?, ?> list = Output.JSON.readValue(r.out(), Map.class);
        var byKind = new java.util.HashMap<String, Map<?, ?>>();
        for (Object o : (List<?>) list.get("items")) {
            Map<?, ?> m = (Map<?, ?>) o;
            byKind.put(m.get("kind") + "/" + ((Map<?, ?>) m.get("metadata")).get("name"), m);
        }
        Map<?, ?> ingress = byKind.get("Ingress/attic");
        Map<?, ?> annotations = (Map<?, ?>) ((Map<?, ?>) ingress.get("metadata")).get("annotations");
        assertEquals("10g", annotations.get("nginx.ingress.kubernetes.io/proxy-body-size"));
        assertEquals("letsencrypt-prod", annotations.get("cert-manager.io/cluster-issuer"));
        String toml = (String) ((Map<?, ?>) byKind.get("ConfigMap/attic-config").get("data")).get("server.toml");
        assertTrue(toml.contains("type = \"s3\"") && toml.contains("bucket = \"gloriousflywheel-attic-prod\"")
                && toml.contains("api-endpoint = \"https://attic.gloriousflywheel.dev/\""), toml);
        assertFalse(toml.toLowerCase().contains("secret_access_key") || toml.contains("[storage.credentials]"), toml);
        String deployment = Output.json(byKind.get("Deployment/attic"));
        assertTrue(deployment.contains("\"AWS_SECRET_ACCESS_KEY\"") && deployment.contains("\"secretKeyRef\""), deployment);
        assertEquals(3, ((Map<?, ?>) byKind.get("Cluster/attic-pg").get("spec")).get("instances"));
        // Backups through the Barman Cloud plugin (spec.backup.barmanObjectStore is deprecated since CNPG 1.26, removed in 1.31):
        // an ObjectStore, the Cluster's spec.plugins naming it as WAL archiver, a ScheduledBackup with method plugin.
        Map<?, ?> clusterSpec = (Map<?, ?>) byKind.get("Cluster/attic-pg").get("spec");
        assertFalse(clusterSpec.containsKey("backup"), "no in-tree backup: " + clusterSpec);
        assertEquals(List.of(Map.of("name", "barman-cloud.cloudnative-pg.io", "isWALArchiver", true, "parameters", Map.of("barmanObjectName", "attic-pg-backup"))),
                clusterSpec.get("plugins"));
        Map<?, ?> store = byKind.get("ObjectStore/attic-pg-backup");
        assertEquals("barmancloud.cnpg.io/v1", store.get("apiVersion"));
        assertEquals(Map.of("configuration", Map.of("destinationPath", "s3://gloriousflywheel-attic-pg-backups/prod", "endpointURL", "https://s3.eu-central-1.amazonaws.com",
                        "s3Credentials", Map.of("accessKeyId", Map.of("name", "attic-pg-backup-credentials", "key", "ACCESS_KEY_ID"),
                                "secretAccessKey", Map.of("name", "attic-pg-backup-credentials", "key", "ACCESS_SECRET_KEY"))),
                "retentionPolicy", "30d"), store.get("spec"));
        assertEquals(Map.of("schedule", "0 0 3 * * *", "backupOwnerReference", "self", "cluster", Map.of("name", "attic-pg"), "method", "plugin",
                "pluginConfiguration", Map.of("name", "barman-cloud.cloudnative-pg.io")), byKind.get("ScheduledBackup/attic-pg-daily").get("spec"));
        List<String> order = ((List<?>) list.get("items")).stream().map(o -> (String) ((Map<?, ?>) o).get("kind")).toList();
        assertTrue(order.indexOf("ObjectStore") < order.indexOf("Cluster"), "the ObjectStore before the Cluster that names it: " + order);
        assertFalse(byKind.containsKey("PersistentVolumeClaim/attic-storage"), "s3: no local volume");
        Map<?, ?> secrets = (Map<?, ?>) byKind.get("Secret/attic-secrets").get("stringData");
        assertEquals(Map.of("DATABASE_URL", "****"), secrets);
        assertTrue(deployment.contains("\"attic-s3-credentials\""), "S3 keys from cache.storage.credentialsSecret: " + deployment);
    }

    @Test
    @Order(11)
    void s3CredentialsComeFromTheirSecretIntoAtticSecretsOnly() throws Exception {
        String s3ns = namespace("gfw-cache-s3-");
        api.serviceBackend(s3ns, 8080, java.net.URI.create("http://127.0.0.1:" + attic.port()));
        Path dir = TestSupport.tempDir("cache-s3");
        String dev = Files.readString(Path.of(envDir, "dev.yaml"));
        String s3 = dev.replace("    accessMode: ReadWriteMany\n    storageClass: longhorn\n", "").replace("    type: local\n    size: 20Gi\n", "    type: s3\n    bucket: attic-dev\n    endpoint: https://minio.example:9000\n"
                + "    region: us-east-1\n    credentialsSecret: attic-s3\n");
        Files.writeString(dir.resolve("dev.yaml"), s3);
        var args = List.of("dev", "--env-dir", dir.toString(), "-n", s3ns, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "--timeout", "60s");

        var missing = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
        assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
        assertEquals(1, missing.err().lines().filter(l -> l.startsWith("error:")).count(), missing.err());
        assertTrue(missing.err().contains("secret attic-s3 in namespace " + s3ns + " (cache.storage.credentialsSecret) must exist"), missing.err());

        String secretKey = "s3cr3t/" + TestCluster.randomHex(6);
        kube.resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName("attic-s3").withNamespace(s3ns).endMetadata()
                .addToStringData("AWS_ACCESS_KEY_ID", "AKIATEST").addToStringData("AWS_SECRET_ACCESS_KEY", secretKey).build()).create();
        // The port-forward still leads to the Attic of the first namespace, which holds another key: 77, one line.
        var rejected = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
        assertEquals(ExitCode.AUTH, rejected.exit(), rejected.toString());
        assertEquals(1, rejected.err().lines().filter(l -> l.startsWith("error:")).count(), rejected.err());
        assertTrue(rejected.err().contains("rejected gfw's token for GET /_api/v1/cache-config/main (401"), rejected.err());

        try (var own = new AtticStandIn(() -> signingKey(s3ns))) {
            api.serviceBackend(s3ns, 8080, java.net.URI.create("http://127.0.0.1:" + own.port()));
            var ok = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(0, ok.exit(), ok.toString());
            assertTrue(ok.out().contains("cache/main created"), ok.out());
            s3Checks(s3ns, secretKey, ok);
        }
    }

    @Test
    @Order(12)
    void migrationsRunOnceBeforeTheApiAndAFailedOneStopsTheRollout() {
        String fresh = namespace("gfw-cache-mig-");
        try (var own = new AtticStandIn(() -> signingKey(fresh))) {
            api.serviceBackend(fresh, 8080, java.net.URI.create("http://127.0.0.1:" + own.port()));
            migrations(fresh);
        }
    }

    void migrations(String fresh) {
        // The Job controller has not finished the migrations within --timeout: exit 69, and neither the API nor the collector exists.
        api.jobs(fresh, TestCluster.JobPods.RUN_ON);
        try {
            var held = deploy("dev", fresh, "--timeout", "8s");
            assertEquals(ExitCode.UNAVAILABLE, held.exit(), held.toString());
            assertTrue(held.err().matches("(?s).*error: job attic-db-migrations-[0-9a-f]{10} in namespace " + fresh + " \\(database migrations\\) did not complete within 8s.*"), held.err());
            assertNull(kube.apps().deployments().inNamespace(fresh).withName("attic").get(), "the API waits for the migrations");
            assertNull(kube.apps().deployments().inNamespace(fresh).withName("attic-gc").get(), "the collector waits for the migrations");
        } finally {
            api.jobs(fresh, TestCluster.JobPods.SUCCEED);
        }
        // It failed: exit 79 naming the Job's log, still no API.
        kube.batch().v1().jobs().inNamespace(fresh).delete();
        awaitNoJobs(fresh);
        api.jobs(fresh, TestCluster.JobPods.FAIL);
        try {
            // The real Job controller retries a failed pod backoffLimit (3) times, 10, 20 and 40 s apart, before it marks the Job Failed.
            var failed = deploy("dev", fresh, "--timeout", "180s");
            assertEquals(ExitCode.REMOTE_ERROR, failed.exit(), failed.toString());
            assertEquals(1, failed.err().lines().filter(l -> l.startsWith("error:")).count(), failed.err());
            assertTrue(failed.err().contains("(atticd --mode db-migrations) failed: BackoffLimitExceeded") && failed.err().contains("logs job/attic-db-migrations-"), failed.err());
            assertNull(kube.apps().deployments().inNamespace(fresh).withName("attic").get());
        } finally {
            api.jobs(fresh, TestCluster.JobPods.SUCCEED);
        }
        // Once the failed Job is deleted, a re-run migrates and deploys; a second re-run runs no new Job.
        kube.batch().v1().jobs().inNamespace(fresh).delete();
        awaitNoJobs(fresh);
        var ok = deploy("dev", fresh);
        assertEquals(0, ok.exit(), ok.toString());
        assertEquals(1, kube.batch().v1().jobs().inNamespace(fresh).list().getItems().size());
        String uid = kube.batch().v1().jobs().inNamespace(fresh).list().getItems().get(0).getMetadata().getUid();
        var again = deploy("dev", fresh);
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.out().lines().anyMatch(l -> l.matches("job/attic-db-migrations-[0-9a-f]{10} -n " + fresh + " unchanged")), again.out());
        var after = kube.batch().v1().jobs().inNamespace(fresh).list().getItems();
        assertEquals(List.of(uid), after.stream().map(j -> j.getMetadata().getUid()).toList(), "no new migration");
    }

    static void awaitNoJobs(String namespace) {
        long deadline = System.currentTimeMillis() + 30_000;
        while (!kube.batch().v1().jobs().inNamespace(namespace).list().getItems().isEmpty() && System.currentTimeMillis() < deadline) ApplyRun.sleep(50);
    }

    @Test
    @Order(13)
    void aClusterClockMinutesBehindStillAcceptsGfwsToken() {
        // atticd allows no skew on nbf/iat and treats a token "from the future" as none: 401. gfw backdates nbf and sends no iat.
        attic.clockOffset = java.time.Duration.ofMinutes(-3);
        try {
            var r = deploy("dev", ns);
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().contains("cache/main unchanged"), r.out());
            assertTrue(attic.requests.contains("GET /_api/v1/cache-config/main 200"), attic.requests.toString());
        } finally {
            attic.clockOffset = java.time.Duration.ZERO;
        }
    }

    @Test
    @Order(14)
    void theCacheNameIsCheckedAsAtticChecksIt() throws Exception {
        Path dir = TestSupport.tempDir("cache-name");
        String dev = Files.readString(Path.of(envDir, "dev.yaml"));
        assertTrue(dev.contains("\n  cache: main\n"), "dev.yaml changed shape");
        // '.' is not in an Attic cache name (attic/src/cache.rs): refused with file, line and field, nothing printed.
        Files.writeString(dir.resolve("dev.yaml"), dev.replace("\n  cache: main\n", "\n  cache: main.dev\n"));
        var bad = TestSupport.inProcess(new gfw(), "validate", "dev", "--env-dir", dir.toString());
        assertEquals(ExitCode.CONFIG, bad.exit(), bad.toString());
        assertTrue(bad.err().matches("(?s).*dev.yaml:\\d+:\\d+ attic.cache: 'main.dev' is not an Attic cache name.*"), bad.err());
        var deployBad = TestSupport.inProcess(new DeployCache(), "dev", "--env-dir", dir.toString(), "--dry-run=client");
        assertEquals(ExitCode.CONFIG, deployBad.exit(), deployBad.toString());
        assertTrue(deployBad.out().isEmpty(), deployBad.out());
        // '+' is (the namespace delimiter Attic suggests).
        Files.writeString(dir.resolve("dev.yaml"), dev.replace("\n  cache: main\n", "\n  cache: team+main\n"));
        var good = TestSupport.inProcess(new gfw(), "validate", "dev", "--env-dir", dir.toString());
        assertEquals(0, good.exit(), good.toString());
    }

    void s3Checks(String s3ns, String secretKey, TestSupport.Result ok) {
        // Not copied: the pods read them from their own Secret, attic-secrets holds DATABASE_URL only.
        Secret atticSecrets = kube.secrets().inNamespace(s3ns).withName("attic-secrets").get();
        assertEquals(java.util.Set.of("DATABASE_URL"), atticSecrets.getData().keySet());
        var env = kube.apps().deployments().inNamespace(s3ns).withName("attic").get().getSpec().getTemplate().getSpec().getContainers().get(0).getEnv();
        EnvVar secretEnv = env.stream().filter(e -> e.getName().equals("AWS_SECRET_ACCESS_KEY")).findFirst().orElseThrow();
        assertEquals("attic-s3", secretEnv.getValueFrom().getSecretKeyRef().getName());
        String toml = kube.configMaps().inNamespace(s3ns).withName("attic-config").get().getData().get("server.toml");
        assertTrue(toml.contains("type = \"s3\"") && toml.contains("endpoint = \"https://minio.example:9000\""), toml);
        assertFalse(toml.contains(secretKey) || toml.contains("AKIATEST"), toml);
        assertFalse(ok.out().contains(secretKey) || ok.err().contains(secretKey));
        assertNull(kube.persistentVolumeClaims().inNamespace(s3ns).withName("attic-storage").get(), "no local volume with s3");
    }

    /** A CRD as cert-manager's chart installs it (only what the API server needs to serve the kind). */
    static CustomResourceDefinition crd(String group, String kind, String plural) {
        return new io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder().withNewMetadata().withName(plural + "." + group).endMetadata()
                .withNewSpec().withGroup(group).withScope("Namespaced").withNewNames().withKind(kind).withPlural(plural).withSingular(kind.toLowerCase())
                .withListKind(kind + "List").endNames().addNewVersion().withName("v1").withServed(true).withStorage(true).withNewSchema()
                .withNewOpenAPIV3Schema().withType("object").withXKubernetesPreserveUnknownFields(true).endOpenAPIV3Schema().endSchema()
                .withNewSubresources().withNewStatus().endStatus().endSubresources()
                .endVersion().endSpec().build();
    }

    @Test
    @Order(12)
    void backupsGoThroughTheBarmanCloudPluginWhichNeedsCertManager() throws Exception {
        String bns = namespace("gfw-cache-backup-");
        // The one field saying where the operator runs is where its plugin goes (cache.operator has no namespace).
        String operatorNs = "cnpg-backup-" + TestCluster.randomHex(3);
        NAMESPACES.add(operatorNs);
        Path dir = EnvFile.of(Files.readString(Path.of(envDir, "dev.yaml"))).set("cnpg.operatorNamespace", operatorNs)
                .add("cache.database", "backup", "{destinationPath: \"s3://attic-pg-backups/dev\", credentialsSecret: attic-pg-backup-credentials}")
                .writeTo(TestSupport.tempDir("cache-backup"), "dev");
        var args = new ArrayList<>(List.of("dev", "--env-dir", dir.toString(), "-n", bns, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "--timeout", "60s"));
        var crds = kube.apiextensions().v1().customResourceDefinitions();
        List<String> certManager = List.of("certificates.cert-manager.io", "issuers.cert-manager.io");
        for (String n : List.of("objectstores.barmancloud.cnpg.io", certManager.get(0), certManager.get(1))) api.deleteCrd(n);
        // The operator is installed (the test API server serves its Cluster kind); its chart also installs ScheduledBackup.
        if (crds.withName("scheduledbackups.postgresql.cnpg.io").get() == null) api.ensureCrd(crd("postgresql.cnpg.io", "ScheduledBackup", "scheduledbackups"));
        try (var own = new AtticStandIn(() -> signingKey(bns))) {
            api.serviceBackend(bns, 8080, java.net.URI.create("http://127.0.0.1:" + own.port()));
            // No plugin: exit 68 with the way to install it, nothing applied.
            var missing = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
            assertEquals(1, missing.err().lines().count(), missing.err());
            assertTrue(missing.err().contains("the Barman Cloud plugin is not installed (no CRD objectstores.barmancloud.cnpg.io), and cache.database.backup needs it;"
                    + " re-run with --install-operator to install chart plugin-barman-cloud 0.7.0 into namespace " + operatorNs + " (it needs cert-manager)"), missing.err());

            // --install-operator without cert-manager: refused before anything is installed or applied.
            args.addAll(List.of("--install-operator", "--plugin-chart", TestSupport.repo().resolve("tests/fixtures/plugin-barman-cloud").toString()));
            var noCertManager = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(ExitCode.NOT_FOUND, noCertManager.exit(), noCertManager.toString());
            assertEquals(1, noCertManager.err().lines().count(), noCertManager.err());
            assertTrue(noCertManager.err().contains("the Barman Cloud plugin (chart plugin-barman-cloud 0.7.0) needs cert-manager, which is not installed"
                    + " (no CRD certificates.cert-manager.io, issuers.cert-manager.io): install cert-manager first"), noCertManager.err());
            assertNull(crds.withName("objectstores.barmancloud.cnpg.io").get(), "nothing installed");
            assertEquals(List.of(), kube.secrets().inNamespace(bns).list().getItems(), "nothing applied");

            // With cert-manager's CRDs: the plugin chart is installed as the operator's is, then the ObjectStore, the
            // Cluster archiving through the plugin and the ScheduledBackup taken by it.
            api.ensureCrd(crd("cert-manager.io", "Certificate", "certificates"));
            api.ensureCrd(crd("cert-manager.io", "Issuer", "issuers"));
            var ok = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(0, ok.exit(), ok.toString());
            assertTrue(ok.out().contains("helmrelease/barman-cloud -n " + operatorNs + " installed (chart plugin-barman-cloud-0.7.0, revision 1)"), ok.out());
            assertTrue(ok.out().indexOf("objectstore/attic-pg-backup -n " + bns + " created") < ok.out().indexOf("cluster/attic-pg -n " + bns + " created"), ok.out());
            var store = kube.genericKubernetesResources("barmancloud.cnpg.io/v1", "ObjectStore").inNamespace(bns).withName("attic-pg-backup").get();
            assertEquals("30d", ((Map<?, ?>) store.getAdditionalProperties().get("spec")).get("retentionPolicy"));
            var cluster = kube.genericKubernetesResources("postgresql.cnpg.io/v1", "Cluster").inNamespace(bns).withName("attic-pg").get();
            Map<?, ?> spec = (Map<?, ?>) cluster.getAdditionalProperties().get("spec");
            assertFalse(spec.containsKey("backup"), spec.toString());
            assertEquals("attic-pg-backup", ((Map<?, ?>) ((Map<?, ?>) ((List<?>) spec.get("plugins")).get(0)).get("parameters")).get("barmanObjectName"));
            var scheduled = kube.genericKubernetesResources("postgresql.cnpg.io/v1", "ScheduledBackup").inNamespace(bns).withName("attic-pg-daily").get();
            assertEquals("plugin", ((Map<?, ?>) scheduled.getAdditionalProperties().get("spec")).get("method"));

            // Installed: a re-run installs nothing again.
            var again = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(0, again.exit(), again.toString());
            assertFalse(again.out().contains("helmrelease/"), again.out());
        } finally {
            for (String n : List.of("objectstores.barmancloud.cnpg.io", certManager.get(0), certManager.get(1))) api.deleteCrd(n);
        }
    }
}
