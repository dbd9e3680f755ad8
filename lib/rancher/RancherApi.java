// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeconfigFile.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The Rancher v3 API calls gfw makes (the twin of {@link GitLabApi}): find a cluster by name
 * ({@code GET /v3/clusters?name=}) or read it by id ({@code GET /v3/clusters/<id>}), have its kubeconfig generated
 * ({@code POST /v3/clusters/<id>?action=generateKubeconfig}) and read when that kubeconfig's token expires
 * ({@code GET /v3/tokens/<name>}). Each failure is one line with an exit
 * code: 401/403 {@link ExitCode#AUTH}, no such cluster {@link ExitCode#NOT_FOUND}, answers that are not
 * Rancher's or not a kubeconfig {@link ExitCode#REMOTE_ERROR}, no connection {@link ExitCode#UNAVAILABLE}
 * (from {@link Http}). The token travels in the client's bearer header only and never into a message.
 */
final class RancherApi {

    /** A kubeconfig Rancher generated, and the context in it that is the cluster's. */
    record Kubeconfig(String clusterId, KubeconfigFile file, String context) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String url;
    private final Http.Client http;

    /** {@code url}: the Rancher server without a trailing slash; {@code http}: a client holding the token ({@link Http.Client#bearer}) and its route. */
    RancherApi(String url, Http.Client http) {
        this.url = url.replaceAll("/+$", "");
        this.http = http;
    }

    String url() {
        return url;
    }

    /**
     * The kubeconfig of the cluster named {@code name} ({@code nameOrigin} says where the name came from, for
     * messages); with {@code clusterId} (a cluster-scoped API key, or to pick one of several clusters of that name)
     * the cluster is read by id instead of looked up by name, and must carry that name.
     */
    Kubeconfig kubeconfig(String name, String nameOrigin, String clusterId) {
        String id = clusterId != null ? checkClusterId(clusterId, name, nameOrigin) : clusterId(name, nameOrigin);
        KubeconfigFile file = generateKubeconfig(id);
        return new Kubeconfig(id, file, clusterContext(file));
    }

    /**
     * The id of the cluster named {@code name} that the token can see. Several clusters of that name are refused,
     * listing their ids, as rancher/cli does (cmd/common.go {@code Lookup}: "multiple resources of type cluster found
     * for name"): taking the first could hand out another cluster's kubeconfig.
     */
    String clusterId(String name, String nameOrigin) {
        Http.Response r = http.get(url + "/v3/clusters?name=" + URLEncoder.encode(name, StandardCharsets.UTF_8));
        if (r.status() == 404) {
            throw new GfwException(ExitCode.REMOTE_ERROR, url + " has no Rancher v3 API (GET /v3/clusters answered 404); "
                    + "is it the Rancher server's address?");
        }
        if (r.status() == 401) {
            // rancher/rancher pkg/auth/requests/authenticate.go (tokenAuthenticator.Authenticate): a token scoped to a
            // cluster is accepted only on that cluster's paths (pkg/clusterrouter/lookup.go GetClusterID: /v3/clusters/<id>,
            // /k8s/clusters/<id>); on the list it is "must authenticate", the same 401 as an expired key.
            throw new GfwException(ExitCode.AUTH, "Rancher " + url + " rejected the token on GET /v3/clusters (401" + http.mask(message(r))
                    + "): either the API key is expired, disabled or deleted (create a new one: avatar > Account & API Keys), or it is"
                    + " scoped to one cluster, which Rancher accepts only on that cluster's own paths: then pass --cluster-id ID"
                    + " (the c-... id in Rancher's cluster list) so that gfw never lists clusters");
        }
        failUnlessOk(r, "list clusters");
        JsonNode data = json(r, "GET /v3/clusters").path("data");
        if (!data.isArray()) throw notRancher("GET /v3/clusters", "no data list");
        var ids = new ArrayList<String>();
        for (JsonNode c : data) {
            if (!name.equals(c.path("name").asText())) continue;
            String id = c.path("id").asText("");
            if (!validId(id)) throw notRancher("GET /v3/clusters", "cluster " + name + " has no usable id");
            ids.add(id);
        }
        if (ids.size() > 1) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher " + url + " has " + ids.size() + " clusters named '" + name + "' ("
                    + String.join(", ", ids) + "; " + nameOrigin + "): gfw will not guess which; pass --cluster-id with the right one");
        }
        if (ids.size() == 1) return ids.get(0);
        throw new GfwException(ExitCode.NOT_FOUND, "Rancher " + url + " has no cluster named '" + name + "' that this token can see ("
                + nameOrigin + "); check the name in Rancher's cluster list and the token's scope");
    }

    /** {@code GET /v3/clusters/<id>} (a cluster path: a key scoped to that cluster may read it): it must be named {@code name}. */
    String checkClusterId(String id, String name, String nameOrigin) {
        if (!validId(id)) throw new GfwException(ExitCode.USAGE, "--cluster-id: '" + id + "' is not a Rancher cluster id (like c-m-abcd1234)");
        Http.Response r = http.get(url + "/v3/clusters/" + id);
        if (r.status() == 404) {
            throw new GfwException(ExitCode.NOT_FOUND, "Rancher " + url + " has no cluster " + id + " that this token can see (--cluster-id)");
        }
        failUnlessOk(r, "read cluster " + id);
        String actual = json(r, "GET /v3/clusters/" + id).path("name").asText("");
        if (!name.equals(actual)) {
            throw new GfwException(ExitCode.USAGE, "--cluster-id " + id + " is Rancher's cluster '" + actual + "', not '" + name + "' ("
                    + nameOrigin + "); pass the id of " + name);
        }
        return id;
    }

    private static boolean validId(String id) {
        return id != null && id.matches("[A-Za-z0-9][A-Za-z0-9._:-]*");
    }

    /** When a kubeconfig token Rancher issued expires: {@code expiresAt} null when it never does; or why it is unknown. */
    record Expiry(String tokenName, java.time.Instant expiresAt, String unknownBecause) {}

    /**
     * The expiry of the token a generated kubeconfig holds. Rancher creates a new token per kubeconfig
     * (pkg/api/norman/customization/cluster/actionhandler.go {@code createTokenInput}: name prefix
     * {@code kubeconfig-<user>}, TTL {@code kubeconfig-default-token-ttl-minutes}, 43200 = 30 days by default in
     * pkg/settings/setting.go) and puts {@code <name>:<key>} into the file (pkg/auth/tokens/manager.go
     * {@code EnsureClusterToken}); {@code GET /v3/tokens/<name>} with the same API key gives its {@code expiresAt}.
     * Null when the token is not one of those.
     */
    Expiry tokenExpiry(String kubeconfigToken) {
        if (kubeconfigToken == null) return null;
        int colon = kubeconfigToken.indexOf(':');
        String name = colon > 0 ? kubeconfigToken.substring(0, colon) : null;
        if (name == null || !name.startsWith("kubeconfig-") || !validId(name)) return null;
        String unknown = "; Rancher's default is 30 days (setting kubeconfig-default-token-ttl-minutes)";
        Http.Response r;
        try {
            r = http.get(url + "/v3/tokens/" + name);
        } catch (GfwException e) {
            return new Expiry(name, null, "GET /v3/tokens/" + name + " failed (" + e.getMessage() + ")" + unknown);
        }
        if (!r.ok()) {
            return new Expiry(name, null, "GET /v3/tokens/" + name + " answered " + r.status()
                    + (r.status() == 401 ? " (a key scoped to one cluster cannot read tokens)" : "") + unknown);
        }
        String at;
        try {
            at = json(r, "GET /v3/tokens/" + name).path("expiresAt").asText("");
        } catch (GfwException e) {
            return new Expiry(name, null, e.getMessage() + unknown);
        }
        if (at.isBlank()) return new Expiry(name, null, null);   // TTL 0: no expiry
        try {
            return new Expiry(name, java.time.Instant.parse(at), null);
        } catch (java.time.format.DateTimeParseException e) {
            return new Expiry(name, null, "Rancher's expiresAt '" + GfwException.firstLine(at) + "' is not a time" + unknown);
        }
    }

    /** The kubeconfig Rancher generates for cluster {@code id}, parsed. */
    KubeconfigFile generateKubeconfig(String id) {
        Http.Response r = http.post(url + "/v3/clusters/" + id + "?action=generateKubeconfig", "{}");
        if (r.status() == 404) {
            throw new GfwException(ExitCode.NOT_FOUND, "Rancher " + url + " has no cluster " + id + " any more (generateKubeconfig answered 404)");
        }
        failUnlessOk(r, "generate the kubeconfig of cluster " + id);
        JsonNode config = json(r, "generateKubeconfig").path("config");
        if (!config.isTextual() || config.asText().isBlank()) throw notRancher("generateKubeconfig", "no 'config' field");
        try {
            return KubeconfigFile.parse(config.asText());
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher " + url + " answered generateKubeconfig with something that is not a usable kubeconfig ("
                    + e.getMessage() + "); nothing written");
        }
    }

    /** The context Rancher meant: its current context, else the only one. */
    static String clusterContext(KubeconfigFile k) {
        String current = k.currentContext();
        if (current != null && k.hasContext(current)) return current;
        List<String> names = k.contextNames();
        if (names.size() == 1) return names.get(0);
        throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher's kubeconfig has " + names.size() + " contexts (" + String.join(", ", names)
                + ") and no current context: cannot tell which one is the cluster's");
    }

    private void failUnlessOk(Http.Response r, String what) {
        if (r.ok()) return;
        String reason = http.mask(message(r));
        if (r.status() == 401) {
            throw new GfwException(ExitCode.AUTH, "Rancher " + url + " rejected the token (401" + reason + "); set RANCHER_TOKEN or --token-file "
                    + "to a valid API key (Rancher: avatar > Account & API Keys); expired keys must be recreated");
        }
        if (r.status() == 403) {
            throw new GfwException(ExitCode.AUTH, "Rancher " + url + " refused to " + what + " with this token (403" + reason
                    + "); the API key needs access to the cluster (not scoped to another one)");
        }
        throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher " + url + " failed to " + what + " (" + r.status() + reason + ")");
    }

    /** ": <message>" from a Rancher error body, or "" (the body is never echoed whole). */
    private static String message(Http.Response r) {
        try {
            JsonNode n = JSON.readTree(r.body());
            String m = n == null ? "" : n.path("message").asText("");
            return m.isBlank() ? "" : ": " + GfwException.firstLine(m);
        } catch (IOException e) {
            return "";
        }
    }

    private JsonNode json(Http.Response r, String what) {
        try {
            JsonNode n = JSON.readTree(r.body());
            if (n == null || !n.isObject()) throw notRancher(what, "not a JSON object");
            return n;
        } catch (IOException e) {
            throw notRancher(what, "not JSON" + (r.contentType() == null ? "" : ", " + r.contentType()));
        }
    }

    private GfwException notRancher(String what, String why) {
        return new GfwException(ExitCode.REMOTE_ERROR, "the answer of " + url + " to " + what + " is not what Rancher sends (" + why
                + "); is the URL the Rancher server's?");
    }
}
