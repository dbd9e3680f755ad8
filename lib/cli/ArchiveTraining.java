// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../core/Output.java
//SOURCES ../core/TempFiles.java

import java.util.List;

/**
 * The AppCDS archive (//CDS) keeps the classes of the one run that records it, the first after a
 * build. Whatever that run was (--help, a dry run), this makes the archive also hold what a cluster
 * command loads: an environment, a kubeconfig, a client, GET and LIST against a throwaway loopback
 * HTTP server. Only in that recording run, silent, errors ignored; later runs are ~0.5 s faster for it.
 */
final class ArchiveTraining {
    /** True in the run that records the archive (Linux; ProcessHandle does not show the JVM options there). */
    static boolean recording() {
        try {
            for (String arg : java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/cmdline")).split("\0")) {
                if (arg.startsWith("-XX:ArchiveClassesAtExit") || arg.startsWith("-XX:AOTCacheOutput")) return true;
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: no training
        }
        return false;
    }

    static void run() {
        com.sun.net.httpserver.HttpServer server = null;
        java.nio.file.Path kubeconfig = null;
        try {
            server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/", ex -> {
                String body = switch (ex.getRequestURI().getPath()) {
                    case "/version" -> "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0\"}";
                    case "/api/v1/namespaces" -> "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{},"
                            + "\"items\":[{\"metadata\":{\"name\":\"default\",\"labels\":{\"a\":\"b\"}},\"status\":{\"phase\":\"Active\"}}]}";
                    default -> null;
                };
                byte[] b = body == null ? new byte[0] : body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                ex.getResponseHeaders().add("Content-Type", "application/json");
                ex.sendResponseHeaders(body == null ? 404 : 200, b.length == 0 ? -1 : b.length);
                ex.getResponseBody().write(b);
                ex.close();
            });
            server.start();
            String context = "training";
            // In gfw's private directory: a SIGTERM during the recording leaves it to the next start to remove.
            kubeconfig = TempFiles.file("gfw-cds-training-", ".yaml", ("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:"
                    + server.getAddress().getPort() + "\ncontexts:\n- name: " + context + "\n  context:\n    cluster: c\n    user: u\n"
                    + "current-context: " + context + "\nusers:\n- name: u\n  user:\n    token: t\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            KubeClients.Target target = new KubeClients.Target(kubeconfig, "--kubeconfig", context, null, null);
            List<String> envs = EnvConfig.available(null);
            if (!envs.isEmpty()) target = KubeClients.resolve(EnvConfig.load(envs.get(0), null), kubeconfig.toString(), context, "none");
            try (var client = KubeClients.connect(target)) {
                client.getKubernetesVersion();
                List<io.fabric8.kubernetes.api.model.Namespace> items = client.namespaces().list().getItems();
                Output.yaml(items);
                Output.json(items);
            }
        } catch (Throwable e) {
            // a recording that misses some classes only costs time later
        } finally {
            if (server != null) server.stop(0);
            try {
                if (kubeconfig != null) java.nio.file.Files.deleteIfExists(kubeconfig);
            } catch (java.io.IOException e) {
                // a temp file left behind
            }
        }
    }

    private ArchiveTraining() {}
}
