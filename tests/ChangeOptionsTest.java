import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Cli.ChangeOptions, the flags of every command that changes a cluster: the same -y/--yes,
 * --dry-run, --force-conflicts (and --diff where supported) on each, and one validate() of the
 * combinations that do not go together — refused with one line, exit 64, before anything is read.
 */
class ChangeOptionsTest {

    @CommandLine.Command(name = "holder")
    static class Holder {
        @CommandLine.Mixin Cli.WithDiff change;
    }

    @CommandLine.Command(name = "plain")
    static class PlainHolder {
        @CommandLine.Mixin Cli.ChangeOptions change;
    }

    static Cli.WithDiff parse(String... args) {
        var h = new Holder();
        new CommandLine(h).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return h.change;
    }

    static String refusal(Runnable r) {
        var e = assertThrows(GfwException.class, r::run);
        assertEquals(ExitCode.USAGE, e.exitCode(), e.getMessage());
        return e.getMessage();
    }

    @Test
    void validateListsTheCombinationsThatDoNotGoTogether() {
        assertTrue(refusal(() -> parse("--diff", "--dry-run=server").validate()).startsWith("--diff and --dry-run cannot be combined"));
        assertTrue(refusal(() -> parse("--diff", "--dry-run").validate()).startsWith("--diff and --dry-run cannot be combined"));
        assertTrue(refusal(() -> parse("--force-conflicts", "--dry-run=client").validate()).startsWith("--force-conflicts and --dry-run=client"));
        // What does go together.
        for (var ok : List.of(List.of("--dry-run=server", "--force-conflicts"), List.of("--diff", "--force-conflicts"), List.of("-y"),
                List.of("--yes", "--dry-run=server"), List.of())) {
            parse(ok.toArray(String[]::new)).validate();
        }
        // A command whose change is one mode among others refuses the flags outside it, naming the flag.
        assertEquals("--yes only applies to --write-secret", refusal(() -> parse("-y").validate(false, "--write-secret")));
        assertEquals("--diff only applies to --write-secret", refusal(() -> parse("--diff").validate(false, "--write-secret")));
        assertEquals("--dry-run only applies to --write-secret", refusal(() -> parse("--dry-run=server").validate(false, "--write-secret")));
        parse("--diff").validate(true, "--write-secret");
    }

    @Test
    void writesOnlyWithoutDryRunOrDiff() {
        assertTrue(parse().writes());
        assertTrue(!parse("--diff").writes() && !parse("--dry-run").writes() && !parse("--dry-run=server").writes());
        assertTrue(parse("--dry-run").clientDryRun() && parse("--dry-run=SERVER").serverDryRun());
        // --diff exists only where a command can show differences.
        var plain = new PlainHolder();
        assertThrows(CommandLine.UnmatchedArgumentException.class, () -> new CommandLine(plain).parseArgs("--diff"));
        assertTrue(!plain.change.diff());
    }

    @Test
    void everyChangingCommandHasTheSameFlags() {
        for (String script : List.of("provision-namespaces", "cnpg-connstr", "deploy-runners")) {
            var help = TestSupport.inProcess(GfwCommands.of(script), "--help");
            assertEquals(0, help.exit(), help.toString());
            for (String flag : List.of("-y, --yes", "--dry-run[=MODE]", "--force-conflicts")) {
                assertTrue(help.out().contains(flag), script + " lacks " + flag + ":\n" + help.out());
            }
        }
        assertTrue(TestSupport.inProcess(new ProvisionNamespaces(), "--help").out().contains("--diff"));
        assertTrue(TestSupport.inProcess(new CnpgConnstr(), "--help").out().contains("--diff"));
    }

    @Test
    void incompatibleFlagsAreOneLineExit64AsProcesses() {
        var diffAndDryRun = TestSupport.script("provision-namespaces", "dev", "--diff", "--dry-run=server").run();
        assertEquals(ExitCode.USAGE, diffAndDryRun.exit(), diffAndDryRun.toString());
        assertEquals(List.of("error: --diff and --dry-run cannot be combined: --diff already changes nothing"), messages(diffAndDryRun));
        assertEquals("", diffAndDryRun.out());

        var yesWithoutWrite = TestSupport.script("gfw", "cnpg-connstr", "dev", "-y").run();
        assertEquals(ExitCode.USAGE, yesWithoutWrite.exit(), yesWithoutWrite.toString());
        assertEquals(List.of("error: --yes only applies to --write-secret"), messages(yesWithoutWrite));

        var forceWithStatus = TestSupport.script("gfw", "deploy-runners", "dev", "--status", "--force-conflicts").run();
        assertEquals(ExitCode.USAGE, forceWithStatus.exit(), forceWithStatus.toString());
        assertEquals(1, messages(forceWithStatus).size(), forceWithStatus.err());
        assertTrue(messages(forceWithStatus).get(0).startsWith("error: --force-conflicts only applies to a deploy"), forceWithStatus.err());
    }

    @Test
    void cnpgConnstrWriteSecretDiffShowsTheChangeAndSendsNothing() {
        TestCluster api = TestCluster.shared();
        var kube = api.client();
        String ns = "gfw-diff-" + TestCluster.randomHex(3);
        kube.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        kube.secrets().inNamespace(ns).resource(new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName("attic-pg-app-credentials").endMetadata()
                .addToStringData("username", "attic").addToStringData("password", "pw-SENTINEL").build()).create();
        if (api.isLocal()) api.resetRequests();
        var r = TestSupport.inProcess(new CnpgConnstr(), "dev", "--env-dir", TestSupport.repo().resolve("environments").toString(),
                "--kubeconfig", api.kubeconfig().toString(), "--context", api.context(), "-n", ns, "--write-secret", "--diff");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("secret/attic-secrets -n " + ns + " created (key DATABASE_URL) (--diff: nothing sent)", r.out().strip());
        assertTrue(!(r.out() + r.err()).contains("SENTINEL"), r.toString());
        assertEquals(null, kube.secrets().inNamespace(ns).withName("attic-secrets").get(), "--diff wrote the secret");
        if (api.isLocal()) assertEquals(0, api.mutatingRequests(), api.requests().toString());
    }

    /** stderr without JBang's own "[jbang] Building ..." lines (a first run after an edit compiles). */
    static List<String> messages(TestSupport.Result r) {
        return r.err().lines().filter(l -> !l.startsWith("[jbang] ")).toList();
    }

    /** The command objects by script name (in-process). */
    static final class GfwCommands {
        static Object of(String script) {
            return switch (script) {
                case "provision-namespaces" -> new ProvisionNamespaces();
                case "cnpg-connstr" -> new CnpgConnstr();
                case "deploy-runners" -> new DeployRunners();
                default -> throw new IllegalArgumentException(script);
            };
        }
    }
}
