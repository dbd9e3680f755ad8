import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * logs, events and report as a user runs them (processes through ./jbang) against one deployed test environment
 * ({@link HealthFixtures}: namespaces, database, Attic, dashboard, docker and nix runners): log lines of several pods
 * merged by time with their pod/container prefix, values of the environment's Secrets masked in logs, events and the
 * whole report bundle; events oldest first, narrowed by component and to warnings.
 */
class ObserveTest {

    /** A value seeded into a Secret of the environment: it must not show anywhere. */
    static final String SEEDED = "seeded-s3cr3t-" + TestCluster.randomHex(8);

    static HealthFixtures f;

    @BeforeAll
    static void deploy() {
        f = new HealthFixtures().deploy();
        f.client().resource(new SecretBuilder().withNewMetadata().withName("seeded").withNamespace(f.atticNs).endMetadata()
                .addToStringData("password", SEEDED).addToStringData("username", "attic").build()).create();
    }

    @AfterAll
    static void close() {
        if (f != null) f.close();
    }

    static TestSupport.Result run(String script, String... args) {
        var argv = new ArrayList<>(List.of(args));
        argv.addAll(List.of("--env-dir", f.envDir.toString(), "--kubeconfig", f.api.kubeconfig().toString(), "--context", f.api.context()));
        return TestSupport.script(script, argv.toArray(String[]::new)).run();
    }

    static Pod pod(String ns, String label, String value) {
        return f.client().pods().inNamespace(ns).withLabel(label, value).list().getItems().stream()
                .filter(p -> p.getMetadata().getDeletionTimestamp() == null).findFirst().orElseThrow(() -> new AssertionError("no pod " + label + "=" + value + " in " + ns));
    }

    @Test
    void mergeOrdersByTimeThenSourceThenLine() {
        var a = new PodLogs.Source("ns", "a-pod", "c");
        var b = new PodLogs.Source("ns", "b-pod", "c");
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        var lines = List.of(new PodLogs.Line(t.plusSeconds(2), a, 0, "a-late"), new PodLogs.Line(t, b, 0, "b-early"),
                new PodLogs.Line(t.plusSeconds(2), b, 1, "b-late"), new PodLogs.Line(null, b, 2, "b-no-time"), new PodLogs.Line(t.plusSeconds(1), a, 1, "a-mid"));
        var merged = PodLogs.merge(lines, List.of(a, b)).stream().map(l -> l.render(false)).toList();
        // a line without a time stays after its source's previous one; equal times: the source order
        assertEquals(List.of("b-pod/c b-early", "a-pod/c a-mid", "a-pod/c a-late", "b-pod/c b-late", "b-pod/c b-no-time"), merged);
        var parsed = PodLogs.parse(a, 0, "2026-01-01T00:00:01.123456789Z hello " + SEEDED, SecretValues.of(List.of(SEEDED)));
        assertEquals(Instant.parse("2026-01-01T00:00:01.123456789Z"), parsed.time());
        assertEquals("hello " + Output.MASK, parsed.text());
    }

    @Test
    void logsOfEveryPodMergedByTimePrefixedAndMasked() throws Exception {
        Pod docker = pod(f.runnerNs, "app", "gitlab-runner-docker");
        Pod nix = pod(f.runnerNs, "app", "gitlab-runner-nix");
        // The nix pod's line is older, though its pod sorts after docker's: only a merge by time puts it first.
        f.api.podLog(f.runnerNs, nix.getMetadata().getName(), "nix starts\n");
        Thread.sleep(50);
        f.api.podLog(f.runnerNs, docker.getMetadata().getName(), "docker one token=" + SEEDED + "\ndocker two\n");
        String dockerPrefix = docker.getMetadata().getName() + "/" + docker.getSpec().getContainers().get(0).getName();
        String nixPrefix = nix.getMetadata().getName() + "/" + nix.getSpec().getContainers().get(0).getName();

        var r = run("logs", "dev", "runners");
        assertEquals(0, r.exit(), r.toString());
        assertEquals(List.of(nixPrefix + " nix starts", dockerPrefix + " docker one token=" + Output.MASK, dockerPrefix + " docker two"),
                r.out().lines().toList(), r.toString());
        assertFalse(r.out().contains(SEEDED) || r.err().contains(SEEDED));

        // One type only, the last line, with its timestamp.
        var one = run("logs", "dev", "runners", "docker", "--tail", "1", "--timestamps");
        assertEquals(0, one.exit(), one.toString());
        assertEquals(1, one.out().lines().count(), one.out());
        assertTrue(one.out().matches(java.util.regex.Pattern.quote(dockerPrefix) + " \\d{4}-\\d\\d-\\d\\dT[^ ]+Z docker two\n"), one.out());

        // The database component is the CloudNativePG instance pods.
        f.api.podLog(f.atticNs, "attic-pg-1", "database system is ready to accept connections\n");
        var db = run("logs", "dev", "database", "--since", "1h");
        assertEquals(0, db.exit(), db.toString());
        assertTrue(db.out().startsWith("attic-pg-1/"), db.out());

        // Bad input: one line, exit 64, before any request.
        var bad = run("logs", "dev", "runners", "nosuchtype");
        assertEquals(ExitCode.USAGE, bad.exit(), bad.toString());
        var typeWithoutRunners = run("logs", "dev", "attic", "docker");
        assertEquals(ExitCode.USAGE, typeWithoutRunners.exit(), typeWithoutRunners.toString());
        assertTrue(typeWithoutRunners.err().contains("only go with the component runners"), typeWithoutRunners.err());
    }

    static void event(String ns, String name, String kind, String object, String type, String reason, String message, Instant last, int count) {
        f.client().v1().events().inNamespace(ns).resource(new EventBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewInvolvedObject().withKind(kind).withName(object).withNamespace(ns).endInvolvedObject()
                .withType(type).withReason(reason).withMessage(message).withCount(count)
                .withFirstTimestamp(last.minusSeconds(60).toString()).withLastTimestamp(last.toString()).build()).create();
    }

    @Test
    void eventsOldestFirstNarrowedAndMasked() {
        Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        event(f.runnerNs, "ev-new", "Pod", "gitlab-runner-docker-x", "Warning", "BackOff", "Back-off restarting failed container", now.minusSeconds(10), 7);
        event(f.atticNs, "ev-old", "Pod", "attic-pg-1", "Normal", "Pulled", "pulled with " + SEEDED, now.minusSeconds(3000), 1);
        event(f.atticNs, "ev-mid", "Deployment", "attic", "Warning", "FailedCreate", "quota exceeded", now.minusSeconds(2000), 2);

        var all = run("events", "dev", "-o", "json");
        assertEquals(0, all.exit(), all.toString());
        assertFalse(all.out().contains(SEEDED), all.out());
        List<String> ours = new ArrayList<>();
        for (var n : readJson(all.out())) {
            String reason = n.path("reason").asText();
            if (List.of("BackOff", "Pulled", "FailedCreate").contains(reason)) ours.add(reason + " " + n.path("object").asText() + " " + n.path("count").asInt());
            if (reason.equals("Pulled")) assertEquals("pulled with " + Output.MASK, n.path("message").asText());
        }
        assertEquals(List.of("Pulled pod/attic-pg-1 1", "FailedCreate deployment/attic 2", "BackOff pod/gitlab-runner-docker-x 7"), ours, all.out());

        var warnings = run("events", "dev", "--warnings");
        assertEquals(0, warnings.exit(), warnings.toString());
        assertTrue(warnings.out().contains("BackOff") && warnings.out().contains("FailedCreate") && !warnings.out().contains("Pulled"), warnings.out());
        assertTrue(warnings.out().lines().findFirst().orElse("").matches("LAST SEEN +NAMESPACE +TYPE +REASON +OBJECT +COUNT +MESSAGE"), warnings.out());

        var database = run("events", "dev", "database");
        assertTrue(database.out().contains("Pulled") && !database.out().contains("FailedCreate") && !database.out().contains("BackOff"), database.out());
    }

    static List<com.fasterxml.jackson.databind.JsonNode> readJson(String text) {
        try {
            var out = new ArrayList<com.fasterxml.jackson.databind.JsonNode>();
            new com.fasterxml.jackson.databind.ObjectMapper().readTree(text).forEach(out::add);
            return out;
        } catch (java.io.IOException e) {
            throw new AssertionError(text, e);
        }
    }

    @Test
    void reportBundleHoldsEverythingAndNoSecret() throws Exception {
        // The seeded value everywhere it could leak from: a log line, an event, a ConfigMap, an annotation.
        Pod attic = pod(f.atticNs, "app.kubernetes.io/name", "attic");
        f.api.podLog(f.atticNs, attic.getMetadata().getName(), "connecting with password " + SEEDED + "\n");
        event(f.atticNs, "ev-report", "Pod", attic.getMetadata().getName(), "Warning", "Leaky", "env " + SEEDED, Instant.now(), 1);
        f.client().resource(new ConfigMapBuilder().withNewMetadata().withName("leaky").withNamespace(f.dashboardNs)
                .addToAnnotations("note", "copy of " + SEEDED).endMetadata().addToData("conf", "password=" + SEEDED).build()).create();

        // Every secret value the environment holds: the seeded one, the signing key, runner tokens, the dashboard's.
        var secretValues = new ArrayList<String>();
        for (String ns : List.of(f.atticNs, f.runnerNs, f.dashboardNs)) {
            for (var s : f.client().secrets().inNamespace(ns).list().getItems()) {
                if ("helm.sh/release.v1".equals(s.getType())) continue;
                KubeClients.secretData(s, s.getMetadata().getName()).forEach((k, v) -> {
                    if (v.length() >= SecretValues.MIN_LENGTH && !SecretValues.NOT_SECRET.contains(k)) secretValues.add(v);
                });
            }
        }
        assertTrue(secretValues.contains(SEEDED) && secretValues.contains(f.platform.signingKey), "the seeded values are there to find");
        assertTrue(secretValues.stream().anyMatch(v -> v.contains("glrt-")), "a runner token is there to find: " + secretValues.size());

        Path dir = TestSupport.tempDir("report");
        Path file = dir.resolve("incident.tar.gz");
        var r = run("report", "dev", "-o", file.toString());
        assertEquals(0, r.exit(), r.toString());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        List<String> listed = r.out().lines().map(l -> l.split("\t")[0]).toList();
        for (String want : List.of("health.json", "versions.json", "events.txt", "environment/dev.yaml", "errors.txt",
                "objects/" + f.atticNs + "/secret-seeded.yaml", "objects/" + f.dashboardNs + "/configmap-leaky.yaml",
                "objects/" + f.atticNs + "/cluster-attic-pg.yaml", "objects/" + f.runnerNs + "/namespace-" + f.runnerNs + ".yaml",
                "helm/gitlab-runner-docker.json", "logs/" + f.atticNs + "/" + attic.getMetadata().getName() + "/" + attic.getSpec().getContainers().get(0).getName() + ".log")) {
            assertTrue(listed.contains(want), want + " in " + listed);
        }
        assertTrue(r.err().contains("wrote " + file), r.err());

        // The system's tar reads it; nothing in it holds a secret value (nor its base64 form).
        Path out = dir.resolve("x");
        Files.createDirectories(out);
        var tar = TestSupport.command("tar", "-xzf", file.toString(), "-C", out.toString()).run();
        assertEquals(0, tar.exit(), tar.toString());
        List<Path> files;
        try (Stream<Path> s = Files.walk(out)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        assertEquals(listed.size(), files.size(), files.toString());
        for (Path p : files) {
            String text = Files.readString(p);
            for (String v : secretValues) {
                assertFalse(text.contains(v), out.relativize(p) + " holds a secret value");
                assertFalse(text.contains(java.util.Base64.getEncoder().encodeToString(v.getBytes())), out.relativize(p) + " holds a secret value in base64");
            }
        }
        String secretYaml = Files.readString(out.resolve("objects/" + f.atticNs + "/secret-seeded.yaml"));
        assertTrue(secretYaml.contains("password: '" + Output.MASK + "'") || secretYaml.contains("password: \"" + Output.MASK + "\""), secretYaml);
        String log = Files.readString(out.resolve("logs/" + f.atticNs + "/" + attic.getMetadata().getName() + "/" + attic.getSpec().getContainers().get(0).getName() + ".log"));
        assertTrue(log.contains("connecting with password " + Output.MASK), log);
        String health = Files.readString(out.resolve("health.json"));
        assertTrue(health.contains("\"environment\"") || health.contains("checks"), health);
        assertTrue(Files.readString(out.resolve("versions.json")).contains("\"gfw\""));

        // An existing file is not replaced without --force.
        var again = run("report", "dev", "-o", file.toString());
        assertEquals(ExitCode.REFUSED, again.exit(), again.toString());
    }
}
