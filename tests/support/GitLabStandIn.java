import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Stands in for GitLab's REST API v4 (no GitLab can run here). Records every request (method, path, query, body,
 * content type, the PRIVATE-TOKEN header) and checks it: a request without {@link #ACCESS_TOKEN} gets 401, one that is
 * malformed (a PUT without a JSON {@code paused} boolean, jobs listed without {@code status=running}, an unknown path)
 * is answered 400/404 and noted in {@link #problems}, which tests assert empty.
 *
 * <p>Answers: the group look-up of {@code gloriousflywheel}; runner creation ({@code POST /user/runners}, JSON only),
 * which also registers the runner as online; {@code GET/PUT/DELETE /runners/:id}; {@code GET /runners/:id/jobs?status=running}
 * from {@link Runner#runningJobs} (emptied after {@link Runner#jobsFinishAfterPolls} looks, when set);
 * {@code POST /runners/:id/reset_authentication_token} (the runner goes offline until it has been looked at
 * {@link #reconnectAfterPolls} times, as if its restarted pods then connected with the new token);
 * {@code GET /groups/:id/runners?type=group_type}. {@link #fail} makes matching requests answer an error status, or
 * stall (status 0) past the client's timeout.
 */
final class GitLabStandIn implements AutoCloseable {
    private static final AtomicLong NEXT_ID = new AtomicLong(9000);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String ACCESS_TOKEN = "glpat-test-access-token";
    static final long GROUP_ID = 4242;
    static final String CREATED_CONTACT = "2026-12-01T10:00:00.000Z";

    record Req(String method, String path, String query, String privateToken, String contentType, String body) {
        String line() { return method + " " + path; }
    }

    /** A runner as this GitLab knows it; tests set its state. */
    static final class Runner {
        final long id;
        volatile String description;
        volatile String status = "online";
        volatile String version = "17.11.0";
        /** When it last contacted GitLab; runners created here did at a fixed time (tests compare it). */
        volatile String contactedAt = CREATED_CONTACT;
        final List<Long> runningJobs = new CopyOnWriteArrayList<>();
        volatile int jobsFinishAfterPolls = -1;
        volatile int reconnectIn = -1;

        Runner(long id, String description) {
            this.id = id;
            this.description = description;
        }

        /** The runner's status: the test's override ({@link #runnerStatus}) if any. */
        String status(GitLabStandIn g) {
            return g.runnerStatus.getOrDefault(id, status);
        }
    }

    final List<Req> requests = new CopyOnWriteArrayList<>();
    final List<String> problems = new CopyOnWriteArrayList<>();
    final List<Long> ids = new CopyOnWriteArrayList<>();
    final List<String> tokens = new CopyOnWriteArrayList<>();
    /** Tokens handed out by reset_authentication_token, in order. */
    final List<String> resetTokens = new CopyOnWriteArrayList<>();
    final Map<Long, Runner> runners = new ConcurrentHashMap<>();
    final Path tokenFile;
    volatile int groupStatus = 200;
    volatile int createStatus = 201;
    volatile int deleteStatus = 204;
    /**
     * What GET /api/v4/runners/:id answers for a runner, set by tests that only read (health): its status (online,
     * offline, stale, never_contacted) over {@link Runner#status}, and paused. PUT paused keeps {@link #paused} in step.
     */
    final Map<Long, String> runnerStatus = new ConcurrentHashMap<>();
    final java.util.Set<Long> paused = ConcurrentHashMap.newKeySet();
    /** After a token reset, GitLab sees the runner online again after this many looks at it (-1: never). */
    volatile int reconnectAfterPolls = 1;
    private final Map<String, Integer> failures = new ConcurrentHashMap<>();
    private final HttpServer server;

    GitLabStandIn() {
        try {
            tokenFile = TestSupport.tempDir("gitlab-token").resolve("token");
            Files.writeString(tokenFile, ACCESS_TOKEN + "\n");
            Files.setPosixFilePermissions(tokenFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")); // as a token file should be
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

    /** Requests {@code method} to a path matching {@code pathRegex} answer {@code status} (0: no answer for 10 s, a stall). */
    GitLabStandIn fail(String method, String pathRegex, int status) {
        failures.put(method + " " + pathRegex, status);
        return this;
    }

    void clearFailures() {
        failures.clear();
    }

    /** A runner registered in the group (as if created elsewhere), e.g. a stale one. */
    Runner addRunner(String description, String status) {
        long id = NEXT_ID.incrementAndGet();
        var r = new Runner(id, description);
        r.status = status;
        if ("never_contacted".equals(status)) r.contactedAt = null;
        if ("stale".equals(status)) r.contactedAt = Instant.now().minusSeconds(100L * 24 * 3600).toString();
        runners.put(id, r);
        return r;
    }

    /** The requests other than GETs: what changed something. */
    List<String> writes() {
        return requests.stream().filter(r -> !r.method().equals("GET")).map(Req::line).toList();
    }

    private static final Pattern RUNNER = Pattern.compile("/api/v4/runners/(\\d+)(/jobs|/reset_authentication_token)?");

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = ex.getRequestURI().getRawPath();
        String query = ex.getRequestURI().getRawQuery();
        var req = new Req(ex.getRequestMethod(), path, query == null ? "" : query, ex.getRequestHeaders().getFirst("PRIVATE-TOKEN"),
                ex.getRequestHeaders().getFirst("Content-Type"), body);
        requests.add(req);
        int status = 200;
        Object answer;
        Integer injected = failures.entrySet().stream().filter(e -> req.line().matches(e.getKey())).map(Map.Entry::getValue).findFirst().orElse(null);
        Matcher m = RUNNER.matcher(path);
        if (!ACCESS_TOKEN.equals(req.privateToken())) {
            status = 401;
            answer = message("401 Unauthorized");
        } else if (injected != null) {
            if (injected == 0) {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException ignored) {
                    // the test is over
                }
            }
            status = injected == 0 ? 503 : injected;
            answer = message(status + (status == 403 ? " Forbidden" : status == 404 ? " Not found" : status >= 500 ? " Internal Server Error" : ""));
        } else if (req.line().equals("GET /api/v4/groups/gloriousflywheel")) {
            status = groupStatus;
            answer = status == 200 ? JSON.createObjectNode().put("id", GROUP_ID).put("full_path", "gloriousflywheel")
                    : message(status == 401 ? "401 Unauthorized" : "404 Group Not Found");
        } else if (req.line().equals("POST /api/v4/user/runners") && "application/json".equals(req.contentType())) {
            status = createStatus;
            if (status == 201) {
                long id = NEXT_ID.incrementAndGet();
                String token = newToken();
                ids.add(id);
                tokens.add(token);
                runners.put(id, new Runner(id, json(body).path("description").asText()));
                answer = JSON.createObjectNode().put("id", id).put("token", token).putNull("token_expires_at");
            } else {
                answer = message("Service Unavailable");
            }
        } else if (req.line().equals("GET /api/v4/groups/" + GROUP_ID + "/runners")) {
            if (!req.query().contains("type=group_type")) problems.add("group runners listed without type=group_type: " + req.query());
            ArrayNode list = JSON.createArrayNode();
            runners.values().stream().sorted((a, b) -> Long.compare(a.id, b.id)).forEach(r -> list.add(runnerJson(r)));
            answer = list;
        } else if (m.matches()) {
            long id = Long.parseLong(m.group(1));
            Runner r = runners.get(id);
            String sub = m.group(2) == null ? "" : m.group(2);
            if (r == null) {
                status = 404;
                answer = message("404 Runner Not Found");
            } else if (req.method().equals("GET") && sub.isEmpty()) {
                if (r.reconnectIn > 0 && --r.reconnectIn == 0) {
                    r.status = "online";
                    r.contactedAt = Instant.now().toString();
                }
                answer = runnerJson(r);
            } else if (req.method().equals("PUT") && sub.isEmpty()) {
                JsonNode b = json(body);
                if (!"application/json".equals(req.contentType()) || !b.path("paused").isBoolean() || b.size() != 1) {
                    problems.add("PUT " + path + " with " + req.contentType() + " body " + body + " (want JSON {\"paused\": true|false})");
                    status = 400;
                    answer = message("400 Bad request - paused is missing");
                } else {
                    if (b.path("paused").asBoolean()) paused.add(id);
                    else paused.remove(id);
                    answer = runnerJson(r);
                }
            } else if (req.method().equals("DELETE") && sub.isEmpty()) {
                status = deleteStatus;
                if (status == 204) runners.remove(id);
                answer = status == 204 ? null : message("500 Internal Server Error");
            } else if (req.method().equals("GET") && sub.equals("/jobs")) {
                if (!req.query().contains("status=running")) problems.add("jobs listed without status=running: " + req.query());
                if (r.jobsFinishAfterPolls > 0 && --r.jobsFinishAfterPolls == 0) r.runningJobs.clear();
                ArrayNode jobs = JSON.createArrayNode();
                for (long j : r.runningJobs) jobs.add(JSON.createObjectNode().put("id", j).put("status", "running"));
                answer = jobs;
            } else if (req.method().equals("POST") && sub.equals("/reset_authentication_token")) {
                if (!body.isEmpty()) problems.add("reset_authentication_token with a body: " + body);
                String token = newToken();
                resetTokens.add(token);
                runnerStatus.remove(id);
                r.status = "offline";
                r.contactedAt = Instant.now().minusSeconds(3600).toString();
                r.reconnectIn = reconnectAfterPolls;
                status = 201;
                answer = JSON.createObjectNode().put("token", token).putNull("token_expires_at");
            } else {
                answer = unknown(req);
                status = 404;
            }
        } else {
            answer = unknown(req);
            status = 404;
        }
        byte[] bytes = answer == null ? new byte[0] : JSON.writeValueAsBytes(answer);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) ex.getResponseBody().write(bytes);
        ex.close();
    }

    private Object unknown(Req req) {
        problems.add("unexpected request " + req.line() + (req.query().isEmpty() ? "" : "?" + req.query()));
        return JSON.createObjectNode().put("error", "404 Not Found");
    }

    /** Whether runner {@code id} is paused. */
    boolean paused(long id) {
        return paused.contains(id);
    }

    private ObjectNode runnerJson(Runner r) {
        String status = r.status(this);
        boolean isPaused = paused.contains(r.id);
        ObjectNode n = JSON.createObjectNode().put("id", r.id).put("description", r.description).put("paused", isPaused)
                .put("active", !isPaused).put("online", "online".equals(status)).put("status", status).put("runner_type", "group_type")
                .put("version", r.version);
        if (r.contactedAt == null || "never_contacted".equals(status)) n.putNull("contacted_at");
        else n.put("contacted_at", r.contactedAt);
        return n;
    }

    private static ObjectNode message(String text) {
        return JSON.createObjectNode().put("message", text);
    }

    private static JsonNode json(String body) {
        try {
            JsonNode n = body.isBlank() ? null : JSON.readTree(body);
            return n == null ? JSON.createObjectNode() : n;
        } catch (IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static String newToken() {
        return "glrt-" + Long.toHexString(Double.doubleToLongBits(Math.random()));
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
