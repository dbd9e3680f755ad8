// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES KubeClients.java
//SOURCES ../core/Output.java

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The values of an environment's own Secrets (every Secret in its namespaces), to mask wherever they would show:
 * log lines, event messages, an incident report. A value is masked as a whole, each of its lines, and its base64
 * form; values shorter than {@value #MIN_LENGTH} characters are not (a username such as {@code attic} would mask
 * every mention of the cache) and neither are the keys a Secret holds no secret under ({@link #NOT_SECRET}).
 */
final class SecretValues {

    /** Shorter values are left alone: they are names, ports or flags, not secrets (gfw's own are 24+ characters). */
    static final int MIN_LENGTH = 8;

    /** Keys whose values are names, not secrets (basic-auth usernames, the CA a ServiceAccount token Secret carries). */
    static final Set<String> NOT_SECRET = Set.of("username", "user", "ca.crt", "namespace");

    /** Secret types that are not the environment's secrets (Helm's release records: a compressed copy of the values). */
    static final Set<String> SKIPPED_TYPES = Set.of("helm.sh/release.v1");

    private final List<String> values;

    private SecretValues(Set<String> values) {
        var sorted = new ArrayList<>(values);
        sorted.sort(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder())); // longest first
        this.values = List.copyOf(sorted);
    }

    /** Nothing to mask (a report of an environment whose Secrets cannot be read still masks nothing wrongly). */
    static SecretValues none() {
        return new SecretValues(Set.of());
    }

    /** The given values (tests, and values gfw holds itself such as a GitLab token). */
    static SecretValues of(java.util.Collection<String> given) {
        var set = new TreeSet<String>();
        for (String v : given) add(set, v);
        return new SecretValues(set);
    }

    /** Every Secret in the environment's namespaces: one LIST per namespace. */
    static SecretValues read(KubernetesClient client, EnvConfig.Env env) {
        var set = new TreeSet<String>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            for (Secret s : client.secrets().inNamespace(ns.name()).list().getItems()) {
                if (SKIPPED_TYPES.contains(s.getType())) continue;
                var data = KubeClients.secretData(s, "secret " + s.getMetadata().getName() + " in namespace " + ns.name());
                for (var e : data.entrySet()) if (!NOT_SECRET.contains(e.getKey())) add(set, e.getValue());
            }
        }
        return new SecretValues(set);
    }

    private static void add(Set<String> set, String value) {
        if (value == null) return;
        String v = value.strip();
        if (v.length() < MIN_LENGTH) return;
        set.add(v);
        set.add(Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8)));
        for (String line : v.split("\r?\n")) if (line.strip().length() >= MIN_LENGTH) set.add(line.strip());
    }

    /** {@code text} with every value replaced by {@link Output#MASK}. */
    String mask(String text) {
        if (text == null || values.isEmpty()) return text;
        String out = text;
        for (String v : values) if (out.contains(v)) out = out.replace(v, Output.MASK);
        return out;
    }

    int size() {
        return values.size();
    }
}
