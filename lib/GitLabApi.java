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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few GitLab REST API v4 calls gfw makes, each failure turned into one line with an exit code:
 * 401/403 {@link ExitCode#AUTH}, 404 {@link ExitCode#NOT_FOUND}, 5xx and unusable answers
 * {@link ExitCode#REMOTE_ERROR}, no connection or no answer within the timeout {@link ExitCode#UNAVAILABLE}. The access token goes in
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

    /** {@code DELETE /api/v4/runners/:id}: removes a runner (undoing a half-done registration, prune). */
    void deleteRunner(long runnerId) {
        call("DELETE", "/api/v4/runners/" + runnerId, null, "delete runner " + runnerId);
    }

    /**
     * A runner as GitLab reports it. {@code status}: online, offline, stale or never_contacted; {@code contactedAt}
     * null when it never contacted GitLab; {@code version} null when GitLab does not say (newer GitLab keeps it per
     * runner manager).
     */
    record Runner(long id, String description, boolean paused, boolean online, String status, String version,
                  String contactedAt, String runnerType) {}

    /** {@code GET /api/v4/runners/:id}. */
    Runner runner(long runnerId) {
        return runner(call("GET", "/api/v4/runners/" + runnerId, null, "read runner " + runnerId), "runner " + runnerId);
    }

    /** {@code PUT /api/v4/runners/:id} with {@code paused}; returns the runner as GitLab answered. */
    Runner setPaused(long runnerId, boolean paused) {
        var body = new LinkedHashMap<String, Object>();
        body.put("paused", paused);
        String what = (paused ? "pause" : "resume") + " runner " + runnerId;
        return runner(call("PUT", "/api/v4/runners/" + runnerId, body, what), what);
    }

    /** {@code GET /api/v4/runners/:id/jobs?status=running}: the ids of the jobs the runner runs now (first 100). */
    List<Long> runningJobs(long runnerId) {
        JsonNode jobs = call("GET", "/api/v4/runners/" + runnerId + "/jobs?status=running&per_page=100", null,
                "list the running jobs of runner " + runnerId);
        if (!jobs.isArray()) throw unusable("the running jobs of runner " + runnerId);
        var ids = new ArrayList<Long>();
        for (JsonNode j : jobs) ids.add(j.path("id").asLong());
        return ids;
    }

    /**
     * {@code POST /api/v4/runners/:id/reset_authentication_token}: the runner's new {@code glrt-} token (the old one
     * stops working at once).
     */
    String resetAuthenticationToken(long runnerId) {
        JsonNode answer = call("POST", "/api/v4/runners/" + runnerId + "/reset_authentication_token", null,
                "reset the authentication token of runner " + runnerId);
        String token = answer.path("token").asText("");
        if (token.isBlank()) throw unusable("the token reset of runner " + runnerId + " (no token in it)");
        return token;
    }

    /** {@code GET /api/v4/groups/:id/runners?type=group_type}, every page: the group's own runners. */
    List<Runner> groupRunners(long groupId) {
        var out = new ArrayList<Runner>();
        int perPage = 100;
        for (int page = 1; page <= 100; page++) {
            JsonNode list = call("GET", "/api/v4/groups/" + groupId + "/runners?type=group_type&per_page=" + perPage + "&page=" + page,
                    null, "list the runners of group " + groupId);
            if (!list.isArray()) throw unusable("the runner list of group " + groupId);
            for (JsonNode r : list) out.add(runner(r, "the runner list of group " + groupId));
            if (list.size() < perPage) break;
        }
        return out;
    }

    private Runner runner(JsonNode n, String what) {
        if (!n.path("id").canConvertToLong()) throw unusable(what + " (no id)");
        return new Runner(n.path("id").asLong(), text(n, "description"), n.path("paused").asBoolean(!n.path("active").asBoolean(true)),
                n.path("online").asBoolean(false), text(n, "status"), text(n, "version"), text(n, "contacted_at"), text(n, "runner_type"));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.path(field);
        return v.isMissingNode() || v.isNull() ? null : v.asText();
    }

    private GfwException unusable(String what) {
        return new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered " + what + " with something gfw cannot use");
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
                    + ": the token is wrong, expired or revoked; create one with the api scope (create_runner suffices to create runners)");
        }
        if (code == 403) {
            throw new GfwException(ExitCode.AUTH, "GitLab refused to " + what + " (403 " + reason + ") on " + where
                    + ": the GITLAB_TOKEN user needs the Owner role on the group and a token with the api (or create_runner/manage_runner) scope");
        }
        if (code == 404) {
            throw new GfwException(ExitCode.NOT_FOUND, "GitLab cannot " + what + " (404 " + reason + ") on " + where
                    + (path.startsWith("/api/v4/runners/")
                            ? ": GitLab has no such runner (deleted?) or GITLAB_TOKEN cannot see it"
                            : ": check organization.group / organization.gitlabUrl in the environment file, and that GITLAB_TOKEN can see it"));
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
