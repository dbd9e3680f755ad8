// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES ../kube/Manifests.java
//SOURCES AtticTokens.java
//SOURCES CacheObjects.java
//SOURCES CiCacheToken.java

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * attic-token's story: a token minted with the cluster's signing key and printed (token, env or netrc line) or
 * stored in a Secret; the CI jobs' cache token ({@link CiCacheToken}) written once and replaced by {@code --rotate};
 * and a token's claims decoded, escaped and checked against the cluster's key as atticd would check it. The flags
 * are checked by the script before any of this runs.
 */
final class AtticTokenIssue {

    final EnvConfig.Env env;
    /** The Attic namespace, where the signing key is. */
    final String ns;

    AtticTokenIssue(EnvConfig.Env env, String ns) {
        this.env = env;
        this.ns = ns;
    }

    // ---- a token for someone ----------------------------------------------------------------------

    /** The Secret {@code --write-secret NAME} stores a token in (key {@code token}), with gfw's labels. */
    Secret secret(String name, String sub, String token) {
        return new SecretBuilder().withNewMetadata().withName(name).withNamespace(ns)
                .withLabels(Manifests.labels(env, "attic", "token", "attic-token")).addToAnnotations("gfw.gloriousflywheel.dev/attic-token-sub", sub)
                .endMetadata().withType("Opaque").addToStringData("token", token).build();
    }

    /**
     * Mints a token for {@code sub} with the cluster's key: printed as {@code output} (token, env, netrc), or with
     * {@code writeSecret} stored in that Secret (applied with {@code options}: a dry run or a diff writes nothing).
     */
    void mint(KubernetesClient client, String sub, Duration valid, String validityText, Map<String, List<String>> grants, String output,
              String writeSecret, ServerSideApply.Options options) {
        String key = AtticTokens.readSigningKey(client, ns);
        Instant now = Instant.now();
        String token = AtticTokens.mint(key, sub, now, valid, grants);
        Output.info("token for " + sub + ", valid until " + now.plus(valid) + " (" + validityText + "); " + describe(grants));
        if (writeSecret == null) {
            Output.out().println(switch (output) {
                case "env" -> "ATTIC_TOKEN=" + token;
                case "netrc" -> CacheObjects.netrcLine(env, token);
                default -> token;
            });
            return;
        }
        ServerSideApply.Result r = ServerSideApply.applyOne(client, secret(writeSecret, sub, token), ServerSideApply.Lookup.UNKNOWN, options);
        Output.out().println(r.line());
    }

    // ---- the CI jobs' token -----------------------------------------------------------------------

    /** What a client dry run of {@code --ci} prints: the Secret with the token masked. */
    void printCiSecretUnminted() {
        Duration valid = CiCacheToken.validity(env);
        Output.out().print(Output.objects(List.of(CiCacheToken.secret(env, Output.MASK, Instant.now().plus(valid), "<the cache's public key>")), Output.Format.yaml));
        Output.info("client dry run: the token is minted and stored when run without --dry-run");
    }

    /**
     * The CI jobs' cache token in the runner namespace: left as it is when it exists (unless {@code rotate}), else
     * minted with the environment's subject, permissions and validity and stored with the cache's public key (read
     * from Attic through {@code attic}, at {@code atticUrl} or a port-forward). {@code reveal} also prints the token.
     */
    void ci(KubernetesClient client, boolean rotate, boolean reveal, String atticUrl, Http.Client attic, ServerSideApply.Options options) {
        String runnerNs = env.namespaces().runners().name();
        Duration valid = CiCacheToken.validity(env);
        Secret live = client.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get();
        if (live != null && !rotate) {
            Instant exp = CiCacheToken.expiresAt(live);
            Output.out().println("secret/" + CiCacheToken.SECRET + " unchanged (expires " + (exp == null ? "at an unknown time" : exp) + "; --rotate replaces it)");
            return;
        }
        String key = AtticTokens.readSigningKey(client, ns);
        String publicKey = CiCacheToken.publicKey(client, env, key, atticUrl, attic);
        Instant now = Instant.now();
        String token = AtticTokens.mint(key, CiCacheToken.sub(env), now, valid, CiCacheToken.grants(env));
        ServerSideApply.Result r = ServerSideApply.applyOne(client, CiCacheToken.secret(env, token, now.plus(valid), publicKey), ServerSideApply.Lookup.UNKNOWN, options);
        Output.out().println(r.line());
        Output.info("token for " + CiCacheToken.sub(env) + ", valid until " + now.plus(valid) + " (" + env.attic().ciTokenValidity() + "); "
                + describe(CiCacheToken.grants(env)) + "; the " + CiCacheToken.RUNNER_TYPE + " runner's job pods mount it at " + CiCacheToken.MOUNT_PATH
                + " ('gfw deploy-runners " + env.name() + "')");
        if (reveal) Output.out().println(token);
    }

    // ---- decoding a token -------------------------------------------------------------------------

    /**
     * A token's claims, expiry and permissions (every line holds the token's own text: escaped), then its signature
     * checked against the cluster's key ({@code connect} is called only then). Exit 80 when atticd would not take it.
     */
    int decode(String token, Supplier<KubernetesClient> connect) {
        if (token.startsWith("ATTIC_TOKEN=")) token = token.substring("ATTIC_TOKEN=".length());
        AtticTokens.Decoded unchecked = AtticTokens.decode(token, null);
        var m = new LinkedHashMap<String, Object>(unchecked.claims());
        // Dates as people read them next to the epoch seconds. Every line holds the token's own text: escaped.
        for (String line : Output.json(jsonable(m)).split("\n")) Output.out().println(Output.escapeControls(line));
        Instant now = Instant.now();
        Output.out().println("algorithm: " + Output.escapeControls(unchecked.algorithm()));
        Output.out().println("subject: " + Output.escapeControls(unchecked.sub()));
        String unreadableExp = unchecked.unreadable().stream().filter(u -> u.startsWith("its exp ")).findFirst().orElse(null);
        Output.out().println("expires: " + (unreadableExp != null ? "unreadable (" + unreadableExp.substring(4) + ")"
                : unchecked.exp() == null ? "never (no exp claim)" : unchecked.exp() + (unchecked.exp().isBefore(now) ? " (EXPIRED)" : "")));
        if (unchecked.nbf() != null && unchecked.nbf().isAfter(now)) Output.out().println("not before: " + unchecked.nbf() + " (NOT YET VALID)");
        List<String> rejections = AtticTokens.rejections(unchecked, now);
        for (String r : rejections) Output.out().println("atticd ignores it: " + Output.escapeControls(r));
        Output.out().println("permissions: " + Output.escapeControls(AtticTokens.describe(unchecked.caches())));
        String key;
        try (KubernetesClient client = connect.get()) {
            key = AtticTokens.readSigningKey(client, ns);
        } catch (GfwException e) {
            Output.out().println("signature: not checked (could not read secret " + AtticTokens.SIGNING_SECRET + ")");
            throw e;
        }
        boolean verified = Boolean.TRUE.equals(AtticTokens.decode(token, key).verified());
        String where = "secret " + AtticTokens.SIGNING_SECRET + " in namespace " + ns;
        Output.out().println("signature: " + (verified ? "verifies against " + where : "does NOT verify against " + where));
        if (!verified) {
            Output.info("error: the token was not signed with the key Attic uses now (another environment, or the key was rotated): Attic answers Unauthorized; mint a new one");
            return ExitCode.CHECK_FAILED;
        }
        if (!rejections.isEmpty()) {
            // atticd's apply_auth (server/src/access/http.rs) drops a token it cannot validate: the request is anonymous.
            Output.info("error: atticd treats this token as no token (" + Output.escapeControls(rejections.get(0)) + "): Attic answers Unauthorized; mint a new one");
            return ExitCode.CHECK_FAILED;
        }
        return ExitCode.OK;
    }

    private static Object jsonable(Object o) {
        if (o instanceof java.util.Date d) return d.toInstant().getEpochSecond();
        if (o instanceof Map<?, ?> m) {
            var out = new LinkedHashMap<String, Object>();
            m.forEach((k, v) -> out.put(String.valueOf(k), jsonable(v)));
            return out;
        }
        if (o instanceof List<?> l) return l.stream().map(AtticTokenIssue::jsonable).toList();
        return o;
    }

    // ---- the flags' values ------------------------------------------------------------------------

    /** Adds {@code letter} for each cache of {@code flag} (a name or pattern atticd takes) to {@code out}, keeping the flags' order. */
    static void grant(Map<String, List<String>> out, String flag, List<String> caches, String letter) {
        for (String c : caches) {
            String problem = AtticTokens.patternProblem(c);
            if (problem != null) throw new GfwException(ExitCode.USAGE, flag + " " + problem);
            List<String> letters = out.computeIfAbsent(c, k -> new ArrayList<>());
            if (!letters.contains(letter)) letters.add(letter);
        }
    }

    static String describe(Map<String, List<String>> grants) {
        var m = new LinkedHashMap<String, Object>();
        grants.forEach((c, letters) -> {
            var p = new LinkedHashMap<String, Object>();
            for (String l : letters) p.put(l, 1);
            m.put(c, p);
        });
        return "permissions: " + AtticTokens.describe(m);
    }
}
