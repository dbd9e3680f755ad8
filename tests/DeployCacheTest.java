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
 * it), the Attic stand-in (verifying tokens with a second JWT library) reached through a port-forward
 * stand-in, as a user runs it.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeployCacheTest {

    static TestApiServer api;
    static KubernetesClient kube;
    static TestPostgres pg;
    static CnpgOperatorStandIn operator;
    static AtticStandIn attic;
    static String ns;
    static String envDir;
    static final List<String> NAMESPACES = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        api = TestApiServer.shared();
        Assumptions.assumeTrue(api.isMock(), "the operator, Attic and port-forward stand-ins need the mock API server");
        kube = api.client();
        pg = TestPostgres.shared();
        operator = new CnpgOperatorStandIn(kube, pg);
        ns = namespace("gfw-cache-");
        attic = new AtticStandIn(() -> signingKey(ns));
        PortForwardStandIn.install(api, ns, "attic-0", 8080, "127.0.0.1", attic.port());
        envDir = TestSupport.repo().resolve("environments").toString();
    }

    static String namespace(String prefix) {
        String name = prefix + TestApiServer.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build()).create();
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

    static String signingKey(String namespace) {
        Secret s = kube.secrets().inNamespace(namespace).withName("attic-jwt-signing").get();
        return s == null ? "" : decode(s, "hs256-secret-base64");
    }

    static String decode(Secret s, String key) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
    }

    static TestSupport.Result deploy(String env, String namespace, String... more) {
        var args = new ArrayList<>(List.of(env, "--env-dir", envDir, "-n", namespace, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context()));
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
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "monolithic"), container.getArgs());
        EnvVar dbEnv = container.getEnv().stream().filter(e -> e.getName().equals("ATTIC_SERVER_DATABASE_URL")).findFirst().orElseThrow();
        assertEquals("attic-secrets", dbEnv.getValueFrom().getSecretKeyRef().getName());
        assertEquals("DATABASE_URL", dbEnv.getValueFrom().getSecretKeyRef().getKey());
        EnvVar keyEnv = container.getEnv().stream().filter(e -> e.getName().equals("ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64")).findFirst().orElseThrow();
        assertEquals("attic-jwt-signing", keyEnv.getValueFrom().getSecretKeyRef().getName());
        assertTrue(container.getEnv().stream().allMatch(e -> e.getValue() == null), "no env value in clear");
        assertEquals("/nix-cache-info", container.getReadinessProbe().getHttpGet().getPath());
        assertEquals(1000L, d.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsUser());
        assertTrue(d.getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config").matches("[0-9a-f]{64}"));
        assertEquals(8080, kube.services().inNamespace(ns).withName("attic").get().getSpec().getPorts().get(0).getTargetPort().getIntVal());
        assertEquals(80, kube.services().inNamespace(ns).withName("attic").get().getSpec().getPorts().get(0).getPort());
        assertNotNull(kube.autoscaling().v2().horizontalPodAutoscalers().inNamespace(ns).withName("attic").get());
        assertNotNull(kube.policy().v1().podDisruptionBudget().inNamespace(ns).withName("attic").get());
        assertEquals(List.of("--config", "/etc/attic/server.toml", "--mode", "garbage-collector"),
                kube.apps().deployments().inNamespace(ns).withName("attic-gc").get().getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());

        // The cache, created through Attic's API with a token the stand-in verified independently.
        assertEquals(1, attic.created.size(), attic.requests.toString());
        assertEquals("Generate", attic.created.get(0).get("keypair"));
        String publicKey = attic.caches.get("main");
        assertTrue(run.out().contains("cache/main created"), run.out());
        assertTrue(run.out().contains("public key: " + publicKey), run.out());
        assertTrue(run.out().contains("substituters = http://attic.example/main"), run.out());
        assertTrue(run.out().contains("trusted-public-keys = " + publicKey), run.out());

        // A re-run on the unchanged cluster: no write request, Attic not asked to create anything.
        api.resetRequests();
        int posts = attic.created.size();
        var again = deploy("dev", ns);
        assertEquals(0, again.exit(), again.toString());
        assertEquals(0, api.mutatingRequests(), api.requests().stream().filter(TestApiServer.Request::isMutating).toList().toString());
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
        assertTrue(diff.err().contains("2 to configure"), diff.err());
        assertEquals(0, api.requests().stream().filter(q -> q.isMutating() && q.path().contains("/namespaces/" + ns + "/") && !q.path().endsWith("/status")).count(),
                api.requests().toString());

        var r = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("deployment/attic -n " + ns + " configured"), r.out());
        assertTrue(r.out().contains("deployment/attic-gc -n " + ns + " configured"), r.out());
        assertEquals(newImage, kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
        long deadline = System.currentTimeMillis() + 10_000;
        while (!operator.rollouts.contains(ns + "/attic " + newImage) && System.currentTimeMillis() < deadline) Thread.sleep(100);
        assertTrue(operator.rollouts.contains(ns + "/attic " + newImage), operator.rollouts.toString());
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
        assertTrue(api.requests().stream().filter(TestApiServer.Request::isMutating).allMatch(TestApiServer.Request::isDryRun), api.requests().toString());
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
        String crd = "clusters.postgresql.cnpg.io";
        CustomResourceDefinition saved = kube.apiextensions().v1().customResourceDefinitions().withName(crd).get();
        kube.apiextensions().v1().customResourceDefinitions().withName(crd).delete();
        try {
            var r = deploy("dev", ns);
            assertEquals(ExitCode.NOT_FOUND, r.exit(), r.toString());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().contains("the CloudNativePG operator is not installed (no CRD " + crd + "); re-run with --install-operator"), r.err());
            // --install-operator installs the pinned chart (here the fixture, as air-gapped) with Helm, then deploys.
            var installed = deploy("dev", ns, "--timeout", "30s", "--install-operator", "--operator-chart", TestSupport.repo().resolve("tests/fixtures/cloudnative-pg").toString());
            assertEquals(0, installed.exit(), installed.toString());
            assertTrue(installed.out().contains("helmrelease/cnpg -n cnpg-system installed (chart cloudnative-pg-0.26.0, revision 1)"), installed.out());
            assertNotNull(kube.apiextensions().v1().customResourceDefinitions().withName(crd).get());
            return;
        } finally {
            if (kube.apiextensions().v1().customResourceDefinitions().withName(crd).get() != null) return;
            saved.getMetadata().setResourceVersion(null);
            saved.getMetadata().setUid(null);
            saved.getMetadata().setCreationTimestamp(null);
            saved.getMetadata().setManagedFields(null);
            kube.apiextensions().v1().customResourceDefinitions().resource(saved).create();
        }
    }

    @Test
    @Order(8)
    void aNewDatabasePasswordOrSigningKeyReachesTheSecretsAndRollsThePods() {
        String before = kube.apps().deployments().inNamespace(ns).withName("attic").get().getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
        // As when CNPG's password is changed: the role and <cluster>-app get a new one.
        String password = "n3w:p@ss/" + TestApiServer.randomHex(4) + "#%";
        try {
            pg.setPassword("attic", password);
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
        Secret app = kube.secrets().inNamespace(ns).withName("attic-pg-app").get();
        app.getData().put("password", Base64.getEncoder().encodeToString(password.getBytes(StandardCharsets.UTF_8)));
        kube.secrets().inNamespace(ns).resource(app).update();
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
        assertTrue(Output.json(byKind.get("Cluster/attic-pg")).contains("barmanObjectStore"));
        assertNotNull(byKind.get("ScheduledBackup/attic-pg-daily"));
        assertFalse(byKind.containsKey("PersistentVolumeClaim/attic-storage"), "s3: no local volume");
        Map<?, ?> secrets = (Map<?, ?>) byKind.get("Secret/attic-secrets").get("stringData");
        assertEquals(Map.of("DATABASE_URL", "****"), secrets);
        assertTrue(deployment.contains("\"attic-s3-credentials\""), "S3 keys from cache.storage.credentialsSecret: " + deployment);
    }

    @Test
    @Order(11)
    void s3CredentialsComeFromTheirSecretIntoAtticSecretsOnly() throws Exception {
        String s3ns = namespace("gfw-cache-s3-");
        PortForwardStandIn.install(api, s3ns, "attic-0", 8080, "127.0.0.1", attic.port());
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

        String secretKey = "s3cr3t/" + TestApiServer.randomHex(6);
        kube.resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName("attic-s3").withNamespace(s3ns).endMetadata()
                .addToStringData("AWS_ACCESS_KEY_ID", "AKIATEST").addToStringData("AWS_SECRET_ACCESS_KEY", secretKey).build()).create();
        // The port-forward still leads to the Attic of the first namespace, which holds another key: 77, one line.
        var rejected = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
        assertEquals(ExitCode.AUTH, rejected.exit(), rejected.toString());
        assertEquals(1, rejected.err().lines().filter(l -> l.startsWith("error:")).count(), rejected.err());
        assertTrue(rejected.err().contains("rejected gfw's token for GET /_api/v1/cache-config/main (401"), rejected.err());

        try (var own = new AtticStandIn(() -> signingKey(s3ns))) {
            PortForwardStandIn.install(api, s3ns, "attic-0", 8080, "127.0.0.1", own.port());
            var ok = TestSupport.inProcess(new DeployCache(), args.toArray(String[]::new));
            assertEquals(0, ok.exit(), ok.toString());
            assertTrue(ok.out().contains("cache/main created"), ok.out());
            s3Checks(s3ns, secretKey, ok);
        }
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
}
