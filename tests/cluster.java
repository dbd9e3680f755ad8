///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The tests' Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (simulated nodes that run pods as Ready), built from the upstream Go
 * modules pinned in tests/cluster/go.mod and started on loopback ports in a temporary directory.
 *
 * <p>Builds what is missing first (progress on stderr; binaries are cached under
 * {@code $XDG_CACHE_HOME/gfw/cluster/<hash of go.mod, go.sum and the mains>}, so a warm start
 * builds nothing), writes an admin kubeconfig (0600) to the file given, prints {@code ready} on
 * stdout and runs until SIGINT/SIGTERM (or, with {@code --stop-on-eof}, until its standard input
 * closes, so a test run that dies takes its cluster with it); then it stops everything and removes
 * its temporary directory.
 *
 * <p>kube-apiserver runs with its default admission plugins (NamespaceLifecycle, LimitRanger,
 * ServiceAccount, PodSecurity, ResourceQuota, ...), the RBAC authorizer, service-account signing
 * keys generated at start and an audit log. kwok manages the nodes annotated
 * {@code kwok.x-k8s.io/node=fake} through its Stage, PortForward, Logs and Exec resources (CRDs).
 *
 * <p>Environment: {@code GFW_CLUSTER_CACHE} overrides the binary cache directory; {@code GO}
 * names the go command (default {@code go} on PATH).
 *
 * <pre>
 *   ./jbang tests/cluster.java --kubeconfig /tmp/kc     # prints "ready", Ctrl-C stops it
 *   ./jbang tests/cluster.java --build-only             # build (or find) the binaries, then exit
 * </pre>
 */
class cluster {

    static final List<String> BINARIES = List.of("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok");
    static final String ADMIN_TOKEN = hex(24);
    /**
     * The CloudNativePG release whose CRDs every control plane carries (the operator chart gfw pins,
     * cloudnative-pg 0.29.0, ships CNPG 1.30.0): the real schemas, so the API server validates gfw's
     * Cluster, Backup and ScheduledBackup objects as a cluster with the operator installed does.
     */
    static final String CNPG_MODULE = "github.com/cloudnative-pg/cloudnative-pg@v1.30.0";
    /** Part of the cache key: a change to how the binaries are built or laid out builds them again. */
    static final String BUILD_RECIPE = "go build -v -ldflags(version) ./cmd/...; kwok-manifests/{crds,stages}; cnpg-crds " + CNPG_MODULE + "; volume stages for every class; v4";
    static final String NODE_ANNOTATION = "kwok.x-k8s.io/node";
    /** kwok's resources for what a kubelet does besides running pods: all are served from its CRDs. */
    static final String KWOK_CRDS = "Stage,Attach,ClusterAttach,Exec,ClusterExec,Logs,ClusterLogs,PortForward,ClusterPortForward";

    final List<Process> processes = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile boolean stopping;
    Path work;

    public static void main(String... args) throws Exception {
        Path kubeconfig = null;
        Path auditLog = null;
        boolean buildOnly = false;
        boolean stopOnEof = false;
        int nodes = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--kubeconfig" -> kubeconfig = Path.of(value(args, ++i, "--kubeconfig"));
                case "--audit-log" -> auditLog = Path.of(value(args, ++i, "--audit-log"));
                case "--nodes" -> nodes = Integer.parseInt(value(args, ++i, "--nodes"));
                case "--build-only" -> buildOnly = true;
                case "--stop-on-eof" -> stopOnEof = true;
                case "-h", "--help" -> {
                    System.out.println("usage: cluster.java --kubeconfig FILE [--audit-log FILE] [--nodes N] [--stop-on-eof] | --build-only");
                    return;
                }
                default -> die(64, "unknown argument " + args[i] + " (see --help)");
            }
        }
        if (!buildOnly && kubeconfig == null) die(64, "--kubeconfig FILE is required (where to write the admin kubeconfig)");
        Path bin = binaries();
        if (buildOnly) {
            System.out.println(bin);
            return;
        }
        var c = new cluster();
        Runtime.getRuntime().addShutdownHook(new Thread(c::stop));
        try {
            c.start(bin, kubeconfig, auditLog, nodes);
        } catch (Exception e) {
            System.err.println("cluster: " + e.getMessage());
            c.stop();
            System.exit(70);
        }
        System.out.println("ready");
        System.out.flush();
        java.util.Optional<ProcessHandle> parent = ProcessHandle.current().parent();
        if (stopOnEof) {
            Thread eof = new Thread(() -> {
                try {
                    while (System.in.read() >= 0) {
                        // nothing to read: the parent keeps the pipe open while it lives
                    }
                } catch (IOException ignored) {
                    // closed
                }
                System.exit(0);
            }, "stop-on-eof");
            eof.setDaemon(true);
            eof.start();
        }
        while (true) {
            // A parent that died without closing our input (killed -9) still takes its cluster with it.
            if (stopOnEof && parent.isPresent() && !parent.get().isAlive()) System.exit(0);
            for (Process p : c.processes) {
                if (!p.isAlive() && !c.stopping) {
                    System.err.println("cluster: " + p.info().command().orElse("a component") + " exited with " + p.exitValue());
                    System.exit(70);
                }
            }
            Thread.sleep(1000);
        }
    }

    // ---- building ----------------------------------------------------------------------------

    static Path moduleDir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path m = p.resolve("tests/cluster/go.mod");
            if (Files.isRegularFile(m)) return m.getParent();
        }
        Path here = Path.of(System.getProperty("jbang.source", "tests/cluster.java")).toAbsolutePath().getParent();
        if (here != null && Files.isRegularFile(here.resolve("cluster/go.mod"))) return here.resolve("cluster");
        throw new IllegalStateException("run from the gfw repository (tests/cluster/go.mod not found)");
    }

    /** The directory holding the built binaries for this go.mod/go.sum; builds them when missing. */
    static Path binaries() throws IOException, InterruptedException {
        Path module = moduleDir();
        String hash = sourceHash(module);
        String override = System.getenv("GFW_CLUSTER_CACHE");
        Path root = override != null && !override.isBlank() ? Path.of(override) : cacheHome().resolve("gfw/cluster");
        Path dir = root.resolve(hash);
        if (complete(dir)) return dir;
        Files.createDirectories(root);
        // Two runs building at once would each compile for ten minutes: the second waits for the first.
        try (var ch = FileChannel.open(root.resolve(".build.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             var lock = ch.lock()) {
            if (complete(dir)) return dir;
            build(module, root, dir);
        }
        return dir;
    }

    static boolean complete(Path dir) {
        return Files.isRegularFile(dir.resolve(".complete"));
    }

    static Path cacheHome() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        return xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    }

    static String sourceHash(Path module) throws IOException {
        try {
            var md = MessageDigest.getInstance("SHA-256");
            List<Path> files = new ArrayList<>(List.of(module.resolve("go.mod"), module.resolve("go.sum")));
            try (Stream<Path> s = Files.walk(module.resolve("cmd"))) {
                s.filter(p -> p.toString().endsWith(".go")).sorted().forEach(files::add);
            }
            for (Path f : files) {
                md.update(module.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                md.update(Files.readAllBytes(f));
            }
            md.update(BUILD_RECIPE.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static void build(Path module, Path root, Path dir) throws IOException, InterruptedException {
        String go = System.getenv().getOrDefault("GO", "go");
        Path tmp = Files.createTempDirectory(root, "build-");
        long t0 = System.nanoTime();
        System.err.println("cluster: building etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from "
                + module + " (first run only; about 10-20 minutes on 2 cores)");
        // Release builds stamp the version at link time (hack/lib/version.sh); without it the server says v0.0.0-master.
        String k8s = moduleVersion(module, "k8s.io/kubernetes");
        String[] mm = k8s.substring(1).split("\\.");
        String v = "k8s.io/component-base/version.";
        String ldflags = "-X " + v + "gitVersion=" + k8s + " -X " + v + "gitMajor=" + mm[0] + " -X " + v + "gitMinor=" + mm[1]
                + " -X " + v + "gitTreeState=clean -X " + v + "buildDate=1970-01-01T00:00:00Z";
        var pb = new ProcessBuilder(go, "build", "-v", "-ldflags", ldflags, "-o", tmp.toString(), "./cmd/...")
                .directory(module.toFile())
                .redirectErrorStream(true);
        pb.environment().putIfAbsent("GOFLAGS", "-mod=readonly");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run `" + go + "` (" + e.getMessage() + "): install Go 1.26 or set GO");
        }
        var tail = new ArrayList<String>();
        int packages = 0;
        long lastNote = System.nanoTime();
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.startsWith("#") && !line.contains(" ")) packages++;
                tail.add(line);
                if (tail.size() > 40) tail.remove(0);
                if (System.nanoTime() - lastNote > TimeUnit.SECONDS.toNanos(20)) {
                    lastNote = System.nanoTime();
                    System.err.printf("cluster: building: %d packages compiled, %ds%n", packages, seconds(t0));
                }
            }
        }
        int code = p.waitFor();
        if (code != 0) {
            TestFiles.deleteTree(tmp);
            throw new IllegalStateException("go build failed (exit " + code + "):\n" + String.join("\n", tail));
        }
        try {
            copyKwokManifests(module, tmp, go);
            copyCnpgCrds(module, tmp, go);
        } catch (IOException | RuntimeException e) {
            TestFiles.deleteTree(tmp);
            throw e;
        }
        Files.writeString(tmp.resolve(".complete"), "built in " + seconds(t0) + " s\n");
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException | java.nio.file.FileAlreadyExistsException e) {
            TestFiles.deleteTree(tmp);
        }
        System.err.printf("cluster: built in %d s into %s%n", seconds(t0), dir);
    }

    static String moduleVersion(Path module, String path) throws IOException {
        for (String line : Files.readAllLines(module.resolve("go.mod"))) {
            String t = line.trim();
            if (t.startsWith(path + " v")) return t.split("\\s+")[1];
        }
        throw new IllegalStateException(path + " is not required in " + module.resolve("go.mod"));
    }

    /** CloudNativePG's CRDs (config/crd/bases of the operator's module), downloaded through the Go module proxy. */
    static void copyCnpgCrds(Path module, Path into, String go) throws IOException, InterruptedException {
        var p = new ProcessBuilder(go, "mod", "download", "-json", CNPG_MODULE).directory(module.toFile()).redirectErrorStream(true).start();
        String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        var dir = java.util.regex.Pattern.compile("\"Dir\":\\s*\"([^\"]+)\"").matcher(json);
        if (p.waitFor() != 0 || !dir.find()) throw new IllegalStateException("cannot download " + CNPG_MODULE + ":\n" + json);
        Path bases = Path.of(dir.group(1), "config/crd/bases");
        Path crds = Files.createDirectories(into.resolve("cnpg-crds"));
        try (Stream<Path> s = Files.list(bases)) {
            for (Path f : s.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) Files.copy(f, crds.resolve(f.getFileName()));
        }
    }

    /** kwok's CRDs and its "fast" stages, from the kwok module the binaries were built from. */
    static void copyKwokManifests(Path module, Path into, String go) throws IOException, InterruptedException {
        var p = new ProcessBuilder(go, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok").directory(module.toFile()).start();
        String kwokDir = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0 || kwokDir.isEmpty()) throw new IllegalStateException("cannot find the kwok module's directory");
        Path kwok = Path.of(kwokDir);
        Path crds = Files.createDirectories(into.resolve("kwok-manifests/crds"));
        try (Stream<Path> s = Files.list(kwok.resolve("kustomize/crd/bases"))) {
            for (Path f : s.filter(f -> f.toString().endsWith(".yaml")).toList()) Files.copy(f, crds.resolve(f.getFileName()));
        }
        Path stages = Files.createDirectories(into.resolve("kwok-manifests/stages"));
        // kwok's volume stages play a storage provisioner; made to serve every storage class (not only its own
        // kwok-volume), so a PVC naming the environment file's class is provisioned and bound as on the real cluster.
        for (String f : List.of("pvc-provision.yaml", "pv-bind.yaml", "pv-delete.yaml", "pvc-delete.yaml")) {
            String text = Files.readString(kwok.resolve("kustomize/stage/volume/fast").resolve(f));
            Files.writeString(stages.resolve("volume_" + f), text.replace("self.spec.storageClassName == 'kwok-volume'", "has(self.spec.storageClassName)"));
        }
        for (String f : List.of("node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
                "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml")) {
            Path src = kwok.resolve("kustomize/stage").resolve(f);
            Files.copy(src, stages.resolve(f.replace('/', '_')));
        }
    }

    // ---- running -----------------------------------------------------------------------------

    void start(Path bin, Path kubeconfig, Path auditLog, int nodes) throws Exception {
        work = Files.createTempDirectory("gfw-cluster-");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwx------"));
        Path logs = Files.createDirectories(work.resolve("logs"));
        Path pki = Files.createDirectories(work.resolve("pki"));
        int etcdPort = freePort();
        int etcdPeer = freePort();
        int apiPort = freePort();
        int kwokPort = freePort();
        String api = "https://127.0.0.1:" + apiPort;

        // Service-account signing keys, generated at start.
        var kpg = KeyPairGenerator.getInstance("RSA");
        kpg.initialize(2048);
        var kp = kpg.generateKeyPair();
        Path saKey = pki.resolve("sa.key");
        Path saPub = pki.resolve("sa.pub");
        Files.writeString(saKey, pem("PRIVATE KEY", kp.getPrivate().getEncoded()));
        Files.writeString(saPub, pem("PUBLIC KEY", kp.getPublic().getEncoded()));
        Path tokens = work.resolve("tokens.csv");
        Files.writeString(tokens, ADMIN_TOKEN + ",gfw-test-admin,gfw-test-admin,system:masters\n");
        Path audit = auditLog != null ? auditLog : work.resolve("audit.log");
        Path policy = work.resolve("audit-policy.yaml");
        Files.writeString(policy, """
                apiVersion: audit.k8s.io/v1
                kind: Policy
                omitStages: [RequestReceived]
                rules:
                - level: Metadata
                """);

        long t0 = System.nanoTime();
        launch(bin, "etcd", logs, "--name", "gfw-test", "--data-dir", work.resolve("etcd").toString(),
                "--listen-client-urls", "http://127.0.0.1:" + etcdPort, "--advertise-client-urls", "http://127.0.0.1:" + etcdPort,
                "--listen-peer-urls", "http://127.0.0.1:" + etcdPeer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + etcdPeer,
                "--initial-cluster", "gfw-test=http://127.0.0.1:" + etcdPeer,
                "--unsafe-no-fsync", "--quota-backend-bytes", String.valueOf(4L << 30), "--log-level", "warn");
        launch(bin, "kube-apiserver", logs, "--etcd-servers", "http://127.0.0.1:" + etcdPort,
                "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String.valueOf(apiPort),
                "--cert-dir", pki.toString(), "--token-auth-file", tokens.toString(),
                "--authorization-mode", "RBAC", "--allow-privileged=true",
                "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file", saPub.toString(), "--service-account-signing-key-file", saKey.toString(),
                "--service-cluster-ip-range", "10.96.0.0/16",
                "--audit-policy-file", policy.toString(), "--audit-log-path", audit.toString(),
                "--audit-log-format", "json", "--audit-log-maxbackup", "1",
                "--kubelet-preferred-address-types", "InternalIP", "--endpoint-reconciler-type", "none",
                "--v", "1");
        Path admin = work.resolve("admin.kubeconfig");
        waitFor("kube-apiserver", Duration.ofSeconds(90), logs, () -> Files.isRegularFile(pki.resolve("apiserver.crt")) && ready(api));
        String ca = Base64.getEncoder().encodeToString(Files.readAllBytes(pki.resolve("apiserver.crt")));
        String kc = kubeconfigText(api, ca);
        Files.writeString(admin, kc);
        launch(bin, "kube-controller-manager", logs, "--kubeconfig", admin.toString(),
                "--authentication-kubeconfig", admin.toString(), "--authorization-kubeconfig", admin.toString(),
                "--secure-port", "0", "--leader-elect=false", "--use-service-account-credentials=false",
                "--service-account-private-key-file", saKey.toString(), "--root-ca-file", pki.resolve("apiserver.crt").toString(),
                "--cluster-name", "gfw-test", "--controllers", "*", "--concurrent-deployment-syncs", "10",
                "--concurrent-replicaset-syncs", "10", "--horizontal-pod-autoscaler-sync-period", "5s", "--v", "1");
        launch(bin, "kube-scheduler", logs, "--kubeconfig", admin.toString(),
                "--authentication-kubeconfig", admin.toString(), "--authorization-kubeconfig", admin.toString(),
                "--secure-port", "0", "--leader-elect=false", "--v", "1");

        // kwok's CRDs and stages, then kwok, then the nodes it manages.
        kubectl(admin, "apply", "--server-side", "--field-manager", "gfw-test-cluster", "-f", bin.resolve("kwok-manifests/crds").toString());
        kubectl(admin, "apply", "--server-side", "--field-manager", "gfw-test-cluster", "-f", bin.resolve("cnpg-crds").toString());
        kubectl(admin, "wait", "--for", "condition=Established", "--timeout", "60s", "crd", "--all");
        kubectl(admin, "apply", "--server-side", "--field-manager", "gfw-test-cluster", "-f", bin.resolve("kwok-manifests/stages").toString());
        launch(bin, "kwok", logs, "--kubeconfig", admin.toString(), "--config", "-",
                "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", NODE_ANNOTATION + "=fake",
                "--node-ip", "127.0.0.1", "--node-port", String.valueOf(kwokPort), "--node-lease-duration-seconds", "40", "--server-address", "127.0.0.1:" + kwokPort,
                "--tls-cert-file", pki.resolve("apiserver.crt").toString(), "--tls-private-key-file", pki.resolve("apiserver.key").toString(),
                "--cidr", "127.1.0.1/16", "--enable-crds", KWOK_CRDS);
        // Pod IPs come from loopback: Kubernetes never writes them into Endpoints and never dials them
        // (a test host has no network to send pod traffic to); port-forwards reach pods through kwok.
        Path nodeFile = work.resolve("nodes.yaml");
        var nodeDocs = new StringBuilder();
        for (int i = 0; i < nodes; i++) nodeDocs.append(nodeYaml("kwok-node-" + i));
        Files.writeString(nodeFile, nodeDocs.toString());
        kubectl(admin, "apply", "--server-side", "--field-manager", "gfw-test-cluster", "-f", nodeFile.toString());
        kubectl(admin, "wait", "--for", "condition=Ready", "--timeout", "90s", "node", "--all");
        // The ServiceAccount admission plugin refuses pods until the namespace's default account exists.
        waitFor("the default ServiceAccount", Duration.ofSeconds(60), logs,
                () -> kubectlOk(admin, "get", "serviceaccount", "default", "-n", "default"));

        write0600(kubeconfig, kc);
        System.err.printf("cluster: kube-apiserver at %s, started in %.1f s%n", api, (System.nanoTime() - t0) / 1e9);
    }

    static String nodeYaml(String name) {
        return """
                apiVersion: v1
                kind: Node
                metadata:
                  name: %s
                  annotations:
                    %s: fake
                    node.alpha.kubernetes.io/ttl: "0"
                  labels:
                    kubernetes.io/hostname: %s
                    kubernetes.io/os: linux
                    kubernetes.io/arch: amd64
                    kubernetes.io/role: agent
                    type: kwok
                status:
                  allocatable: {cpu: "256", memory: 1Ti, pods: "1000", ephemeral-storage: 1Ti}
                  capacity: {cpu: "256", memory: 1Ti, pods: "1000", ephemeral-storage: 1Ti}
                ---
                """.formatted(name, NODE_ANNOTATION, name);
    }

    static String kubeconfigText(String server, String caData) {
        return """
                apiVersion: v1
                kind: Config
                clusters:
                - name: gfw-test
                  cluster:
                    server: %s
                    certificate-authority-data: %s
                users:
                - name: gfw-test-admin
                  user:
                    token: %s
                contexts:
                - name: dev-cluster
                  context: {cluster: gfw-test, user: gfw-test-admin}
                current-context: dev-cluster
                """.formatted(server, caData, ADMIN_TOKEN);
    }

    void launch(Path bin, String name, Path logs, String... args) throws IOException {
        var cmd = new ArrayList<String>();
        cmd.add(bin.resolve(name).toString());
        cmd.addAll(List.of(args));
        var pb = new ProcessBuilder(cmd).directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(logs.resolve(name + ".log").toFile());
        // kwok reads its (empty) configuration from stdin: give it an empty one.
        pb.redirectInput(ProcessBuilder.Redirect.from(Files.writeString(work.resolve("empty"), "").toFile()));
        pb.environment().put("HOME", work.toString()); // kwok and friends keep nothing in the user's home
        processes.add(pb.start());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    void waitFor(String what, Duration timeout, Path logs, Check check) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            for (Process p : processes) {
                if (!p.isAlive()) throw new IllegalStateException(p.info().command().orElse("?") + " exited with " + p.exitValue()
                        + " while waiting for " + what + "\n" + tails(logs));
            }
            try {
                if (check.ok()) return;
            } catch (Exception ignored) {
                // not yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("timed out waiting for " + what + "\n" + tails(logs));
    }

    static String tails(Path logs) {
        var sb = new StringBuilder();
        try (Stream<Path> s = Files.list(logs)) {
            for (Path f : s.sorted().toList()) {
                List<String> lines = Files.readAllLines(f);
                sb.append("--- ").append(f.getFileName()).append(" (last lines)\n");
                for (String l : lines.subList(Math.max(0, lines.size() - 15), lines.size())) sb.append(l).append('\n');
            }
        } catch (IOException e) {
            sb.append("(cannot read logs: ").append(e.getMessage()).append(")\n");
        }
        return sb.toString();
    }

    static boolean ready(String api) throws Exception {
        var ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}
            public java.security.cert.X509Certificate[] getAcceptedIssuers() { return new java.security.cert.X509Certificate[0]; }
        }}, new SecureRandom());
        var client = java.net.http.HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(2)).build();
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(api + "/readyz"))
                .header("Authorization", "Bearer " + ADMIN_TOKEN).timeout(Duration.ofSeconds(5)).build();
        return client.send(req, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    }

    static void kubectl(Path kubeconfig, String... args) throws IOException, InterruptedException {
        var cmd = new ArrayList<>(List.of("kubectl", "--kubeconfig", kubeconfig.toString()));
        cmd.addAll(List.of(args));
        var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("kubectl " + String.join(" ", args) + " failed:\n" + out);
        }
    }

    static boolean kubectlOk(Path kubeconfig, String... args) throws IOException, InterruptedException {
        var cmd = new ArrayList<>(List.of("kubectl", "--kubeconfig", kubeconfig.toString()));
        cmd.addAll(List.of(args));
        var p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    /** Stops the components newest first (kwok before the API server, the API server before etcd). */
    synchronized void stop() {
        stopping = true;
        for (int i = processes.size() - 1; i >= 0; i--) {
            Process p = processes.get(i);
            p.destroy();
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        processes.clear();
        if (work != null) {
            try {
                TestFiles.deleteTree(work);
            } catch (IOException ignored) {
                // a temp dir left behind is not worth failing the stop for
            }
            work = null;
        }
    }

    // ---- small helpers -----------------------------------------------------------------------

    static final class TestFiles {
        static void deleteTree(Path d) throws IOException {
            if (!Files.exists(d)) return;
            try (Stream<Path> walk = Files.walk(d)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    static void write0600(Path file, String text) throws IOException {
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".kubeconfig", ".tmp",
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    static int freePort() throws IOException {
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static long seconds(long t0) {
        return TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
    }

    static String hex(int bytes) {
        byte[] b = new byte[bytes];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static String value(String[] args, int i, String flag) {
        if (i >= args.length) die(64, flag + " needs a value");
        return args[i];
    }

    static void die(int code, String msg) {
        System.err.println("cluster: " + msg);
        System.exit(code);
    }
}
