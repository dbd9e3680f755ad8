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
    void jbangsOwnCommandsAndErrorsPassThrough() {
        var version = launch("version").run();
        assertEquals(0, version.exit(), version.toString());
        assertTrue((version.out() + version.err()).contains("0.132.1"), version.toString());

        var missing = launch("scripts/no-such-script.java").run();
        assertTrue(missing.exit() != 0, missing.toString());
    }
}
