import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The command line as users meet it: scripts run as processes through ./jbang. */
class CliTest {

    /** Script names from scripts/ (so a new script is covered without touching this test). */
    static List<String> scripts() throws IOException {
        try (var files = Files.list(TestSupport.repo().resolve("scripts"))) {
            return files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".java") && !f.equals("gfw.java"))
                    .map(f -> f.substring(0, f.length() - 5)).sorted().toList();
        }
    }

    @Test
    void gfwHelpListsEveryScriptAndBuiltIn() throws IOException {
        var r = TestSupport.script("gfw", "--help").run();
        assertEquals(0, r.exit(), r.toString());
        List<String> expected = new ArrayList<>(scripts());
        expected.addAll(List.of("validate", "version", "completion", "exit-codes"));
        for (String name : expected) {
            assertTrue(Pattern.compile("(?m)^\\s+" + Pattern.quote(name) + "\\s").matcher(r.out()).find(), name + " missing from:\n" + r.out());
        }
    }

    @Test
    void everyScriptRunsStandaloneAndAsGfwSubcommand() throws IOException {
        for (String script : scripts()) {
            var alone = TestSupport.script(script, "--help").run();
            var sub = TestSupport.script("gfw", script, "--help").run();
            assertEquals(0, alone.exit(), alone.toString());
            assertEquals(0, sub.exit(), sub.toString());
            assertTrue(alone.out().startsWith("Usage: " + script), alone.out());
            // Same options and text; only the usage line names the parent command.
            assertEquals(alone.out().replace("Usage: " + script, "Usage: gfw " + script).replaceAll("\\s+", " "),
                    sub.out().replaceAll("\\s+", " "), "help of " + script + " differs between standalone and gfw");
        }
    }

    @Test
    void unknownFlagIsAOneLineUsageError() {
        var r = TestSupport.script("gfw", "validate", "--no-such-flag").run();
        assertEquals(ExitCode.USAGE, r.exit(), r.toString());
        assertEquals(List.of("error: Unknown option: '--no-such-flag' (see 'gfw validate --help')"), r.err().lines().toList());
        assertEquals("", r.out());
    }

    @Test
    void anUnknownOptionIsNamedWithoutTheValueGivenWithIt() {
        // A mistyped secret flag must not put the secret on stderr (CI logs).
        var joined = TestSupport.inProcess(new CnpgConnstr(), "dev", "--password=hunter2-SENTINEL");
        assertEquals(ExitCode.USAGE, joined.exit(), joined.toString());
        assertEquals(List.of("error: Unknown option: '--password=****' (see 'cnpg-connstr --help')"), joined.err().lines().toList());
        var separate = TestSupport.inProcess(new FetchKubeconfig(), "dev", "--rancher-token", "tok-SENTINEL");
        assertEquals(ExitCode.USAGE, separate.exit(), separate.toString());
        assertEquals(List.of("error: Unknown option: '--rancher-token' (see 'fetch-kubeconfig --help')"), separate.err().lines().toList());
        assertEquals("", joined.out() + separate.out());
    }

    @Test
    void validateFromTheCommandLine() throws IOException {
        var ok = TestSupport.script("gfw", "validate").run();
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(ok.out().contains("environments/dev.yaml: ok"), ok.out());

        Path dir = TestSupport.tempDir("cli-env");
        EnvFile.dev().set("cnpg.instances", "one").writeTo(dir, "dev");
        var bad = TestSupport.script("gfw", "validate", "dev", "--env-dir", dir.toString()).run();
        assertEquals(ExitCode.CONFIG, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("cnpg.instances: must be a positive integer, not 'one'"), bad.err());
    }

    @Test
    void exitCodeTableInReadmeMatchesTheCode() throws IOException {
        var r = TestSupport.script("gfw", "exit-codes").run();
        assertEquals(0, r.exit(), r.toString());
        Map<Integer, String> printed = new LinkedHashMap<>();
        for (String line : r.out().lines().skip(1).toList()) {
            String[] parts = line.trim().split("\\s{3,}", 2);
            printed.put(Integer.parseInt(parts[0]), parts[1]);
        }
        assertEquals(ExitCode.table(), printed);

        String readme = Files.readString(TestSupport.repo().resolve("README.md"));
        Map<Integer, String> documented = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^\\| (\\d+) \\| `?([A-Z_]+)`? \\| (.+?) \\|$").matcher(readme);
        while (m.find()) documented.put(Integer.parseInt(m.group(1)), m.group(3));
        assertEquals(ExitCode.table().keySet(), documented.keySet(), "README's exit code table lists exactly gfw's codes");
        for (int code : List.of(1, 2, 10, 255)) assertTrue(!ExitCode.table().containsKey(code), "collides with JBang: " + code);
    }

    @Test
    void completionCoversSubcommands() throws IOException {
        var r = TestSupport.script("gfw", "completion").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("complete -F"), "a bash completion script");
        for (String s : scripts()) assertTrue(r.out().contains(s), s + " missing from completion");

        Path file = TestSupport.tempDir("completion").resolve("gfw.bash");
        Files.writeString(file, r.out());
        var check = TestSupport.command("bash", "-n", file.toString()).run();
        assertEquals(0, check.exit(), "completion script is valid bash: " + check.err());
    }

    @Test
    void versionPrintsGfwVersion() {
        var r = TestSupport.script("gfw", "version").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("gfw " + gfw.VERSION + " (java "), r.out());
    }
}
