import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * lib/core/SecretInput.java, the one reader of secrets the user hands gfw (Rancher and GitLab tokens), and
 * KubeClients.secretData, the one decoder of a Secret's data. Scripts run as processes: exit code,
 * the one stderr line, no token shown, nothing written.
 */
class SecretInputTest {

    static final String SENTINEL = "token-SENTINEL:abc";

    /** fetch-kubeconfig dev with this token file, Rancher pointing at a closed port, in a workspace of its own. */
    static TestSupport.Result fetchWith(Path ws, String tokenFile) {
        return TestSupport.script("fetch-kubeconfig", "dev", "--no-ci", "--token-file", tokenFile, "--proxy", "none",
                "--rancher-url", "http://127.0.0.1:" + TestSocksProxy.freePort(), "--timeout", "5s")
                .env("HOME", ws.toString()).dir(ws).run();
    }

    static List<String> messages(TestSupport.Result r) {
        return r.err().lines().filter(l -> !l.startsWith("[jbang] ")).toList();
    }

    static void assertNothingWritten(Path ws) throws IOException {
        try (var files = Files.list(ws)) {
            assertEquals(List.of("environments"), files.map(p -> p.getFileName().toString()).sorted().toList(), "something was written");
        }
    }

    @Test
    void unreadableTokenFilesSayWhyWithoutChmodAdviceForDevices() throws IOException {
        Path ws = KubeconfigTest.workspace();
        Path dir = Files.createDirectories(TestSupport.tempDir("tok").resolve("a-directory"));
        Path latin1 = TestSupport.tempDir("tok").resolve("latin1");
        Files.write(latin1, new byte[] {'t', 'o', 'k', (byte) 0xe9, (byte) 0xff});
        Files.setPosixFilePermissions(latin1, PosixFilePermissions.fromString("rw-------"));

        var devNull = fetchWith(ws, "/dev/null");
        assertEquals(ExitCode.NO_INPUT, devNull.exit(), devNull.toString());
        assertEquals(List.of("error: --token-file /dev/null is empty: it must hold the Rancher API token"), messages(devNull));

        var missing = fetchWith(ws, "/nonexistent/token");
        assertEquals(ExitCode.NO_INPUT, missing.exit(), missing.toString());
        assertEquals(1, messages(missing).size(), missing.err());
        assertTrue(messages(missing).get(0).startsWith("error: --token-file /nonexistent/token: cannot read it (it does not exist)"), missing.err());

        var directory = fetchWith(ws, dir.toString());
        assertEquals(ExitCode.NO_INPUT, directory.exit(), directory.toString());
        assertTrue(messages(directory).get(0).startsWith("error: --token-file " + dir + ": cannot read it (it is a directory)"), directory.err());

        var notUtf8 = fetchWith(ws, latin1.toString());
        assertEquals(ExitCode.NO_INPUT, notUtf8.exit(), notUtf8.toString());
        assertEquals(List.of("error: --token-file " + latin1 + " is not UTF-8 text (a binary file, or another encoding); save it as UTF-8"), messages(notUtf8));
        for (var r : List.of(devNull, missing, directory, notUtf8)) {
            assertFalse(r.err().contains("chmod") || r.err().contains("Input length"), r.err());
            assertEquals("", r.out());
        }
        assertNothingWritten(ws);
    }

    @Test
    void aTokenFileOthersCanReadWarnsOnceAndTheTokenIsNeverShown() throws IOException {
        Path ws = KubeconfigTest.workspace();
        Path token = TestSupport.tempDir("tok").resolve("token");
        Files.writeString(token, SENTINEL + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r-----"));
        var r = fetchWith(ws, token.toString());
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), r.toString()); // Rancher is a closed port: the token was read
        assertEquals(List.of("warning: token file " + token + " is readable by its group; chmod 600 " + token),
                messages(r).stream().filter(l -> l.startsWith("warning:")).toList());
        assertFalse((r.out() + r.err()).contains("SENTINEL"), r.toString());
        assertNothingWritten(ws);

        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        var quiet = fetchWith(ws, token.toString());
        assertTrue(messages(quiet).stream().noneMatch(l -> l.startsWith("warning:")), quiet.err());
    }

    @Test
    void tokensFromStdinAndTheVariableAreCheckedTheSameWay() throws IOException {
        Path ws = KubeconfigTest.workspace();
        var twoLines = TestSupport.script("fetch-kubeconfig", "dev", "--no-ci", "--token-file", "-", "--proxy", "none")
                .stdin(SENTINEL + "\nmore\n").env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.USAGE, twoLines.exit(), twoLines.toString());
        assertEquals(List.of("error: --token-file - (stdin) holds more than one line or spaces: it must be just the Rancher API token (token-xxxxx:yyyy)"),
                messages(twoLines));
        var blank = TestSupport.script("fetch-kubeconfig", "dev", "--no-ci", "--proxy", "none")
                .env("RANCHER_TOKEN", "  ").env("HOME", ws.toString()).dir(ws).run();
        assertEquals(ExitCode.NO_INPUT, blank.exit(), blank.toString());
        assertTrue(messages(blank).get(0).startsWith("error: no Rancher token: set RANCHER_TOKEN or pass --token-file FILE"), blank.err());
        assertNothingWritten(ws);
    }

    /** At a terminal (a pseudo-terminal made by Python's pty module), --token-file - asks without echo. */
    @Test
    void atATerminalTheTokenIsAskedForWithoutEcho() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestSupport.command("python3", "-c", "import pty").run().exit() == 0, "needs python3 for a pty");
        Path ws = KubeconfigTest.workspace();
        String driver = String.join("\n",
                "import os, pty, sys, time",
                "pid, fd = pty.fork()",
                "if pid == 0:",
                "    os.execvp(sys.argv[1], sys.argv[1:])",
                "out = b''",
                "deadline = time.time() + 120",
                "sent = False",
                "while time.time() < deadline:",
                "    try:",
                "        chunk = os.read(fd, 4096)",
                "    except OSError:",
                "        break",
                "    if not chunk:",
                "        break",
                "    out += chunk",
                "    if not sent and b'(not echoed): ' in out:",
                "        os.write(fd, b'" + SENTINEL + "\\r')",
                "        sent = True",
                "_, status = os.waitpid(pid, 0)",
                "sys.stdout.write(out.decode('utf-8', 'replace'))",
                "sys.exit(os.WEXITSTATUS(status))");
        var r = TestSupport.command("python3", "-c", driver, TestSupport.repo().resolve("jbang").toString(),
                TestSupport.repo().resolve("scripts/fetch-kubeconfig.java").toString(), "dev", "--no-ci", "--token-file", "-", "--proxy", "none",
                "--rancher-url", "http://127.0.0.1:" + TestSocksProxy.freePort()).env("HOME", ws.toString()).dir(ws).run();
        assertTrue(r.out().contains("Rancher API token (not echoed): "), r.toString());
        assertEquals(ExitCode.UNAVAILABLE, r.exit(), "the token was read and Rancher (a closed port) tried: " + r);
        assertFalse(r.out().contains("SENTINEL"), "the token was echoed:\n" + r.out());
        assertNothingWritten(ws);
    }

    @Test
    void permissionDeniedIsNamed() {
        // Root reads any file, so the reason is checked where it is worded.
        assertEquals("permission denied", SecretInput.reason(new java.nio.file.AccessDeniedException("/x")));
        assertEquals("it does not exist", SecretInput.reason(new java.nio.file.NoSuchFileException("/x")));
    }

    @Test
    void oneDecoderOfASecretsData() {
        var s = new SecretBuilder().withNewMetadata().withName("s").endMetadata()
                .addToData("a", Base64.getEncoder().encodeToString("p@ss:wörd".getBytes(StandardCharsets.UTF_8)))
                .addToStringData("b", "plain").build();
        assertEquals(Map.of("a", "p@ss:wörd", "b", "plain"), KubeClients.secretData(s, "secret s"));
        var bad = new SecretBuilder().withNewMetadata().withName("s").endMetadata().addToData("k", "not base64!").build();
        var e = assertThrows(GfwException.class, () -> KubeClients.secretData(bad, "secret s in namespace n"));
        assertEquals(ExitCode.REMOTE_ERROR, e.exitCode());
        assertEquals("secret s in namespace n: key 'k' is not valid base64", e.getMessage());
        assertEquals(Map.of(), KubeClients.secretData(null, "none"));
    }
}
