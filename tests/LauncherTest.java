import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ./jbang launcher on a machine without JBang: it fetches the pinned JBang's jars (checked
 * against their pinned SHA-256; from ~/.m2 when a copy is there, else from Maven Central) into an
 * empty cache, runs scripts, passes arguments, stdin and exit codes through unchanged, and its warm
 * fast path behaves exactly like JBang. Parallel cold runs of one script build it once, and a broken
 * cached jar (jbangdev/jbang#2445) is rebuilt instead of used.
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

    /** A run with a JBang cache of its own ({@code JBANG_CACHE_DIR}), so that it starts cold there. */
    static TestSupport.Cmd inJbangCache(Path jbangCache, String... args) {
        return launch(args).env("JBANG_CACHE_DIR", jbangCache.toString());
    }

    static long builds(String stderr) {
        return stderr.lines().filter(l -> l.contains("Building jar for")).count();
    }

    @Test
    void fourColdRunsOfOneScriptAtOnceAllSucceedAndBuildItOnce() throws Exception {
        // JBang has no lock: four cold builds of one script delete each other's classes/ and leave a
        // jar without Main-Class (jbangdev/jbang#2445: "100% failure rate with 4 parallel processes").
        Path jbangCache = TestSupport.tempDir("launcher-parallel-jbang");
        var pool = Executors.newFixedThreadPool(4);
        try {
            var runs = new ArrayList<CompletableFuture<TestSupport.Result>>();
            for (int i = 0; i < 4; i++) {
                String arg = "run" + i;
                runs.add(CompletableFuture.supplyAsync(() -> inJbangCache(jbangCache, "scripts/echo.java", arg).run(), pool));
            }
            long built = 0;
            for (int i = 0; i < 4; i++) {
                var r = runs.get(i).get();
                assertEquals(0, r.exit(), r.toString());
                assertEquals("v1\n[run" + i + "]\n", r.out(), r.toString());
                built += builds(r.err());
            }
            assertEquals(1, built, "one of the four builds, the others wait for it and use its jar");
        } finally {
            pool.shutdownNow();
        }
        var after = inJbangCache(jbangCache, "scripts/echo.java", "later").run();
        assertEquals(0, after.exit(), after.toString());
        assertEquals("v1\n[later]\n", after.out());
        assertEquals(0, builds(after.err()), "no rebuild after the parallel start");
    }

    /** Replaces {@code jar} with what #2445 leaves: a handful of its classes, a manifest without Main-Class. */
    static void breakJar(Path jar) throws IOException {
        byte[] greeting;
        try (var j = new JarFile(jar.toFile())) {
            greeting = j.getInputStream(j.getEntry("Greeting.class")).readAllBytes();
        }
        var manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        try (var out = new JarOutputStream(Files.newOutputStream(jar), manifest)) {
            out.putNextEntry(new JarEntry("Greeting.class"));
            out.write(greeting);
            out.closeEntry();
        }
    }

    @Test
    void aBrokenCachedJarIsRebuiltNotUsed() throws IOException {
        Path jbangCache = TestSupport.tempDir("launcher-broken-jbang");
        var first = inJbangCache(jbangCache, "scripts/echo.java", "a").run();
        assertEquals(0, first.exit(), first.toString());
        Path jar;
        try (var dirs = Files.list(jbangCache.resolve("jars"))) {
            jar = dirs.filter(d -> d.getFileName().toString().startsWith("echo.java.")).findFirst().orElseThrow().resolve("echo.jar");
        }

        // The launcher's own entry for it is there: the changed jar is noticed, checked and rebuilt.
        breakJar(jar);
        var healed = inJbangCache(jbangCache, "scripts/echo.java", "b").run();
        assertEquals(0, healed.exit(), healed.toString());
        assertEquals("v1\n[b]\n", healed.out());
        assertTrue(healed.err().contains("broken build"), healed.err());
        assertEquals(1, builds(healed.err()), healed.toString());

        // No entry of the launcher's (another checkout, another launcher cache): JBang alone would
        // use the jar and fail with "no main class deduced"; the launcher deletes it first.
        breakJar(jar);
        var fresh = inJbangCache(jbangCache, "scripts/echo.java", "c").env("GFW_CACHE_DIR", TestSupport.tempDir("launcher-broken-gfw").toString()).run();
        assertEquals(0, fresh.exit(), fresh.toString());
        assertEquals("v1\n[c]\n", fresh.out());
        assertEquals(1, builds(fresh.err()), fresh.toString());

        var again = inJbangCache(jbangCache, "scripts/echo.java", "d").run();
        assertEquals(0, again.exit(), again.toString());
        assertEquals(0, builds(again.err()), "healed for good: " + again);
    }
}
