import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the suite needs from the machine, checked before any test starts so a missing tool is one
 * line naming what to install, not a hundred failures.
 */
final class Prerequisites {

    static List<String> missing() {
        var out = new ArrayList<String>();
        boolean ownCluster = System.getenv(TestCluster.KUBECONFIG_ENV) == null || System.getenv(TestCluster.KUBECONFIG_ENV).isBlank();
        if (ownCluster && !onPath(System.getenv().getOrDefault("GO", "go"))) {
            out.add("go (Go 1.26, to build the test control plane in tests/cluster): install Go, or set GO, or set "
                    + TestCluster.KUBECONFIG_ENV + " to a cluster's kubeconfig");
        }
        if (!onPath("kubectl")) out.add("kubectl: install kubectl (the tests compare gfw with it)");
        String pgBin = System.getenv("GFW_TEST_PG_BIN");
        boolean pg = pgBin != null && !pgBin.isBlank() ? Files.isExecutable(Path.of(pgBin, "initdb")) : anyPostgres();
        if (!pg) out.add("PostgreSQL server binaries (initdb, postgres): apt-get install postgresql-15, or set GFW_TEST_PG_BIN");
        if (!pg && !onPath("psql")) out.add("psql: apt-get install postgresql-client-15");
        if (!onPath("openssl")) out.add("openssl (the test PostgreSQL's TLS certificate): apt-get install openssl");
        return out;
    }

    private static boolean anyPostgres() {
        try (var s = Files.list(Path.of("/usr/lib/postgresql"))) {
            return s.anyMatch(d -> Files.isExecutable(d.resolve("bin/initdb")));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static boolean onPath(String command) {
        if (command.contains("/")) return Files.isExecutable(Path.of(command));
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) return true;
        }
        return false;
    }

    private Prerequisites() {}
}
