import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Stands in for GitLab's REST API v4 (no GitLab can run here), answering as gitlabhq does. Each behaviour names the
 * upstream file and method it mirrors (read in gitlabhq/gitlabhq at the commits the search tool stores, 2026):
 *
 * <ul>
 *   <li>Rate limits: a request that {@link #throttle} matches answers 429 {@code text/plain} "Retry later\n" with
 *       {@code Retry-After} (lib/gitlab/rack_attack.rb {@code throttled_response}/{@code throttled_response_headers});
 *       Rack::Attack runs before authentication.</li>
 *   <li>Authentication: a PRIVATE-TOKEN GitLab does not know is 401 {@code {"message":"401 Unauthorized"}} (lib/api/helpers.rb
 *       {@code unauthorized!}); an expired or revoked one 401 {@code {"error":"invalid_token","error_description":
 *       "Token is expired. ..."}} and a token without a scope the route accepts 403 {@code {"error":"insufficient_scope",
 *       "error_description":…,"scope":"create_runner api read_api"}} (lib/api/api_guard.rb
 *       {@code oauth2_bearer_token_error_handler}, rack-oauth2 Resource::Forbidden#protocol_params joining the scopes
 *       registered for the endpoint, lib/api/helpers.rb {@code current_user}: {@code scopes_registered_for_endpoint}).</li>
 *   <li>Scopes per route ({@code allow_access_with_scope}): every route {@code api}, GET/HEAD also {@code read_api}
 *       (lib/api/api.rb); {@code POST /user/runners} also {@code create_runner} (lib/api/user_runners.rb); paths under
 *       {@code /runners/:id} also {@code manage_runner} (lib/api/ci/runners.rb).</li>
 *   <li>Groups: {@code GET /groups/:id} by id or URL-encoded full path ({@code find_group!}); {@code GET /groups/:id/runners}
 *       lists the runners of the group AND its ancestors ({@code Ci::Runner.group_or_instance_wide} →
 *       {@code belonging_to_group_and_ancestors}, app/models/ci/runner.rb), filtered by {@code type}, ordered by id and
 *       paged: {@code per_page} default 20, at most 100, {@code page}; headers X-Page, X-Per-Page, X-Next-Page (empty on
 *       the last page), X-Prev-Page, X-Total, X-Total-Pages (lib/gitlab/pagination/offset_pagination.rb).</li>
 *   <li>Runner entities: the list entity has no {@code contacted_at} and no {@code version} (lib/api/entities/ci/runner.rb);
 *       the details ({@code GET/PUT /runners/:id}) add them and {@code groups} [{id, web_url, name}]
 *       (lib/api/entities/ci/runner_details.rb). {@code online} is a contact within 2 hours
 *       ({@code ONLINE_CONTACT_TIMEOUT}, Ci::HasRunnerStatus#online?), and {@code status} is {@code deprecated_rest_status}:
 *       stale (created and contacted more than 7 days ago), never_contacted, online/offline when active, else
 *       {@code paused} (app/models/ci/runner.rb).</li>
 *   <li>{@code POST /user/runners} (JSON) answers {@code {id, token, token_expires_at}}
 *       (lib/api/entities/ci/runner_registration_details.rb) with a token {@code glrt-t2_…}
 *       ({@code prefix_for_new_and_legacy_runner}), behind {@link #instancePrefix} when set;
 *       {@code POST /runners/:id/reset_authentication_token} answers {@code {token}} plus {@code token_expires_at} only when
 *       the token expires (lib/api/entities/ci/reset_token_result.rb). The expiry is {@link #tokenLifetime} from now
 *       (the group's runner token expiration, {@code compute_token_expiration_group}).</li>
 *   <li>Errors are {@code {"message": "404 Runner Not Found"}} etc. (lib/api/helpers.rb {@code render_api_error!}).</li>
 * </ul>
 *
 * <p>Records every request (method, path, query, body, content type, PRIVATE-TOKEN); a malformed one (a PUT without a
 * JSON {@code paused} boolean, jobs listed without {@code status=running}, an unknown path) is noted in
 * {@link #problems}, which tests assert empty. {@link #fail} makes matching requests answer an error status (some times
 * or always), or stall (status 0) past the client's timeout. A runner created here, or added {@code online}, is
 * {@link Runner#alive}: it contacts GitLab whenever GitLab is asked about it, as a running gitlab-runner polls.
 */
final class GitLabStandIn implements AutoCloseable {
    private static final AtomicLong NEXT_ID = new AtomicLong(9000);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The suite's token: scope {@code api}, its user Owner of every group. */
    static final String ACCESS_TOKEN = "glpat-test-access-token";
    static final long GROUP_ID = 4242;
    /** ONLINE_CONTACT_TIMEOUT and STALE_TIMEOUT of app/models/ci/runner.rb. */
    static final Duration ONLINE_CONTACT_TIMEOUT = Duration.ofHours(2);
    static final Duration STALE_TIMEOUT = Duration.ofDays(7);
    /** GitLab's time format (ISO 8601 with milliseconds, UTC). */
    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    record Req(String method, String path, String query, String privateToken, String contentType, String body) {
        String line() { return method + " " + path; }
    }

    record Group(long id, String fullPath, Long parentId) {
        String name() { return fullPath.substring(fullPath.lastIndexOf('/') + 1); }
    }

    /** A runner as this GitLab knows it; tests set its state. */
    static final class Runner {
        final long id;
        volatile String description;
        /** The group that owns it (a group runner has exactly one). */
        volatile long groupId = GROUP_ID;
        volatile String version = "17.11.0";
        volatile Instant createdAt = Instant.now();
        /** Its last contact (GitLab's format), null when it never contacted; refreshed at every look while {@link #alive}. */
        volatile String contactedAt;
        /** Contacts GitLab continuously, like a running gitlab-runner. */
        volatile boolean alive;
        final List<Long> runningJobs = new CopyOnWriteArrayList<>();
        volatile int jobsFinishAfterPolls = -1;
        /** The runner's settings (Ci::Runner columns; RunnerDetails exposes them). */
        volatile List<String> tags = List.of();
        volatile boolean runUntagged = true;
        volatile boolean locked = false;
        volatile String accessLevel = "not_protected";
        volatile Integer maximumTimeout;
        /** Its managers (Ci::RunnerManager: one per gitlab-runner process with this token); null: one per look while alive. */
        volatile List<ObjectNode> managers;
        volatile int reconnectIn = -1;

        Runner(long id, String description) {
            this.id = id;
            this.description = description;
        }

        Instant contacted() {
            if (alive) contactedAt = TIME.format(Instant.now());
            return contactedAt == null ? null : Instant.parse(contactedAt);
        }

        /** Sets the times so that GitLab's rules give {@code status}: online, offline, stale or never_contacted. */
        Runner state(String status) {
            Instant now = Instant.now();
            alive = status.equals("online");
            switch (status) {
                case "online" -> contactedAt = TIME.format(now);
                case "offline" -> { createdAt = now.minus(Duration.ofDays(1)); contactedAt = TIME.format(now.minus(Duration.ofHours(3))); }
                case "stale" -> { createdAt = now.minus(Duration.ofDays(100)); contactedAt = TIME.format(now.minus(Duration.ofDays(90))); }
                case "never_contacted" -> contactedAt = null;
                default -> throw new IllegalArgumentException(status);
            }
            return this;
        }
    }

    final List<Req> requests = new CopyOnWriteArrayList<>();
    final List<String> problems = new CopyOnWriteArrayList<>();
    final List<Long> ids = new CopyOnWriteArrayList<>();
    final List<String> tokens = new CopyOnWriteArrayList<>();
    /** Tokens handed out by reset_authentication_token, in order. */
    final List<String> resetTokens = new CopyOnWriteArrayList<>();
    final Map<Long, Runner> runners = new ConcurrentHashMap<>();
    final Map<Long, Group> groups = new ConcurrentHashMap<>();
    /** Access tokens and their scopes; {@link #ACCESS_TOKEN} has {@code api}. */
    final Map<String, Set<String>> tokenScopes = new ConcurrentHashMap<>();
    final Set<String> expiredTokens = ConcurrentHashMap.newKeySet();
    final Set<String> revokedTokens = ConcurrentHashMap.newKeySet();
    final Path tokenFile;
    volatile int groupStatus = 200;
    volatile int createStatus = 201;
    volatile int deleteStatus = 204;
    /** An instance token prefix put before every runner token (e.g. "acme-"); empty: none. */
    volatile String instancePrefix = "";
    /** The group's runner token expiration: tokens created or reset expire this long after; null: they never expire. */
    volatile Duration tokenLifetime;
    /** POST /user/runners answers without its token (an answer gfw cannot use, after the runner was created). */
    volatile boolean createAnswerWithoutToken;
    /** Paused runners (PUT paused keeps it in step). */
    final Set<Long> paused = ConcurrentHashMap.newKeySet();
    /** After a token reset, GitLab hears from the runner again after this many looks at it (-1: never). */
    volatile int reconnectAfterPolls = 1;
    private final Map<String, int[]> failures = new ConcurrentHashMap<>();
    private final Map<String, int[]> throttles = new ConcurrentHashMap<>();
    private final HttpServer server;

    GitLabStandIn() {
        tokenScopes.put(ACCESS_TOKEN, Set.of("api"));
        groups.put(GROUP_ID, new Group(GROUP_ID, "gloriousflywheel", null));
        tokenFile = tokenFile(ACCESS_TOKEN);
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "gitlab-stand-in");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", this::handle);
        server.start();
    }

    /** A file holding {@code token}, mode 0600 as a token file should be. */
    static Path tokenFile(String token) {
        try {
            Path f = TestSupport.tempDir("gitlab-token").resolve("token");
            Files.writeString(f, token + "\n");
            Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            return f;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A new access token of the same (Owner) user with exactly these scopes. */
    String token(String... scopes) {
        String t = "glpat-" + String.join("-", scopes) + "-" + NEXT_ID.incrementAndGet();
        tokenScopes.put(t, Set.of(scopes));
        return t;
    }

    /** A subgroup (or group) by its full path, child of the group whose full path is its prefix; returns its id. */
    long addGroup(String fullPath) {
        int slash = fullPath.lastIndexOf('/');
        Long parent = slash < 0 ? null : groups.values().stream().filter(g -> g.fullPath().equals(fullPath.substring(0, slash)))
                .map(Group::id).findFirst().orElseThrow(() -> new IllegalArgumentException("no parent group for " + fullPath));
        long id = NEXT_ID.incrementAndGet();
        groups.put(id, new Group(id, fullPath, parent));
        return id;
    }

    /** Requests {@code method} to a path matching {@code pathRegex} answer {@code status} (0: no answer for 10 s, a stall). */
    GitLabStandIn fail(String method, String pathRegex, int status) {
        return fail(method, pathRegex, status, Integer.MAX_VALUE);
    }

    /** The same, for the next {@code times} matching requests only (a transient failure). */
    GitLabStandIn fail(String method, String pathRegex, int status, int times) {
        failures.put(method + " " + pathRegex, new int[] {status, times});
        return this;
    }

    /** The next {@code times} requests matching are throttled: 429 with Retry-After {@code retryAfterSeconds}. */
    GitLabStandIn throttle(String method, String pathRegex, int times, int retryAfterSeconds) {
        throttles.put(method + " " + pathRegex, new int[] {retryAfterSeconds, times});
        return this;
    }

    void clearFailures() {
        failures.clear();
        throttles.clear();
    }

    /** A runner registered in the group (as if created elsewhere) whose times give {@code status} (online, offline, stale, never_contacted). */
    Runner addRunner(String description, String status) {
        return addRunner(description, status, GROUP_ID);
    }

    /** The same, owned by group {@code groupId}. */
    Runner addRunner(String description, String status, long groupId) {
        long id = NEXT_ID.incrementAndGet();
        var r = new Runner(id, description).state(status);
        r.groupId = groupId;
        runners.put(id, r);
        return r;
    }

    /** The requests other than GETs: what changed something. */
    List<String> writes() {
        return requests.stream().filter(r -> !r.method().equals("GET")).map(Req::line).toList();
    }

    private static final Pattern RUNNER = Pattern.compile("/api/v4/runners/(\\d+)(/jobs|/managers|/reset_authentication_token)?");
    private static final Pattern PROJECT = Pattern.compile("/api/v4/projects/([^/]+)/(pipeline|pipelines/(\\d+)(/jobs)?|jobs/(\\d+))");
    private static final Pattern GROUP = Pattern.compile("/api/v4/groups/([^/]+)(/runners)?");

    /** One answer: status, JSON body (null: none), extra headers. */
    private record Answer(int status, Object body, Map<String, String> headers) {
        Answer(int status, Object body) {
            this(status, body, Map.of());
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = ex.getRequestURI().getRawPath();
        String query = ex.getRequestURI().getRawQuery();
        var req = new Req(ex.getRequestMethod(), path, query == null ? "" : query, ex.getRequestHeaders().getFirst("PRIVATE-TOKEN"),
                ex.getRequestHeaders().getFirst("Content-Type"), body);
        requests.add(req);
        int[] throttled = take(throttles, req);
        if (throttled != null) { // Rack::Attack answers before the API sees the request
            ex.getResponseHeaders().add("Content-Type", "text/plain");
            ex.getResponseHeaders().add("Retry-After", String.valueOf(throttled[0]));
            byte[] text = "Retry later\n".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(429, text.length);
            ex.getResponseBody().write(text);
            ex.close();
            return;
        }
        Answer a = answer(req, body);
        byte[] bytes = a.body() == null ? new byte[0] : JSON.writeValueAsBytes(a.body());
        ex.getResponseHeaders().add("Content-Type", "application/json");
        a.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
        ex.sendResponseHeaders(a.status(), bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) ex.getResponseBody().write(bytes);
        ex.close();
    }

    /** The matching entry of {@code rules} with one of its times used up, or null. */
    private static int[] take(Map<String, int[]> rules, Req req) {
        for (var e : rules.entrySet()) {
            if (!req.line().matches(e.getKey())) continue;
            synchronized (e.getValue()) {
                if (e.getValue()[1] <= 0) continue;
                if (e.getValue()[1] != Integer.MAX_VALUE) e.getValue()[1]--;
                return e.getValue();
            }
        }
        return null;
    }

    /** The scopes that open this route (allow_access_with_scope), in the order the endpoint registers them. */
    private static List<String> routeScopes(Req req) {
        var scopes = new ArrayList<String>();
        if (req.path().equals("/api/v4/user/runners")) scopes.add("create_runner"); // UserRunners; its `if` is request.post?
        if (req.path().startsWith("/api/v4/runners/") || req.path().matches("/api/v4/groups/[^/]+/runners")) scopes.add("manage_runner"); // Ci::Runners
        scopes.add("api");
        scopes.add("read_api");
        return scopes;
    }

    /** Whether one of the token's scopes opens the route: each scope's `if` condition checked (Scope#sufficient?). */
    private static boolean opens(Set<String> have, Req req) {
        boolean get = req.method().equals("GET") || req.method().equals("HEAD");
        if (have.contains("api")) return true;
        if (have.contains("read_api") && get) return true;
        if (have.contains("create_runner") && req.method().equals("POST") && req.path().equals("/api/v4/user/runners")) return true;
        return have.contains("manage_runner") && req.path().startsWith("/api/v4/runners/") && RUNNER.matcher(req.path()).matches();
    }

    private Answer answer(Req req, String body) {
        String token = req.privateToken();
        if (token == null || !tokenScopes.containsKey(token)) return new Answer(401, message("401 Unauthorized"));
        if (expiredTokens.contains(token)) {
            return new Answer(401, oauthError("invalid_token", "Token is expired. You can either do re-authorization or token refresh."),
                    Map.of("WWW-Authenticate", "Bearer realm=\"The API\", error=\"invalid_token\""));
        }
        if (revokedTokens.contains(token)) {
            return new Answer(401, oauthError("invalid_token", "Token was revoked. You have to re-authorize from the user."),
                    Map.of("WWW-Authenticate", "Bearer realm=\"The API\", error=\"invalid_token\""));
        }
        if (!opens(tokenScopes.get(token), req)) {
            return new Answer(403, oauthError("insufficient_scope", "The request requires higher privileges than provided by the access token.")
                    .put("scope", String.join(" ", routeScopes(req))));
        }
        int[] injected = take(failures, req);
        if (injected != null) {
            if (injected[0] == 0) {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException ignored) {
                    // the test is over
                }
            }
            int status = injected[0] == 0 ? 503 : injected[0];
            return new Answer(status, message(status + (status == 403 ? " Forbidden" : status == 404 ? " Not found"
                    : status == 502 ? " Bad Gateway" : status >= 500 ? " Internal Server Error" : "")));
        }
        Matcher m = RUNNER.matcher(req.path());
        Matcher g = GROUP.matcher(req.path());
        if (req.line().equals("POST /api/v4/user/runners") && "application/json".equals(req.contentType())) return create(body);
        if (g.matches() && req.method().equals("GET")) {
            Group group = group(URLDecoder.decode(g.group(1), StandardCharsets.UTF_8));
            if (g.group(2) == null) {
                if (groupStatus != 200) return new Answer(groupStatus, message(groupStatus == 401 ? "401 Unauthorized" : "404 Group Not Found"));
                if (group == null) return new Answer(404, message("404 Group Not Found"));
                ObjectNode n = JSON.createObjectNode().put("id", group.id()).put("name", group.name())
                        .put("path", group.name()).put("full_path", group.fullPath()).put("web_url", webUrl(group));
                if (group.parentId() == null) n.putNull("parent_id");
                else n.put("parent_id", group.parentId().longValue());
                return new Answer(200, n);
            }
            if (group == null) return new Answer(404, message("404 Group Not Found"));
            return groupRunners(group, req);
        }
        Matcher p = PROJECT.matcher(req.path());
        if (p.matches()) return project(req, body, p);
        if (!m.matches()) return unknown(req);
        long id = Long.parseLong(m.group(1));
        Runner r = runners.get(id);
        String sub = m.group(2) == null ? "" : m.group(2);
        if (r == null) return new Answer(404, message("404 Runner Not Found"));
        if (req.method().equals("GET") && sub.isEmpty()) {
            if (r.reconnectIn > 0 && --r.reconnectIn == 0) r.alive = true;
            return new Answer(200, details(r));
        }
        if (req.method().equals("PUT") && sub.isEmpty()) return update(r, req, body);
        if (req.method().equals("GET") && sub.equals("/managers")) return new Answer(200, managers(r));
        // DELETE /runners/:id (doc/api/runners.md "Delete a runner by ID"; gitlabhq lib/api/ci/runners.rb delete ':id',
        // destroy_conditionally!): 204 No Content; an unknown id was answered 404 "404 Runner Not Found" above.
        if (req.method().equals("DELETE") && sub.isEmpty()) {
            if (deleteStatus == 204) runners.remove(id);
            return new Answer(deleteStatus, deleteStatus == 204 ? null : message("500 Internal Server Error"));
        }
        if (req.method().equals("GET") && sub.equals("/jobs")) {
            if (!req.query().contains("status=running")) problems.add("jobs listed without status=running: " + req.query());
            if (r.jobsFinishAfterPolls > 0 && --r.jobsFinishAfterPolls == 0) r.runningJobs.clear();
            var jobs = new ArrayList<JsonNode>();
            for (long j : r.runningJobs) jobs.add(JSON.createObjectNode().put("id", j).put("status", "running"));
            return page(jobs, req);
        }
        if (req.method().equals("POST") && sub.equals("/reset_authentication_token")) {
            if (!body.isEmpty()) problems.add("reset_authentication_token with a body: " + body);
            String t = newToken();
            resetTokens.add(t);
            // The pods hold the old token, which stops working: GitLab hears nothing more until they use the new one.
            // Their last contact came before this request (a few seconds ago, as gitlab-runner polls).
            if (r.alive) r.contactedAt = TIME.format(Instant.now().minusSeconds(5));
            r.alive = false;
            r.reconnectIn = reconnectAfterPolls;
            ObjectNode answer = JSON.createObjectNode().put("token", t);
            if (tokenLifetime != null) answer.put("token_expires_at", TIME.format(Instant.now().plus(tokenLifetime)));
            return new Answer(201, answer);
        }
        return unknown(req);
    }

    private Answer create(String body) {
        if (createStatus != 201) return new Answer(createStatus, message(createStatus + " Service Unavailable"));
        JsonNode b = json(body);
        Group group = groups.get(b.path("group_id").asLong());
        if (!"group_type".equals(b.path("runner_type").asText()) || group == null) {
            problems.add("runner created with " + body);
            return new Answer(400, message("400 Bad request - group_id is missing"));
        }
        // lib/api/user_runners.rb declares access_level among Ci::Runner.access_levels (Grape: 400 {"error": …}); the model
        // refuses a maximum_timeout under 600 (render_validation_error!, 400 {"message": {…}}).
        if (b.has("access_level") && !ACCESS_LEVELS.contains(b.path("access_level").asText())) {
            return new Answer(400, JSON.createObjectNode().put("error", "access_level does not have a valid value"));
        }
        if (b.has("maximum_timeout") && (!b.get("maximum_timeout").canConvertToInt() || b.get("maximum_timeout").asInt() < 600)) {
            return new Answer(400, JSON.createObjectNode().set("message", JSON.createObjectNode().set("maximum_timeout",
                    JSON.createArrayNode().add("needs to be at least 10 minutes"))));
        }
        long id = NEXT_ID.incrementAndGet();
        String token = newToken();
        ids.add(id);
        tokens.add(token);
        var r = new Runner(id, b.path("description").asText()).state("online");
        r.groupId = group.id();
        // POST /user/runners takes the same settings (lib/api/user_runners.rb; run_untagged defaults to true, locked false).
        if (b.path("tag_list").isArray()) {
            var tags = new ArrayList<String>();
            b.path("tag_list").forEach(t -> tags.add(t.asText()));
            r.tags = List.copyOf(tags);
        }
        if (b.path("run_untagged").isBoolean()) r.runUntagged = b.path("run_untagged").asBoolean();
        if (b.path("locked").isBoolean()) r.locked = b.path("locked").asBoolean();
        if (b.path("access_level").isTextual()) r.accessLevel = b.path("access_level").asText();
        if (b.path("maximum_timeout").canConvertToInt()) r.maximumTimeout = b.path("maximum_timeout").asInt();
        runners.put(id, r);
        ObjectNode answer = JSON.createObjectNode().put("id", id);
        if (!createAnswerWithoutToken) answer.put("token", token);
        if (tokenLifetime == null) answer.putNull("token_expires_at");
        else answer.put("token_expires_at", TIME.format(Instant.now().plus(tokenLifetime)));
        return new Answer(201, answer);
    }

    /** Ci::Runner.access_levels (app/models/ci/runner.rb). */
    static final Set<String> ACCESS_LEVELS = Set.of("not_protected", "ref_protected");
    /** The parameters PUT /runners/:id declares (lib/api/ci/runners.rb {@code put ':id'}), in its at_least_one_of order. */
    static final List<String> UPDATE_PARAMS = List.of("description", "active", "paused", "tag_list", "run_untagged", "locked",
            "access_level", "maximum_timeout");

    /**
     * PUT /runners/:id as lib/api/ci/runners.rb {@code put ':id'} validates it (docs.gitlab.com/ee/api/runners.html "Update
     * runner's details"): Grape's {@code at_least_one_of} and {@code mutually_exclusive :active, :paused}, the types
     * (Boolean, Array[String] or a comma-separated String, Integer), {@code access_level} among Ci::Runner.access_levels —
     * each a 400 {@code {"error": …}} — then the model's validations (app/models/ci/runner.rb: maximum_timeout at least
     * 600, "needs to be at least 10 minutes"; tag_constraints: no empty tag list on a runner that does not run untagged
     * jobs), a 400 {@code {"message": {field: [..]}}} (render_validation_error!). Undeclared keys are dropped
     * (declared_params), and noted as a problem: gfw should not send them.
     */
    private Answer update(Runner r, Req req, String body) {
        JsonNode b = json(body);
        if (!"application/json".equals(req.contentType()) || !b.isObject()) {
            problems.add("PUT " + req.path() + " with " + req.contentType() + " body " + body);
            return new Answer(400, JSON.createObjectNode().put("error", "body is not JSON"));
        }
        b.fieldNames().forEachRemaining(k -> { if (!UPDATE_PARAMS.contains(k)) problems.add("PUT " + req.path() + " with undeclared " + k); });
        if (UPDATE_PARAMS.stream().noneMatch(b::has)) {
            return new Answer(400, JSON.createObjectNode().put("error", String.join(", ", UPDATE_PARAMS)
                    + " are missing, at least one parameter must be provided"));
        }
        if (b.has("active") && b.has("paused")) return new Answer(400, JSON.createObjectNode().put("error", "active, paused are mutually exclusive"));
        for (String k : List.of("active", "paused", "run_untagged", "locked")) {
            if (b.has(k) && !b.get(k).isBoolean()) return new Answer(400, JSON.createObjectNode().put("error", k + " is invalid"));
        }
        if (b.has("maximum_timeout") && !b.get("maximum_timeout").canConvertToInt()) {
            return new Answer(400, JSON.createObjectNode().put("error", "maximum_timeout is invalid"));
        }
        if (b.has("access_level") && !ACCESS_LEVELS.contains(b.get("access_level").asText())) {
            return new Answer(400, JSON.createObjectNode().put("error", "access_level does not have a valid value"));
        }
        List<String> tags = r.tags;
        if (b.has("tag_list")) {
            JsonNode t = b.get("tag_list");
            if (!t.isArray() && !t.isTextual()) return new Answer(400, JSON.createObjectNode().put("error", "tag_list is invalid"));
            var list = new ArrayList<String>();
            if (t.isArray()) t.forEach(x -> list.add(x.asText().trim()));
            else for (String x : t.asText().split(",")) if (!x.isBlank()) list.add(x.trim()); // CommaSeparatedToArray
            tags = List.copyOf(new java.util.LinkedHashSet<>(list));
        }
        boolean runUntagged = b.has("run_untagged") ? b.get("run_untagged").asBoolean() : r.runUntagged;
        Integer max = b.has("maximum_timeout") ? Integer.valueOf(b.get("maximum_timeout").asInt()) : r.maximumTimeout;
        ObjectNode errors = JSON.createObjectNode();
        if (max != null && max < 600) errors.putArray("maximum_timeout").add("needs to be at least 10 minutes");
        if (tags.isEmpty() && !runUntagged) errors.putArray("tags_list").add("can not be empty when runner is not allowed to pick untagged jobs");
        if (!errors.isEmpty()) return new Answer(400, JSON.createObjectNode().set("message", errors));
        if (b.has("paused")) { if (b.get("paused").asBoolean()) paused.add(r.id); else paused.remove(r.id); }
        if (b.has("active")) { if (b.get("active").asBoolean()) paused.remove(r.id); else paused.add(r.id); }
        if (b.has("description")) r.description = b.get("description").asText();
        r.tags = tags;
        r.runUntagged = runUntagged;
        if (b.has("locked")) r.locked = b.get("locked").asBoolean();
        if (b.has("access_level")) r.accessLevel = b.get("access_level").asText();
        r.maximumTimeout = max;
        return new Answer(200, details(r));
    }

    /**
     * GET /runners/:id/managers: Entities::Ci::RunnerManager per manager (lib/api/entities/ci/runner_manager.rb: id,
     * system_id, version, revision, platform, architecture, created_at, contacted_at, ip_address, status). Not paginated.
     * A runner that contacts GitLab has one manager unless the test set them.
     */
    private ArrayNode managers(Runner r) {
        ArrayNode out = JSON.createArrayNode();
        if (r.managers != null) {
            r.managers.forEach(out::add);
            return out;
        }
        Instant contacted = r.contacted();
        if (contacted == null) return out;
        out.add(JSON.createObjectNode().put("id", r.id * 10).put("system_id", "r_" + Long.toHexString(r.id * 7919)).put("version", r.version)
                .putNull("revision").put("platform", "linux").put("architecture", "amd64").put("created_at", TIME.format(r.createdAt))
                .put("contacted_at", TIME.format(contacted)).putNull("ip_address").put("status", status(r))
                .put("job_execution_status", r.runningJobs.isEmpty() ? "idle" : "active"));
        return out;
    }

    // ---- projects, pipelines and jobs (docs.gitlab.com/ee/api/pipelines.html, jobs.html) ----------------------------

    /** A project as this GitLab knows it: its refs, and the smoke job its .gitlab-ci.yml defines (tags from a variable). */
    static final class Project {
        final long id;
        final String path;
        final Set<String> refs = ConcurrentHashMap.newKeySet();
        /** The variable whose value is the smoke job's one tag ({@code tags: [$GFW_SMOKE_TAG]}), and the one its rules need. */
        volatile String tagVariable = "GFW_SMOKE_TAG";
        volatile String rulesVariable = "GFW_SMOKE_TYPE";

        Project(long id, String path) {
            this.id = id;
            this.path = path;
            refs.add("main");
        }
    }

    /** A job: its pipeline, tags, status and the runner that took it. */
    static final class Job {
        final long id;
        final Project project;
        final long pipelineId;
        final String name;
        final List<String> tags;
        volatile String status;
        volatile Long runnerId;
        volatile int looks;

        Job(long id, Project project, long pipelineId, String name, List<String> tags, String status) {
            this.id = id;
            this.project = project;
            this.pipelineId = pipelineId;
            this.name = name;
            this.tags = tags;
            this.status = status;
        }
    }

    final Map<Long, Project> projects = new ConcurrentHashMap<>();
    final Map<Long, Job> jobs = new ConcurrentHashMap<>();
    /** How a job ends on a runner (by runner id): success unless set (e.g. "failed"). */
    final Map<Long, String> jobOutcome = new ConcurrentHashMap<>();

    Project addProject(String path) {
        long id = NEXT_ID.incrementAndGet();
        var p = new Project(id, path);
        projects.put(id, p);
        return p;
    }

    /** A job of {@code project} in {@code status} (running, success, failed, canceled...), as a runner's job pod names it. */
    Job addJob(Project project, String status, Long runnerId) {
        var j = new Job(NEXT_ID.incrementAndGet(), project, 0, "build", List.of(), status);
        j.runnerId = runnerId;
        jobs.put(j.id, j);
        return j;
    }

    private Project project(String idOrPath) {
        if (idOrPath.matches("\\d+")) return projects.get(Long.parseLong(idOrPath));
        return projects.values().stream().filter(x -> x.path.equals(idOrPath)).findFirst().orElse(null);
    }

    /**
     * POST /projects/:id/pipeline (lib/api/ci/pipelines.rb {@code post ':id/pipeline'}: {@code requires :ref}, optional
     * {@code variables} [{key, value, variable_type in env_var|file}], then Ci::CreatePipelineService — a ref the project
     * lacks is 400 {"message": {"base": ["Reference not found"]}}, no job left by the rules 400 with the rules' message);
     * 201 with Entities::Ci::Pipeline. GET /projects/:id/pipelines/:pipeline_id and …/jobs (each job with its
     * {@code runner}), GET /projects/:id/jobs/:job_id. A job is pending until a runner whose tags hold the job's, online and
     * not paused, takes it; then running; then {@link #jobOutcome} (success), as GitLab's queue does
     * (Ci::RegisterJobService matches tags).
     */
    private Answer project(Req req, String body, Matcher p) {
        Project project = project(URLDecoder.decode(p.group(1), StandardCharsets.UTF_8));
        if (project == null) return new Answer(404, message("404 Project Not Found"));
        String what = p.group(2);
        if (req.method().equals("POST") && what.equals("pipeline")) {
            JsonNode b = json(body);
            if (!"application/json".equals(req.contentType())) problems.add("pipeline created with " + req.contentType());
            if (!b.path("ref").isTextual()) return new Answer(400, JSON.createObjectNode().put("error", "ref is missing"));
            var vars = new LinkedHashMap<String, String>();
            if (b.has("variables")) {
                if (!b.get("variables").isArray()) return new Answer(400, JSON.createObjectNode().put("error", "variables is invalid"));
                int i = 0;
                for (JsonNode v : b.get("variables")) {
                    String type = v.path("variable_type").asText("env_var");
                    if (!Set.of("env_var", "file").contains(type)) {
                        return new Answer(400, JSON.createObjectNode().put("error", "variables[" + i + "][variable_type] does not have a valid value"));
                    }
                    vars.put(v.path("key").asText(), v.path("value").asText());
                    i++;
                }
            }
            if (!project.refs.contains(b.get("ref").asText())) {
                return new Answer(400, JSON.createObjectNode().set("message", JSON.createObjectNode().set("base", JSON.createArrayNode().add("Reference not found"))));
            }
            String tag = vars.get(project.tagVariable);
            if (vars.get(project.rulesVariable) == null || tag == null || tag.isBlank()) {
                return new Answer(400, JSON.createObjectNode().set("message", JSON.createObjectNode().set("base", JSON.createArrayNode()
                        .add("Pipeline will not run for the selected trigger. The rules configuration prevented any jobs from being added to the pipeline."))));
            }
            long pipelineId = NEXT_ID.incrementAndGet();
            var job = new Job(NEXT_ID.incrementAndGet(), project, pipelineId, "smoke", List.of(tag), "pending");
            jobs.put(job.id, job);
            return new Answer(201, pipelineEntity(project, pipelineId));
        }
        if (!req.method().equals("GET")) return unknown(req);
        if (p.group(5) != null) {
            Job j = jobs.get(Long.parseLong(p.group(5)));
            if (j == null || j.project != project) return new Answer(404, message("404 Not found"));
            return new Answer(200, jobEntity(j));
        }
        long pipelineId = Long.parseLong(p.group(3));
        List<Job> of = jobs.values().stream().filter(j -> j.pipelineId == pipelineId && j.project == project).toList();
        if (of.isEmpty()) return new Answer(404, message("404 Not found"));
        for (Job j : of) advance(j);
        if (p.group(4) == null) return new Answer(200, pipelineEntity(project, pipelineId));
        var list = new ArrayList<JsonNode>();
        for (Job j : of) list.add(jobEntity(j));
        return page(list, req);
    }

    /** One step of the queue: a pending job is taken by a matching runner, a running one ends. */
    private void advance(Job j) {
        if (j.status.equals("pending")) {
            runners.values().stream().filter(r -> r.alive && !paused.contains(r.id) && r.tags.containsAll(j.tags))
                    .sorted((a, b) -> Long.compare(a.id, b.id)).findFirst().ifPresent(r -> {
                        j.runnerId = r.id;
                        j.status = "running";
                    });
        } else if (j.status.equals("running") && j.runnerId != null && ++j.looks >= 1) {
            j.status = jobOutcome.getOrDefault(j.runnerId, "success");
        }
    }

    private ObjectNode pipelineEntity(Project project, long pipelineId) {
        List<Job> of = jobs.values().stream().filter(j -> j.pipelineId == pipelineId).toList();
        String status = of.stream().anyMatch(j -> j.status.equals("failed")) ? "failed"
                : of.stream().allMatch(j -> j.status.equals("success")) ? "success"
                : of.stream().anyMatch(j -> j.status.equals("running")) ? "running" : "pending";
        return JSON.createObjectNode().put("id", pipelineId).put("iid", pipelineId % 1000).put("project_id", project.id)
                .put("status", status).put("source", "api").put("ref", "main")
                .put("web_url", url() + "/" + project.path + "/-/pipelines/" + pipelineId);
    }

    /** Entities::Ci::Job: id, status, name, tag_list, web_url, pipeline, runner (null until one takes it). */
    private ObjectNode jobEntity(Job j) {
        ObjectNode n = JSON.createObjectNode().put("id", j.id).put("status", j.status).put("name", j.name)
                .put("web_url", url() + "/" + j.project.path + "/-/jobs/" + j.id);
        ArrayNode t = n.putArray("tag_list");
        j.tags.forEach(t::add);
        n.set("pipeline", JSON.createObjectNode().put("id", j.pipelineId).put("project_id", j.project.id));
        Runner r = j.runnerId == null ? null : runners.get(j.runnerId);
        if (r == null) n.putNull("runner");
        else n.set("runner", JSON.createObjectNode().put("id", r.id).put("description", r.description).put("active", !paused.contains(r.id)));
        return n;
    }

    private Group group(String idOrPath) {
        if (idOrPath.matches("\\d+")) return groups.get(Long.parseLong(idOrPath));
        return groups.values().stream().filter(x -> x.fullPath().equals(idOrPath)).findFirst().orElse(null);
    }

    /** The group's and its ancestors' runners (belonging_to_group_and_ancestors), filtered by type, ordered by id, one page. */
    private Answer groupRunners(Group group, Req req) {
        Map<String, String> q = query(req.query());
        String type = q.get("type");
        if (type == null) problems.add("group runners listed without type=group_type: " + req.query());
        if (type != null && !Set.of("instance_type", "group_type", "project_type").contains(type)) {
            return new Answer(400, message("400 Bad request - type does not have a valid value"));
        }
        var ancestry = new java.util.HashSet<Long>();
        for (Group x = group; x != null; x = x.parentId() == null ? null : groups.get(x.parentId())) ancestry.add(x.id());
        var list = new ArrayList<JsonNode>();
        runners.values().stream().filter(r -> ancestry.contains(r.groupId)).filter(r -> type == null || type.equals("group_type"))
                .sorted((a, b) -> Long.compare(a.id, b.id)).forEach(r -> list.add(listEntity(r)));
        return page(list, req);
    }

    /** One page of {@code all} with GitLab's offset pagination headers. */
    private Answer page(List<JsonNode> all, Req req) {
        Map<String, String> q = query(req.query());
        int perPage = Math.max(1, Math.min(100, parse(q.get("per_page"), 20)));
        int pageNo = Math.max(1, parse(q.get("page"), 1));
        int totalPages = Math.max(1, (all.size() + perPage - 1) / perPage);
        ArrayNode out = JSON.createArrayNode();
        for (int i = (pageNo - 1) * perPage; i < Math.min(all.size(), pageNo * perPage); i++) out.add(all.get(i));
        var headers = new LinkedHashMap<String, String>();
        headers.put("X-Page", String.valueOf(pageNo));
        headers.put("X-Per-Page", String.valueOf(perPage));
        headers.put("X-Next-Page", pageNo < totalPages ? String.valueOf(pageNo + 1) : "");
        headers.put("X-Prev-Page", pageNo > 1 ? String.valueOf(pageNo - 1) : "");
        headers.put("X-Total", String.valueOf(all.size()));
        headers.put("X-Total-Pages", String.valueOf(totalPages));
        return new Answer(200, out, headers);
    }

    private static int parse(String s, int dflt) {
        try {
            return s == null ? dflt : Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    private static Map<String, String> query(String raw) {
        var m = new LinkedHashMap<String, String>();
        if (raw == null || raw.isEmpty()) return m;
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0) m.put(URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return m;
    }

    private Answer unknown(Req req) {
        problems.add("unexpected request " + req.line() + (req.query().isEmpty() ? "" : "?" + req.query()));
        return new Answer(404, message("404 Not Found"));
    }

    /** Whether runner {@code id} is paused. */
    boolean paused(long id) {
        return paused.contains(id);
    }

    /** GitLab's status of a runner now (deprecated_rest_status), and its online flag (online?). */
    String status(Runner r) {
        Instant now = Instant.now();
        Instant contacted = r.contacted();
        Instant last = contacted == null || contacted.isBefore(r.createdAt) ? r.createdAt : contacted;
        if (!last.isAfter(now.minus(STALE_TIMEOUT))) return "stale";
        if (contacted == null) return "never_contacted";
        if (!paused.contains(r.id)) return online(r) ? "online" : "offline";
        return "paused";
    }

    static boolean online(Runner r) {
        Instant contacted = r.contacted();
        return contacted != null && contacted.isAfter(Instant.now().minus(ONLINE_CONTACT_TIMEOUT));
    }

    /** Entities::Ci::Runner: what lists show (no contacted_at, no version). */
    private ObjectNode listEntity(Runner r) {
        boolean isPaused = paused.contains(r.id);
        ObjectNode n = JSON.createObjectNode().put("id", r.id).put("description", r.description).putNull("ip_address")
                .put("active", !isPaused).put("paused", isPaused).put("is_shared", false).put("runner_type", "group_type")
                .putNull("name").put("online", online(r)).put("created_at", TIME.format(r.createdAt)).put("status", status(r))
                .put("job_execution_status", r.runningJobs.isEmpty() ? "idle" : "active");
        return n;
    }

    /** Entities::Ci::RunnerDetails: the list entity plus contacted_at, version, groups... */
    private ObjectNode details(Runner r) {
        ObjectNode n = listEntity(r);
        ArrayNode tags = n.putArray("tag_list");
        r.tags.forEach(tags::add);
        n.put("run_untagged", r.runUntagged).put("locked", r.locked);
        if (r.maximumTimeout == null) n.putNull("maximum_timeout");
        else n.put("maximum_timeout", r.maximumTimeout.intValue());
        n.put("access_level", r.accessLevel)
                .put("version", r.version).putNull("revision").putNull("platform").putNull("architecture");
        if (r.contactedAt == null) n.putNull("contacted_at");
        else n.put("contacted_at", r.contactedAt);
        n.putNull("maintenance_note");
        ArrayNode gs = n.putArray("groups");
        Group owner = groups.get(r.groupId);
        if (owner != null) gs.add(JSON.createObjectNode().put("id", owner.id()).put("web_url", webUrl(owner)).put("name", owner.name()));
        return n;
    }

    private String webUrl(Group g) {
        return url() + "/groups/" + g.fullPath();
    }

    private static ObjectNode message(String text) {
        return JSON.createObjectNode().put("message", text);
    }

    private static ObjectNode oauthError(String error, String description) {
        return JSON.createObjectNode().put("error", error).put("error_description", description);
    }

    private static JsonNode json(String body) {
        try {
            JsonNode n = body.isBlank() ? null : JSON.readTree(body);
            return n == null ? JSON.createObjectNode() : n;
        } catch (IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static final AtomicInteger TOKENS = new AtomicInteger();

    private String newToken() {
        return instancePrefix + "glrt-t2_" + Long.toHexString(Double.doubleToLongBits(Math.random())) + TOKENS.incrementAndGet();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
