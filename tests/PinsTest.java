import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * One version per Maven artifact across every //DEPS line of the repository (a bump that misses one
 * of the files pinning fabric8 would otherwise run two versions side by side), one version per group
 * (fabric8's modules, helm-java and its native jar belong together), and the README names the pinned
 * versions.
 */
class PinsTest {

    static final Pattern DEPS = Pattern.compile("(?m)^//DEPS\\s+([^:\\s]+):([^:\\s]+):([^:@\\s]+)\\S*");

    /** A //DEPS line: where, group, artifact, version. */
    record Pin(String where, String group, String artifact, String version) {}

    static List<Pin> pins(Path repo) throws IOException {
        var out = new ArrayList<Pin>();
        try (var walk = Files.walk(repo)) {
            for (Path p : walk.filter(f -> f.toString().endsWith(".java")).filter(f -> !repo.relativize(f).toString().startsWith(".")).sorted().toList()) {
                out.addAll(pins(repo.relativize(p).toString(), Files.readString(p)));
            }
        }
        return out;
    }

    static List<Pin> pins(String where, String source) {
        var out = new ArrayList<Pin>();
        Matcher m = DEPS.matcher(source);
        while (m.find()) out.add(new Pin(where, m.group(1), m.group(2), m.group(3)));
        return out;
    }

    /** One line per artifact (or group) pinned at more than one version, naming the files of each version. */
    static List<String> problems(List<Pin> pins) {
        var problems = new ArrayList<String>();
        Map<String, Map<String, TreeSet<String>>> byArtifact = new TreeMap<>();
        Map<String, Map<String, TreeSet<String>>> byGroup = new TreeMap<>();
        for (Pin p : pins) {
            byArtifact.computeIfAbsent(p.group() + ":" + p.artifact(), k -> new TreeMap<>()).computeIfAbsent(p.version(), k -> new TreeSet<>()).add(p.where());
            byGroup.computeIfAbsent(p.group(), k -> new TreeMap<>()).computeIfAbsent(p.version(), k -> new TreeSet<>()).add(p.where() + " (" + p.artifact() + ")");
        }
        byArtifact.forEach((a, versions) -> {
            if (versions.size() > 1) problems.add(a + " is pinned at " + versions.size() + " versions: " + describe(versions));
        });
        byGroup.forEach((g, versions) -> {
            boolean sameArtifactProblem = versions.size() > 1 && problems.stream().anyMatch(l -> l.startsWith(g + ":"));
            if (versions.size() > 1 && !sameArtifactProblem) problems.add("the artifacts of " + g + " are pinned at different versions: " + describe(versions));
        });
        return problems;
    }

    private static String describe(Map<String, TreeSet<String>> versions) {
        var parts = new ArrayList<String>();
        versions.forEach((v, files) -> parts.add(v + " in " + String.join(", ", files)));
        return String.join("; ", parts);
    }

    @Test
    void everyArtifactHasOneVersion() throws IOException {
        List<Pin> pins = pins(TestSupport.repo());
        assertTrue(pins.size() > 20, "found only " + pins.size() + " //DEPS lines");
        assertEquals(List.of(), problems(pins));
    }

    @Test
    void twoVersionsOfOneArtifactFail() {
        var pins = new ArrayList<Pin>();
        pins.addAll(pins("lib/kube/KubeClients.java", "//DEPS io.fabric8:kubernetes-client:7.4.0\n//DEPS io.fabric8:kubernetes-httpclient-vertx:7.4.0\n"));
        pins.addAll(pins("scripts/x.java", "//DEPS io.fabric8:kubernetes-client:7.3.1\n//DEPS info.picocli:picocli:4.7.7\n"));
        assertEquals(List.of("io.fabric8:kubernetes-client is pinned at 2 versions: 7.3.1 in scripts/x.java; 7.4.0 in lib/kube/KubeClients.java"), problems(pins));

        var family = pins("lib/kube/HelmReleases.java", "//DEPS com.marcnuri.helm-java:helm-java:0.0.21\n//DEPS com.marcnuri.helm-java:linux-amd64:0.0.20\n");
        assertEquals(List.of("the artifacts of com.marcnuri.helm-java are pinned at different versions: 0.0.20 in lib/kube/HelmReleases.java (linux-amd64); "
                + "0.0.21 in lib/kube/HelmReleases.java (helm-java)"), problems(family));
    }

    @Test
    void theReadmeNamesThePinnedVersions() throws IOException {
        Map<String, String> pinned = new TreeMap<>();
        for (Pin p : pins(TestSupport.repo())) pinned.put(p.group() + ":" + p.artifact(), p.version());
        Matcher m = Pattern.compile("`([\\w.-]+):([\\w.-]+):(\\d[\\w.-]*)`").matcher(Files.readString(TestSupport.repo().resolve("README.md")));
        int named = 0;
        while (m.find()) {
            String artifact = m.group(1) + ":" + m.group(2);
            if (!pinned.containsKey(artifact)) continue;
            named++;
            assertEquals(pinned.get(artifact), m.group(3), "README.md names " + m.group() + " but //DEPS pin " + pinned.get(artifact));
        }
        assertTrue(named > 0, "README.md names no pinned artifact (helm-java is)");
    }
}
