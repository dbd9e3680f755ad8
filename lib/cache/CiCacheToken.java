// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../core/Output.java
//SOURCES AtticTokens.java
//SOURCES CacheObjects.java
//SOURCES AtticApi.java

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cache token of the CI jobs: Secret {@value #SECRET} in the runner namespace with keys {@code token},
 * {@code netrc} (the line Nix's netrc-file needs for a private cache, as {@code attic use} writes it:
 * client/src/nix_netrc.rs) and {@code nix.conf} (the substituter and its key, added to Nix's own as use.rs does, and
 * {@code netrc-file} pointing at the mounted netrc). attic-token ENV --ci writes it (pull and push on
 * {@code attic.cache}, valid {@code attic.ciTokenValidity}); deploy-runners mounts it read-only at {@value #MOUNT_PATH}
 * in the nix runner's job pods (gitlab-runner's {@code [[runners.kubernetes.volumes.secret]]}: common/config.go
 * KubernetesSecret name, mount_path, read_only) and points Nix at its nix.conf with {@code NIX_USER_CONF_FILES};
 * health warns {@value #WARN_DAYS} days before it expires (annotation {@value #EXPIRES_ANNOTATION}).
 */
final class CiCacheToken {

    static final String SECRET = "attic-ci-token";
    static final String MOUNT_PATH = "/etc/gfw-attic";
    static final String EXPIRES_ANNOTATION = "gfw.gloriousflywheel.dev/expires-at";
    static final String SUB_ANNOTATION = "gfw.gloriousflywheel.dev/attic-token-sub";
    static final int WARN_DAYS = 14;
    /** The runner type whose job pods get the token. */
    static final String RUNNER_TYPE = "nix";

    static String sub(EnvConfig.Env env) {
        return "gitlab-ci-" + env.name();
    }

    /** {@code attic.ciTokenValidity}: N days ({@code 90d}) or weeks ({@code 12w}). */
    static Duration validity(EnvConfig.Env env) {
        String v = env.attic().ciTokenValidity();
        long n = Long.parseLong(v.substring(0, v.length() - 1));
        return Duration.ofDays(v.endsWith("w") ? 7 * n : n);
    }

    /** Pull and push on the environment's cache (token/src/lib.rs CachePermission r, w). */
    static Map<String, List<String>> grants(EnvConfig.Env env) {
        return Map.of(env.attic().cache(), List.of("r", "w"));
    }

    /** The substituter job pods use: gfw's API endpoint (CacheObjects.apiEndpoint) and the cache. */
    static String substituter(EnvConfig.Env env) {
        return CacheObjects.apiEndpoint(env) + env.attic().cache();
    }

    static String nixConf(EnvConfig.Env env, String publicKey) {
        return "extra-substituters = " + substituter(env) + "\n"
                + "extra-trusted-public-keys = " + publicKey + "\n"
                + "netrc-file = " + MOUNT_PATH + "/netrc\n";
    }

    static Secret secret(EnvConfig.Env env, String token, Instant expires, String publicKey) {
        var data = new LinkedHashMap<String, String>();
        data.put("token", token);
        data.put("netrc", CacheObjects.netrcLine(env, token) + "\n");
        data.put("nix.conf", nixConf(env, publicKey));
        return new SecretBuilder().withNewMetadata().withName(SECRET).withNamespace(env.namespaces().runners().name())
                .addToLabels("app.kubernetes.io/managed-by", "gfw").addToLabels("gfw.gloriousflywheel.dev/environment", env.name())
                .addToLabels("gfw.gloriousflywheel.dev/owner", "attic-token")
                .addToAnnotations(SUB_ANNOTATION, sub(env)).addToAnnotations(EXPIRES_ANNOTATION, expires.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString())
                .endMetadata().withType("Opaque").withStringData(data).build();
    }

    /** The expiry gfw recorded on the Secret, or null. */
    static Instant expiresAt(Secret s) {
        String v = s == null || s.getMetadata().getAnnotations() == null ? null : s.getMetadata().getAnnotations().get(EXPIRES_ANNOTATION);
        try {
            return v == null ? null : Instant.parse(v);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The cache's public key, from GET /_api/v1/cache-config/{cache} (get_cache_config, pull needed) with a one-call token. */
    static String publicKey(KubernetesClient client, EnvConfig.Env env, String signingKey, String url, Http.Client http) {
        String cache = env.attic().cache();
        String ns = env.namespaces().attic().name();
        http.bearer(AtticTokens.mint(signingKey, "gfw-attic-token", Instant.now(), AtticTokens.CALL_VALIDITY, Map.of(cache, List.of("r"))));
        return AtticApi.through(client, env, ns, url, (base, via) -> {
            String path = "/_api/v1/cache-config/" + cache;
            Http.Response r = http.get(base + path);
            if (!r.ok()) throw AtticApi.error("GET " + path, r, via, http);
            try {
                Object key = Output.JSON.readValue(r.body(), Map.class).get("public_key");
                if (key instanceof String k && !k.isBlank()) return k;
            } catch (IOException e) {
                // below
            }
            throw new GfwException(ExitCode.REMOTE_ERROR, "Attic " + via + ": GET " + path + " gave no public_key");
        });
    }

    /** The job pods' volume, in the runner's config.toml under {@code [runners.kubernetes]}. */
    static String tomlVolume() {
        return "    [[runners.kubernetes.volumes.secret]]\n"
                + "      name = \"" + SECRET + "\"\n"
                + "      mount_path = \"" + MOUNT_PATH + "\"\n"
                + "      read_only = true\n";
    }

    /** The job environment that makes Nix read the mounted nix.conf. */
    static Map<String, String> jobEnv() {
        return Map.of("NIX_USER_CONF_FILES", MOUNT_PATH + "/nix.conf");
    }

    private CiCacheToken() {}
}
