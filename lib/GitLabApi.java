// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//SOURCES ExitCode.java
//SOURCES GfwException.java
//SOURCES Output.java
//SOURCES Http.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few GitLab REST API v4 calls gfw makes, each failure turned into one line with an exit code:
 * 401/403 {@link ExitCode#AUTH}, 404 {@link ExitCode#NOT_FOUND}, 5xx and unusable answers
 * {@link ExitCode#REMOTE_ERROR}, no connection {@link ExitCode#UNAVAILABLE}. The access token goes in
 * the {@code PRIVATE-TOKEN} header only and never into a message. Requests take the route
 * {@link Http#route} gives (--proxy, HTTPS_PROXY, NO_PROXY, cluster.proxy; SOCKS too, which
 * java.net.http would ignore silently).
 */
final class GitLabApi {

    /** A runner just created: its id and its authentication token ({@code glrt-...}). */
    record CreatedRunner(long id, String token) {
        @Override
        public String toString() {
            return "CreatedRunner[id=" + id + ", token=" + Output.MASK + "]";
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final String accessToken;
    private final Http.Client http;

    /**
     * {@code baseUrl}: the instance, e.g. https://gitlab.com; {@code accessToken}: a personal/group access
     * token; {@code http}: a client with its route ({@link Http#route}) and timeout, to which the token is added.
     */
    GitLabApi(String baseUrl, String accessToken, Http.Client http) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.accessToken = accessToken;
        this.http = http.secretHeader("PRIVATE-TOKEN", accessToken);
    }


    String baseUrl() {
        return baseUrl;
    }

    /** The numeric id of a group, from its full path (e.g. {@code gloriousflywheel} or {@code org/sub}). */
    long groupId(String groupPath) {
        String encoded = URLEncoder.encode(groupPath, StandardCharsets.UTF_8);
        JsonNode group = call("GET", "/api/v4/groups/" + encoded, null, "look up group '" + groupPath + "'");
        if (!group.path("id").canConvertToLong()) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered the group look-up of '"
                    + groupPath + "' without an id");
        }
        return group.path("id").asLong();
    }

    /** {@code GET /api/v4/runners/:id}: what GitLab knows of a runner (online, paused, status, contacted_at, ...). */
    JsonNode runnerDetails(long runnerId) {
        return call("GET", "/api/v4/runners/" + runnerId, null, "read runner " + runnerId);
    }

    /** {@code POST /api/v4/user/runners}: a group runner with these tags; returns its id and token. */
    CreatedRunner createGroupRunner(long groupId, List<String> tags, String description) {
        var body = new LinkedHashMap<String, Object>();
        body.put("runner_type", "group_type");
        body.put("group_id", groupId);
        body.put("description", description);
        body.put("tag_list", tags);
        body.put("run_untagged", false);
        JsonNode created = call("POST", "/api/v4/user/runners", body, "create runner '" + description + "'");
        String token = created.path("token").asText("");
        if (!created.path("id").canConvertToLong() || !token.startsWith("glrt-")) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered the runner creation without an id and a glrt- token"
                    + (created.path("id").canConvertToLong() ? "; check runner " + created.path("id").asLong() + " in the group's CI/CD settings" : ""));
        }
        return new CreatedRunner(created.path("id").asLong(), token);
    }

    /** {@code DELETE /api/v4/runners/:id}: removes a runner (used to undo a half-done registration). */
    void deleteRunner(long runnerId) {
        call("DELETE", "/api/v4/runners/" + runnerId, null, "delete runner " + runnerId);
    }

    private JsonNode call(String method, String path, Map<String, Object> body, String what) {
        Http.Response resp;
        try {
            resp = http.send(method, baseUrl + path, body == null ? null : JSON.writeValueAsString(body));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (GfwException e) {
            if (e.exitCode() != ExitCode.UNAVAILABLE) throw e;
            throw new GfwException(ExitCode.UNAVAILABLE, e.getMessage() + " (to " + what + "; or pass --gitlab-url)", e);
        }
        int code = resp.status();
        if (code >= 200 && code < 300) {
            if (resp.body() == null || resp.body().isBlank()) return JSON.createObjectNode();
            try {
                return JSON.readTree(resp.body());
            } catch (IOException e) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered " + what + " with something that is not JSON", e);
            }
        }
        String reason = reason(resp.body());
        String where = method + " " + baseUrl + path;
        if (code == 401) {
            throw new GfwException(ExitCode.AUTH, "GitLab rejected GITLAB_TOKEN (401 " + reason + ") on " + where
                    + ": the token is wrong, expired or revoked; create one with the create_runner scope (api for the group look-up)");
        }
        if (code == 403) {
            throw new GfwException(ExitCode.AUTH, "GitLab refused to " + what + " (403 " + reason + ") on " + where
                    + ": the GITLAB_TOKEN user needs Owner/Maintainer rights on the group and the create_runner scope");
        }
        if (code == 404) {
            throw new GfwException(ExitCode.NOT_FOUND, "GitLab cannot " + what + " (404 " + reason + ") on " + where
                    + ": check organization.group / organization.gitlabUrl in the environment file, and that GITLAB_TOKEN can see it");
        }
        if (code >= 500) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab failed to " + what + " (" + code + " " + reason + ") on " + where
                    + ": GitLab is having trouble, retry later");
        }
        throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab refused to " + what + " (" + code + " " + reason + ") on " + where);
    }

    /** GitLab puts the reason in "message" or "error"; keep it short and on one line. */
    private static String reason(String body) {
        if (body == null || body.isBlank()) return "no details";
        try {
            JsonNode n = JSON.readTree(body);
            JsonNode m = n.has("message") ? n.get("message") : n.get("error");
            if (m != null) return oneLine(m.isTextual() ? m.asText() : m.toString());
        } catch (IOException ignored) {
            // not JSON: fall through to the raw text
        }
        return oneLine(body);
    }

    private static String oneLine(String s) {
        s = s.replaceAll("\\s+", " ").trim();
        return s.length() > 160 ? s.substring(0, 157) + "..." : s;
    }
}
