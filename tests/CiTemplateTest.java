import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The includable pipeline .gitlab/ci/gfw.gitlab-ci.yml: its spec header and jobs as GitLab reads them,
 * and every gfw command line in it run with --help (an unknown subcommand or flag fails), so the
 * template cannot drift from the scripts.
 */
class CiTemplateTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** The two YAML documents: the spec header, then the pipeline with the inputs given. */
    static List<JsonNode> documents(Map<String, String> inputs) throws Exception {
        String text = Files.readString(TestSupport.repo().resolve(".gitlab/ci/gfw.gitlab-ci.yml"));
        for (var e : inputs.entrySet()) text = text.replace("$[[ inputs." + e.getKey() + " ]]", e.getValue());
        assertTrue(!text.contains("$[[ inputs."), "an input without a value: " + text.lines().filter(l -> l.contains("$[[")).toList());
        var docs = new ArrayList<JsonNode>();
        try (var it = YAML.readerFor(JsonNode.class).readValues(text)) {
            while (it.hasNext()) docs.add((JsonNode) it.next());
        }
        return docs;
    }

    static Map<String, String> inputs(String env, String yes) {
        return Map.of("environment", env, "gfw", "gfw", "image", "img", "yes", yes, "stage_plan", "plan", "stage_apply", "apply", "stage_report", "report");
    }

    /** The subcommand the words name parses them (every flag and value known), without running anything. */
    static void parses(List<String> words) throws Exception {
        Class<?> command = gfw.SUBCOMMANDS.stream().filter(c -> c.getAnnotation(picocli.CommandLine.Command.class).name().equals(words.get(0)))
                .findFirst().orElseThrow(() -> new AssertionError("no gfw subcommand " + words.get(0)));
        var cl = new picocli.CommandLine(command.getDeclaredConstructor().newInstance());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.parseArgs(words.subList(1, words.size()).toArray(String[]::new));
    }

    @Test
    void specNamesEveryInputTheJobsUseAndTheJobsArePlanManualApplyAndScheduledDrift() throws Exception {
        List<JsonNode> docs = documents(inputs("dev", ""));
        assertEquals(2, docs.size());
        JsonNode spec = docs.get(0).path("spec").path("inputs");
        for (String input : List.of("environment", "gfw", "image", "yes", "stage_plan", "stage_apply", "stage_report")) assertTrue(spec.has(input), input);
        assertTrue(spec.path("environment").path("default").isMissingNode(), "the environment has no default: every include names one");

        JsonNode p = docs.get(1);
        assertEquals(List.of("plan", "apply", "report"), List.of(p.path("stages").get(0).asText(), p.path("stages").get(1).asText(), p.path("stages").get(2).asText()));
        JsonNode plan = p.path("gfw-plan-dev");
        JsonNode apply = p.path("gfw-apply-dev");
        JsonNode drift = p.path("gfw-drift-dev");
        assertEquals("manual", apply.path("rules").get(0).path("when").asText(), "apply is manual");
        assertTrue(apply.path("rules").get(0).path("if").asText().contains("CI_DEFAULT_BRANCH"), "apply only on the default branch");
        assertEquals("$CI_PIPELINE_SOURCE == \"schedule\"", drift.path("rules").get(0).path("if").asText(), "drift runs on schedules");
        assertTrue(plan.path("script").toString().contains("--dry-run=server") && drift.path("script").toString().contains("--diff"));
        assertEquals("gfw-dev", p.path(".gfw-dev").path("resource_group").asText(), "one change per environment at a time");
        for (JsonNode job : List.of(plan, apply, drift)) assertEquals(".gfw-dev", job.path("extends").asText());
        // Parallel jobs on one runner must not build gfw into one JBang cache (jbangdev/jbang#2445):
        // each job's own directory holds its JBang cache.
        assertEquals("$CI_PROJECT_DIR/.jbang-cache", p.path(".gfw-dev").path("variables").path("JBANG_CACHE_DIR").asText(),
                "a JBang cache per job");

        // When an earlier job failed: the incident bundle, kept as an artifact only developers and up can download.
        JsonNode report = p.path("gfw-report-dev");
        assertEquals(".gfw-dev", report.path("extends").asText());
        assertEquals("report", report.path("stage").asText());
        assertEquals("on_failure", report.path("rules").get(0).path("when").asText());
        assertTrue(report.path("script").get(0).asText().matches("gfw report dev -o gfw-report-dev\\.tar\\.gz"), report.toString());
        assertEquals("gfw-report-dev.tar.gz", report.path("artifacts").path("paths").get(0).asText());
        assertEquals("developer", report.path("artifacts").path("access").asText());
        assertEquals("always", report.path("artifacts").path("when").asText());
    }

    @Test
    void everyGfwCommandLineInItAnswersHelp() throws Exception {
        int lines = 0;
        for (String yes : List.of("", "--yes")) {
            JsonNode p = documents(inputs("dev", yes)).get(1);
            for (var it = p.fields(); it.hasNext(); ) {
                var job = it.next();
                for (JsonNode line : job.getValue().path("script")) {
                    List<String> words = new ArrayList<>(Arrays.asList(line.asText().trim().split("\\s+")));
                    assertEquals("gfw", words.remove(0), job.getKey() + ": every script line is a gfw command: " + line);
                    parses(words);
                    words.add("--help");
                    var r = TestSupport.inProcess(new gfw(), words.toArray(String[]::new));
                    assertEquals(0, r.exit(), job.getKey() + ": " + line + "\n" + r);
                    assertTrue(r.out().startsWith("Usage: gfw " + words.get(0)), r.out());
                    lines++;
                }
            }
        }
        assertEquals(10, lines, "plan (2 lines), apply, drift, report, for both inputs of yes");
        // The check can fail: picocli answers --help whatever else is given, but the parse does not take a flag a script lacks.
        org.junit.jupiter.api.Assertions.assertThrows(picocli.CommandLine.UnmatchedArgumentException.class,
                () -> parses(new ArrayList<>(List.of("up", "dev", "--no-such-flag"))));
    }
}
