import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Stands in for GitLab's REST API (no GitLab can run here): records every request, checks the PRIVATE-TOKEN header
 * (401 without {@link #ACCESS_TOKEN}), answers the group look-up of {@code gloriousflywheel}, runner creation
 * ({@code POST /api/v4/user/runners}, JSON only), the runner look-up ({@code GET /api/v4/runners/:id} of the runners it
 * created: status and paused as {@link #runnerStatus} and {@link #paused} say) and deletion; the status codes are
 * settable to provoke failures.
 */
final class GitLabStandIn implements AutoCloseable {
    private static final AtomicLong NEXT_ID = new AtomicLong(9000);
    static final String ACCESS_TOKEN = "glpat-test-access-token";
    static final long GROUP_ID = 4242;

    record Req(String method, String path, String privateToken, String body) {
        String line() { return method + " " + path; }
    }

    final List<Req> requests = new CopyOnWriteArrayList<>();
    final List<Long> ids = new CopyOnWriteArrayList<>();
    final List<String> tokens = new CopyOnWriteArrayList<>();
    final Path tokenFile;
    volatile int groupStatus = 200;
    volatile int createStatus = 201;
    volatile int deleteStatus = 204;
    /** What GET /api/v4/runners/:id answers for the runners created here: status (online, offline, stale, never_contacted) and paused. */
    final java.util.Map<Long, String> runnerStatus = new java.util.concurrent.ConcurrentHashMap<>();
    final java.util.Set<Long> paused = java.util.concurrent.ConcurrentHashMap.newKeySet();
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
        server.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String path = ex.getRequestURI().getRawPath();
            var req = new Req(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("PRIVATE-TOKEN"), body);
            requests.add(req);
            int status;
            String answer;
            if (!ACCESS_TOKEN.equals(req.privateToken())) {
                status = 401;
                answer = "{\"message\":\"401 Unauthorized\"}";
            } else if (req.line().equals("GET /api/v4/groups/gloriousflywheel")) {
                status = groupStatus;
                answer = status == 200 ? "{\"id\":" + GROUP_ID + ",\"full_path\":\"gloriousflywheel\"}"
                        : status == 401 ? "{\"message\":\"401 Unauthorized\"}" : "{\"message\":\"404 Group Not Found\"}";
            } else if (req.line().equals("POST /api/v4/user/runners") && "application/json".equals(ex.getRequestHeaders().getFirst("Content-Type"))) {
                status = createStatus;
                if (status == 201) {
                    long id = NEXT_ID.incrementAndGet();
                    String token = "glrt-" + Long.toHexString(Double.doubleToLongBits(Math.random()));
                    ids.add(id);
                    tokens.add(token);
                    answer = "{\"id\":" + id + ",\"token\":\"" + token + "\",\"token_expires_at\":null}";
                } else {
                    answer = "{\"message\":\"Service Unavailable\"}";
                }
            } else if (req.method().equals("GET") && path.matches("/api/v4/runners/[0-9]+") && ids.contains(Long.parseLong(path.substring(16)))) {
                long id = Long.parseLong(path.substring(16));
                String st = runnerStatus.getOrDefault(id, "online");
                status = 200;
                answer = "{\"id\":" + id + ",\"description\":\"gfw runner\",\"paused\":" + paused.contains(id) + ",\"online\":" + st.equals("online")
                        + ",\"status\":\"" + st + "\",\"contacted_at\":" + (st.equals("never_contacted") ? "null" : "\"2026-12-01T10:00:00.000Z\"") + "}";
            } else if (req.method().equals("DELETE") && path.startsWith("/api/v4/runners/")) {
                status = deleteStatus;
                answer = status == 204 ? "" : "{\"message\":\"500 Internal Server Error\"}";
            } else {
                status = 404;
                answer = "{\"error\":\"404 Not Found\"}";
            }
            byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
            if (bytes.length > 0) ex.getResponseBody().write(bytes);
            ex.close();
        });
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
