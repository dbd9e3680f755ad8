import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real SOCKS5 proxy process for tests: Debian's {@code microsocks} (installed by .ci/run),
 * listening on 127.0.0.1 at a free port, with its outgoing side bound to {@link #outgoingAddress()}
 * ({@code -b}). A server that accepts only connections from that address proves the traffic went
 * through the proxy: a direct connection comes from 127.0.0.1.
 */
final class TestSocksProxy implements AutoCloseable {

    /** Where proxied connections come from: a loopback address nothing else uses. */
    static final String OUTGOING = "127.0.0.7";

    private static TestSocksProxy shared;

    private final Process process;
    private final int port;
    private final String outgoing;

    private TestSocksProxy(Process process, int port, String outgoing) {
        this.process = process;
        this.port = port;
        this.outgoing = outgoing;
    }

    static boolean installed() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, "microsocks"))) return true;
        }
        return false;
    }

    /** One proxy for the whole run, stopped at its end. */
    static synchronized TestSocksProxy shared() {
        if (shared == null || !shared.process.isAlive()) {
            shared = start(OUTGOING);
            TestSupport.closeAtEnd(shared);
        }
        return shared;
    }

    /** Starts microsocks; retries on another port if the chosen one was taken meanwhile. */
    static TestSocksProxy start(String outgoingAddress) {
        if (!installed()) throw new IllegalStateException("microsocks is not installed: apt-get install -y microsocks (.ci/run does)");
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            try {
                Process p = new ProcessBuilder("microsocks", "-i", "127.0.0.1", "-p", String.valueOf(port), "-b", outgoingAddress)
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (System.nanoTime() < deadline && p.isAlive()) {
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                        return new TestSocksProxy(p, port, outgoingAddress);
                    } catch (IOException notYet) {
                        Thread.sleep(20);
                    }
                }
                p.destroyForcibly();
                last = new IOException("microsocks did not listen on port " + port);
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new IllegalStateException("cannot start microsocks: " + last, last);
    }

    /** A port nothing listens on right now (also handy as a "proxy that is down"). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    int port() {
        return port;
    }

    /** e.g. {@code socks5h://127.0.0.1:PORT}. */
    String url(String scheme) {
        return scheme + "://127.0.0.1:" + port;
    }

    String outgoingAddress() {
        return outgoing;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
