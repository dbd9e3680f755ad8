// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The few GitLab REST API v4 calls gfw makes, each failure turned into one line with an exit code:
 * 401/403 {@link ExitCode#AUTH}, 404 {@link ExitCode#NOT_FOUND}, 5xx, 429 and unusable answers
 * {@link ExitCode#REMOTE_ERROR}, no connection or no answer within the timeout {@link ExitCode#UNAVAILABLE}. The access token goes in
 * the {@code PRIVATE-TOKEN} header only and never into a message. Requests take the route
 * {@link Http#route} gives (--proxy, HTTPS_PROXY, NO_PROXY, cluster.proxy; SOCKS too, which
 * java.net.http would ignore silently).
 *
 * <p>Throttling and passing failures are retried within the command's time ({@link #retryWithin}): a 429 after its
 * {@code Retry-After} (GitLab's Rack::Attack answers it before the request reaches the API, so nothing happened), a
 * 502/503/504 of a GET, PUT or DELETE with back-off. A POST is not repeated after a 5xx (it may have been done: a
 * second runner would be created). GitLab's errors are reported as GitLab words them: {@code {"message": …}}, and the
 * OAuth bodies {@code {"error": "invalid_token"|"insufficient_scope", "error_description": …, "scope": …}}
 * (gitlabhq lib/api/api_guard.rb {@code oauth2_bearer_token_error_handler}), with the scopes the command needs ({@link Use}).
 */
final class GitLabApi {

    /**
     * What a command asks of GitLab, and so the scopes its token needs: the routes each calls, opened by
     * {@code allow_access_with_scope} in gitlabhq — every route {@code api}, GET/HEAD also {@code read_api}
     * (lib/api/api.rb), {@code POST /user/runners} also {@code create_runner} (lib/api/user_runners.rb), paths under
     * {@code /runners/:id} also {@code manage_runner} (lib/api/ci/runners.rb). The README's token table says the same.
     */
    enum Use {
        DEPLOY_RUNNERS("deploy-runners", "api, or create_runner + read_api (+ manage_runner, to delete a runner again whose token could not be stored)"),
        HEALTH("health", "read_api, manage_runner or api"),
        STATUS("runners status", "read_api, manage_runner or api"),
        CHANGE("runners pause/resume/drain/rotate-token", "manage_runner or api"),
        PRUNE("runners prune", "api, or read_api + manage_runner"),
        REAP("runners reap", "read_api or api"),
        SMOKE("runners smoke", "api (a pipeline is created), of a user who may run pipelines in smoke.project"),
        DOWN("down", "manage_runner or api"),
        ANY("gfw", "api");

        final String command;
        final String scopes;

        Use(String command, String scopes) {
            this.command = command;
            this.scopes = scopes;
        }

        /** "deploy-runners needs a token with api, or ... and the Owner role on the group". */
        String needs() {
            return command + " needs a token with " + scopes + ", of a user with " + ROLE;
        }
    }

    /** Group runners are created, shown and changed only for the group's Owners (doc/api/users.md, Ci::RunnerPolicy). */
    static final String ROLE = "the Owner role on the group (organization.group)";

    /** A runner just created: its id, its authentication token and when the token expires (null: never). */
    record CreatedRunner(long id, String token, String tokenExpiresAt) {
        @Override
        public String toString() {
            return "CreatedRunner[id=" + id + ", token=" + Output.MASK + ", tokenExpiresAt=" + tokenExpiresAt + "]";
        }
    }

    /** A runner authentication token GitLab handed out, and when it expires (null: never). */
    record RunnerToken(String token, String expiresAt) {
        @Override
        public String toString() {
            return "RunnerToken[token=" + Output.MASK + ", expiresAt=" + expiresAt + "]";
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final String accessToken;
    private final Http.Client http;
    private Use use = Use.ANY;
    private Duration retryBudget = Duration.ofSeconds(30);
    private String budgetFrom = "30 s a request";
    private Consumer<String> notices = System.err::println;

    /**
     * {@code baseUrl}: the instance, e.g. https://gitlab.com; {@code accessToken}: a personal/group access
     * token; {@code http}: a client with its route ({@link Http#route}) and timeout, to which the token is added.
     */
    GitLabApi(String baseUrl, String accessToken, Http.Client http) {
        if (hasCredentials(baseUrl)) {
            throw new GfwException(ExitCode.USAGE, "the GitLab URL (--gitlab-url or organization.gitlabUrl) holds credentials (user:password@ before"
                    + " the host); remove them: gfw sends GITLAB_TOKEN in the PRIVATE-TOKEN header, and a URL ends up in messages");
        }
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.accessToken = accessToken;
        this.http = http.secretHeader("PRIVATE-TOKEN", accessToken);
    }

    /** Whether {@code url} has a user (and password) before its host. */
    static boolean hasCredentials(String url) {
        try {
            return url != null && java.net.URI.create(url.trim()).getRawUserInfo() != null;
        } catch (IllegalArgumentException e) {
            return url.contains("@");
        }
    }

    /** Which command this client serves: its scope errors say what that command needs. */
    GitLabApi use(Use use) {
        this.use = use;
        return this;
    }

    /** Each call retries (429, 502-504) for at most {@code budget} (the command's --timeout); without this, 30 s. */
    GitLabApi retryWithin(Duration budget) {
        this.retryBudget = budget;
        this.budgetFrom = "--timeout " + budget.toSeconds() + " s";
        return this;
    }

    /** Where retry notices go (default stderr). */
    GitLabApi notices(Consumer<String> notices) {
        this.notices = notices;
        return this;
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

    /**
     * {@code POST /api/v4/user/runners}: a group runner with these settings ({@code tag_list}, {@code run_untagged},
     * {@code locked}, {@code access_level}, {@code maximum_timeout}: what lib/api/user_runners.rb takes, lib/runners/RunnerSettings);
     * returns its id, token and the token's expiry.
     * The token is taken as GitLab gives it ({@code glrt-…}, {@code glrt-t2_…}, or behind an instance prefix). An answer
     * with an id but no usable token leaves no runner behind: gfw deletes it again (or names it when that fails).
     */
    CreatedRunner createGroupRunner(long groupId, String description, Map<String, Object> settings) {
        var body = new LinkedHashMap<String, Object>();
        body.put("runner_type", "group_type");
        body.put("group_id", groupId);
        body.put("description", description);
        body.putAll(settings);
        JsonNode created = call("POST", "/api/v4/user/runners", body, "create runner '" + description + "'");
        String token = created.path("token").asText("");
        if (!created.path("id").canConvertToLong()) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered the runner creation without a runner id;"
                    + " check the group's CI/CD > Runners page for a runner '" + description + "'");
        }
        long id = created.path("id").asLong();
        if (token.isBlank() || !token.matches("\\S+")) {
            String undo;
            try {
                deleteRunner(id);
                undo = "gfw deleted runner " + id + " again";
            } catch (GfwException e) {
                undo = "runner " + id + " stays registered without a token gfw could store: delete it in the group's CI/CD > Runners settings ("
                        + e.getMessage() + ")";
            }
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered the creation of runner " + id
                    + " without a usable token; " + undo);
        }
        return new CreatedRunner(id, token, text(created, "token_expires_at"));
    }

    /** {@code DELETE /api/v4/runners/:id}: removes a runner (undoing a half-done registration, prune). */
    void deleteRunner(long runnerId) {
        call("DELETE", "/api/v4/runners/" + runnerId, null, "delete runner " + runnerId);
    }

    /**
     * A runner as GitLab reports it. {@code status}: GitLab's REST status ({@code deprecated_rest_status}: online,
     * offline, stale, never_contacted, or paused for a paused runner that contacted it); {@code online}: a contact within
     * the last 2 hours; {@code contactedAt} null when it never contacted GitLab or when the answer was a list (the list
     * entity has none); {@code version} null when GitLab does not say; {@code groupIds} the groups of the details
     * ({@code groups}), null from a list.
     */
    record Runner(long id, String description, boolean paused, boolean online, String status, String version,
                  String contactedAt, String runnerType, List<Long> groupIds) {

        /**
         * The longest a live runner's contact may be old: gitlab-runner's job requests can be answered by Workhorse
         * alone for up to RUNNER_QUEUE_EXPIRY_TIME (1 hour, app/models/ci/runner.rb) before one reaches GitLab and
         * updates contacted_at; 15 minutes more for slow polls. GitLab's own {@code online} lasts 2 hours
         * (ONLINE_CONTACT_TIMEOUT), so it alone does not say that the runner is still there.
         */
        static final Duration CONTACT_FRESH = Duration.ofMinutes(75);

        /** How long ago the last contact was (zero if in the future), or null when never or unreadable. */
        Duration sinceContact(Instant now) {
            if (contactedAt == null) return null;
            try {
                Duration d = Duration.between(OffsetDateTime.parse(contactedAt).toInstant(), now);
                return d.isNegative() ? Duration.ZERO : d;
            } catch (RuntimeException e) {
                return null;
            }
        }

        /** GitLab calls it online AND its last contact is recent enough for a runner that is still there. */
        boolean alive(Instant now) {
            Duration d = sinceContact(now);
            return online && d != null && d.compareTo(CONTACT_FRESH) <= 0;
        }
    }

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
     * What a runner's details say of the settings gfw keeps (docs.gitlab.com/ee/api/runners.html "Get runner's details";
     * lib/api/entities/ci/runner_details.rb: {@code tag_list}, {@code run_untagged}, {@code locked}, {@code access_level},
     * {@code maximum_timeout}, null when none is set).
     */
    record Settings(List<String> tags, boolean runUntagged, boolean locked, String accessLevel, Integer maximumTimeout) {}

    /** {@code GET /api/v4/runners/:id}: the runner's settings. */
    Settings settings(long runnerId) {
        JsonNode n = call("GET", "/api/v4/runners/" + runnerId, null, "read runner " + runnerId);
        if (!n.path("tag_list").isArray()) throw unusable("runner " + runnerId + " (no tag_list)");
        var tags = new ArrayList<String>();
        for (JsonNode t : n.path("tag_list")) tags.add(t.asText());
        JsonNode max = n.path("maximum_timeout");
        return new Settings(tags, n.path("run_untagged").asBoolean(false), n.path("locked").asBoolean(false),
                text(n, "access_level"), max.canConvertToInt() && !max.isNull() ? max.asInt() : null);
    }

    /**
     * {@code PUT /api/v4/runners/:id} with only the fields given ({@code tag_list}, {@code run_untagged}, {@code locked},
     * {@code access_level}, {@code maximum_timeout}; docs.gitlab.com/ee/api/runners.html "Update runner's details").
     */
    void updateRunner(long runnerId, Map<String, Object> fields) {
        call("PUT", "/api/v4/runners/" + runnerId, fields, "update the settings of runner " + runnerId);
    }

    /**
     * One runner manager: one gitlab-runner process (one manager pod) using the runner's token, told apart by its system
     * id (lib/api/entities/ci/runner_manager.rb: {@code system_id}, {@code version}, {@code contacted_at}, {@code status}).
     */
    record Manager(String systemId, String version, String contactedAt, String status) {}

    /** {@code GET /api/v4/runners/:id/managers} (docs.gitlab.com/ee/api/runners.html "List runner's managers"). */
    List<Manager> managers(long runnerId) {
        JsonNode list = call("GET", "/api/v4/runners/" + runnerId + "/managers", null, "list the managers of runner " + runnerId);
        if (!list.isArray()) throw unusable("the managers of runner " + runnerId);
        var out = new ArrayList<Manager>();
        for (JsonNode m : list) out.add(new Manager(text(m, "system_id"), text(m, "version"), text(m, "contacted_at"), text(m, "status")));
        return out;
    }

    /** A pipeline as GitLab answers it (docs.gitlab.com/ee/api/pipelines.html: {@code id}, {@code status}, {@code web_url}). */
    record Pipeline(long id, String status, String webUrl) {}

    /** A job of a pipeline: its id, name, status, page and the runner that took it (null: none yet). */
    record Job(long id, String name, String status, String webUrl, Long runnerId) {}

    /**
     * {@code POST /api/v4/projects/:id/pipeline} with {@code ref} and {@code variables} [{key, value, variable_type}]
     * (docs.gitlab.com/ee/api/pipelines.html "Create a new pipeline"); {@code project} is an id or a full path.
     */
    Pipeline createPipeline(String project, String ref, Map<String, String> variables) {
        var body = new LinkedHashMap<String, Object>();
        body.put("ref", ref);
        var vars = new ArrayList<Map<String, Object>>();
        variables.forEach((k, v) -> {
            var m = new LinkedHashMap<String, Object>();
            m.put("key", k);
            m.put("value", v);
            m.put("variable_type", "env_var");
            vars.add(m);
        });
        body.put("variables", vars);
        return pipeline(call("POST", "/api/v4/projects/" + enc(project) + "/pipeline", body,
                "create a pipeline in project " + project + " at " + ref), "the pipeline created in " + project);
    }

    /** {@code GET /api/v4/projects/:id/pipelines/:pipeline_id}. */
    Pipeline pipeline(String project, long pipelineId) {
        return pipeline(call("GET", "/api/v4/projects/" + enc(project) + "/pipelines/" + pipelineId, null,
                "read pipeline " + pipelineId + " of " + project), "pipeline " + pipelineId);
    }

    /** {@code GET /api/v4/projects/:id/pipelines/:pipeline_id/jobs} (first 100). */
    List<Job> pipelineJobs(String project, long pipelineId) {
        JsonNode list = call("GET", "/api/v4/projects/" + enc(project) + "/pipelines/" + pipelineId + "/jobs?per_page=100", null,
                "list the jobs of pipeline " + pipelineId + " of " + project);
        if (!list.isArray()) throw unusable("the jobs of pipeline " + pipelineId);
        var out = new ArrayList<Job>();
        for (JsonNode j : list) out.add(job(j));
        return out;
    }

    /** {@code GET /api/v4/projects/:id/jobs/:job_id} (docs.gitlab.com/ee/api/jobs.html "Get a single job"). */
    Job job(String project, long jobId) {
        return job(call("GET", "/api/v4/projects/" + enc(project) + "/jobs/" + jobId, null, "read job " + jobId + " of project " + project));
    }

    private static Job job(JsonNode j) {
        JsonNode runner = j.path("runner");
        return new Job(j.path("id").asLong(), text(j, "name"), text(j, "status"), text(j, "web_url"),
                runner.path("id").canConvertToLong() ? runner.path("id").asLong() : null);
    }

    private Pipeline pipeline(JsonNode n, String what) {
        if (!n.path("id").canConvertToLong()) throw unusable(what + " (no id)");
        return new Pipeline(n.path("id").asLong(), text(n, "status"), text(n, "web_url"));
    }

    private static String enc(String project) {
        return URLEncoder.encode(project, StandardCharsets.UTF_8);
    }

    /**
     * {@code POST /api/v4/runners/:id/reset_authentication_token}: the runner's new token (the old one stops working at
     * once) and its expiry ({@code token_expires_at}, absent when it does not expire).
     */
    RunnerToken resetAuthenticationToken(long runnerId) {
        JsonNode answer = call("POST", "/api/v4/runners/" + runnerId + "/reset_authentication_token", null,
                "reset the authentication token of runner " + runnerId);
        String token = answer.path("token").asText("");
        if (token.isBlank()) throw unusable("the token reset of runner " + runnerId + " (no token in it)");
        return new RunnerToken(token, text(answer, "token_expires_at"));
    }

    /**
     * {@code GET /api/v4/groups/:id/runners?type=group_type}, every page (following {@code X-Next-Page}): the group
     * runners of the group AND of its ancestor groups ({@code belonging_to_group_and_ancestors}); which group owns one
     * only its details say ({@link Runner#groupIds}).
     */
    List<Runner> groupRunners(long groupId) {
        var out = new ArrayList<Runner>();
        int perPage = 100;
        String page = "1";
        for (int pages = 0; page != null && !page.isBlank() && pages < 1000; pages++) {
            Http.Response resp = send("GET", "/api/v4/groups/" + groupId + "/runners?type=group_type&per_page=" + perPage + "&page=" + page,
                    null, "list the runners of group " + groupId);
            JsonNode list = parse(resp, "list the runners of group " + groupId);
            if (!list.isArray()) throw unusable("the runner list of group " + groupId);
            for (JsonNode r : list) out.add(runner(r, "the runner list of group " + groupId));
            String next = resp.header("X-Next-Page");
            page = next != null ? next.trim() : list.size() < perPage ? null : String.valueOf(Integer.parseInt(page) + 1);
        }
        return out;
    }

    private Runner runner(JsonNode n, String what) {
        if (!n.path("id").canConvertToLong()) throw unusable(what + " (no id)");
        List<Long> groups = null;
        if (n.path("groups").isArray()) {
            groups = new ArrayList<>();
            for (JsonNode g : n.path("groups")) if (g.path("id").canConvertToLong()) groups.add(g.path("id").asLong());
        }
        return new Runner(n.path("id").asLong(), text(n, "description"), n.path("paused").asBoolean(!n.path("active").asBoolean(true)),
                n.path("online").asBoolean(false), text(n, "status"), text(n, "version"), text(n, "contacted_at"), text(n, "runner_type"), groups);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.path(field);
        return v.isMissingNode() || v.isNull() ? null : v.asText();
    }

    private GfwException unusable(String what) {
        return new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered " + what + " with something gfw cannot use");
    }

    private JsonNode call(String method, String path, Map<String, Object> body, String what) {
        return parse(send(method, path, body, what), what);
    }

    private JsonNode parse(Http.Response resp, String what) {
        if (resp.body() == null || resp.body().isBlank()) return JSON.createObjectNode();
        try {
            return JSON.readTree(resp.body());
        } catch (IOException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab at " + baseUrl + " answered " + what + " with something that is not JSON", e);
        }
    }

    /** One request, retried while GitLab throttles or briefly fails and time is left; a 2xx answer, or the error as one line. */
    private Http.Response send(String method, String path, Map<String, Object> body, String what) {
        long start = System.nanoTime();
        long until = start + retryBudget.toNanos();
        boolean repeatable = !method.equals("POST");
        String where = method + " " + baseUrl + path;
        for (int attempt = 1; ; attempt++) {
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
            if (code >= 200 && code < 300) return resp;
            boolean throttled = code == 429;
            boolean passing = repeatable && (code == 502 || code == 503 || code == 504);
            if (!throttled && !passing) throw error(resp, method, path, what);
            long delayMs = throttled ? retryAfterMillis(resp.header("Retry-After"), attempt) : Math.min(8000, 500L << Math.min(4, attempt - 1));
            long now = System.nanoTime();
            String said = code + (throttled ? " (rate limited)" : " " + reason(resp.body()));
            if (now + delayMs * 1_000_000 > until) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "GitLab answered " + said + " to " + what + " on " + where
                        + (attempt > 1 ? ", " + attempt + " times over " + Duration.ofNanos(now - start).toSeconds() + " s" : "")
                        + (throttled ? " and asks to wait " + Math.round(delayMs / 1000.0) + " s more" : "")
                        + ": no time left (" + budgetFrom + "); retry later" + (throttled ? " (GitLab's rate limit)" : " (GitLab is having trouble)"));
            }
            notices.accept("GitLab answered " + said + " to " + what + "; retrying in " + human(delayMs)
                    + (throttled ? " (Retry-After)" : ""));
            try {
                Thread.sleep(delayMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw error(resp, method, path, what);
            }
        }
    }

    /** Retry-After in seconds or as an HTTP date; 1 s doubling when absent. */
    static long retryAfterMillis(String retryAfter, int attempt) {
        if (retryAfter != null) {
            String v = retryAfter.trim();
            try {
                return Math.max(0, Long.parseLong(v)) * 1000;
            } catch (NumberFormatException notSeconds) {
                try {
                    return Math.max(0, Duration.between(Instant.now(),
                            java.time.ZonedDateTime.parse(v, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()).toMillis());
                } catch (RuntimeException notADate) {
                    // fall through to the back-off
                }
            }
        }
        return Math.min(8000, 1000L << Math.min(3, attempt - 1));
    }

    private static String human(long ms) {
        return ms < 1000 ? ms + " ms" : Math.round(ms / 1000.0) + " s";
    }

    /** A non-2xx answer as one line with its exit code, in GitLab's words, with what the command needs. */
    private GfwException error(Http.Response resp, String method, String path, String what) {
        int code = resp.status();
        String reason = reason(resp.body());
        String oauth = field(resp.body(), "error");
        String where = method + " " + baseUrl + path;
        if (code == 401) {
            String why = "invalid_token".equals(oauth)
                    ? ": GitLab says the token is " + (reason.contains("revoked") ? "revoked" : reason.contains("expired") ? "expired" : "not valid")
                    : ": GitLab does not know this token (mistyped, deleted, or from another GitLab)";
            return new GfwException(ExitCode.AUTH, "GitLab rejected GITLAB_TOKEN (401 " + reason + ") on " + where + why
                    + "; " + use.needs());
        }
        if (code == 403 && "insufficient_scope".equals(oauth)) {
            String scope = field(resp.body(), "scope");
            return new GfwException(ExitCode.AUTH, "GITLAB_TOKEN lacks the scope to " + what + " (403 insufficient_scope"
                    + (scope == null || scope.isBlank() ? "" : ": GitLab lists " + scope.trim().replace(' ', ',') + " for this route") + ") on " + where
                    + "; " + use.needs());
        }
        if (code == 403) {
            return new GfwException(ExitCode.AUTH, "GitLab refused to " + what + " (403 " + reason + ") on " + where
                    + ": the token's user lacks the role for it; " + use.needs());
        }
        if (code == 404) {
            return new GfwException(ExitCode.NOT_FOUND, "GitLab cannot " + what + " (404 " + reason + ") on " + where
                    + (path.startsWith("/api/v4/runners/")
                            ? ": GitLab has no such runner (deleted?) or GITLAB_TOKEN cannot see it"
                            : path.startsWith("/api/v4/projects/")
                            ? ": check smoke.project in the environment file, and that GITLAB_TOKEN can see that project"
                            : ": check organization.group / organization.gitlabUrl in the environment file, and that GITLAB_TOKEN can see it"));
        }
        if (code >= 500) {
            return new GfwException(ExitCode.REMOTE_ERROR, "GitLab failed to " + what + " (" + code + " " + reason + ") on " + where
                    + ": GitLab is having trouble, retry later");
        }
        return new GfwException(ExitCode.REMOTE_ERROR, "GitLab refused to " + what + " (" + code + " " + reason + ") on " + where);
    }

    /**
     * GitLab puts the reason in "message" (lib/api/helpers.rb render_api_error!) or, for token errors, in "error" and
     * "error_description" (OAuth, lib/api/api_guard.rb); keep it short and on one line.
     */
    private String reason(String body) {
        return Output.escapeControls(http.mask(rawReason(body)));
    }

    private static String rawReason(String body) {
        if (body == null || body.isBlank()) return "no details";
        try {
            JsonNode n = JSON.readTree(body);
            if (n != null && n.isObject()) {
                if (n.has("message")) return oneLine(n.get("message").isTextual() ? n.get("message").asText() : n.get("message").toString());
                if (n.has("error")) {
                    String d = n.path("error_description").asText("");
                    return oneLine(n.get("error").asText() + (d.isBlank() ? "" : ": " + d));
                }
            }
        } catch (IOException ignored) {
            // not JSON: fall through to the raw text
        }
        return oneLine(body);
    }

    private static String field(String body, String name) {
        if (body == null || body.isBlank()) return null;
        try {
            JsonNode n = JSON.readTree(body);
            return n != null && n.isObject() && n.path(name).isTextual() ? n.path(name).asText() : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String oneLine(String s) {
        s = s.replaceAll("\\s+", " ").trim();
        return s.length() > 160 ? s.substring(0, 157) + "..." : s;
    }
}
