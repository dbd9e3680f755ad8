import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ./jbang launcher on a machine without JBang: it fetches the pinned JBang with Maven into an
 * empty cache (offline from ~/.m2 here, as on a second start), runs scripts, passes arguments,
 * stdin and exit codes through unchanged, and its warm fast path behaves exactly like JBang.
 */
class LauncherTest {
    static Path cache;
    static Path scripts;

    @BeforeAll
    static void tinyScript() throws IOException {
        cache = TestSupport.tempDir("launcher-cache");
        Path root = TestSupport.tempDir("launcher-repo");
        scripts = Files.createDirectories(root.resolve("scripts"));
        Files.createDirectories(root.resolve("lib"));
        Files.writeString(root.resolve("lib/Greeting.java"), "class Greeting { static String text() { return \"v1\"; } }\n");
        // Echoes its arguments one per line, then stdin, and exits with the code in $EXIT_WITH.
        Files.writeString(scripts.resolve("echo.java"), """
                ///usr/bin/env jbang "$0" "$@" ; exit $?
                //SOURCES ../lib/Greeting.java
                class echo {
                    public static void main(String... args) throws Exception {
                        System.out.println(Greeting.text());
                        for (String a : args) System.out.println("[" + a + "]");
                        System.out.print(new String(System.in.readAllBytes()));
                        System.exit(Integer.parseInt(System.getenv().getOrDefault("EXIT_WITH", "0")));
                    }
                }
                """);
    }

    static TestSupport.Cmd launch(String... args) {
        var cmd = TestSupport.command(TestSupport.repo().resolve("jbang").toString());
        cmd.command.addAll(List.of(args));
        return cmd.dir(scripts.getParent()).env("GFW_JBANG_BOOTSTRAP", "1").env("GFW_CACHE_DIR", cache.toString());
    }

    @Test
    void bootstrapsPinnedJbangAndPassesEverythingThrough() throws IOException {
        String[] tricky = {"two words", "quote\"d", "$HOME", "*", "", "--flag=x y"};
        var first = launch("scripts/echo.java", tricky[0], tricky[1], tricky[2], tricky[3], tricky[4], tricky[5])
                .stdin("from stdin\n").env("EXIT_WITH", "3").run();
        assertEquals(3, first.exit(), first.toString());
        String expected = "v1\n[two words]\n[quote\"d]\n[$HOME]\n[*]\n[]\n[--flag=x y]\nfrom stdin\n";
        assertEquals(expected, first.out());
        assertTrue(Files.isRegularFile(cache.resolve("jbang-0.132.1/jbang-cli-0.132.1.jar")), "JBang cached");
        assertTrue(Files.isRegularFile(cache.resolve("jbang-0.132.1/gson-2.13.2.jar")), "Gson 2.13.2 replaces 2.10.1");
        assertFalse(Files.exists(cache.resolve("jbang-0.132.1/gson-2.10.1.jar")), "the broken Gson is not used");

        // Warm: the fast path answers identically, with the same exit code.
        var warm = launch("scripts/echo.java", tricky[0], tricky[1], tricky[2], tricky[3], tricky[4], tricky[5])
                .stdin("from stdin\n").env("EXIT_WITH", "3").run();
        assertEquals(3, warm.exit(), warm.toString());
        assertEquals(expected, warm.out());
        try (var entries = Files.list(cache.resolve("fastpath"))) {
            assertTrue(entries.anyMatch(p -> p.toString().endsWith(".cmd")), "a fast-path entry was written");
        }
    }

    @Test
    void aChangedSourceIsRebuiltNotServedStale() throws IOException {
        assertEquals(0, launch("scripts/echo.java").run().exit());
        Path lib = scripts.getParent().resolve("lib/Greeting.java");
        String old = Files.readString(lib);
        Files.writeString(lib, old.replace("v1", "v2"));
        try {
            var r = launch("scripts/echo.java").run();
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().startsWith("v2\n"), r.out());
        } finally {
            Files.writeString(lib, old);
        }
    }

    @Test
    void aSourceDeepInTheClosureIsRebuiltWhenEdited() throws IOException {
        // Far from scripts/ and lib/, and reached only through another source, with a glob: the old
        // fingerprint (two levels of the script's directory, ../lib, ../scripts) missed it.
        Path root = TestSupport.tempDir("launcher-deep");
        Path app = Files.createDirectories(root.resolve("apps/tool"));
        Path deep = Files.createDirectories(root.resolve("shared/a/b/c"));
        Files.writeString(deep.resolve("Entry.java"), "//SOURCES d/*.java\nclass Entry { static String text() { return Deeper.text(); } }\n");
        Files.createDirectories(deep.resolve("d"));
        Path deeper = deep.resolve("d/Deeper.java");
        Files.writeString(deeper, "class Deeper { static String text() { return \"deep-v1\"; } }\n");
        Files.writeString(app.resolve("tool.java"), """
                ///usr/bin/env jbang "$0" "$@" ; exit $?
                //SOURCES ../../shared/a/b/c/Entry.java
                class tool {
                    public static void main(String... args) {
                        System.out.println(Entry.text());
                    }
                }
                """);
        var first = launch(app.resolve("tool.java").toString()).run();
        assertEquals(0, first.exit(), first.toString());
        assertEquals("deep-v1\n", first.out());
        Files.writeString(deeper, "class Deeper { static String text() { return \"deep-v2\"; } }\n");
        var edited = launch(app.resolve("tool.java").toString()).run();
        assertEquals(0, edited.exit(), edited.toString());
        assertEquals("deep-v2\n", edited.out(), "the edited source deep in the closure was rebuilt");
        // A //DEPS line added to a source is part of the key too (the file's content is).
        Files.writeString(deeper, "//DEPS info.picocli:picocli:4.7.7\nclass Deeper { static String text() { return picocli.CommandLine.class.getSimpleName(); } }\n");
        var withDeps = launch(app.resolve("tool.java").toString()).run();
        assertEquals(0, withDeps.exit(), withDeps.toString());
        assertEquals("CommandLine\n", withDeps.out());
    }

    @Test
    void jbangsOwnCommandsAndErrorsPassThrough() {
        var version = launch("version").run();
        assertEquals(0, version.exit(), version.toString());
        assertTrue((version.out() + version.err()).contains("0.132.1"), version.toString());

        var missing = launch("scripts/no-such-script.java").run();
        assertTrue(missing.exit() != 0, missing.toString());
    }
}
