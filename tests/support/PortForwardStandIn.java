import io.fabric8.mockwebserver.DefaultMockServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import io.fabric8.mockwebserver.internal.SimpleRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.Socket;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Teaches the mock API server {@code pods/<pod>/portforward}: the WebSocket is bridged to a real
 * TCP address (e.g. the test PostgreSQL), speaking the Kubernetes port-forward protocol as the
 * kubelet does (two port-announcing frames, then channel 0 data; channel 1 errors). So a script's
 * own port-forward can be tested end to end without a cluster. Mock only.
 */
final class PortForwardStandIn {

    /** How many port-forward WebSockets were opened (each TCP connection through the forward opens one). */
    final AtomicInteger opened = new AtomicInteger();
    /** How many were closed again. */
    final AtomicInteger closed = new AtomicInteger();

    private PortForwardStandIn() {}

    /**
     * Answers GET {@code /api/v1/namespaces/<ns>/pods/<pod>/portforward?ports=<port>} by bridging to
     * {@code host:targetPort}.
     */
    static PortForwardStandIn install(TestApiServer api, String ns, String pod, int port, String host, int targetPort) {
        var standIn = new PortForwardStandIn();
        ServerResponse response = new ServerResponse() {
            @Override
            public boolean isRepeatable() {
                return true;
            }

            @Override
            public MockResponse toMockResponse(RecordedRequest request) {
                return new MockResponse().withWebSocketUpgrade(standIn.new Bridge(host, targetPort, port));
            }
        };
        var queue = new ConcurrentLinkedQueue<ServerResponse>();
        queue.add(response);
        String path = "/api/v1/namespaces/" + ns + "/pods/" + pod + "/portforward?ports=" + port;
        // The mock's expectation table is where expect() rules live; the DSL cannot express a live bridge.
        responses(api).put(new SimpleRequest(HttpMethod.GET, path), queue);
        return standIn;
    }

    @SuppressWarnings("unchecked")
    private static Map<ServerRequest, Queue<ServerResponse>> responses(TestApiServer api) {
        try {
            Field f = DefaultMockServer.class.getDeclaredField("responses");
            f.setAccessible(true);
            return (Map<ServerRequest, Queue<ServerResponse>>) f.get(api.mockServer());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot reach the mock server's expectations: " + e, e);
        }
    }

    /** One WebSocket: one TCP connection to the target. */
    final class Bridge extends WebSocketListener {
        private final String host;
        private final int targetPort;
        private final int port;
        private Socket socket;
        private OutputStream toTarget;

        Bridge(String host, int targetPort, int port) {
            this.host = host;
            this.targetPort = targetPort;
            this.port = port;
        }

        @Override
        public void onOpen(WebSocket ws, Response response) {
            opened.incrementAndGet();
            byte lo = (byte) (port & 0xff);
            byte hi = (byte) ((port >> 8) & 0xff);
            ws.send(new byte[] {0, lo, hi}); // data channel's port
            ws.send(new byte[] {1, lo, hi}); // error channel's port
            try {
                socket = new Socket(host, targetPort);
                toTarget = socket.getOutputStream();
            } catch (IOException e) {
                ws.send(concat((byte) 1, ("cannot connect to " + host + ":" + targetPort + ": " + e.getMessage()).getBytes()));
                ws.close(1000, "");
                return;
            }
            Thread pump = new Thread(() -> {
                byte[] buf = new byte[8192];
                try (InputStream in = socket.getInputStream()) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        byte[] frame = new byte[n + 1];
                        System.arraycopy(buf, 0, frame, 1, n);
                        ws.send(frame); // channel 0
                    }
                } catch (IOException ignored) {
                    // the target or the WebSocket went away
                }
                ws.close(1000, "");
            }, "port-forward-stand-in");
            pump.setDaemon(true);
            pump.start();
        }

        @Override
        public void onMessage(WebSocket ws, byte[] bytes) {
            if (bytes.length < 2 || bytes[0] != 0 || toTarget == null) return;
            try {
                toTarget.write(bytes, 1, bytes.length - 1);
                toTarget.flush();
            } catch (IOException e) {
                ws.close(1000, "");
            }
        }

        @Override
        public void onClosing(WebSocket ws, int code, String reason) {
            shut();
        }

        @Override
        public void onClosed(WebSocket ws, int code, String reason) {
            shut();
        }

        @Override
        public void onFailure(WebSocket ws, Throwable t, Response response) {
            shut();
        }

        private synchronized void shut() {
            if (socket == null || socket.isClosed()) return;
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
            closed.incrementAndGet();
        }

        private byte[] concat(byte first, byte[] rest) {
            byte[] b = new byte[rest.length + 1];
            b[0] = first;
            System.arraycopy(rest, 0, b, 1, rest.length);
            return b;
        }
    }
}
