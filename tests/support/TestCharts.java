import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Which gitlab-runner chart the tests render and install: the REAL chart GitLab publishes when
 * {@code GFW_TEST_CHARTS} names a folder holding it ({@code .ci/run} sets it to {@code ../shared/charts} beside
 * the checkout when that folder exists; see its README.md), else the project's fixture
 * ({@code tests/fixtures/gitlab-runner}), which reads only keys the real chart reads.
 */
final class TestCharts {
    static final String ENV = "GFW_TEST_CHARTS";
    static final Path FIXTURE = TestSupport.repo().resolve("tests/fixtures/gitlab-runner");

    /** The folder of real charts, or null when GFW_TEST_CHARTS is unset or names no folder. */
    static Path folder() {
        String dir = System.getenv(ENV);
        if (dir == null || dir.isBlank()) return null;
        Path p = Path.of(dir);
        return Files.isDirectory(p) ? p : null;
    }

    /** The real gitlab-runner chart at this version ({@code gitlab-runner-<version>.tgz}), or null. */
    static Path realRunnerChart(String version) {
        Path dir = folder();
        if (dir == null) return null;
        Path tgz = dir.resolve("gitlab-runner-" + version + ".tgz");
        return Files.isRegularFile(tgz) ? tgz : null;
    }

    /** Every real gitlab-runner chart in the folder (oldest first), none without GFW_TEST_CHARTS. */
    static List<Path> realRunnerCharts() {
        Path dir = folder();
        if (dir == null) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("gitlab-runner-[0-9][0-9.]*\\.tgz"))
                    .sorted(java.util.Comparator.comparing(p -> versionKey(p.getFileName().toString()))).toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + dir + ": " + e, e);
        }
    }

    /** The chart the deploy tests use: the real one at the version environments/dev.yaml pins, else the fixture. */
    static Path runnerChart() {
        Path real = realRunnerChart(RunnerFixtures.dev().runnerChart().version());
        return real != null ? real : FIXTURE;
    }

    static boolean isReal(Path chart) {
        return !chart.equals(FIXTURE);
    }

    private static String versionKey(String file) {
        var sb = new StringBuilder();
        for (String part : file.replaceAll("^gitlab-runner-|\\.tgz$", "").split("\\.")) sb.append(String.format("%08d", Integer.parseInt(part)));
        return sb.toString();
    }

    private TestCharts() {}
}
