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

    /** gfw's own subcommands (validate, version, completion, exit-codes), from gfw.SUBCOMMANDS. */
    static List<String> builtIns() throws IOException {
        var scripts = scripts();
        return gfw.SUBCOMMANDS.stream().filter(c -> c != picocli.CommandLine.HelpCommand.class)
                .map(c -> c.getAnnotation(picocli.CommandLine.Command.class).name()).filter(n -> !scripts.contains(n)).toList();
    }

    /** What every help must hold: usage, a one-line purpose, an example, and the exit codes of ExitCode.table(). */
    static void assertGoodHelp(TestSupport.Result r, String usage) {
        assertEquals(0, r.exit(), r.toString());
        assertEquals("", r.err().lines().filter(l -> !l.startsWith("[jbang] ")).reduce("", String::concat), r.toString());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).startsWith("Usage: " + usage), r.out());
        int purpose = 1;
        while (purpose < lines.size() && lines.get(purpose).startsWith(" ")) purpose++; // a long synopsis wraps
        assertTrue(purpose < lines.size() && lines.get(purpose).length() > 20 && Character.isUpperCase(lines.get(purpose).charAt(0)),
                "a purpose (one sentence, which picocli wraps at 80 columns): " + r.out());
        assertTrue(r.out().matches("(?s).*\\bExamples?:.*"), "an example: " + r.out());
        int codes = r.out().indexOf("Exit codes (gfw exit-codes; never 1, which is JBang's):");
        assertTrue(codes > 0, "exit codes: " + r.out());
        for (var e : ExitCode.table().entrySet()) {
            assertTrue(Pattern.compile("(?m)^  " + e.getKey() + "\\s+" + Pattern.quote(e.getValue().split(" ")[0])).matcher(r.out().substring(codes)).find(),
                    "exit code " + e.getKey() + " in the help of " + usage + ":\n" + r.out());
        }
    }

    @Test
    void everyCommandAndSubcommandAnswersHelpAndH() throws IOException {
        var commands = new ArrayList<List<String>>();
        commands.add(List.of("gfw"));
        for (String s : scripts()) {
            commands.add(List.of(s));
            commands.add(List.of("gfw", s));
        }
        for (String b : builtIns()) commands.add(List.of("gfw", b));
        assertTrue(builtIns().containsAll(List.of("validate", "version", "completion", "exit-codes")), builtIns().toString());
        for (List<String> command : commands) {
            String script = command.get(0);
            String usage = String.join(" ", command);
            for (String flag : List.of("--help", "-h")) {
                var args = new ArrayList<>(command.subList(1, command.size()));
                args.add(flag);
                var r = TestSupport.script(script, args.toArray(String[]::new)).run();
                assertGoodHelp(r, usage);
            }
        }
    }

    @Test
    void aMisspelledCommandIsNamedWithTheClosestOne() {
        var r = TestSupport.script("gfw", "provison-namespaces", "dev", "--dry-run=client").run();
        assertEquals(ExitCode.USAGE, r.exit(), r.toString());
        assertEquals(List.of("error: unknown command 'provison-namespaces'; did you mean provision-namespaces? (see 'gfw --help')"),
                r.err().lines().filter(l -> !l.startsWith("[jbang] ")).toList());
        assertEquals("", r.out());
        var far = TestSupport.inProcess(new gfw(), "xyzzy");
        assertEquals(ExitCode.USAGE, far.exit(), far.toString());
        assertTrue(far.err().startsWith("error: unknown command 'xyzzy'; the commands are provision-namespaces, "), far.err());
    }

    @Test
    void completionWorksInARealInteractiveBash() throws IOException {
        // As the README says: source <(./jbang scripts/gfw.java completion), in an interactive bash.
        String session = """
                source <(./jbang scripts/gfw.java completion) || exit 9
                complete -p gfw
                c() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _gfw_complete; echo "[$*] ${COMPREPLY[*]}"; }
                c gfw prov
                c gfw provision-namespaces ''
                c gfw provision-namespaces dev --dry-run ''
                c gfw provision-namespaces dev --dry-run = s
                c gfw provision-namespaces dev -o ''
                c gfw deploy-runners --env-dir x dev ''
                c gfw deploy-runners dev docker r
                c gfw runners dev ''
                c gfw cnpg-connstr dev -o ''
                c gfw exit-codes -o w
                c gfw validate --e
                c gfw provision-namespaces dev --env-dir environ
                c gfw provision-namespaces dev --concurrency ''
                cd / && gfw exit-codes -o wide | head -2
                """;
        var r = TestSupport.command("bash", "--norc", "--noprofile", "-i").stdin(session + "exit\n").env("HOME", TestSupport.tempDir("bash-home").toString()).run();
        assertEquals(0, r.exit(), r.toString());
        List<String> expected = List.of(
                "complete -F _gfw_complete gfw",
                "[gfw prov] provision-namespaces",
                "[gfw provision-namespaces ] dev prod",
                "[gfw provision-namespaces dev --dry-run ] none client server",
                "[gfw provision-namespaces dev --dry-run = s] server",
                "[gfw provision-namespaces dev -o ] table wide json yaml",
                "[gfw deploy-runners --env-dir x dev ] dind docker nix rocky8 rocky9",
                "[gfw deploy-runners dev docker r] rocky8 rocky9",
                "[gfw runners dev ] status pause resume drain history rollback rotate-token prune reap smoke",
                "[gfw cnpg-connstr dev -o ] uri jdbc env pgpass json yaml table wide",
                "[gfw exit-codes -o w] wide",
                "[gfw validate --e] --env-dir",
                "[gfw provision-namespaces dev --env-dir environ] environments",
                "[gfw provision-namespaces dev --concurrency ] ",
                "CODE   NAME           MEANING",
                "0      OK             success");
        assertEquals(expected, r.out().lines().toList(), r.toString());
    }

    @Test
    void wideTablesHaveMoreColumns() {
        var table = TestSupport.script("provision-namespaces", "dev", "--dry-run=client", "-o", "table").run();
        var wide = TestSupport.script("provision-namespaces", "dev", "--dry-run=client", "-o", "wide").run();
        assertEquals(0, table.exit(), table.toString());
        assertEquals(0, wide.exit(), wide.toString());
        assertTrue(table.out().startsWith("KIND ") && !table.out().contains("COMPONENT"), table.out());
        assertTrue(wide.out().lines().findFirst().orElseThrow().matches("KIND +NAMESPACE +NAME +COMPONENT"), wide.out());
        assertEquals(table.out().lines().count(), wide.out().lines().count());
        assertTrue(wide.out().lines().anyMatch(l -> l.matches("Namespace +gitlab-runners +runners")), wide.out());

        var codes = TestSupport.script("gfw", "exit-codes", "-o", "wide").run();
        assertEquals(0, codes.exit(), codes.toString());
        assertTrue(codes.out().lines().anyMatch(l -> l.matches("64 +USAGE +bad flag or argument")), codes.out());

        var decoded = TestSupport.script("cnpg-connstr", "--decode", "-o", "wide").stdin("postgresql://us%20er:pw@h:5432/d%20b\n").run();
        assertEquals(0, decoded.exit(), decoded.toString());
        assertTrue(decoded.out().lines().findFirst().orElseThrow().matches("FIELD +VALUE +ENCODED"), decoded.out());
        assertTrue(decoded.out().lines().anyMatch(l -> l.matches("user +us er +us%20er")), decoded.out());
        assertTrue(decoded.out().lines().anyMatch(l -> l.matches("password +\\*\\*\\*\\* +\\*\\*\\*\\*")), "masked in both columns: " + decoded.out());

        // deploy-runners --status against the test API server, with the real Helm: nothing installed there.
        TestCluster api = TestCluster.shared();
        var status = TestSupport.script("deploy-runners", "dev", "docker", "--status", "-o", "wide", "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context()).run();
        assertEquals(ExitCode.CHECK_FAILED, status.exit(), status.toString());
        assertTrue(status.out().lines().findFirst().orElseThrow().matches("RELEASE +NAMESPACE +REVISION +STATUS +CHART +READY +RESTARTS +HPA +TOKEN"), status.out());
        assertTrue(status.out().lines().anyMatch(l -> l.matches("gitlab-runner-docker +gitlab-runners +- +not installed +- +0/0 +0 +- +missing")), status.out());
    }

    @Test
    void versionPrintsGfwVersion() {
        var r = TestSupport.script("gfw", "version").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("gfw " + gfw.VERSION + " (java "), r.out());
    }
}
