import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cnpg-connstr against a real PostgreSQL (TestPostgres, scram-sha-256) and the test API server:
 * passwords with every troublesome character must survive libpq (the real psql) and pgjdbc.
 */
class CnpgConnstrTest {

    /** The characters the seed and the issue name, then non-ASCII. */
    static final List<String> SPECIALS = List.of("#", ":", "?", "@", "<", ">", "&", "/", "%", "+", "=", " ", "'", "\"", "\\",
            "é", "漢", "😀");

    static TestPostgres pg;
    static TestCluster api;
    static KubernetesClient kube;
    static String ns;
    static String envDir;

    @BeforeAll
    static void setUp() throws Exception {
        pg = TestPostgres.shared();
        api = TestCluster.shared();
        kube = api.client();
        ns = "gfw-cnpg-" + TestCluster.randomHex(3);
        createNamespace(ns);
        envDir = TestSupport.repo().resolve("environments").toString();
    }

    /** Namespaces this class created, deleted at the end (with their secrets). */
    static final List<String> NAMESPACES = new ArrayList<>();

    static void createNamespace(String name) {
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build()).create();
        NAMESPACES.add(name);
    }

    @AfterAll
    static void tearDown() {
        for (String n : NAMESPACES) kube.namespaces().withName(n).delete();
    }

    // ---- the encoding, in-process -----------------------------------------------------------

    /** An independent RFC 3986 encoder to compare with: keep unreserved bytes, %XX the rest. */
    static String reference(String s) {
        var sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format("%02X", c));
            }
        }
        return sb.toString();
    }

    @Test
    void encodesLikeRfc3986Userinfo() {
        assertEquals("p%40ss%3Aword", ConnectionStrings.encode("p@ss:word"), "the seed's example");
        for (String c : SPECIALS) assertEquals(reference(c), ConnectionStrings.encode(c), "encoding of " + c);
        for (int c = 0; c < 128; c++) {
            String s = String.valueOf((char) c);
            assertEquals(reference(s), ConnectionStrings.encode(s), "encoding of ASCII " + c);
        }
        // space is %20, never '+' (libpq does not decode '+'; pgjdbc would read it as a space)
        assertEquals("a%20b%2Bc", ConnectionStrings.encode("a b+c"));
        assertThrows(IllegalArgumentException.class, () -> ConnectionStrings.decode("abc%4"));
        assertThrows(IllegalArgumentException.class, () -> ConnectionStrings.decode("%FF%FE"), "not UTF-8");
    }

    /** Random passwords, seeded so a failure can be replayed. */
    static String randomPassword(Random r, boolean forDatabase) {
        String alphabet = forDatabase
                ? "ABCxyz0189-._~!\"#$%&'()*+,/:;<=>?@[\\]^`{|} éßü漢字"
                : "ABCxyz0189-._~!\"#$%&'()*+,/:;<=>?@[\\]^`{|} \t\n\u0001\u007féßü漢字";
        int len = 1 + r.nextInt(forDatabase ? 24 : 40);
        var sb = new StringBuilder();
        for (int i = 0; i < len; i++) {
            if (!forDatabase && r.nextInt(20) == 0) sb.appendCodePoint(0x1F600 + r.nextInt(40)); // non-BMP
            else sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    @Test
    void propertyEncodeDecodeAndParseRoundTrip() {
        var r = new Random(20261125L);
        for (int i = 0; i < 3000; i++) {
            String p = randomPassword(r, false);
            String encoded = ConnectionStrings.encode(p);
            assertTrue(encoded.matches("[A-Za-z0-9._~%-]*"), "only unreserved and %XX: " + encoded);
            assertEquals(p, ConnectionStrings.decode(encoded), "decode(encode(p)) for sample " + i);
            assertEquals(reference(p), encoded, "same as the reference encoder, sample " + i);
            var parts = new ConnectionStrings.Parts("attic", p, "h.example", 5432, "attic", Map.of("sslmode", "require"));
            var fromUri = ConnectionStrings.parse(ConnectionStrings.uri(parts, true));
            assertEquals(parts, fromUri.parts(), "parse(uri(parts)), sample " + i);
            assertEquals(ConnectionStrings.Encoding.canonical, fromUri.passwordEncoding());
            assertTrue(fromUri.notes().isEmpty(), fromUri.notes().toString());
            assertEquals(parts, ConnectionStrings.parse(ConnectionStrings.jdbc(parts, true)).parts(), "parse(jdbc(parts)), sample " + i);
        }
    }

    @Test
    void unencodedStringsAreReadByTheLastAtFirstColonRule() {
        var seed = ConnectionStrings.parse("postgresql://attic:p@ss:word@cnpg-cluster-rw:5432/attic");
        assertEquals("attic", seed.parts().user());
        assertEquals("p@ss:word", seed.parts().password());
        assertEquals("cnpg-cluster-rw", seed.parts().host());
        assertEquals(5432, seed.parts().port());
        assertEquals("attic", seed.parts().dbname());
        assertEquals(ConnectionStrings.Encoding.raw, seed.passwordEncoding());
        assertTrue(seed.needsCorrection());
        assertEquals("postgresql://attic:p%40ss%3Aword@cnpg-cluster-rw:5432/attic", ConnectionStrings.uri(seed.parts(), true));

        // '/', '?', '#', '%' and '@' in an unencoded password
        for (String pw : List.of("a/b@c", "x?y=z", "p#1", "50%off", "a b", "ü@:/?#")) {
            var p = ConnectionStrings.parse("postgres://attic:" + pw + "@db.example:6543/app?sslmode=require");
            assertEquals(pw, p.parts().password(), "password " + pw);
            assertEquals("db.example", p.parts().host());
            assertEquals(6543, p.parts().port());
            assertEquals("app", p.parts().dbname());
            assertEquals(Map.of("sslmode", "require"), p.parts().params());
            assertEquals(ConnectionStrings.Encoding.raw, p.passwordEncoding(), pw);
        }
        // Correct strings stay as they are, '@' in a query parameter does not move the userinfo.
        var ok = ConnectionStrings.parse("postgresql://attic:p%40ss@h:5432/attic?application_name=me%40laptop&sslmode=require");
        assertEquals("p@ss", ok.parts().password());
        assertEquals("h", ok.parts().host());
        assertEquals("me@laptop", ok.parts().params().get("application_name"));
        assertFalse(ok.needsCorrection());
        // '+' is legal userinfo and libpq keeps it, but pgjdbc would not: flagged, corrected to %2B.
        var plus = ConnectionStrings.parse("postgresql://attic:a+b@h/attic");
        assertEquals("a+b", plus.parts().password());
        assertEquals(ConnectionStrings.Encoding.legal, plus.passwordEncoding());
        assertTrue(ConnectionStrings.uri(plus.parts(), true).contains(":a%2Bb@"));
        // JDBC: pgjdbc form-decodes, '+' is a space there
        var jdbc = ConnectionStrings.parse("jdbc:postgresql://h:5432/attic?user=attic&password=a+b%2B&sslmode=disable");
        assertEquals("a b+", jdbc.parts().password());
        assertTrue(jdbc.jdbc());
        // Messages never repeat the input (it may hold a password)
        var e = assertThrows(IllegalArgumentException.class, () -> ConnectionStrings.parse("mysql://u:s3cr3t@h/db"));
        assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
    }

    // ---- the script against the test API server and the real PostgreSQL -----------------

    static Secret cnpgSecret(String name, Map<String, String> keys) {
        var data = new LinkedHashMap<String, String>();
        keys.forEach((k, v) -> data.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
        return new SecretBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withType("kubernetes.io/basic-auth").withData(data).build();
    }

    /** A role on the test PostgreSQL and a CNPG-shaped app secret for it (keys as CNPG writes them). */
    static void roleAndSecret(String secretName, String user, String password) throws Exception {
        pg.createRole(user, password, "attic");
        String host = "attic-pg-rw";
        String uri = "postgresql://" + ConnectionStrings.encode(user) + ":" + ConnectionStrings.encode(password) + "@" + host + ":5432/attic";
        kube.resource(cnpgSecret(secretName, Map.of("username", user, "password", password, "dbname", "attic", "host", host,
                "port", "5432", "uri", uri, "jdbc-uri", "jdbc:postgresql://" + host + ":5432/attic?password=x&user=y",
                "pgpass", host + ":5432:attic:" + user + ":" + password))).serverSideApply();
    }

    /** Arguments pointing the script at the test API server, namespace and PostgreSQL. */
    static List<String> args(String secret, String... more) {
        var a = new ArrayList<>(List.of("dev", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "-n", ns, "--secret", secret, "--host", pg.host(), "--port", String.valueOf(pg.port()), "--sslmode", "disable"));
        a.addAll(List.of(more));
        return a;
    }

    static TestSupport.Result inProcess(List<String> args) {
        return TestSupport.inProcess(new CnpgConnstr(), args.toArray(String[]::new));
    }

    static String currentUser(String uri) {
        var r = pg.psql(uri, "select current_user");
        assertEquals(0, r.exit(), "psql refused the connection string: " + r.err());
        assertFalse(String.join(" ", r.command()).contains(uri), "the connection string (with its password) is not in psql's argv");
        return r.out().strip();
    }

    @Test
    void everySpecialCharacterSurvivesPsqlAndPgjdbc() throws Exception {
        var mismatches = new ArrayList<String>();
        for (int i = 0; i < SPECIALS.size(); i++) {
            String c = SPECIALS.get(i);
            String user = "gfw_char_" + i;
            String password = c + "pw" + c + c + "x" + c; // at the start, in the middle, twice, at the end
            roleAndSecret("char-" + i, user, password);

            var uri = inProcess(args("char-" + i, "--reveal"));
            assertEquals(0, uri.exit(), uri.toString());
            assertFalse(uri.err().contains(password), "stderr holds no password");
            String printed = uri.out().strip();
            assertTrue(printed.contains(":" + reference(password) + "@"), printed);
            if (!user.equals(currentUser(printed))) mismatches.add("psql " + c);

            var jdbc = inProcess(args("char-" + i, "--reveal", "-o", "jdbc"));
            assertEquals(0, jdbc.exit(), jdbc.toString());
            try (var conn = DriverManager.getConnection(jdbc.out().strip()); var rs = conn.createStatement().executeQuery("select current_user")) {
                rs.next();
                if (!user.equals(rs.getString(1))) mismatches.add("pgjdbc " + c);
            }
        }
        assertEquals(List.of(), mismatches);
    }

    @Test
    void userNameAndPasswordWithEverythingAtOnceInEveryFormat() throws Exception {
        String user = "gfw all " + String.join("", SPECIALS.subList(0, 15)).replace("\"", "") + " ü";
        String password = String.join("", SPECIALS) + "end";
        roleAndSecret("all-at-once", user, password);

        // As a user runs it: a process through ./jbang.
        var r = TestSupport.script("cnpg-connstr", args("all-at-once", "--reveal").toArray(String[]::new)).run();
        assertEquals(0, r.exit(), r.toString());
        assertEquals(1, r.out().lines().count(), "-o uri: the URI alone on stdout");
        assertEquals(user, currentUser(r.out().strip()));

        // -o env: a line a shell can source
        var env = inProcess(args("all-at-once", "--reveal", "-o", "env"));
        assertTrue(env.out().startsWith("DATABASE_URL='postgresql://"), env.out());
        Path envFile = TestSupport.tempDir("cnpg-env").resolve("attic.env");
        Files.writeString(envFile, env.out());
        var sourced = pg.psqlCommand("select current_user", "sh", "-c", ". \"$ENVFILE\" && GFW_PSQL_CONNSTR=$DATABASE_URL exec \"$@\"", "sh")
                .env("ENVFILE", envFile.toString()).run();
        assertFalse(String.join(" ", sourced.command()).contains(ConnectionStrings.encode(password)), "no password in argv");
        assertEquals(0, sourced.exit(), sourced.toString());
        assertEquals(user, sourced.out().strip());

        // -o pgpass: libpq finds the password in the file (':' and '\' escaped)
        var pgpass = inProcess(args("all-at-once", "--reveal", "-o", "pgpass"));
        assertEquals(0, pgpass.exit(), pgpass.toString());
        Path passFile = TestSupport.tempDir("cnpg-pgpass").resolve("pgpass");
        Files.writeString(passFile, pgpass.out());
        Files.setPosixFilePermissions(passFile, PosixFilePermissions.fromString("rw-------"));
        var viaPgpass = TestSupport.command("sh", "-c", "exec \"$PSQL\" -X -At -w -c 'select current_user'")
                .env("PSQL", pg.psql().toString()).env("PGPASSFILE", passFile.toString()).env("PGHOST", pg.host())
                .env("PGPORT", String.valueOf(pg.port())).env("PGDATABASE", "attic").env("PGUSER", user).run();
        assertEquals(0, viaPgpass.exit(), viaPgpass.toString());
        assertEquals(user, viaPgpass.out().strip());

        // -o json: the parts, decoded
        var json = inProcess(args("all-at-once", "--reveal", "-o", "json"));
        @SuppressWarnings("unchecked")
        Map<String, Object> parts = Output.JSON.readValue(json.out(), Map.class);
        assertEquals(user, parts.get("user"));
        assertEquals(password, parts.get("password"));
        assertEquals("attic", parts.get("dbname"));
        assertEquals(pg.port(), parts.get("port"));
    }

    @Test
    void passwordIsMaskedUnlessRevealed() throws Exception {
        String password = "Mask#me:" + TestCluster.randomHex(4);
        roleAndSecret("masked", "gfw_masked", password);
        for (String format : List.of("uri", "jdbc", "env", "pgpass", "json", "yaml", "table")) {
            var r = inProcess(args("masked", "-o", format));
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().contains(Output.MASK), format + ": " + r.out());
            assertFalse(r.out().contains(password) || r.out().contains(ConnectionStrings.encode(password)), format + " shows the password");
            assertFalse(r.err().contains(password) || r.err().contains(ConnectionStrings.encode(password)), format + " stderr");
        }
        // The masked URI really does not log in: the server checks passwords.
        var masked = inProcess(args("masked")).out().strip();
        var r = pg.psql(masked, "select 1");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("password authentication failed"), r.err());
    }

    @Test
    void defaultsComeFromTheEnvironment() throws Exception {
        roleAndSecret("defaults", "gfw_defaults", "pw");
        var r = inProcess(List.of("dev", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "-n", ns, "--secret", "defaults"));
        assertEquals(0, r.exit(), r.toString());
        var dev = EnvConfig.load("dev", envDir);
        assertEquals("postgresql://gfw_defaults:****@" + dev.cnpg().cluster() + "-rw." + ns + ".svc.cluster.local:5432/attic?sslmode="
                + dev.cnpg().sslmode(), r.out().strip());
        var ro = inProcess(List.of("dev", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "-n", ns, "--secret", "defaults", "--service", "ro", "--sslmode", "verify-full"));
        assertTrue(ro.out().strip().matches(".*@" + dev.cnpg().cluster() + "-ro\\." + ns + "\\.svc\\.cluster\\.local:5432/attic\\?sslmode=verify-full"), ro.out());

        // A bootstrap secret with only username and password: dbname from cnpg.database, port 5432.
        pg.createRole("gfw_bootstrap", "b@ot:strap", null);
        kube.resource(cnpgSecret("bootstrap", Map.of("username", "gfw_bootstrap", "password", "b@ot:strap"))).serverSideApply();
        var b = inProcess(args("bootstrap", "--reveal"));
        assertEquals(0, b.exit(), b.toString());
        assertTrue(b.out().strip().endsWith("/" + dev.cnpg().database() + "?sslmode=disable"), b.out());
        assertEquals("gfw_bootstrap", currentUser(b.out().strip()));
    }

    @Test
    void theEnvironmentsSslmodeWorksWithPsqlAndCheck() throws Exception {
        roleAndSecret("tls", "gfw_tls", "t/l:s@" + TestCluster.randomHex(3));
        var dev = EnvConfig.load("dev", envDir);
        var tlsArgs = new ArrayList<>(args("tls", "--reveal"));
        int i = tlsArgs.indexOf("--sslmode");
        tlsArgs.remove(i + 1);
        tlsArgs.remove(i);
        String uri = inProcess(tlsArgs).out().strip();
        assertTrue(uri.endsWith("?sslmode=" + dev.cnpg().sslmode()), uri);
        var r = pg.psql(uri, "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("t".equals(r.out().strip()), !dev.cnpg().sslmode().equals("disable"), "TLS used as sslmode " + dev.cnpg().sslmode() + " says");

        tlsArgs.remove("--reveal");
        tlsArgs.add("--check");
        var check = inProcess(tlsArgs);
        assertEquals(0, check.exit(), check.toString());
        assertTrue(check.out().contains("credentials: ok"), check.out());
        assertTrue(check.out().contains("tls:         " + (dev.cnpg().sslmode().equals("disable") ? "no" : "yes") + " (sslmode " + dev.cnpg().sslmode() + ")"), check.out());

        // verify-full needs a CA this machine does not have: a clear failure, not a hang or a stack trace.
        tlsArgs.addAll(List.of("--sslmode", "verify-full"));
        var verify = inProcess(tlsArgs);
        assertEquals(ExitCode.CHECK_FAILED, verify.exit(), verify.toString());
        assertEquals(1, verify.err().lines().count(), verify.err());
        assertTrue(verify.err().contains("SSL"), verify.err());
    }

    @Test
    void missingSecretKeyOrPasswordIsOneClearLine() {
        kube.resource(cnpgSecret("no-password", Map.of("username", "attic"))).serverSideApply();
        kube.resource(cnpgSecret("empty-password", Map.of("username", "attic", "password", ""))).serverSideApply();
        var missing = inProcess(args("does-not-exist"));
        assertEquals(ExitCode.NOT_FOUND, missing.exit(), missing.toString());
        assertEquals(1, missing.err().lines().count(), missing.err());
        assertTrue(missing.err().startsWith("error: secret does-not-exist in namespace " + ns + " not found"), missing.err());
        assertEquals("", missing.out());

        var noKey = inProcess(args("no-password"));
        assertEquals(ExitCode.NOT_FOUND, noKey.exit(), noKey.toString());
        assertEquals(1, noKey.err().lines().count(), noKey.err());
        assertTrue(noKey.err().contains("secret no-password in namespace " + ns + " has no key 'password'"), noKey.err());

        var empty = inProcess(args("empty-password"));
        assertEquals(ExitCode.NOT_FOUND, empty.exit(), empty.toString());
        assertTrue(empty.err().contains("secret empty-password in namespace " + ns + " has an empty 'password'"), empty.err());

        var badArgs = new ArrayList<>(args("no-password"));
        badArgs.set(badArgs.indexOf("--sslmode") + 1, "sometimes");
        if (api.isLocal()) api.resetRequests();
        var badFlag = inProcess(badArgs);
        if (api.isLocal()) assertTrue(api.requests().isEmpty(), "a bad flag is found before any request");
        assertEquals(ExitCode.USAGE, badFlag.exit(), badFlag.toString());
        assertTrue(badFlag.err().contains("--sslmode sometimes"), badFlag.err());
    }

    // ---- --check ----------------------------------------------------------------------------

    @Test
    void checkLogsInAndReportsTheServerVersion() throws Exception {
        roleAndSecret("check-ok", "gfw_check", "ch@ck:#/?");
        String version;
        try (var c = pg.admin(); var rs = c.createStatement().executeQuery("show server_version")) {
            rs.next();
            version = rs.getString(1);
        }
        var ok = inProcess(args("check-ok", "--check"));
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(ok.out().contains("PostgreSQL " + version), ok.out());
        assertTrue(ok.out().contains("tls:         no (sslmode disable)"), ok.out());
        assertTrue(ok.out().contains("credentials: ok (logged in as gfw_check to database attic)"), ok.out());

        // --decode --check: the string itself is tried (here an unencoded one, read by the decode rule).
        var decoded = inProcess(List.of("--decode", "postgresql://gfw_check:ch@ck:#/?@" + pg.host() + ":" + pg.port() + "/attic", "--check"));
        assertEquals(0, decoded.exit(), decoded.toString());
        assertTrue(decoded.out().contains("credentials: ok (logged in as gfw_check to database attic)"), decoded.out());

        // The secret's password no longer matches the role: exit CHECK_FAILED, and no secret in the message.
        pg.setPassword("gfw_check", "rotated-" + TestCluster.randomHex(4));
        var bad = inProcess(args("check-ok", "--check"));
        assertEquals(ExitCode.CHECK_FAILED, bad.exit(), bad.toString());
        assertEquals(1, bad.err().lines().count(), bad.err());
        assertTrue(bad.err().contains("credentials rejected") && bad.err().contains("password authentication failed"), bad.err());
        assertFalse(bad.err().contains("ch@ck") || bad.err().contains("rotated"), bad.err());

        // Nobody listens there: UNAVAILABLE.
        int closedPort;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        var a = new ArrayList<>(args("check-ok", "--check"));
        a.set(a.indexOf("--port") + 1, String.valueOf(closedPort));
        var down = inProcess(a);
        assertEquals(ExitCode.UNAVAILABLE, down.exit(), down.toString());
        assertTrue(down.err().contains("cannot reach PostgreSQL at 127.0.0.1:" + closedPort), down.err());
    }

    @Test
    void checkWithoutHostPortForwardsToThePrimaryPod() throws Exception {
        String pns = "gfw-cnpg-pf-" + TestCluster.randomHex(3);
        createNamespace(pns);
        pg.createRole("gfw_check_pf", "pf:p@ss/" + TestCluster.randomHex(3), "attic");
        String password = "pf:p@ss/" + TestCluster.randomHex(3);
        pg.setPassword("gfw_check_pf", password);
        // The Secret deploy-cache makes and names in bootstrap.initdb.secret: username and password only (CNPG writes no -app for it).
        kube.resource(new SecretBuilder(cnpgSecret("attic-pg-app-credentials", Map.of("username", "gfw_check_pf", "password", password)))
                .editMetadata().withNamespace(pns).endMetadata().build()).serverSideApply();
        var checkArgs = List.of("dev", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "-n", pns, "--check", "--sslmode", "disable");

        // No CNPG pods yet: nothing to forward to.
        var none = inProcess(checkArgs);
        assertEquals(ExitCode.NOT_FOUND, none.exit(), none.toString());
        assertEquals(1, none.err().lines().count(), none.err());
        assertTrue(none.err().contains("no primary pod of CNPG cluster attic-pg in namespace " + pns)
                && none.err().contains("cnpg.io/instanceRole=primary"), none.err());

        // kwok plays the kubelet: its PortForward sends the primary's port-forward to the test PostgreSQL.
        Assumptions.assumeTrue(api.isLocal(), "needs kwok's port-forward to the test PostgreSQL");
        for (String[] pod : List.of(new String[] {"attic-pg-1", "primary"}, new String[] {"attic-pg-2", "replica"})) {
            kube.resource(new PodBuilder().withNewMetadata().withName(pod[0]).withNamespace(pns)
                    .addToLabels("cnpg.io/cluster", "attic-pg").addToLabels("cnpg.io/instanceRole", pod[1]).endMetadata()
                    .withNewSpec().addNewContainer().withName("postgres").withImage("ghcr.io/cloudnative-pg/postgresql:16")
                    .addNewPort().withName("postgresql").withContainerPort(5432).endPort().endContainer().endSpec().build()).create();
        }
        api.portForward(pns, "attic-pg-1", 5432, pg.host(), pg.port());
        waitRunning(pns, "attic-pg-1");
        var ok = inProcess(checkArgs);
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(ok.out().contains("(port-forward to pod attic-pg-1)"), ok.out());
        assertTrue(ok.out().contains("credentials: ok (logged in as gfw_check_pf to database attic)"), ok.out());

        // The script closed its forward: the local port it used stops accepting connections. Closing is
        // asynchronous (the listener goes once fabric8's close completes), so allow it a few seconds.
        var m = java.util.regex.Pattern.compile("server:\\s+127\\.0\\.0\\.1:(\\d+)").matcher(ok.out());
        assertTrue(m.find(), ok.out());
        int localPort = Integer.parseInt(m.group(1));
        long until = System.nanoTime() + 5_000_000_000L;
        boolean refused = false;
        while (!refused && System.nanoTime() < until) {
            try (var probe = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), localPort)) {
                Thread.sleep(100);
            } catch (java.net.ConnectException e) {
                refused = true;
            }
        }
        assertTrue(refused, "the forward's local port " + localPort + " still accepts connections 5 s after the check");
    }

    /** kwok forwards ports of a pod that runs on one of its nodes. */
    static void waitRunning(String ns, String pod) {
        kube.pods().inNamespace(ns).withName(pod).waitUntilCondition(
                p -> p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase()), 60, java.util.concurrent.TimeUnit.SECONDS);
    }

    // ---- --write-secret ---------------------------------------------------------------------

    @Test
    void writeSecretPutsDatabaseUrlWhereKubectlReadsIt() throws Exception {
        String wns = "gfw-cnpg-w-" + TestCluster.randomHex(3);
        createNamespace(wns);
        String password = "wr!te:" + TestCluster.randomHex(3) + "@/# é";
        pg.createRole("gfw_writer", password, "attic");
        kube.resource(new SecretBuilder(cnpgSecret("attic-pg-app-credentials", Map.of("username", "gfw_writer", "password", password)))
                .editMetadata().withNamespace(wns).endMetadata().build()).serverSideApply();
        // The Attic secret already holds another key: it must stay.
        kube.resource(new SecretBuilder().withNewMetadata().withName("attic-secrets").withNamespace(wns).endMetadata()
                .addToData("OTHER", Base64.getEncoder().encodeToString("keep".getBytes())).build()).create();
        var base = List.of("dev", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "-n", wns,
                "--host", pg.host(), "--port", String.valueOf(pg.port()), "--sslmode", "disable");
        String expected = inProcess(plus(base, "--reveal")).out().strip();

        if (api.isLocal()) api.resetRequests();
        var dry = inProcess(plus(base, "--write-secret", "--dry-run=client"));
        assertEquals(0, dry.exit(), dry.toString());
        assertTrue(dry.out().contains("secret/attic-secrets -n " + wns + " configured"), dry.out());
        var dryServer = inProcess(plus(base, "--write-secret", "--dry-run=server"));
        assertEquals(0, dryServer.exit(), dryServer.toString());
        if (api.isLocal()) assertEquals(0, api.mutatingRequests(false), "dry runs store nothing: " + api.requests());
        assertNull(kube.secrets().inNamespace(wns).withName("attic-secrets").get().getData().get("DATABASE_URL"));

        // As a user runs it: a process.
        var w = TestSupport.script("cnpg-connstr", plus(base, "--write-secret").toArray(String[]::new)).run();
        assertEquals(0, w.exit(), w.toString());
        assertEquals("secret/attic-secrets -n " + wns + " configured (key DATABASE_URL)", w.out().strip());
        assertFalse((w.out() + w.err()).contains(ConnectionStrings.encode(password)), "no password in the output");

        var kubectl = TestSupport.command("kubectl", "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "get", "secret", "attic-secrets", "-n", wns, "-o", "jsonpath={.data.DATABASE_URL}").run();
        assertEquals(0, kubectl.exit(), kubectl.toString());
        String stored = new String(Base64.getDecoder().decode(kubectl.out().strip()), StandardCharsets.UTF_8);
        assertEquals(expected, stored);
        assertEquals("gfw_writer", currentUser(stored), "the stored URL logs in");
        assertEquals("keep", new String(Base64.getDecoder().decode(
                kube.secrets().inNamespace(wns).withName("attic-secrets").get().getData().get("OTHER"))));
        // Every namespace holds kube-root-ca.crt, which the API server's root-CA publisher writes: no other ConfigMap.
        assertEquals(List.of(), kube.configMaps().inNamespace(wns).list().getItems().stream().map(m -> m.getMetadata().getName())
                .filter(n -> !n.equals("kube-root-ca.crt")).toList(), "never into a ConfigMap");

        // Again: unchanged, nothing sent.
        if (api.isLocal()) api.resetRequests();
        var again = inProcess(plus(base, "--write-secret"));
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.out().contains("unchanged"), again.out());
        if (api.isLocal()) assertEquals(0, api.mutatingRequests(), api.requests().toString());
    }

    @Test
    void writeSecretIsRefusedForPlannedAndUnconfirmedProduction() throws Exception {
        if (api.isLocal()) api.resetRequests();
        var planned = inProcess(List.of("prod", "--env-dir", envDir, "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "--write-secret"));
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        assertTrue(planned.err().contains("planned"), planned.err());
        if (api.isLocal()) assertEquals(List.of(), api.requests(), "refused before any request");

        String pns = "gfw-cnpg-p-" + TestCluster.randomHex(3);
        createNamespace(pns);
        kube.resource(new SecretBuilder(cnpgSecret("attic-pg-app-credentials", Map.of("username", "u", "password", "p")))
                .editMetadata().withNamespace(pns).endMetadata().build()).serverSideApply();
        Path dir = TestSupport.tempDir("cnpg-prod-env");
        EnvFile.of(Files.readString(Path.of(envDir, "dev.yaml"))).set("environment", "live").set("production", "true").writeTo(dir, "live");
        var base = List.of("live", "--env-dir", dir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(),
                "-n", pns, "--write-secret");
        var refused = inProcess(base);
        assertEquals(ExitCode.REFUSED, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("production") && refused.err().contains("--yes"), refused.err());
        assertNull(kube.secrets().inNamespace(pns).withName("attic-secrets").get(), "nothing written");
        var confirmed = inProcess(plus(base, "--yes"));
        assertEquals(0, confirmed.exit(), confirmed.toString());
        assertTrue(confirmed.out().contains("created"), confirmed.out());
    }

    // ---- --decode ---------------------------------------------------------------------------

    @Test
    void decodeExplainsAndCorrectsAnUnencodedString() {
        String broken = "postgresql://attic:p@ss:word@cnpg-cluster-rw:5432/attic";
        var r = TestSupport.script("cnpg-connstr", "--decode").stdin(broken + "\n").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().matches("(?s).*\\bpassword\\s+\\*\\*\\*\\*\\n.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\bcorrected\\s+postgresql://attic:\\*\\*\\*\\*@cnpg-cluster-rw:5432/attic\\n.*"), r.out());
        assertTrue(r.err().contains("not percent-encoded"), r.err());
        assertFalse((r.out() + r.err()).contains("p@ss") || (r.out() + r.err()).contains("p%40ss"), "masked");

        var fixed = TestSupport.script("cnpg-connstr", "--decode", "--reveal", "-o", "uri").stdin(broken).run();
        assertEquals(0, fixed.exit(), fixed.toString());
        assertEquals("postgresql://attic:p%40ss%3Aword@cnpg-cluster-rw:5432/attic", fixed.out().strip(), "the seed's correct form");

        // An argument works too, with a warning that argv is visible.
        var arg = inProcess(List.of("--decode", "postgresql://attic:p%40ss%3Aword@h:5432/attic", "-o", "json"));
        assertEquals(0, arg.exit(), arg.toString());
        assertTrue(arg.err().contains("other users can see"), arg.err());
        assertTrue(arg.out().contains("\"passwordEncoding\" : \"canonical\""), arg.out());
        assertFalse(arg.err().contains("not percent-encoded"), arg.err());

        var garbage = TestSupport.script("cnpg-connstr", "--decode").stdin("host=h password=secret\n").run();
        assertEquals(ExitCode.USAGE, garbage.exit(), garbage.toString());
        assertFalse(garbage.err().contains("secret"), garbage.err());
    }

    @Test
    void sslpasswordIsMaskedLikeThePassword() {
        String uri = "postgresql://attic:pw-SENTINEL@h:5432/attic?sslmode=verify-full&sslpassword=key-SENTINEL";
        for (String format : List.of("table", "json", "yaml", "uri", "jdbc")) {
            var masked = inProcess(List.of("--decode", uri, "-o", format));
            assertEquals(0, masked.exit(), masked.toString());
            assertFalse((masked.out() + masked.err()).contains("SENTINEL"), "-o " + format + " shows a secret:\n" + masked);
        }
        var revealed = inProcess(List.of("--decode", uri, "-o", "uri", "--reveal"));
        assertEquals(uri, revealed.out().strip());
    }

    @Test
    void correctedStringsAreAcceptedByPsql() throws Exception {
        // What --decode prints as the fix logs in, for every special character.
        for (int i = 0; i < SPECIALS.size(); i++) {
            String c = SPECIALS.get(i);
            if (c.equals(" ") || c.equals("\\")) continue; // not typed raw into a URI by anyone; covered by the encoder tests
            String password = "d" + c + "x" + c;
            pg.createRole("gfw_decode_" + i, password, null);
            String broken = "postgresql://gfw_decode_" + i + ":" + password + "@" + pg.host() + ":" + pg.port() + "/postgres";
            var r = inProcess(List.of("--decode", broken, "--reveal", "-o", "uri"));
            assertEquals(0, r.exit(), r.toString());
            assertEquals("gfw_decode_" + i, currentUser(r.out().strip()), "corrected string for " + c);
        }
    }

    @Test
    void libpqAndPgjdbcAcceptRandomPasswords() throws Exception {
        var r = new Random(4711L);
        pg.createRole("gfw_random", "start", "attic");
        for (int i = 0; i < 20; i++) {
            String password = randomPassword(r, true);
            pg.setPassword("gfw_random", password);
            var parts = new ConnectionStrings.Parts("gfw_random", password, pg.host(), pg.port(), "attic", Map.of("sslmode", "disable"));
            String uri = ConnectionStrings.uri(parts, true);
            assertEquals(password, ConnectionStrings.parse(uri).parts().password());
            assertEquals("gfw_random", currentUser(uri), "psql, sample " + i + ": " + reference(password));
            try (var conn = DriverManager.getConnection(ConnectionStrings.jdbc(parts, true))) {
                assertTrue(conn.isValid(5), "pgjdbc, sample " + i);
            }
        }
    }

    static List<String> plus(List<String> base, String... more) {
        var a = new ArrayList<>(base);
        a.addAll(List.of(more));
        return a;
    }
}
