import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A service behind the test API server's service proxy where no real one can run (the runner dashboard's
 * {@code GET /api/health}): answers each path with what the test set ({@link #answer}), 404 otherwise, and records
 * every request as "METHOD path".
 */
final class HttpStandIn implements AutoCloseable {

    record Answer(int status, String contentType, String body) {}

    private final HttpServer server;
    final Map<String, Answer> answers = new ConcurrentHashMap<>();
    final List<String> requests = new CopyOnWriteArrayList<>();

    HttpStandIn() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.createContext("/", x -> {
            String path = x.getRequestURI().getPath();
            requests.add(x.getRequestMethod() + " " + path);
            Answer a = answers.getOrDefault(path, new Answer(404, "text/plain", "not found\n"));
            byte[] b = a.body().getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", a.contentType());
            x.sendResponseHeaders(a.status(), b.length == 0 ? -1 : b.length);
            if (b.length > 0) x.getResponseBody().write(b);
            x.close();
        });
        server.start();
    }

    HttpStandIn answer(String path, int status, String contentType, String body) {
        answers.put(path, new Answer(status, contentType, body));
        return this;
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
