// No //SOURCES line: EnvConfig (whose Validator this uses) sources this file, which is only ever compiled with it.

import java.util.Map;

/**
 * What deploy-dashboard reads from the {@code dashboard:} section besides {@code port} and
 * {@code ingressNamespace} (which provision-namespaces uses for its NetworkPolicy): the pinned image,
 * replicas, resources, the GitLab group the dashboard shows, OAuth (client id only: the client
 * secret is a secret input) and, in prod, the Ingress. Parsed with {@link EnvConfig.Validator}'s
 * rules, so problems read {@code file:line:column dashboard.field: message}.
 */
final class DashboardConfig {

    /** {@code oauth} null: no OAuth login configured. {@code ingress.host} null: no Ingress. */
    record App(String image, int replicas, EnvConfig.Resources resources, String groupId, OAuth oauth, Ingress ingress) {}

    /** The GitLab OAuth application: its id and the redirect URI (the secret comes from --oauth-secret-file or GITLAB_OAUTH_CLIENT_SECRET). */
    record OAuth(String clientId, String redirectUri) {}

    /** TLS from {@code tlsSecret}, or a certificate cert-manager issues with {@code clusterIssuer} (into {@code <host>-tls}). */
    record Ingress(String host, String className, String tlsSecret, String clusterIssuer) {}

    /** The deploy part of {@code dashboard:}, or null when it names no image (deploy-dashboard then says what to add). */
    static App parse(EnvConfig.Validator v, EnvChecks.Field d, String organizationGroup) {
        if (d == null || d.get("image") == null) return null;
        String image = v.matching(d, "image", null, CacheConfig.PINNED_IMAGE, "an image pinned by digest (repo/name:tag@sha256:<64 hex digits>) or by a full commit-SHA tag (repo/name:<40 hex digits>)");
        int replicas = v.positive(d, "replicas", 1);
        EnvConfig.Resources resources = v.resourcesBlock(d, "resources");
        if (resources.requests().isEmpty() && resources.limits().isEmpty()) {
            resources = new EnvConfig.Resources(new java.util.TreeMap<>(Map.of("cpu", "50m", "memory", "128Mi")), new java.util.TreeMap<>(Map.of("cpu", "250m", "memory", "256Mi")));
        }
        String groupId = v.optStr(d, "groupId", organizationGroup == null ? "" : organizationGroup);
        OAuth oauth = null;
        EnvChecks.Field o = d.get("oauth");
        if (o != null && o.mapWithKeys("clientId", "redirectUri")) {
            oauth = new OAuth(v.str(o, "clientId"), v.url(o, "redirectUri", null, "https", "http"));
        }
        Ingress ingress = new Ingress(null, null, null, null);
        EnvChecks.Field i = d.get("ingress");
        if (i != null && i.mapWithKeys("host", "className", "tlsSecret", "clusterIssuer")) {
            String host = v.dnsSubdomain(i, "host", null);
            String issuer = v.optStr(i, "clusterIssuer", null);
            String tls = v.dnsSubdomain(i, "tlsSecret", "");
            if (tls != null && tls.isEmpty()) tls = issuer != null && host != null ? host.replace('.', '-') + "-tls" : null;
            ingress = new Ingress(host, v.optStr(i, "className", null), tls, issuer);
        }
        return new App(image, replicas, resources, groupId, oauth, ingress);
    }

    private DashboardConfig() {}
}
