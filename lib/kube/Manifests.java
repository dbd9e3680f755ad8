// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What every object gfw builds shares, whatever the command: its labels, the checksum annotation
 * that rolls a Deployment's pods when its configuration or a secret it reads changes, generated
 * secret values, and the masked copy printed by a client dry run. Pure functions.
 */
final class Manifests {

    /** The pod template annotation holding {@link #checksum}: a new value makes the Deployment roll its pods. */
    static final String CHECKSUM_ANNOTATION = "checksum/config";

    static final SecureRandom RANDOM = new SecureRandom();

    static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    static final String ENVIRONMENT_LABEL = "gfw.gloriousflywheel.dev/environment";

    /** The labels every object gfw makes for environment {@code env} carries: managed by gfw, and the environment. */
    static Map<String, String> managed(EnvConfig.Env env) {
        var m = new LinkedHashMap<String, String>();
        m.put(MANAGED_BY, "gfw");
        m.put(ENVIRONMENT_LABEL, env.name());
        return m;
    }

    /** app.kubernetes.io labels, the environment, and which gfw command owns the object. */
    static Map<String, String> labels(EnvConfig.Env env, String app, String component, String owner) {
        var m = new LinkedHashMap<String, String>();
        m.put("app.kubernetes.io/name", app);
        m.put("app.kubernetes.io/component", component);
        String org = env.organization() == null ? null : env.organization().name();
        m.put("app.kubernetes.io/part-of", org == null || org.isBlank() ? "gloriousflywheel" : org);
        m.putAll(managed(env));
        m.put("gfw.gloriousflywheel.dev/owner", owner);
        return m;
    }

    /**
     * The labels a Deployment's pods are selected by (never changed by a config change), in a fixed
     * order: Map.of's iteration order changes from one JVM to the next, and so did printed manifests.
     */
    static Map<String, String> selector(String app, String component) {
        var m = new LinkedHashMap<String, String>();
        m.put("app.kubernetes.io/name", app);
        m.put("app.kubernetes.io/component", component);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** sha256 over the parts (configuration text and every secret value the pods read), each ended by a NUL. */
    static String checksum(String... parts) {
        try {
            var md = MessageDigest.getInstance("SHA-256");
            for (String part : parts) {
                md.update(String.valueOf(part).getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code length} random letters and digits (a session secret, an API key). */
    static String randomToken(int length) {
        String letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.append(letters.charAt(RANDOM.nextInt(letters.length())));
        return sb.toString();
    }

    /** A copy for printing: every Secret value replaced by the mask. */
    static HasMetadata masked(HasMetadata o) {
        if (!(o instanceof Secret s)) return o;
        var b = new SecretBuilder(s);
        var sd = new TreeMap<String, String>();
        if (s.getStringData() != null) s.getStringData().keySet().forEach(k -> sd.put(k, Output.MASK));
        if (s.getData() != null) s.getData().keySet().forEach(k -> sd.put(k, Output.MASK));
        return b.withData(null).withStringData(sd).build();
    }

    private Manifests() {}
}
