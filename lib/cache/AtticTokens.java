// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvChecks.java

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Attic's tokens: HS256 JWTs (nimbus-jose-jwt) with {@code sub}, {@code exp}, {@code nbf} and the claim
 * {@code "https://jwt.attic.rs/v1": {"caches": {NAME: {"r": 1, ...}}}} (zhaofengli/attic token/src/lib.rs),
 * signed with the key in Secret {@code attic-jwt-signing}: key {@code hs256-secret-base64} holds base64 text,
 * and the HMAC key is the bytes it decodes to.
 *
 * <p>atticd allows no clock skew: {@code Token::from_jwt} verifies with {@code time_tolerance: None}, so
 * jwt-simple (claims.rs {@code validate}) rejects an {@code iat} or {@code nbf} one second in the server's
 * future, and {@code apply_auth} (server/src/access/http.rs) then treats the request as anonymous: a 401, not
 * "bad token". So {@code nbf} is set {@link #CLOCK_SKEW} in the past and no {@code iat} is sent (as atticd's own
 * {@code Token::new} does): a cluster clock up to that far behind still accepts a fresh token.
 */
final class AtticTokens {

    static final String CLAIM = "https://jwt.attic.rs/v1";
    static final String SIGNING_SECRET = "attic-jwt-signing";
    static final String SIGNING_KEY = "hs256-secret-base64";
    /** How far behind gfw's clock the cluster's may be and still accept a token minted now. */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    /** The validity of the tokens gfw mints for its own calls (deploy-cache, health): a few minutes past the skew either way. */
    static final Duration CALL_VALIDITY = CLOCK_SKEW.plusMinutes(5);

    /** Attic's permission letters (token/src/lib.rs serde renames) and what each allows. */
    static final Map<String, String> PERMISSIONS = permissions();

    private static Map<String, String> permissions() {
        var m = new LinkedHashMap<String, String>();
        m.put("r", "pull");
        m.put("w", "push");
        m.put("d", "delete");
        m.put("cc", "create-cache");
        m.put("cr", "configure-cache");
        m.put("cq", "configure-retention");
        m.put("cd", "destroy-cache");
        return java.util.Collections.unmodifiableMap(m);
    }

    /** A new signing key: 64 random letters and digits from SecureRandom, as base64 text (what the Secret holds). */
    static String newSigningKey(SecureRandom random) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var sb = new StringBuilder();
        for (int i = 0; i < 64; i++) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        return Base64.getEncoder().encodeToString(sb.toString().getBytes(StandardCharsets.US_ASCII));
    }

    /** The HMAC key the base64 text decodes to; at least 32 bytes, as HS256 needs. */
    static byte[] hmacKey(String keyBase64, String where) {
        byte[] key;
        try {
            key = Base64.getDecoder().decode(keyBase64.trim());
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, where + ": key " + SIGNING_KEY + " is not valid base64");
        }
        if (key.length < 32) {
            throw new GfwException(ExitCode.REMOTE_ERROR, where + ": key " + SIGNING_KEY + " decodes to " + key.length
                    + " bytes; HS256 needs at least 32 (a new key: deploy-cache ENV --rotate-jwt-key --yes)");
        }
        return key;
    }

    /** The signing key's base64 text from the cluster, never from a flag. */
    static String readSigningKey(KubernetesClient client, String namespace) {
        Secret s = client.secrets().inNamespace(namespace).withName(SIGNING_SECRET).get();
        String where = "secret " + SIGNING_SECRET + " in namespace " + namespace;
        if (s == null) throw new GfwException(ExitCode.NOT_FOUND, where + " not found; deploy-cache ENV creates it");
        String b64 = s.getData() == null ? null : s.getData().get(SIGNING_KEY);
        if (b64 == null || b64.isEmpty()) throw new GfwException(ExitCode.NOT_FOUND, where + " has no key " + SIGNING_KEY);
        String text;
        try {
            text = new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, where + ": data is not valid base64");
        }
        hmacKey(text, where);
        return text;
    }

    /**
     * A signed token for {@code sub}, accepted from {@code now} minus {@link #CLOCK_SKEW} until {@code now} plus
     * {@code validity}; {@code caches}: cache name (or pattern with '*') to permission letters. A name atticd would
     * not parse is refused here: atticd would reject the whole token.
     */
    static String mint(String keyBase64, String sub, Instant now, Duration validity, Map<String, List<String>> caches) {
        var grants = new LinkedHashMap<String, Object>();
        caches.forEach((cache, letters) -> {
            String problem = patternProblem(cache);
            if (problem != null) throw new GfwException(ExitCode.USAGE, problem);
            var perms = new LinkedHashMap<String, Object>();
            for (String l : letters) {
                if (!PERMISSIONS.containsKey(l)) throw new GfwException(ExitCode.INTERNAL, "not an Attic permission letter: " + l);
                perms.put(l, 1);
            }
            grants.put(cache, perms);
        });
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject(sub).notBeforeTime(Date.from(now.minus(CLOCK_SKEW)))
                .expirationTime(Date.from(now.plus(validity))).claim(CLAIM, Map.of("caches", grants)).build();
        var jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        try {
            jwt.sign(new MACSigner(hmacKey(keyBase64, "the signing key")));
        } catch (JOSEException e) {
            throw new GfwException(ExitCode.INTERNAL, "cannot sign the token: " + e.getMessage(), e);
        }
        return jwt.serialize();
    }

    /** Why atticd would not parse {@code cache} as a claim key (null: it would): attic/src/cache.rs CACHE_NAME_PATTERN_REGEX. */
    static String patternProblem(String cache) {
        if (EnvChecks.ATTIC_CACHE_PATTERN.matcher(cache).matches()) return null;
        return "cache " + quote(cache) + ": an Attic cache name is a letter, digit or '*', then up to 49 letters, digits, '-', '_', '+' or '*'"
                + " (no '.'); atticd rejects a whole token that names anything else";
    }

    private static String quote(String s) {
        return "'" + (s.length() > 60 ? s.substring(0, 57) + "..." : s).replaceAll("\\p{Cntrl}", "?") + "'";
    }

    /**
     * Why atticd would ignore this token at {@code now} (its clock), each a sentence; empty when it would accept it
     * (the signature aside, which {@link Decoded#verified} tells). Mirrors jwt-simple's claims.rs {@code validate}
     * with zero tolerance, and the claim's deserialization in token/src/lib.rs (TokenClaims, CacheNamePattern).
     */
    static List<String> rejections(Decoded d, Instant now) {
        var out = new java.util.ArrayList<String>(d.unreadable());
        if (!"HS256".equals(d.algorithm())) out.add("its algorithm is " + d.algorithm() + ", atticd verifies HS256 only");
        if (d.iat() != null && d.iat().isAfter(now)) out.add("it was issued (iat) at " + d.iat() + ", in the future: atticd allows no clock skew");
        if (d.nbf() != null && d.nbf().isAfter(now)) out.add("it is not valid before (nbf) " + d.nbf() + ", in the future: atticd allows no clock skew");
        if (d.exp() != null && d.exp().isBefore(now)) out.add("it expired at " + d.exp());
        if (!(d.claims().get(CLAIM) instanceof Map<?, ?> ns) || !(ns.get("caches") instanceof Map<?, ?>)) {
            out.add("it has no claim \"" + CLAIM + "\" with \"caches\"");
        }
        for (var e : d.caches().entrySet()) {
            String problem = patternProblem(e.getKey());
            if (problem != null) out.add(problem);
            if (e.getValue() instanceof Map<?, ?> perms) {
                for (var p : perms.entrySet()) {
                    String v = String.valueOf(p.getValue());
                    // serde_with BoolFromInt: 0 or 1, nothing else.
                    if (!v.equals("0") && !v.equals("1")) out.add("cache " + quote(e.getKey()) + ": permission " + p.getKey() + " is " + quote(v) + ", atticd reads only 0 or 1");
                }
            } else {
                out.add("cache " + quote(e.getKey()) + ": its permissions are not an object");
            }
        }
        return out;
    }

    /** A token's claims, read without trusting them; {@code verified} whether its signature matches the key (null: not checked). */
    record Decoded(String algorithm, Map<String, Object> claims, String sub, Instant exp, Instant nbf, Instant iat, Map<String, Object> caches, Boolean verified,
                   List<String> unreadable) {}

    /**
     * A time claim ({@code exp}, {@code nbf}, {@code iat}) as atticd reads it: jwt-simple's serde_additions.rs
     * {@code unix_timestamp} takes a JSON integer only (deserialize_i64 with visit_i64/visit_u64; a float such as 1e30
     * or 1.5 fails, and then the whole token does). Null when absent; a non-integer adds a sentence to {@code problems}.
     * Seconds past Java's last Instant are shown as that instant (nimbus would overflow them into 1969).
     */
    private static Instant time(Map<String, Object> raw, String claim, List<String> problems) {
        Object v = raw.get(claim);
        if (v == null) return null;
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
                || (v instanceof java.math.BigInteger b && b.bitLength() < 64)) {
            long secs = ((Number) v).longValue();
            return secs > Instant.MAX.getEpochSecond() ? Instant.MAX : secs < Instant.MIN.getEpochSecond() ? Instant.MIN : Instant.ofEpochSecond(secs);
        }
        String shown = Output.clip(String.valueOf(v));
        problems.add("its " + claim + " is " + shown + ", not a whole number of seconds: atticd cannot read the token");
        return null;
    }

    static Decoded decode(String token, String keyBase64) {
        SignedJWT jwt;
        JWTClaimsSet claims;
        try {
            jwt = SignedJWT.parse(token.trim());
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw new GfwException(ExitCode.USAGE, "the input is not a signed JWT (three base64url parts separated by '.'): " + e.getMessage());
        }
        Boolean verified = null;
        if (keyBase64 != null) {
            try {
                verified = JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm())
                        && jwt.verify(new MACVerifier(hmacKey(keyBase64, "the signing key")));
            } catch (JOSEException e) {
                verified = false;
            }
        }
        Map<String, Object> caches = Map.of();
        if (claims.getClaim(CLAIM) instanceof Map<?, ?> ns && ns.get("caches") instanceof Map<?, ?> c) {
            @SuppressWarnings("unchecked") Map<String, Object> cm = (Map<String, Object>) c;
            caches = cm;
        }
        // The payload as sent: nimbus's JWTClaimsSet turns exp 1e30 into a date in 1969 (seconds times 1000 overflow).
        Map<String, Object> raw = jwt.getPayload().toJSONObject();
        var unreadable = new java.util.ArrayList<String>();
        Instant exp = time(raw, "exp", unreadable);
        Instant nbf = time(raw, "nbf", unreadable);
        Instant iat = time(raw, "iat", unreadable);
        return new Decoded(jwt.getHeader().getAlgorithm().getName(), raw, claims.getSubject(), exp, nbf, iat, caches, verified, List.copyOf(unreadable));
    }

    /** "main: pull, push; team-*: create-cache" — for people. */
    static String describe(Map<String, Object> caches) {
        var parts = new java.util.ArrayList<String>();
        caches.forEach((cache, p) -> {
            var names = new java.util.ArrayList<String>();
            if (p instanceof Map<?, ?> m) {
                m.forEach((k, v) -> {
                    if (!"0".equals(String.valueOf(v)) && !"false".equals(String.valueOf(v))) names.add(PERMISSIONS.getOrDefault(String.valueOf(k), String.valueOf(k)));
                });
            }
            parts.add(cache + ": " + (names.isEmpty() ? "(none)" : String.join(", ", names)));
        });
        return parts.isEmpty() ? "(no caches)" : String.join("; ", parts);
    }

    private AtticTokens() {}
}
