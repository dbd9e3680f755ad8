import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The layering of lib/ as lib/README.md writes it down: every //SOURCES line in lib/, scripts/ and
 * bench/ goes to the same tier or a lower one, no files source each other round about, and a file
 * listed is used by the file listing it (one of its types appears outside comments and strings).
 * The checks are shown to fail on a copy of the repository with an upward edge, a cycle and an
 * unused file put back in.
 */
class LayeringTest {

    static final Pattern TIER_LINE = Pattern.compile("(?m)^(\\d+)\\. ([^:\\n]+): (.+)$");
    static final Pattern SOURCES = Pattern.compile("(?m)^//SOURCES\\s+(\\S+)");
    static final Pattern TYPE = Pattern.compile(
            "(?m)^(?:(?:public|final|abstract|sealed|non-sealed|static|strictfp)\\s+)*(?:class|interface|record|enum|@interface)\\s+([A-Za-z_$][\\w$]*)");

    /** Tier number and name of each lib file (by type name), from lib/README.md. */
    record Tier(int rank, String name) {}

    static Map<String, Tier> tiers(Path repo) throws IOException {
        var out = new LinkedHashMap<String, Tier>();
        Matcher m = TIER_LINE.matcher(Files.readString(repo.resolve("lib/README.md")));
        while (m.find()) {
            var tier = new Tier(Integer.parseInt(m.group(1)), m.group(2).trim());
            for (String f : m.group(3).split(",")) out.put(f.trim(), tier);
        }
        return out;
    }

    /** Every problem of the layering of {@code repo}; empty when it is sound. */
    static List<String> problems(Path repo) throws IOException {
        Map<String, Tier> tiers = tiers(repo);
        var problems = new ArrayList<String>();
        if (tiers.isEmpty()) problems.add("lib/README.md lists no tiers (lines like '1. foundations: ExitCode, GfwException')");
        int top = tiers.values().stream().mapToInt(Tier::rank).max().orElse(0);
        var files = new ArrayList<Path>();
        for (String dir : List.of("lib", "scripts", "bench")) {
            try (var s = Files.list(repo.resolve(dir))) {
                s.filter(p -> p.toString().endsWith(".java")).sorted().forEach(files::add);
            }
        }
        for (String name : tiers.keySet()) {
            if (!Files.isRegularFile(repo.resolve("lib/" + name + ".java"))) problems.add("lib/README.md names " + name + ", but there is no lib/" + name + ".java");
        }
        Map<Path, Set<Path>> graph = new TreeMap<>();
        for (Path file : files) {
            Tier from = tierOf(repo, file, tiers, top);
            if (from == null) {
                problems.add(rel(repo, file) + " is in no tier of lib/README.md");
                continue;
            }
            String code = null;
            Matcher m = SOURCES.matcher(Files.readString(file));
            while (m.find()) {
                for (Path target : resolve(file, m.group(1))) {
                    if (!Files.isRegularFile(target)) {
                        problems.add(rel(repo, file) + " lists " + m.group(1) + ", which does not exist");
                        continue;
                    }
                    graph.computeIfAbsent(file, k -> new LinkedHashSet<>()).add(target);
                    Tier to = tierOf(repo, target, tiers, top);
                    if (to != null && to.rank() > from.rank()) {
                        problems.add(rel(repo, file) + " -> " + rel(repo, target) + ": an edge to a higher tier (" + from.name() + " -> " + to.name() + ")");
                    }
                    List<String> types = declaredTypes(Files.readString(target));
                    if (code == null) code = code(Files.readString(file));
                    String c = code;
                    if (!types.isEmpty() && types.stream().noneMatch(t -> Pattern.compile("\\b" + Pattern.quote(t) + "\\b").matcher(c).find())) {
                        problems.add(rel(repo, file) + " lists " + rel(repo, target) + " but uses none of its types (" + String.join(", ", types) + ")");
                    }
                }
            }
        }
        for (List<Path> cycle : cycles(graph)) {
            problems.add("a cycle: " + String.join(" -> ", cycle.stream().map(p -> rel(repo, p)).toList()));
        }
        return problems;
    }

    /** lib files by lib/README.md; scripts above every lib tier, tests and bench above the scripts. */
    static Tier tierOf(Path repo, Path file, Map<String, Tier> tiers, int top) {
        Path r = repo.relativize(file.toAbsolutePath().normalize());
        String name = r.getFileName().toString().replaceFirst("\\.java$", "");
        return switch (r.getName(0).toString()) {
            case "lib" -> tiers.get(name);
            case "scripts" -> new Tier(top + 1, "scripts");
            case "tests" -> new Tier(top + 2, "tests");
            case "bench" -> new Tier(top + 3, "bench");
            default -> null;
        };
    }

    static List<Path> resolve(Path file, String spec) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (!spec.contains("*")) return List.of(dir.resolve(spec).normalize());
        Path base = dir.resolve(spec).getParent().normalize();
        var matcher = FileSystems.getDefault().getPathMatcher("glob:" + Path.of(spec).getFileName());
        try (var s = Files.list(base)) {
            return s.filter(p -> matcher.matches(p.getFileName())).sorted().toList();
        }
    }

    static List<String> declaredTypes(String source) {
        var out = new ArrayList<String>();
        Matcher m = TYPE.matcher(source);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    /** The source without comments, string and character literals: what is left is code. */
    static String code(String s) {
        var out = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            if (s.startsWith("//", i)) {
                while (i < s.length() && s.charAt(i) != '\n') i++;
            } else if (s.startsWith("/*", i)) {
                int end = s.indexOf("*/", i + 2);
                i = end < 0 ? s.length() : end + 2;
            } else if (s.startsWith("\"\"\"", i)) {
                int end = s.indexOf("\"\"\"", i + 3);
                while (end > 0 && s.charAt(end - 1) == '\\') end = s.indexOf("\"\"\"", end + 1);
                i = end < 0 ? s.length() : end + 3;
                out.append("\"\"");
            } else if (s.charAt(i) == '"' || s.charAt(i) == '\'') {
                char q = s.charAt(i++);
                while (i < s.length() && s.charAt(i) != q && s.charAt(i) != '\n') i += s.charAt(i) == '\\' ? 2 : 1;
                i++;
                out.append(q).append(q);
            } else {
                out.append(s.charAt(i++));
            }
        }
        return out.toString();
    }

    /** Each cycle found by a depth-first walk, as the path that closes it. */
    static List<List<Path>> cycles(Map<Path, Set<Path>> graph) {
        var found = new ArrayList<List<Path>>();
        var done = new LinkedHashSet<Path>();
        for (Path start : graph.keySet()) walk(start, graph, new ArrayList<>(), done, found);
        return found;
    }

    private static void walk(Path node, Map<Path, Set<Path>> graph, List<Path> path, Set<Path> done, List<List<Path>> found) {
        int at = path.indexOf(node);
        if (at >= 0) {
            var cycle = new ArrayList<>(path.subList(at, path.size()));
            cycle.add(node);
            found.add(cycle);
            return;
        }
        if (done.contains(node)) return;
        path.add(node);
        for (Path next : graph.getOrDefault(node, Set.of())) walk(next, graph, path, done, found);
        path.remove(path.size() - 1);
        done.add(node);
    }

    static String rel(Path repo, Path p) {
        return repo.relativize(p.toAbsolutePath().normalize()).toString();
    }

    // ---- the tests --------------------------------------------------------------------------------

    @Test
    void everySourcesLineGoesDownUsedAndWithoutCycles() throws IOException {
        assertEquals(List.of(), problems(TestSupport.repo()));
    }

    @Test
    void everyLibFileIsInOneTier() throws IOException {
        Map<String, Tier> tiers = tiers(TestSupport.repo());
        try (var s = Files.list(TestSupport.repo().resolve("lib"))) {
            for (Path p : s.filter(f -> f.toString().endsWith(".java")).toList()) {
                String name = p.getFileName().toString().replace(".java", "");
                assertTrue(tiers.containsKey(name), "lib/" + name + ".java is in no tier of lib/README.md");
            }
        }
        assertEquals(new Tier(1, "foundations"), tiers.get("ExitCode"));
        assertEquals(new Tier(5, "the command line"), tiers.get("Cli"));
    }

    /** A copy of lib/, scripts/ and bench/ (and the tests/support files bench names) to break on purpose. */
    static Path copyOfRepository() throws IOException {
        Path repo = TestSupport.repo();
        Path copy = TestSupport.tempDir("layering");
        for (String dir : List.of("lib", "scripts", "bench", "tests/support")) {
            Files.createDirectories(copy.resolve(dir));
            try (var s = Files.list(repo.resolve(dir))) {
                for (Path p : s.filter(Files::isRegularFile).toList()) Files.copy(p, copy.resolve(dir).resolve(p.getFileName()));
            }
        }
        return copy;
    }

    static void addSourcesLine(Path file, String line, String use) throws IOException {
        String text = Files.readString(file);
        int at = text.indexOf("//SOURCES");
        Files.writeString(file, text.substring(0, at) + line + "\n" + text.substring(at) + "\nfinal class Probe" + Math.abs(use.hashCode()) + " { static void f() { " + use + " } }\n");
    }

    @Test
    void wouldFailOnAReintroducedUpwardEdge() throws IOException {
        Path copy = copyOfRepository();
        assertEquals(List.of(), problems(copy), "the copy is as sound as the repository");
        // What this issue removed: ServerSideApply sourcing Cli for one helper.
        addSourcesLine(copy.resolve("lib/ServerSideApply.java"), "//SOURCES Cli.java", "Cli.info(\"x\");");
        assertEquals(List.of("lib/ServerSideApply.java -> lib/Cli.java: an edge to a higher tier (engines -> the command line)"), problems(copy));
    }

    @Test
    void wouldFailOnACycleAndOnAListedFileNeverUsed() throws IOException {
        Path copy = copyOfRepository();
        addSourcesLine(copy.resolve("lib/Http.java"), "//SOURCES KubeconfigFile.java", "KubeconfigFile.class.getName();");
        addSourcesLine(copy.resolve("lib/KubeconfigFile.java"), "//SOURCES Http.java", "Http.class.getName();");
        List<String> cycle = problems(copy);
        assertEquals(1, cycle.size(), cycle.toString());
        assertTrue(cycle.get(0).startsWith("a cycle: ") && cycle.get(0).contains("lib/Http.java") && cycle.get(0).contains("lib/KubeconfigFile.java"), cycle.toString());

        Path again = copyOfRepository();
        // What this issue removed too: gfw.java listing ServerSideApply without using it (a mention in a comment or string does not count).
        String gfw = Files.readString(again.resolve("scripts/gfw.java"));
        Files.writeString(again.resolve("scripts/gfw.java"), gfw.replaceFirst("//SOURCES", "//SOURCES ../lib/ServerSideApply.java\n//SOURCES")
                + "\n// ServerSideApply\nclass Mention { String s = \"ServerSideApply\"; }\n");
        assertEquals(List.of("scripts/gfw.java lists lib/ServerSideApply.java but uses none of its types (ServerSideApply)"), problems(again));
    }

    @Test
    void codeIsWhatIsLeftWithoutCommentsAndStrings() {
        assertEquals("a  b \"\" c '' d \"\" e ", code("a /* X */ b \"X \\\" X\" c 'X' d \"\"\"\nX\n\"\"\" e // X"));
    }
}
