import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Environment files: the shipped ones are valid and mean what the seed says; every kind of bad
 * input is one line naming file, line, column and field, with exit code CONFIG. Runs
 * {@code gfw validate} in-process (the command line itself is covered by CliTest).
 */
class ConfigTest {

    static final String DEV = read(TestSupport.repo().resolve("environments/dev.yaml"));

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code text} as dev.yaml in a fresh directory and validates it. */
    static TestSupport.Result validate(String text) throws IOException {
        Path dir = TestSupport.tempDir("env");
        Files.writeString(dir.resolve("dev.yaml"), text);
        return TestSupport.inProcess(new gfw(), "validate", "dev", "--env-dir", dir.toString());
    }

    /** 1-based line of the n-th (0-based) line of {@code text} containing {@code needle}. */
    static int lineOf(String text, String needle, int occurrence) {
        String[] lines = text.split("\n", -1);
        int seen = 0;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(needle) && seen++ == occurrence) return i + 1;
        }
        throw new AssertionError("no " + needle + " in text");
    }

    static void assertOneError(TestSupport.Result r, String expected) {
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "exactly one line: " + r.err());
        assertTrue(lines.get(0).startsWith("error: "), r.err());
        assertTrue(lines.get(0).contains(expected), "expected '" + expected + "' in: " + r.err());
        assertEquals("", r.out(), "nothing on stdout for a failed validation");
    }

    @Test
    void shippedEnvironmentsAreValid() {
        var r = TestSupport.inProcess(new gfw(), "validate");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("environments/dev.yaml: ok (active)"), r.out());
        assertTrue(r.out().contains("environments/prod.yaml: ok (planned, production)"), r.out());
    }

    @Test
    void placeholdersExpandAndDevMatchesTheSeed() {
        EnvConfig.Env dev = EnvConfig.load("dev", null);
        assertEquals("attic-cache-dev", dev.namespaces().attic().name());
        assertEquals("gitlab-runners", dev.namespaces().runners().name());
        assertEquals("runner-dashboard", dev.namespaces().dashboard().name());
        assertEquals("gloriousflywheel/projects/kubernetes/gitlab-agents:dev", dev.cluster().ciAgentContext());
        assertEquals("dev-cluster", dev.cluster().context());
        assertEquals("http://attic.attic-cache-dev.svc.cluster.local", dev.atticServerUrl());
        assertEquals(List.of("docker", "dind", "rocky8", "rocky9", "nix"), dev.runners().stream().map(EnvConfig.Runner::type).toList());
        assertEquals(List.of("dind"), dev.runners().stream().filter(EnvConfig.Runner::privileged).map(EnvConfig.Runner::type).toList());
        assertEquals("privileged", dev.namespaces().runners().podSecurity().enforce());
        assertEquals("baseline", dev.namespaces().attic().podSecurity().enforce());
        assertEquals("attic-pg-app-credentials", dev.cnpg().appSecret()); // the bootstrap secret: CNPG writes no attic-pg-app for it
    }

    @Test
    void prodMirrorsDevWithProductionSizes() {
        EnvConfig.Env dev = EnvConfig.load("dev", null);
        EnvConfig.Env prod = EnvConfig.load("prod", null);
        assertTrue(prod.planned() && prod.production() && !dev.planned() && !dev.production());
        assertEquals(dev.runners().stream().map(EnvConfig.Runner::type).toList(), prod.runners().stream().map(EnvConfig.Runner::type).toList());
        assertEquals(dev.namespaces().runners().name(), prod.namespaces().runners().name());
        assertEquals(1, dev.cnpg().instances());
        assertEquals(3, prod.cnpg().instances());
        assertEquals("10Gi", prod.cnpg().storage());
        for (int i = 0; i < dev.runners().size(); i++) {
            assertTrue(prod.runners().get(i).autoscaling().maxReplicas() >= dev.runners().get(i).autoscaling().maxReplicas(),
                    "prod scales at least as far as dev: " + prod.runners().get(i).type());
        }
    }

    @Test
    void notAPositiveInteger() throws IOException {
        String bad = EnvFile.dev().set("runners[1].concurrent", "-3").text(); // dind
        int line = lineOf(bad, "concurrent: -3", 0);
        assertOneError(validate(bad), "dev.yaml:" + line + ":17 runners[1].concurrent: must be a positive integer");
    }

    @Test
    void aBackupRetentionTheObjectStoreWouldRefuseIsRefusedHere() throws IOException {
        // plugin-barman-cloud 0.7.0's ObjectStore CRD: retentionPolicy ^[1-9][0-9]*[dwm]$ ("0d" would be refused at apply time).
        String bad = EnvFile.dev().add("cache.database", "backup", "{destinationPath: \"s3://b/dev\", credentialsSecret: c, retentionPolicy: 0d}").text();
        var r = validate(bad);
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertTrue(r.err().contains("cache.database.backup.retentionPolicy: ") && r.err().contains("a retention like 30d"), r.err());
    }

    @Test
    void wrongType() throws IOException {
        String bad = EnvFile.dev().set("cnpg.instances", "[1, 2]").text();
        int line = lineOf(bad, "instances: [1, 2]", 0);
        assertOneError(validate(bad), "dev.yaml:" + line + ":14 cnpg.instances: must be a single value");
    }

    @Test
    void theOperatorsNamespaceIsOneFieldAndTheOldOneSaysWhereToMoveIt() throws IOException {
        String old = EnvFile.dev().add("cache.operator", "namespace", "cnpg-operators").text();
        int line = lineOf(old, "namespace: cnpg-operators", 0);
        assertOneError(validate(old), "dev.yaml:" + line + ":16 cache.operator.namespace: the operator's namespace is one field now, cnpg.operatorNamespace"
                + " (where --install-operator installs it, the Attic namespace's network policy lets it in, health and deployer-rbac look for it):"
                + " move the value there and delete this line");
        assertEquals("cnpg-operators", EnvConfig.load("dev", writeDev(EnvFile.dev().set("cnpg.operatorNamespace", "cnpg-operators").text())).cnpg().operatorNamespace());
    }

    static String writeDev(String text) throws IOException {
        Path dir = TestSupport.tempDir("env");
        Files.writeString(dir.resolve("dev.yaml"), text);
        return dir.toString();
    }

    @Test
    void unknownField() throws IOException {
        String bad = EnvFile.dev().add("cnpg", "storrage", "6Gi").text();
        int line = lineOf(bad, "storrage", 0);
        assertOneError(validate(bad), "dev.yaml:" + line + ":3 cnpg.storrage: unknown field; expected one of");
    }

    @Test
    void invalidDnsName() throws IOException {
        String bad = EnvFile.dev().set("namespaces.runners.name", "GitLab_Runners").text();
        int line = lineOf(bad, "GitLab_Runners", 0);
        assertOneError(validate(bad), "dev.yaml:" + line + ":11 namespaces.runners.name: 'GitLab_Runners' is not a valid DNS-1123 label");
    }

    @Test
    void malformedYaml() throws IOException {
        String bad = EnvFile.dev().set("runners[0].tags", "[docker, linux, amd64").text();
        var r = validate(bad);
        assertEquals(ExitCode.CONFIG, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().matches("(?s)error: \\S*dev\\.yaml:\\d+:\\d+ YAML syntax error: .*\n"), r.err());
    }

    @Test
    void missingRequiredField() throws IOException {
        String bad = EnvFile.dev().remove("cnpg.database").text();
        assertOneError(validate(bad), "cnpg.database: is required");
    }

    @Test
    void badQuantityAndPercentAreReportedTogether() throws IOException {
        String bad = EnvFile.dev().set("cnpg.storage", "5 gigs").set("runners[0].autoscaling.cpu", "170").text();
        var r = validate(bad);
        assertEquals(ExitCode.CONFIG, r.exit());
        List<String> lines = r.err().lines().toList();
        assertEquals(2, lines.size(), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("cnpg.storage: '5 gigs' is not a Kubernetes quantity")), r.err());
        assertTrue(lines.stream().anyMatch(l -> l.contains("runners[0].autoscaling.cpu: must be a percentage")), r.err());
    }

    @Test
    void duplicateKeyAndUnknownPlaceholder() throws IOException {
        var dup = validate(EnvFile.dev().add("cnpg", "owner", "other").text());
        assertEquals(ExitCode.CONFIG, dup.exit());
        assertTrue(dup.err().contains("cnpg.owner"), dup.err());
        assertTrue(dup.err().toLowerCase().contains("duplicate"), dup.err());

        String bad = EnvFile.dev().set("namespaces.attic.name", "attic-cache-{env}").text();
        assertOneError(validate(bad), "namespaces.attic.name: unknown placeholder {env}");
    }

    @Test
    void unknownEnvironmentNamesTheKnownOnes() {
        var r = TestSupport.inProcess(new gfw(), "validate", "staging");
        assertEquals(ExitCode.CONFIG, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("unknown environment 'staging'") && r.err().contains("known: dev, prod"), r.err());
    }

    @Test
    void emptyFile() throws IOException {
        var r = validate("");
        assertEquals(ExitCode.CONFIG, r.exit());
        assertTrue(r.err().contains("dev.yaml is empty"), r.err());
    }
}
