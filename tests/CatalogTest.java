import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The catalog as `jbang gfw@org ...` uses it: the repository served over HTTP, added as catalog
 * "org" in an empty directory with a JBang home of its own, every alias run with --help. Proves
 * that each script's //SOURCES resolve relative to its URL.
 */
class CatalogTest {
    static HttpServer server;
    static String base;
    static Path work;
    static final List<String> served = new ArrayList<>();

    @BeforeAll
    static void serveRepository() throws IOException {
        Path repo = TestSupport.repo();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            Path file = repo.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
            synchronized (served) {
                served.add(exchange.getRequestURI().getPath());
            }
            if (!file.startsWith(repo) || !Files.isRegularFile(file)) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                byte[] body = Files.readAllBytes(file);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
        work = TestSupport.tempDir("catalog");
        // Trust and catalog registration go to this JBang home, not the user's.
        assertEquals(0, jbang("trust", "add", base).exit());
        var add = jbang("catalog", "add", "--name", "org", base + "jbang-catalog.json");
        assertEquals(0, add.exit(), add.toString());
    }

    @AfterAll
    static void stop() {
        server.stop(0);
    }

    static TestSupport.Result jbang(String... args) {
        var cmd = TestSupport.command(TestSupport.repo().resolve("jbang").toString());
        cmd.command.addAll(List.of(args));
        return cmd.dir(work).env("JBANG_DIR", work.resolve("jbang-home").toString()).run();
    }

    @Test
    void everyAliasRunsFromTheServedCatalog() throws IOException {
        JsonNode catalog = new ObjectMapper().readTree(TestSupport.repo().resolve("jbang-catalog.json").toFile());
        List<String> aliases = new ArrayList<>();
        for (Map.Entry<String, JsonNode> alias : catalog.get("aliases").properties()) aliases.add(alias.getKey());
        assertTrue(aliases.contains("gfw"), "alias gfw exists");
        for (Map.Entry<String, JsonNode> alias : catalog.get("aliases").properties()) {
            assertTrue(alias.getValue().path("description").asText().length() > 20, alias.getKey() + " has a description");
            var r = jbang(alias.getKey() + "@org", "--help");
            assertEquals(0, r.exit(), r.toString());
            assertTrue(r.out().startsWith("Usage: " + alias.getKey()), alias.getKey() + ": " + r.out());
        }
        // The lib files came over HTTP, relative to each script's URL.
        synchronized (served) {
            assertTrue(served.contains("/lib/cli/Cli.java") && served.contains("/lib/env/EnvConfig.java"), served.toString());
        }
    }

    @Test
    void environmentFilesCanComeFromAUrl() {
        var cmd = TestSupport.command(TestSupport.repo().resolve("jbang").toString(), "gfw@org", "validate", "dev");
        var r = cmd.dir(work).env("JBANG_DIR", work.resolve("jbang-home").toString())
                .env("GFW_ENVIRONMENTS", base + "environments").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("environments/dev.yaml: ok (active)"), r.out());

        var missing = TestSupport.command(TestSupport.repo().resolve("jbang").toString(), "gfw@org", "validate", "staging")
                .dir(work).env("JBANG_DIR", work.resolve("jbang-home").toString()).env("GFW_ENVIRONMENTS", base + "environments").run();
        assertEquals(ExitCode.CONFIG, missing.exit(), missing.toString());
        assertTrue(missing.err().contains("unknown environment 'staging'"), missing.err());
    }
}
