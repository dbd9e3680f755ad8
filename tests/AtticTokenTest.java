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
        // Valid for 2 h from now, and already from 5 minutes ago (nbf backdated, no iat): atticd allows no clock skew.
        long now = java.time.Instant.now().getEpochSecond();
        assertTrue(Math.abs(jwt.getExpiresAtAsInstant().getEpochSecond() - (now + 7200)) <= 60, jwt.getExpiresAtAsInstant().toString());
        assertEquals(300, jwt.getExpiresAtAsInstant().getEpochSecond() - 7200 - jwt.getNotBeforeAsInstant().getEpochSecond());
        assertTrue(jwt.getClaim("iat").isMissing(), "no iat");
        assertEquals(Map.of("caches", Map.of("main", Map.of("r", 1, "w", 1), "team-*", Map.of("cc", 1))), jwt.getClaim("https://jwt.attic.rs/v1").asMap());
        assertTrue(run.err().contains("permissions: main: pull, push; team-*: create-cache"), run.err());
        assertFalse(run.err().contains(token) || run.err().contains(key), "stderr holds neither token nor key");
        // Another key does not verify it.
        assertThrows(SignatureVerificationException.class, () -> verify(token, AtticTokens.newSigningKey(new SecureRandom())));

        // Attic (the stand-in, verifying on its own) lets it read main and create team-x, not read other,
        // also with its clock 4 minutes behind this one's.
        try (var attic = new AtticStandIn(() -> key)) {
            attic.clockOffset = java.time.Duration.ofMinutes(-4);
            attic.caches.put("main", "main:AAAA");
            var http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + attic.port() + "/_api/v1/cache-config/";
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "main")).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(base + "other")).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            String create = "{\"keypair\":\"Generate\",\"is_public\":false,\"store_dir\":\"/nix/store\",\"priority\":41,\"upstream_cache_key_names\":[]}";
            assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "team-x")).header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(create)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
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
    void cacheNamesAreAtticsOwnPlusAllowedDotRefused() {
        // attic/src/cache.rs: [A-Za-z0-9][A-Za-z0-9-_+]{0,49}, patterns add '*'. A '.' in a claim key makes atticd reject the whole token.
        var plus = token(null, "--sub", "alice", "--pull", "zhaofengli+shared", "--create-cache", "team+*");
        assertEquals(0, plus.exit(), plus.toString());
        assertEquals(Map.of("caches", Map.of("zhaofengli+shared", Map.of("r", 1), "team+*", Map.of("cc", 1))),
                verify(plus.out().trim(), key).getClaim("https://jwt.attic.rs/v1").asMap());
        var dot = token(null, "--sub", "alice", "--pull", "main", "--push", "main.dev");
        assertEquals(ExitCode.USAGE, dot.exit(), dot.toString());
        assertTrue(dot.err().contains("--push cache 'main.dev': an Attic cache name") && dot.err().contains("no '.'"), dot.err());
        assertTrue(dot.out().isEmpty(), dot.out());
        var tooLong = token(null, "--sub", "alice", "--pull", "a".repeat(51));
        assertEquals(ExitCode.USAGE, tooLong.exit(), tooLong.toString());
        var leading = token(null, "--sub", "alice", "--pull", "_main");
        assertEquals(ExitCode.USAGE, leading.exit(), leading.toString());
    }

    @Test
    void netrcOutputIsTheLineAPrivateCacheNeeds() {
        // As 'attic use' writes it (client/src/nix_netrc.rs): machine <substituter host> password <token>.
        var r = token(null, "--sub", "alice", "--pull", "main", "-o", "netrc");
        assertEquals(0, r.exit(), r.toString());
        String line = r.out().trim();
        assertTrue(line.matches("machine attic\\.attic-cache-dev\\.svc\\.cluster\\.local password eyJ[A-Za-z0-9_.-]+"), line);
        assertEquals("alice", verify(line.substring(line.lastIndexOf(' ') + 1), key).getSubject());
    }

    @Test
    void atticsOwnRulesDecideWhatATokenIsWorth() throws Exception {
        // The stand-in as atticd answers (server/src/api, access/http.rs): no /nix-cache-info outside a cache, "/" 200,
        // a private cache's nix-cache-info only with pull; a token it cannot validate counts as none.
        try (var attic = new AtticStandIn(() -> key)) {
            attic.caches.put("main", "main:AAAA");
            var http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + attic.port();
            java.util.function.BiFunction<String, String, HttpResponse<String>> get = (path, tok) -> {
                var b = HttpRequest.newBuilder(URI.create(base + path));
                if (tok != null) b.header("Authorization", "Bearer " + tok);
                try {
                    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            assertEquals(200, get.apply("/", null).statusCode());
            var root = get.apply("/nix-cache-info", null);
            assertEquals(404, root.statusCode());
            assertEquals("{\"code\":404,\"error\":\"NotFound\",\"message\":\"The URL you requested was not found.\"}", root.body());
            assertEquals(401, get.apply("/main/nix-cache-info", null).statusCode());
            String pull = AtticTokens.mint(key, "t", java.time.Instant.now(), java.time.Duration.ofMinutes(10), Map.of("main", List.of("r")));
            var info = get.apply("/main/nix-cache-info", pull);
            assertEquals(200, info.statusCode());
            assertEquals("WantMassQuery: 1\nStoreDir: /nix/store\nPriority: 41\n", info.body());
            // push only: may discover main, may not pull: 403; no such cache with a grant: 404; without one: 401.
            String push = AtticTokens.mint(key, "t", java.time.Instant.now(), java.time.Duration.ofMinutes(10), Map.of("*", List.of("w")));
            assertEquals(403, get.apply("/main/nix-cache-info", push).statusCode());
            assertEquals(404, get.apply("/_api/v1/cache-config/other", push).statusCode());
            assertEquals(401, get.apply("/_api/v1/cache-config/other", pull).statusCode());
            assertEquals(400, get.apply("/_api/v1/cache-config/main.dev", pull).statusCode());
            // A token "from the future" (iat or nbf after atticd's clock) or with a '.' in a cache key is no token: 401.
            var future = new com.nimbusds.jwt.JWTClaimsSet.Builder().subject("t").issueTime(new java.util.Date(System.currentTimeMillis() + 60_000))
                    .expirationTime(new java.util.Date(System.currentTimeMillis() + 600_000))
                    .claim("https://jwt.attic.rs/v1", Map.of("caches", Map.of("main", Map.of("r", 1)))).build();
            var signed = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.HS256), future);
            signed.sign(new com.nimbusds.jose.crypto.MACSigner(Base64.getDecoder().decode(key)));
            assertEquals(401, get.apply("/main/nix-cache-info", signed.serialize()).statusCode());
            var dotted = new com.nimbusds.jwt.JWTClaimsSet.Builder().subject("t").expirationTime(new java.util.Date(System.currentTimeMillis() + 600_000))
                    .claim("https://jwt.attic.rs/v1", Map.of("caches", Map.of("main", Map.of("r", 1), "main.dev", Map.of("r", 1)))).build();
            var dottedJwt = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.HS256), dotted);
            dottedJwt.sign(new com.nimbusds.jose.crypto.MACSigner(Base64.getDecoder().decode(key)));
            assertEquals(401, get.apply("/main/nix-cache-info", dottedJwt.serialize()).statusCode());
            // A public cache: anonymous pull.
            attic.publicCaches.add("main");
            assertEquals(200, get.apply("/main/nix-cache-info", null).statusCode());
        }
    }

    @Test
    void decodeSaysWhenAtticWouldIgnoreAToken() throws Exception {
        // Minted by another tool with iat/nbf "now" and the cluster 2 minutes behind is the same as a token from the future: say so.
        var future = new com.nimbusds.jwt.JWTClaimsSet.Builder().subject("t").issueTime(new java.util.Date(System.currentTimeMillis() + 120_000))
                .notBeforeTime(new java.util.Date(System.currentTimeMillis() + 120_000)).expirationTime(new java.util.Date(System.currentTimeMillis() + 600_000))
                .claim("https://jwt.attic.rs/v1", Map.of("caches", Map.of("main.dev", Map.of("r", 1)))).build();
        var signed = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.HS256), future);
        signed.sign(new com.nimbusds.jose.crypto.MACSigner(Base64.getDecoder().decode(key)));
        var r = token(signed.serialize(), "--decode");
        assertEquals(ExitCode.CHECK_FAILED, r.exit(), r.toString());
        assertTrue(r.out().contains("atticd ignores it: it was issued (iat) at"), r.out());
        assertTrue(r.out().contains("atticd ignores it: cache 'main.dev'"), r.out());
        assertTrue(r.err().contains("atticd treats this token as no token"), r.err());
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
