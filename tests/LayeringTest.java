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
 * The layering of lib/ as its folders and lib/README.md write it down: each lib file sits in one
 * domain folder (lib/FOLDER/File.java), each folder in one tier of lib/README.md; every //SOURCES
 * line in lib/, scripts/ and bench/ goes to the same folder or to a folder of a lower tier (never up,
 * never sideways to another folder of the same tier), no files source each other round about, and a
 * file listed is used by the file listing it (one of its types appears outside comments and strings).
 * The checks are shown to fail on a copy of the repository with an upward edge, a sideways edge, a
 * file outside the folders, a cycle and an unused file put back in.
 */
class LayeringTest {

    /** A tier line of lib/README.md: "3. kube/, gitlab/ — what they hold". */
    static final Pattern TIER_LINE = Pattern.compile("(?m)^(\\d+)\\. ((?:[a-z][a-z0-9-]*/(?:, )?)+) — (.+)$");
    static final Pattern SOURCES = Pattern.compile("(?m)^//SOURCES\\s+(\\S+)");
    static final Pattern TYPE = Pattern.compile(
            "(?m)^(?:(?:public|final|abstract|sealed|non-sealed|static|strictfp)\\s+)*(?:class|interface|record|enum|@interface)\\s+([A-Za-z_$][\\w$]*)");

    /** The tier of a folder: its rank and the folder's name (for lib/) or the top-level directory's. */
    record Tier(int rank, String name) {}

    /** The tier of each lib/ folder, from lib/README.md. */
    static Map<String, Tier> tiers(Path repo) throws IOException {
        var out = new LinkedHashMap<String, Tier>();
        Matcher m = TIER_LINE.matcher(Files.readString(repo.resolve("lib/README.md")));
        while (m.find()) {
            for (String folder : m.group(2).split(",")) {
                String name = folder.trim().replaceFirst("/$", "");
                if (!name.isEmpty()) out.put(name, new Tier(Integer.parseInt(m.group(1)), name));
            }
        }
        return out;
    }

    /** Every .java file under {@code dir}, sorted. */
    static List<Path> javaFiles(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
    }

    /** Every problem of the layering of {@code repo}; empty when it is sound. */
    static List<String> problems(Path repo) throws IOException {
        Map<String, Tier> tiers = tiers(repo);
        var problems = new ArrayList<String>();
        if (tiers.isEmpty()) problems.add("lib/README.md lists no tiers (lines like '1. core/ — the foundations')");
        int top = tiers.values().stream().mapToInt(Tier::rank).max().orElse(0);
        var files = new ArrayList<Path>();
        for (String dir : List.of("lib", "scripts", "bench")) files.addAll(javaFiles(repo.resolve(dir)));
        for (String name : tiers.keySet()) {
            if (!Files.isDirectory(repo.resolve("lib/" + name))) problems.add("lib/README.md names the folder " + name + "/, but there is no lib/" + name + "/");
        }
        Map<Path, Set<Path>> graph = new TreeMap<>();
        for (Path file : files) {
            Tier from = tierOf(repo, file, tiers, top);
            if (from == null) {
                problems.add(rel(repo, file) + " is in no folder of a tier of lib/README.md");
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
                    } else if (to != null && to.rank() == from.rank() && !to.name().equals(from.name())) {
                        problems.add(rel(repo, file) + " -> " + rel(repo, target) + ": an edge between two folders of one tier (" + from.name() + " -> " + to.name() + ")");
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

    /**
     * lib files by their folder (lib/FOLDER/File.java) and lib/README.md's tier of it; a file directly in
     * lib/ or deeper is in none. Scripts are above every lib tier, tests and bench above the scripts.
     */
    static Tier tierOf(Path repo, Path file, Map<String, Tier> tiers, int top) {
        Path r = repo.relativize(file.toAbsolutePath().normalize());
        return switch (r.getName(0).toString()) {
            case "lib" -> r.getNameCount() == 3 ? tiers.get(r.getName(1).toString()) : null;
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
    void everyLibFileIsInAFolderOfOneTier() throws IOException {
        Map<String, Tier> tiers = tiers(TestSupport.repo());
        for (Path p : javaFiles(TestSupport.repo().resolve("lib"))) {
            Path r = TestSupport.repo().resolve("lib").relativize(p);
            assertTrue(r.getNameCount() == 2 && tiers.containsKey(r.getName(0).toString()), "lib/" + r + " is in no folder of a tier of lib/README.md");
        }
        assertEquals(new Tier(1, "core"), tiers.get("core"));
        assertEquals(tiers.values().stream().mapToInt(Tier::rank).max().getAsInt(), tiers.get("cli").rank(), "the command line is the top tier");
    }

    /** A copy of lib/, scripts/ and bench/ (and the tests/support files bench names) to break on purpose. */
    static Path copyOfRepository() throws IOException {
        Path repo = TestSupport.repo();
        Path copy = TestSupport.tempDir("layering");
        for (String dir : List.of("lib", "scripts", "bench", "tests/support")) {
            try (var s = Files.walk(repo.resolve(dir))) {
                for (Path p : s.filter(Files::isRegularFile).toList()) {
                    Path to = copy.resolve(repo.relativize(p).toString());
                    Files.createDirectories(to.getParent());
                    Files.copy(p, to);
                }
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
        // What an earlier issue removed: ServerSideApply sourcing Cli for one helper.
        addSourcesLine(copy.resolve("lib/kube/ServerSideApply.java"), "//SOURCES ../cli/Cli.java", "Cli.info(\"x\");");
        assertEquals(List.of("lib/kube/ServerSideApply.java -> lib/cli/Cli.java: an edge to a higher tier (kube -> cli)"), problems(copy));
    }

    @Test
    void wouldFailOnAnEdgeBetweenTwoFoldersOfOneTierAndOnAFileOutsideTheFolders() throws IOException {
        Path copy = copyOfRepository();
        addSourcesLine(copy.resolve("lib/dashboard/DashboardObjects.java"), "//SOURCES ../database/ConnectionStrings.java", "ConnectionStrings.class.getName();");
        assertEquals(List.of("lib/dashboard/DashboardObjects.java -> lib/database/ConnectionStrings.java: an edge between two folders of one tier (dashboard -> database)"), problems(copy));

        Path again = copyOfRepository();
        Files.move(again.resolve("lib/core/Times.java"), again.resolve("lib/" + "Times.java"));
        List<String> flat = problems(again);
        assertTrue(flat.contains("lib/" + "Times.java is in no folder of a tier of lib/README.md"), flat.toString());
    }

    @Test
    void wouldFailOnACycleAndOnAListedFileNeverUsed() throws IOException {
        Path copy = copyOfRepository();
        addSourcesLine(copy.resolve("lib/core/SecretInput.java"), "//SOURCES Http.java", "Http.class.getName();");
        List<String> cycle = problems(copy);
        assertEquals(1, cycle.size(), cycle.toString());
        assertTrue(cycle.get(0).startsWith("a cycle: ") && cycle.get(0).contains("lib/core/Http.java") && cycle.get(0).contains("lib/core/SecretInput.java"), cycle.toString());

        Path again = copyOfRepository();
        // What an earlier issue removed too: gfw.java listing ServerSideApply without using it (a mention in a comment or string does not count).
        String gfw = Files.readString(again.resolve("scripts/gfw.java"));
        Files.writeString(again.resolve("scripts/gfw.java"), gfw.replaceFirst("//SOURCES", "//SOURCES ../lib/kube/ServerSideApply.java\n//SOURCES")
                + "\n// ServerSideApply\nclass Mention { String s = \"ServerSideApply\"; }\n");
        assertEquals(List.of("scripts/gfw.java lists lib/kube/ServerSideApply.java but uses none of its types (ServerSideApply)"), problems(again));
    }

    @Test
    void codeIsWhatIsLeftWithoutCommentsAndStrings() {
        assertEquals("a  b \"\" c '' d \"\" e ", code("a /* X */ b \"X \\\" X\" c 'X' d \"\"\"\nX\n\"\"\" e // X"));
    }
}
