// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
// Helm runs inside the JVM (helm-java: Helm 3 as a native library); the linux-amd64 native jar is
// chosen by a Maven profile JBang does not apply, so it is named here.
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/TempFiles.java
//SOURCES ../core/Http.java
//SOURCES KubeClients.java
//SOURCES ../core/Output.java
//SOURCES HelmRecords.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.ReleaseHistory;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.api.model.Config;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Helm releases for gfw: finding a chart (local directory or archive, or a chart repository's
 * {@code index.yaml}, cached and checked against its digest) and the Helm operations gfw needs
 * ({@link JvmHelm}), run with helm-java — Helm in the JVM, so no {@code helm} binary has to be
 * installed and nothing is downloaded at run time besides the chart.
 */
final class HelmReleases {

    /** A deployed release as Helm records it; {@code values} are the user-supplied values. */
    record Deployed(String name, String namespace, int revision, String chart, String status, Map<String, Object> values) {
        /** "gitlab-runner-0.86.0" -> "0.86.0". */
        String chartVersion() {
            int i = chart == null ? -1 : chart.lastIndexOf('-');
            while (i > 0 && !Character.isDigit(chart.charAt(i + 1))) i = chart.lastIndexOf('-', i - 1);
            return i < 0 ? chart : chart.substring(i + 1);
        }
    }

    /** One entry of {@code helm history}. */
    record Revision(int revision, String updated, String status, String chart, String appVersion, String description) {}

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /**
     * Helm (helm-java: Helm 3 in the JVM) against the cluster of a kubeconfig target, with the context and proxy gfw
     * resolved. helm-java 0.0.21 takes no field manager, so Helm's writes carry the manager Helm derives from the
     * process name: {@value #FIELD_MANAGER} (what {@code kubectl get -o yaml --show-managed-fields} shows for the
     * chart's objects).
     */
    static final class JvmHelm {
        /** The field manager of Helm's writes as the API server records it (Helm uses its process's name). */
        static final String FIELD_MANAGER = "java";

        private final Path kubeconfig;

        /** {@code target} null: only {@link #template} works (no cluster). */
        JvmHelm(KubeClients.Target target) {
            requireHelm();
            this.kubeconfig = target == null ? null : writePrivate("gfw-kubeconfig-", kubeconfigFor(target), true);
        }

        /** Loads Helm's native library once; a platform without one is a clear error, not a stack trace. */
        static String requireHelm() {
            try {
                return Helm.version().call();
            } catch (LinkageError | RuntimeException e) {
                throw new GfwException(ExitCode.NOT_FOUND, "Helm is not available on " + System.getProperty("os.name") + "/"
                        + System.getProperty("os.arch") + " (" + GfwException.firstLine(String.valueOf(e.getMessage()))
                        + "); gfw runs Helm in the JVM with com.marcnuri.helm-java, whose native jar for this platform must be in //DEPS", e);
            }
        }

        /** The release ({@code helm list --all}, so pending and failed ones too), or null when it is not installed. */
        Deployed get(String namespace, String name) {
            List<Release> all;
            try {
                all = Helm.list().all().withNamespace(namespace).withKubeConfig(kubeconfig).call();
            } catch (RuntimeException e) {
                throw helmError("list the Helm releases in namespace " + namespace, e);
            }
            Release found = all.stream().filter(r -> name.equals(r.getName())).findFirst().orElse(null);
            if (found == null) return null;
            Map<String, Object> values;
            try {
                String yaml = Helm.get(name).values().withNamespace(namespace).withKubeConfig(kubeconfig).call();
                values = parseValues(yaml);
            } catch (RuntimeException e) {
                throw helmError("read the values of release " + name, e);
            }
            return new Deployed(found.getName(), namespace, revision(found), found.getChart(), found.getStatus(), values);
        }

        /**
         * {@code helm upgrade --atomic --wait --timeout} of a deployed release, or {@code helm install --atomic --wait
         * --timeout} when {@code live} is null: a failed upgrade is rolled back to the previous revision, a failed
         * first install removed. (helm-java's {@code upgrade().install().atomic()} does not apply atomic when the
         * release does not exist yet, hence the two commands.) Throws a {@link GfwException} saying what is left.
         */
        Deployed upgradeInstall(Path chart, String namespace, String name, Map<String, Object> values, Duration timeout,
                                Deployed live) {
            return upgradeInstall(chart, namespace, name, values, timeout, live, null);
        }

        private Deployed upgradeInstall(Path chart, String namespace, String name, Map<String, Object> values, Duration timeout,
                                        Deployed live, String description) {
            Path valuesFile = writeValues(values);
            int seconds = (int) Math.max(1, timeout.toSeconds());
            try {
                Release r;
                if (live == null) {
                    r = new Helm(chart).install().atomic().waitReady().withTimeout(seconds).withName(name)
                            .withNamespace(namespace).withValuesFile(valuesFile).withKubeConfig(kubeconfig).call();
                } else {
                    var upgrade = new Helm(chart).upgrade().atomic().waitReady().withTimeout(seconds).withName(name)
                            .withNamespace(namespace).withValuesFile(valuesFile).withKubeConfig(kubeconfig);
                    r = (description == null ? upgrade : upgrade.withDescription(description)).call();
                }
                return new Deployed(r.getName(), namespace, revision(r), r.getChart(), r.getStatus(), values);
            } catch (RuntimeException e) {
                throw failed(namespace, name, timeout, live, e);
            } finally {
                deleteQuietly(valuesFile);
            }
        }

        /** One line: why the install or upgrade failed and what Helm left behind (read back, not assumed). */
        private GfwException failed(String namespace, String name, Duration timeout, Deployed before, RuntimeException e) {
            String msg = GfwException.firstLine(e.getMessage());
            if (msg.contains("another operation (install/upgrade/rollback) is in progress")) {
                Deployed now = get(namespace, name);
                return pending(now != null ? now : before);
            }
            boolean timedOut = msg.contains("context deadline exceeded") || msg.contains("timed out");
            Deployed after;
            try {
                after = get(namespace, name);
            } catch (GfwException unreadable) {
                after = null;
            }
            String left = before == null
                    ? (after == null ? "the failed first install was removed (helm --atomic)"
                            : "the failed first install is still there as revision " + after.revision() + " (" + after.status() + ")")
                    : (after != null && "deployed".equals(after.status()) && after.revision() > before.revision()
                            ? "Helm rolled it back: revision " + after.revision() + " is revision " + before.revision() + " again"
                            : "it is now " + (after == null ? "unreadable" : "revision " + after.revision() + " (" + after.status() + ")"));
            String why = timedOut ? "was not ready within " + timeout.toSeconds() + " s" : "failed";
            return new GfwException(timedOut ? ExitCode.UNAVAILABLE : ExitCode.REMOTE_ERROR, "release " + name + " " + why
                    + "; " + left + ": " + msg
                    + (timedOut ? "; check its pods with 'kubectl -n " + namespace + " get pods -l app=" + name + "' or raise --timeout" : ""), e);
        }

        /** {@code helm history}: every revision Helm keeps, oldest first. */
        List<Revision> history(String namespace, String name) {
            List<ReleaseHistory> h;
            try {
                h = Helm.history(name).withNamespace(namespace).withKubeConfig(kubeconfig).call();
            } catch (RuntimeException e) {
                if (String.valueOf(e.getMessage()).contains("not found")) {
                    throw new GfwException(ExitCode.NOT_FOUND, "release " + name + " is not installed in namespace " + namespace
                            + "; deploy it with 'gfw deploy-runners'");
                }
                throw helmError("read the history of release " + name, e);
            }
            return h.stream().map(x -> new Revision(x.getRevision(), x.getUpdated() == null ? null : x.getUpdated().toOffsetDateTime().toString(),
                    x.getStatus(), x.getChart(), x.getAppVersion(), x.getDescription())).toList();
        }

        /**
         * {@code helm rollback --wait} done as Helm does it: revision {@code to}'s chart and values (from Helm's record,
         * {@link HelmRecords}) become a new revision described "Rollback to N", with --atomic (a rollback that does not
         * become ready is itself rolled back) and --wait up to {@code timeout}. {@code live} must not be pending.
         */
        Deployed rollback(KubernetesClient client, String namespace, String name, int to, Duration timeout, Deployed live) {
            var record = HelmRecords.read(client, namespace, name, to);
            Path chart = HelmRecords.chartDirectory(record, name);
            return upgradeInstall(chart, namespace, name, HelmRecords.values(record), timeout, live, "Rollback to " + to);
        }

        /**
         * A release an interrupted Helm left pending-*: each pending revision is marked failed in Helm's record
         * ({@link HelmRecords#markFailed}), so that Helm takes the release again; returns the release as Helm now sees it.
         * Only when no Helm is still working on it.
         */
        Deployed unstick(KubernetesClient client, String namespace, String name, List<Revision> history, java.util.function.Consumer<String> said) {
            for (Revision h : history) {
                if (h.status() == null || !h.status().startsWith("pending")) continue;
                HelmRecords.markFailed(client, namespace, name, h.revision(), "Interrupted " + h.status() + " (gfw runners rollback --unstick)");
                said.accept("revision " + h.revision() + " of " + name + " was " + h.status() + ": marked failed");
            }
            return get(namespace, name);
        }

        /** {@code helm uninstall}: the release's objects and its records go; an already uninstalled release is not an error. */
        void uninstall(String namespace, String name) {
            try {
                Helm.uninstall(name).ignoreNotFound().withNamespace(namespace).withKubeConfig(kubeconfig).call();
            } catch (RuntimeException e) {
                throw helmError("uninstall release " + name, e);
            }
        }

        /** {@code helm template}: the manifests the chart renders for these values. */
        String template(Path chart, String namespace, String name, Map<String, Object> values) {
            Path valuesFile = writeValues(values);
            try {
                return new Helm(chart).template().withName(name).withNamespace(namespace).withValuesFile(valuesFile).call();
            } catch (RuntimeException e) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "chart " + chart + " does not render for release " + name + ": "
                        + GfwException.firstLine(e.getMessage()), e);
            } finally {
                deleteQuietly(valuesFile);
            }
        }

        private static GfwException helmError(String what, RuntimeException e) {
            String msg = GfwException.firstLine(e.getMessage());
            int code = msg.contains("Unauthorized") ? ExitCode.AUTH
                    : msg.contains("connection refused") || msg.contains("no such host") || msg.contains("i/o timeout") ? ExitCode.UNAVAILABLE
                    : ExitCode.REMOTE_ERROR;
            return new GfwException(code, "Helm could not " + what + ": " + msg, e);
        }
    }

    /**
     * The revision a rollback goes back to: the newest one before the current that did not fail (for a pending release:
     * the last deployed one). None is {@link ExitCode#NOT_FOUND} with the way out.
     */
    static int lastGoodBefore(List<Revision> history, Deployed live, boolean pending) {
        for (int i = history.size() - 1; i >= 0; i--) {
            Revision h = history.get(i);
            if (h.revision() >= live.revision()) continue;
            if (pending ? "deployed".equals(h.status()) || "superseded".equals(h.status()) : !"failed".equals(h.status())) return h.revision();
        }
        throw new GfwException(ExitCode.NOT_FOUND, "release " + live.name() + " has no earlier deployed revision to go back to"
                + (pending && live.revision() == 1 ? "; its first install was interrupted: delete Secret " + HelmRecords.secretName(live.name(), 1)
                + " in namespace " + live.namespace() + " and deploy again" : ""));
    }

    /**
     * A release stuck in pending-install, pending-upgrade or pending-rollback: Helm refuses every operation on it
     * ("another operation is in progress"). Names the release and both ways out.
     */
    static GfwException pending(Deployed r) {
        String secret = "sh.helm.release.v1." + r.name() + ".v" + r.revision();
        return new GfwException(ExitCode.CONFLICT, "release " + r.name() + " is " + r.status() + " (revision " + r.revision()
                + "): another Helm operation is running, or one was interrupted; if none is running, delete that revision's record"
                + " with 'kubectl -n " + r.namespace() + " delete secret " + secret + "' (Helm then sees "
                + (r.revision() > 1 ? "revision " + (r.revision() - 1) + " again" : "no release, and installs it anew")
                + "; with a helm binary: 'helm -n " + r.namespace() + (r.status().equals("pending-install") ? " uninstall " : " rollback ") + r.name() + "')"
                + ", then run gfw deploy-runners again");
    }

    /**
     * A file only the user can read, in gfw's private temporary directory ({@link TempFiles}: removed when the run
     * ends, and by the next start when the run was killed). helm-java 0.0.21 ignores kubeconfig contents on upgrade
     * (it falls back to localhost:8080), so Helm gets a file. {@code deleteOnExit} is kept for callers: every such
     * file goes with its run's folder.
     */
    static Path writePrivate(String prefix, String content, boolean deleteOnExit) {
        return TempFiles.file(prefix, ".yaml", content.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * The kubeconfig handed to Helm: the user's file with gfw's choice of context made current and
     * gfw's proxy (if any) set on that cluster, so Helm and the fabric8 client talk to the same place.
     */
    static String kubeconfigFor(KubeClients.Target target) {
        Config cfg = KubeClients.parseKubeconfig(target.kubeconfig());
        cfg.setCurrentContext(target.context());
        String clusterName = cfg.getContexts().stream().filter(c -> c.getName().equals(target.context()))
                .map(c -> c.getContext().getCluster()).findFirst().orElse(null);
        // Relative file names in a kubeconfig are relative to it; the copy lives elsewhere.
        Path base = target.kubeconfig().toAbsolutePath().getParent();
        if (cfg.getClusters() != null) {
            for (var c : cfg.getClusters()) {
                if (c.getCluster() == null) continue;
                c.getCluster().setCertificateAuthority(absolute(base, c.getCluster().getCertificateAuthority()));
                if (Objects.equals(c.getName(), clusterName)) {
                    // Go's SOCKS5 dialer hands host names to the proxy anyway; it knows only socks5://.
                    c.getCluster().setProxyUrl(target.proxy() == null ? null : target.proxy().replaceFirst("^socks5h://", "socks5://"));
                }
            }
        }
        if (cfg.getUsers() != null) {
            for (var u : cfg.getUsers()) {
                if (u.getUser() == null) continue;
                u.getUser().setClientCertificate(absolute(base, u.getUser().getClientCertificate()));
                u.getUser().setClientKey(absolute(base, u.getUser().getClientKey()));
                u.getUser().setTokenFile(absolute(base, u.getUser().getTokenFile()));
            }
        }
        return Serialization.asYaml(cfg);
    }

    private static String absolute(Path base, String file) {
        if (file == null || file.isEmpty() || base == null || Path.of(file).isAbsolute()) return file;
        return base.resolve(file).normalize().toString();
    }

    static Map<String, Object> parseValues(String yaml) {
        if (yaml == null || yaml.isBlank() || yaml.trim().equals("null")) return new LinkedHashMap<>();
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = YAML.readValue(yaml, LinkedHashMap.class);
            return m == null ? new LinkedHashMap<>() : m;
        } catch (IOException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "the deployed release's values are not YAML: " + GfwException.firstLine(e.getMessage()), e);
        }
    }

    /** Values files are only readable by the user (they hold no token, but may hold other settings). */
    private static Path writeValues(Map<String, Object> values) {
        return writePrivate("gfw-values-", Output.yaml(values), false);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a temp file left behind is harmless
        }
    }

    private static int revision(Release r) {
        try {
            return Integer.parseInt(r.getRevision());
        } catch (RuntimeException e) {
            return 0;
        }
    }

    // ---- values comparison ----------------------------------------------------------------------

    /** Changed value paths, e.g. {@code concurrent: 8 -> 12}; long or multi-line values only say "changed". */
    static List<String> valueChanges(Map<String, Object> desired, Map<String, Object> deployed) {
        var out = new ArrayList<String>();
        diff("", tree(deployed), tree(desired), out);
        return out;
    }

    private static JsonNode tree(Map<String, Object> m) {
        return YAML.valueToTree(m == null ? Map.of() : m);
    }

    private static void diff(String path, JsonNode have, JsonNode want, List<String> out) {
        if (have != null && have.isObject() && want != null && want.isObject()) {
            var keys = new java.util.LinkedHashSet<String>();
            want.fieldNames().forEachRemaining(keys::add);
            have.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) diff(path.isEmpty() ? k : path + "." + k, have.get(k), want.get(k), out);
            return;
        }
        if (Objects.equals(have, want)) return;
        out.add(path + ": " + brief(have) + " -> " + brief(want));
    }

    private static String brief(JsonNode n) {
        if (n == null || n.isMissingNode()) return "(none)";
        String s = n.isTextual() ? n.asText() : n.toString();
        if (s.contains("\n") || s.length() > 60) return "(" + s.length() + " characters)";
        return s;
    }

    // ---- finding the chart ----------------------------------------------------------------------

    /**
     * A local chart given with {@code --chart}: a directory with Chart.yaml (its name and version
     * must be the pinned ones) or a packaged {@code .tgz}.
     */
    static Path localChart(String path, String name, String version, String configFile) {
        Path p = Path.of(path);
        if (Files.isDirectory(p)) {
            Path chartYaml = p.resolve("Chart.yaml");
            if (!Files.isRegularFile(chartYaml)) {
                throw new GfwException(ExitCode.NO_INPUT, "--chart " + path + " is a directory without Chart.yaml; give a chart directory or a .tgz");
            }
            try {
                JsonNode meta = YAML.readTree(Files.readString(chartYaml));
                String n = meta.path("name").asText(), v = meta.path("version").asText();
                if (!name.equals(n) || !version.equals(v)) {
                    throw new GfwException(ExitCode.USAGE, "--chart " + path + " is " + n + " " + v + " but " + configFile
                            + " runnerChart pins " + name + " " + version + "; use the matching chart or change runnerChart.version");
                }
            } catch (IOException e) {
                throw new GfwException(ExitCode.NO_INPUT, "--chart " + path + ": cannot read Chart.yaml: " + e.getMessage(), e);
            }
            return p;
        }
        if (Files.isRegularFile(p)) return p;
        throw new GfwException(ExitCode.NO_INPUT, "--chart " + path + " does not exist; give a chart directory or a packaged .tgz");
    }

    /**
     * The chart from a Helm repository: {@code <repo>/index.yaml} names the archive and its sha256
     * digest; the archive is downloaded once into {@code cacheDir} and checked. Fails with one line
     * when the repository cannot be reached or does not have that version.
     */
    static Path fetchChart(String repository, String name, String version, Path cacheDir) {
        return fetchChart(repository, name, version, cacheDir, new Http.Client("the chart repository").timeout(Duration.ofSeconds(60))
                .routes(url -> Http.route(url, null, null, null, null, System.getenv())));
    }

    /**
     * As above, through {@code client}: its route for each URL ({@link Http#route}: --proxy, HTTPS_PROXY,
     * NO_PROXY, cluster.proxy; SOCKS too), its timeout and its --cacert. Redirects are followed.
     */
    static Path fetchChart(String repository, String name, String version, Path cacheDir, Http.Client client) {
        Path cached = cacheDir.resolve(name + "-" + version + ".tgz");
        if (Files.isRegularFile(cached)) return cached;
        String repo = repository.replaceAll("/+$", "");
        Http.Client http = client.followRedirects(5).accept("*/*", 512L * 1024 * 1024);
        JsonNode index;
        try {
            index = YAML.readTree(get(http, repo + "/index.yaml", "the chart repository index"));
        } catch (IOException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, repo + "/index.yaml is not a Helm repository index: " + GfwException.firstLine(e.getMessage()), e);
        }
        JsonNode entries = index.path("entries").path(name);
        JsonNode entry = null;
        var versions = new ArrayList<String>();
        for (JsonNode e : entries) {
            versions.add(e.path("version").asText());
            if (version.equals(e.path("version").asText())) entry = e;
        }
        if (entry == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "chart " + name + " " + version + " is not in " + repo + "/index.yaml"
                    + (versions.isEmpty() ? " (no " + name + " chart at all)" : " (newest: " + String.join(", ", versions.subList(0, Math.min(5, versions.size()))) + ")")
                    + "; fix runnerChart.version or pass --chart-repo / --chart");
        }
        String url = entry.path("urls").path(0).asText("");
        if (url.isEmpty()) throw new GfwException(ExitCode.REMOTE_ERROR, repo + "/index.yaml lists " + name + " " + version + " without a download URL");
        URI archive = URI.create(repo + "/").resolve(url);
        byte[] bytes = getBytes(http, archive.toString(), "the chart archive");
        String digest = entry.path("digest").asText("");
        if (!digest.isEmpty()) {
            String actual = sha256(bytes);
            if (!digest.equalsIgnoreCase(actual)) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "chart archive " + archive + " has sha256 " + actual + " but the index says " + digest
                        + "; the repository or a proxy altered it, refusing to use it");
            }
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, name, ".part");
            Files.write(tmp, bytes);
            Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot store the chart in " + cacheDir + ": " + e.getMessage(), e);
        }
        return cached;
    }

    /** ~/.cache/gfw/charts (XDG_CACHE_HOME respected). */
    static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        String home = System.getenv("HOME") != null ? System.getenv("HOME") : System.getProperty("user.home");
        return (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(home, ".cache")).resolve("gfw").resolve("charts");
    }

    private static String get(Http.Client http, String url, String what) {
        return new String(getBytes(http, url, what), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static byte[] getBytes(Http.Client http, String url, String what) {
        Http.Response resp;
        try {
            resp = http.get(url);
        } catch (GfwException e) {
            if (e.exitCode() != ExitCode.UNAVAILABLE && e.exitCode() != ExitCode.REMOTE_ERROR) throw e;
            throw new GfwException(e.exitCode(), "cannot fetch " + what + ": " + e.getMessage() + "; pass --chart-repo MIRROR or --chart PATH for an offline chart", e);
        }
        if (resp.status() != 200) {
            throw new GfwException(resp.status() == 404 ? ExitCode.NOT_FOUND : ExitCode.REMOTE_ERROR,
                    "cannot fetch " + what + " " + url + ": HTTP " + resp.status() + "; pass --chart-repo MIRROR or --chart PATH");
        }
        return resp.bytes();
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private HelmReleases() {}
}
