import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.SignatureVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** attic-token against the test API server; tokens checked with auth0's java-jwt and the Attic stand-in. */
class AtticTokenTest {

    static TestCluster api;
    static KubernetesClient kube;
    static String ns;
    static String key;
    static String envDir;

    @BeforeAll
    static void setUp() {
        api = TestCluster.shared();
        kube = api.client();
        ns = "gfw-token-" + TestCluster.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        key = AtticTokens.newSigningKey(new SecureRandom());
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-jwt-signing").withNamespace(ns).endMetadata()
                .addToStringData("hs256-secret-base64", key).build()).create();
        envDir = TestSupport.repo().resolve("environments").toString();
    }

    @AfterAll
    static void tearDown() {
        kube.namespaces().withName(ns).delete();
    }

    static TestSupport.Result token(String stdin, String... more) {
        var args = new ArrayList<>(List.of("dev", "--env-dir", envDir, "-n", ns, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context()));
        args.addAll(List.of(more));
        if (stdin == null) return TestSupport.inProcess(new AtticToken(), args.toArray(String[]::new));
        var old = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            return TestSupport.inProcess(new AtticToken(), args.toArray(String[]::new));
        } finally {
            System.setIn(old);
        }
    }

    static DecodedJWT verify(String token, String keyBase64) {
        return JWT.require(Algorithm.HMAC256(Base64.getDecoder().decode(keyBase64))).build().verify(token);
    }

    @Test
    void mintsAnAtticTokenAloneOnStdoutSignedWithTheClusterKey() throws Exception {
        var run = TestSupport.script("attic-token", "dev", "--env-dir", envDir, "-n", ns, "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--sub", "ci-runner", "--pull", "main", "--push", "main", "--create-cache", "team-*", "--validity", "2h").run();
        assertEquals(0, run.exit(), run.toString());
        assertEquals(1, run.out().lines().count(), run.out());
        String token = run.out().trim();
        DecodedJWT jwt = verify(token, key);
        assertEquals("HS256", jwt.getAlgorithm());
        assertEquals("ci-runner", jwt.getSubject());
        assertEquals(7200, jwt.getExpiresAtAsInstant().getEpochSecond() - jwt.getIssuedAtAsInstant().getEpochSecond());
        assertEquals(jwt.getIssuedAtAsInstant(), jwt.getNotBeforeAsInstant());
        assertEquals(Map.of("caches", Map.of("main", Map.of("r", 1, "w", 1), "team-*", Map.of("cc", 1))), jwt.getClaim("https://jwt.attic.rs/v1").asMap());
        assertTrue(run.err().contains("permissions: main: pull, push; team-*: create-cache"), run.err());
        assertFalse(run.err().contains(token) || run.err().contains(key), "stderr holds neither token nor key");
        // Another key does not verify it.
        assertThrows(SignatureVerificationException.class, () -> verify(token, AtticTokens.newSigningKey(new SecureRandom())));

        // Attic (the stand-in, verifying on its own) lets it read main and create team-x, not read other.
        try (var attic = new AtticStandIn(() -> key)) {
            attic.caches.put("main", "main:AAAA");
            var http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + attic.port() + "/_api/v1/cache-config/";
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "main")).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(base + "other")).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            String create = "{\"keypair\":\"Generate\",\"is_public\":false,\"store_dir\":\"/nix/store\",\"priority\":41,\"upstream_cache_key_names\":[]}";
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "team-x")).header("Authorization", "Bearer " + token)
                    .POST(HttpRequest.BodyPublishers.ofString(create)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        }
    }

    @Test
    void envOutputValidityLimitsAndUsageErrors() {
        var env = token(null, "--sub", "alice", "--pull", "*", "-o", "env");
        assertEquals(0, env.exit(), env.toString());
        assertTrue(env.out().startsWith("ATTIC_TOKEN=") && env.out().lines().count() == 1, env.out());
        assertEquals(Map.of("caches", Map.of("*", Map.of("r", 1))), verify(env.out().trim().substring(12), key).getClaim("https://jwt.attic.rs/v1").asMap());

        var long_ = token(null, "--sub", "alice", "--pull", "main", "--validity", "400d");
        assertEquals(ExitCode.REFUSED, long_.exit(), long_.toString());
        assertTrue(long_.err().contains("is over a year") && long_.out().isEmpty(), long_.err());
        var forced = token(null, "--sub", "alice", "--pull", "main", "--validity", "400d", "--force");
        assertEquals(0, forced.exit(), forced.toString());

        var none = token(null, "--sub", "alice");
        assertEquals(ExitCode.USAGE, none.exit(), none.toString());
        assertTrue(none.err().contains("no permission given"), none.err());
        var noSub = token(null, "--pull", "main");
        assertEquals(ExitCode.USAGE, noSub.exit(), noSub.toString());
        var badCache = token(null, "--sub", "a", "--pull", "ma in");
        assertEquals(ExitCode.USAGE, badCache.exit(), badCache.toString());
    }

    @Test
    void decodeSaysWhetherATokenVerifiesAgainstTheClusterKey() {
        String good = token(null, "--sub", "bob", "--push", "main", "--validity", "1h").out().trim();
        var ok = token(good, "--decode");
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(ok.out().contains("subject: bob") && ok.out().contains("permissions: main: push"), ok.out());
        assertTrue(ok.out().contains("signature: verifies against secret attic-jwt-signing in namespace " + ns), ok.out());

        // Signed with another key (another environment, or before a rotation): exit 80, said plainly.
        String foreign = AtticTokens.mint(AtticTokens.newSigningKey(new SecureRandom()), "bob", java.time.Instant.now(),
                java.time.Duration.ofHours(1), Map.of("main", List.of("r")));
        var bad = token(foreign, "--decode");
        assertEquals(ExitCode.CHECK_FAILED, bad.exit(), bad.toString());
        assertTrue(bad.out().contains("signature: does NOT verify"), bad.out());
        assertTrue(bad.err().contains("Attic answers Unauthorized"), bad.err());

        var garbage = token("not-a-token", "--decode");
        assertEquals(ExitCode.USAGE, garbage.exit(), garbage.toString());
    }

    @Test
    void writeSecretStoresTheTokenInsteadOfPrintingIt() {
        var r = token(null, "--sub", "runner-nix", "--pull", "main", "--push", "main", "--write-secret", "attic-token-nix");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("secret/attic-token-nix -n " + ns + " created", r.out().trim());
        var s = kube.secrets().inNamespace(ns).withName("attic-token-nix").get();
        String stored = new String(Base64.getDecoder().decode(s.getData().get("token")), StandardCharsets.UTF_8);
        assertEquals("runner-nix", verify(stored, key).getSubject());
        assertFalse(r.out().contains(stored) || r.err().contains(stored));
    }
}
