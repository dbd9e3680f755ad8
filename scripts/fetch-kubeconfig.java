///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/Http.java
//SOURCES ../lib/KubeconfigFile.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * fetch-kubeconfig: a working {@code kubeconfig-ENV} from Rancher, through the SOCKS proxy — the
 * seed's manual "log into Rancher, download, save, pass to tofu" as one command.
 *
 * <ol>
 * <li>Looks up the environment's Rancher cluster ({@code GET /v3/clusters?name=<cluster.rancher.cluster>})
 * and asks for its kubeconfig ({@code POST /v3/clusters/<id>?action=generateKubeconfig}), with the
 * token from {@code RANCHER_TOKEN} or {@code --token-file FILE} ({@code -} reads stdin). The token
 * is never a command-line value and never printed.</li>
 * <li>Renames the context (and its cluster and user entries) to the environment's {@code cluster.context},
 * makes it the current context, and adds {@code proxy-url} to the clusters when a proxy is in use, so that
 * kubectl, helm, OpenTofu and gfw all reach the cluster the same way.</li>
 * <li>Writes it to a temporary file (mode 0600 from the start), calls the API server's {@code /version}
 * with it through the same route ({@code --no-verify} skips this, e.g. when the API server is reachable
 * only from elsewhere), then renames it over {@code kubeconfig-ENV} at the repository root (the
 * directory holding {@code environments/}, from the current directory up; else the current directory),
 * or {@code --kubeconfig FILE}. Any failure leaves the old file as it was. A file for another API
 * server is only replaced with {@code --force}.</li>
 * <li>Prints the next steps to stderr ({@code export KUBECONFIG=...}, the OpenTofu flags) and the
 * file's path to stdout; {@code -o tfvars} prints {@code k8s_config_path}/{@code cluster_context} as a
 * tfvars snippet instead, {@code -o json} everything as JSON.</li>
 * </ol>
 *
 * <p>Proxy, first match wins: {@code --proxy URL} ({@code none} turns it off), {@code $HTTPS_PROXY}
 * (direct when {@code $NO_PROXY} names Rancher's host), the environment's {@code cluster.proxy} (not for a
 * loopback Rancher URL, i.e. a port-forward) — the order every gfw script uses. {@code socks5h://} lets
 * the proxy resolve host names. When the proxy is down the error says how to open it:
 * {@code ssh -D 1080 <cluster.jumphost>}.
 *
 * <p>GitLab CI ({@code GITLAB_CI=true}, unless {@code --no-ci}) or {@code --ci}: no Rancher call. Checks that the agent context
 * ({@code cluster.ciAgentContext}, {@code {org}/projects/kubernetes/gitlab-agents:{env}}) is in the job's
 * kubeconfig ({@code --kubeconfig} or {@code $KUBECONFIG}), selects it by rewriting that file's
 * {@code current-context} atomically (what {@code kubectl config use-context} does, so later kubectl and
 * tofu steps of the job use it too) and verifies it like above.
 *
 * <p>TLS: Rancher's certificate is verified against the system trust store, or only against
 * {@code --cacert FILE} (PEM, a private CA); {@code --insecure-skip-tls-verify} turns verification off,
 * with a warning.
 *
 * <p>Exit codes: 0 written (or selected in CI); 64 bad flag; 65 bad environment; 66 no token, unreadable
 * token file or --cacert, agent context missing in CI; 67 planned environment, or the file is for another
 * cluster (use --force); 68 no such Rancher cluster; 69 proxy, Rancher or API server unreachable, timed
 * out, or Rancher's TLS certificate not trusted; 73 cannot write the file; 77 token rejected (401/403) or
 * the new kubeconfig's credentials rejected; 79 Rancher answered with an error or something that is not a
 * kubeconfig.
 *
 * <p>Environment: RANCHER_TOKEN, HTTPS_PROXY, NO_PROXY, GITLAB_CI, KUBECONFIG (CI mode), GFW_ENVIRONMENTS.
 *
 * <pre>
 *   ssh -D 1080 jumphost -N &amp;
 *   RANCHER_TOKEN=$(pass rancher/token) gfw fetch-kubeconfig dev
 *   gfw provision-namespaces dev          # finds kubeconfig-dev by itself
 * </pre>
 */
@Command(name = "fetch-kubeconfig", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fetch a working kubeconfig-ENV from Rancher (through the SOCKS proxy), or select the GitLab agent context in CI.",
                "Token: RANCHER_TOKEN or --token-file. Proxy: --proxy, else HTTPS_PROXY, else the environment's cluster.proxy."},
        footer = {"", "Examples:", "  RANCHER_TOKEN=token-... fetch-kubeconfig dev   # writes ./kubeconfig-dev",
                "  fetch-kubeconfig dev -o tfvars > dev.auto.tfvars"})
class FetchKubeconfig implements Callable<Integer> {

    enum Format { path, tfvars, json }

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment name (environments/ENV.yaml) or file.")
    String envName;

    @Mixin Cli.EnvOptions envOptions;

    @Option(names = "--rancher-url", paramLabel = "URL", description = "Rancher server (default: the environment's cluster.rancher.url).")
    String rancherUrl;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding the Rancher API token; - reads it from stdin, or asks without echo at a terminal (default: $RANCHER_TOKEN).")
    String tokenFile;

    /** Accepted only to refuse it without echoing the value (picocli would print an unknown argument). */
    @Option(names = "--token", hidden = true, paramLabel = "TOKEN")
    String tokenOnCommandLine;

    @Option(names = "--proxy", paramLabel = "URL", description = "Proxy for Rancher and the API server, e.g. socks5h://localhost:1080, or none (default: $HTTPS_PROXY, else the environment's cluster.proxy).")
    String proxyOption;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "Where to write (default: kubeconfig-ENV at the repository root). In CI mode: the job's kubeconfig (default: $KUBECONFIG).")
    String kubeconfigOption;

    @Option(names = "--context", paramLabel = "NAME", description = "Context name to write/select (default: the environment's cluster.context; in CI mode its ciAgentContext).")
    String contextOption;

    @Option(names = "--force", description = "Replace a kubeconfig that points at another API server.")
    boolean force;

    @Option(names = "--no-verify", description = "Do not call the API server's /version with the new file before saving it.")
    boolean noVerify;

    @Option(names = "--ci", negatable = true, description = "GitLab CI mode (default when GITLAB_CI=true): no Rancher call; check and select the agent context. --no-ci fetches from Rancher even in CI.")
    Boolean ci;

    @Option(names = "--cacert", paramLabel = "FILE", description = "Trust only the CA certificates in this PEM file for Rancher (a private CA).")
    Path caCert;

    @Option(names = "--insecure-skip-tls-verify", description = "Do not verify Rancher's TLS certificate (not recommended).")
    boolean insecure;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30s", description = "Per-request timeout, e.g. 30s, 2m (default: ${DEFAULT-VALUE}).")
    String timeoutText;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "path",
            description = "What goes to stdout: path (the file written), tfvars (k8s_config_path and cluster_context), json (default: ${DEFAULT-VALUE}).")
    String outputText;

    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String... args) {
        System.exit(Cli.run(new FetchKubeconfig(), args));
    }

    @Override
    public Integer call() {
        if (tokenOnCommandLine != null) {
            throw new GfwException(ExitCode.USAGE, "--token is not accepted: a token on the command line ends up in shell history and ps; "
                    + "set RANCHER_TOKEN or pass --token-file FILE (- reads stdin)");
        }
        Format format = format(outputText);
        Duration timeout = Cli.duration(timeoutText, "--timeout");
        if (caCert != null && insecure) {
            throw new GfwException(ExitCode.USAGE, "--cacert and --insecure-skip-tls-verify contradict each other: pass only one");
        }
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "fetch a kubeconfig for it (there is no cluster yet)");
        if (ci != null ? ci : KubeClients.inGitLabCi()) return selectAgentContext(env, format);

        // 1. Everything that can be wrong locally is checked before the first request.
        String context = contextOption != null ? contextOption : env.cluster().context();
        String rancher = rancherUrl(env);
        String token = readToken();
        Http.ProxySpec proxy = chooseProxy(proxyOption, System.getenv("HTTPS_PROXY"), System.getenv("NO_PROXY"), env, rancher);
        Path target = kubeconfigOption != null ? Path.of(kubeconfigOption) : KubeClients.environmentKubeconfig(env.name());
        var http = new Http.Client("Rancher").proxy(proxy).proxyHint(proxyHint(env, proxy)).timeout(timeout).bearer(token);
        if (caCert != null) http.caCert(caCert, "--cacert");
        if (insecure) {
            Cli.warn("--insecure-skip-tls-verify: Rancher's certificate is not checked; the token could go to an impostor");
            http.insecure(true);
        }
        if (rancher.startsWith("http://") && !Http.isLoopback(rancher)) {
            Cli.warn("Rancher URL " + rancher + " is plain http: the token crosses the network unencrypted");
        }
        Cli.info("Rancher " + rancher + (proxy == null ? "" : " via " + proxy.url() + " (" + proxy.origin() + ")")
                + ": fetching the kubeconfig of cluster " + env.cluster().rancher().cluster());

        // 2. Rancher: the cluster's id, then its kubeconfig.
        String clusterName = env.cluster().rancher().cluster();
        String clusterId = findClusterId(http, rancher, clusterName, env);
        KubeconfigFile kubeconfig = generateKubeconfig(http, rancher, clusterId);

        // 3. Named as the environment expects, reachable the way Rancher was.
        String source = sourceContext(kubeconfig);
        kubeconfig.renameContext(source, context);
        kubeconfig.setCurrentContext(context);
        if (proxy != null) kubeconfig.setProxyUrl(proxy.kubeconfigUrl());
        String server = kubeconfig.server(context);
        refuseOtherCluster(target, context, server);

        // 4. Temp file (0600), verified, renamed over the old one.
        String header = "# kubeconfig for gfw environment " + env.name() + " (context " + context + "), from Rancher " + rancher
                + " cluster " + clusterName + " (" + clusterId + ")\n# written by gfw fetch-kubeconfig at "
                + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "; it holds a token: keep it private, fetch again when it expires\n";
        String version = null;
        try (var pending = KubeconfigFile.writeTemp(target, header + kubeconfig.toYaml(), KubeconfigFile.PRIVATE)) {
            if (!noVerify) version = verify(pending.path(), context, server, proxy, "the new kubeconfig");
            pending.commit();
        }
        Path written = target.toAbsolutePath().normalize();
        Cli.info("Wrote " + written + " (mode 0600): context " + context + ", server " + server
                + (proxy == null ? "" : ", proxy-url " + proxy.kubeconfigUrlShown()));
        Cli.info(version == null ? "Not verified (--no-verify)." : "Verified: API server " + version + " answered; current context " + context + ".");
        String kubeconfigVariable = System.getenv("KUBECONFIG");
        boolean shadowed = kubeconfigVariable != null && !kubeconfigVariable.isBlank()
                && !Path.of(kubeconfigVariable.split(java.io.File.pathSeparator)[0]).toAbsolutePath().normalize().equals(written);
        if (shadowed) {
            Cli.warn("KUBECONFIG is set (" + kubeconfigVariable + "): kubectl and gfw use it before " + written.getFileName()
                    + "; export KUBECONFIG=" + written + " or unset it");
        }
        nextSteps(env, written, context, kubeconfigOption == null && !shadowed);
        print(format, written, context, server, proxy == null ? null : proxy.kubeconfigUrlShown(), version, false);
        return ExitCode.OK;
    }

    // ---- inputs -----------------------------------------------------------------------------------

    static Format format(String text) {
        try {
            return Format.valueOf(text.toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.USAGE, "-o/--output: '" + text + "' is not a format (path, tfvars, json); "
                    + "to choose where the kubeconfig is written use --kubeconfig FILE");
        }
    }

    private String rancherUrl(EnvConfig.Env env) {
        String url = rancherUrl != null ? rancherUrl : env.cluster().rancher().url();
        String where = rancherUrl != null ? "--rancher-url" : env.file() + " cluster.rancher.url";
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            uri = null;
        }
        if (uri == null || uri.getHost() == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
            throw new GfwException(ExitCode.USAGE, where + ": '" + url + "' is not an http(s) URL; use e.g. https://rancher.example.com");
        }
        return url.replaceAll("/+$", "");
    }

    /** The Rancher API token: --token-file (a file, or - for stdin), else RANCHER_TOKEN. */
    private String readToken() {
        String token;
        String from;
        if (tokenFile != null) {
            from = "-".equals(tokenFile) ? "--token-file - (stdin)" : "--token-file " + tokenFile;
            try {
                if ("-".equals(tokenFile)) {
                    java.io.Console console = interactiveConsole();
                    if (console != null) {
                        char[] typed = console.readPassword("Rancher API token (not echoed): ");
                        token = typed == null ? "" : new String(typed);
                    } else {
                        token = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
                    }
                } else {
                    Path p = Path.of(tokenFile);
                    token = Files.readString(p);
                    warnIfReadableByOthers(p);
                }
            } catch (IOException e) {
                throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read it (" + Http.rootMessage(e)
                        + "); put the Rancher API token in a file only you can read");
            }
        } else {
            from = "RANCHER_TOKEN";
            token = System.getenv("RANCHER_TOKEN");
            if (token == null) {
                throw new GfwException(ExitCode.NO_INPUT, "no Rancher token: set RANCHER_TOKEN or pass --token-file FILE (- reads stdin); "
                        + "create an API key in Rancher under your avatar > Account & API Keys");
            }
        }
        token = token.strip();
        if (token.isEmpty()) throw new GfwException(ExitCode.NO_INPUT, from + " is empty: it must hold the Rancher API token");
        if (token.chars().anyMatch(ch -> ch <= ' ' || ch == 127)) {
            throw new GfwException(ExitCode.USAGE, from + " holds more than one line or spaces: it must be just the token (token-xxxxx:yyyy)");
        }
        return token;
    }

    /** The terminal, when stdin is one (Java 22+ returns a Console for pipes too: ask it). */
    private static java.io.Console interactiveConsole() {
        java.io.Console c = System.console();
        if (c == null) return null;
        try {
            return Boolean.TRUE.equals(java.io.Console.class.getMethod("isTerminal").invoke(c)) ? c : null;
        } catch (ReflectiveOperationException e) {
            return c; // Java 17-21: a Console exists only for a terminal
        }
    }

    private static void warnIfReadableByOthers(Path p) {
        try {
            var perms = Files.getPosixFilePermissions(p);
            if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
                Cli.warn("token file " + p + " is readable by others; chmod 600 " + p);
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // not a POSIX file system: nothing to check
        }
    }

    /**
     * The proxy for Rancher and the API server: --proxy (none = no proxy), else HTTPS_PROXY (no proxy
     * at all when NO_PROXY names Rancher's host), else the environment's cluster.proxy unless Rancher is on a loopback
     * address (a port-forward: the proxy's side would not reach it).
     */
    static Http.ProxySpec chooseProxy(String option, String httpsProxy, String noProxy, EnvConfig.Env env, String rancherUrl) {
        if (option != null) return Http.proxy(option, "--proxy");
        if (httpsProxy != null && !httpsProxy.isBlank()) {
            return noProxyMatches(noProxy, rancherUrl) ? null : Http.proxy(httpsProxy, "HTTPS_PROXY");
        }
        String envProxy = env.cluster().proxy();
        if (envProxy == null || envProxy.isBlank() || Http.isLoopback(rancherUrl)) return null;
        return Http.proxy(envProxy, env.file() + " cluster.proxy");
    }

    static boolean noProxyMatches(String noProxy, String url) {
        if (noProxy == null || noProxy.isBlank()) return false;
        String host = URI.create(url).getHost();
        if (host == null) return false;
        host = host.toLowerCase(Locale.ROOT);
        for (String entry : noProxy.split(",")) {
            String e = entry.trim().toLowerCase(Locale.ROOT).replaceFirst(":\\d+$", "");
            if (e.isEmpty()) continue;
            if (e.equals("*")) return true;
            if (e.startsWith("*")) e = e.substring(1);
            if (host.equals(e) || (e.startsWith(".") ? host.endsWith(e) : host.endsWith("." + e))) return true;
        }
        return false;
    }

    private static String proxyHint(EnvConfig.Env env, Http.ProxySpec proxy) {
        if (proxy == null) return "";
        String jump = env.cluster().jumphost() == null ? "<jumphost>" : env.cluster().jumphost();
        if (proxy.type() == java.net.Proxy.Type.SOCKS && Http.isLoopback("socks://" + proxy.host())) {
            return "open the tunnel with 'ssh -D " + proxy.port() + " " + jump + "' (" + env.file()
                    + " cluster.jumphost), or pass --proxy none when on-site";
        }
        return "check the proxy, or pass --proxy none when on-site";
    }

    // ---- Rancher ----------------------------------------------------------------------------------

    private static String findClusterId(Http.Client http, String rancher, String name, EnvConfig.Env env) {
        Http.Response r = http.get(rancher + "/v3/clusters?name=" + URLEncoder.encode(name, StandardCharsets.UTF_8));
        if (r.status() == 404) {
            throw new GfwException(ExitCode.REMOTE_ERROR, rancher + " has no Rancher v3 API (GET /v3/clusters answered 404); "
                    + "is it the Rancher server's address?");
        }
        failUnlessOk(http, r, rancher, "list clusters");
        JsonNode data = json(r, rancher, "GET /v3/clusters").path("data");
        if (!data.isArray()) throw notRancher(rancher, "GET /v3/clusters", "no data list");
        var seen = new ArrayList<String>();
        for (JsonNode c : data) {
            if (name.equals(c.path("name").asText())) {
                String id = c.path("id").asText("");
                if (!id.matches("[A-Za-z0-9][A-Za-z0-9._:-]*")) throw notRancher(rancher, "GET /v3/clusters", "cluster " + name + " has no usable id");
                return id;
            }
            seen.add(c.path("name").asText());
        }
        throw new GfwException(ExitCode.NOT_FOUND, "Rancher " + rancher + " has no cluster named '" + name + "' that this token can see ("
                + env.file() + " cluster.rancher.cluster); check the name in Rancher's cluster list and the token's scope");
    }

    private static KubeconfigFile generateKubeconfig(Http.Client http, String rancher, String id) {
        Http.Response r = http.post(rancher + "/v3/clusters/" + id + "?action=generateKubeconfig", "{}");
        if (r.status() == 404) {
            throw new GfwException(ExitCode.NOT_FOUND, "Rancher " + rancher + " has no cluster " + id + " any more (generateKubeconfig answered 404)");
        }
        failUnlessOk(http, r, rancher, "generate the kubeconfig of cluster " + id);
        JsonNode config = json(r, rancher, "generateKubeconfig").path("config");
        if (!config.isTextual() || config.asText().isBlank()) throw notRancher(rancher, "generateKubeconfig", "no 'config' field");
        try {
            return KubeconfigFile.parse(config.asText());
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher " + rancher + " answered generateKubeconfig with something that is not a usable kubeconfig ("
                    + e.getMessage() + "); nothing written");
        }
    }

    private static void failUnlessOk(Http.Client http, Http.Response r, String rancher, String what) {
        if (r.ok()) return;
        String reason = http.mask(rancherMessage(r));
        if (r.status() == 401) {
            throw new GfwException(ExitCode.AUTH, "Rancher " + rancher + " rejected the token (401" + reason + "); set RANCHER_TOKEN or --token-file "
                    + "to a valid API key (Rancher: avatar > Account & API Keys); expired keys must be recreated");
        }
        if (r.status() == 403) {
            throw new GfwException(ExitCode.AUTH, "Rancher " + rancher + " refused to " + what + " with this token (403" + reason
                    + "); the API key needs access to the cluster (not scoped to another one)");
        }
        throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher " + rancher + " failed to " + what + " (" + r.status() + reason + ")");
    }

    /** ": <message>" from a Rancher error body, or "" (the body is never echoed whole). */
    private static String rancherMessage(Http.Response r) {
        try {
            JsonNode n = JSON.readTree(r.body());
            String m = n == null ? "" : n.path("message").asText("");
            return m.isBlank() ? "" : ": " + GfwException.firstLine(m);
        } catch (IOException e) {
            return "";
        }
    }

    private static JsonNode json(Http.Response r, String rancher, String what) {
        try {
            JsonNode n = JSON.readTree(r.body());
            if (n == null || !n.isObject()) throw notRancher(rancher, what, "not a JSON object");
            return n;
        } catch (IOException e) {
            throw notRancher(rancher, what, "not JSON" + (r.contentType() == null ? "" : ", " + r.contentType()));
        }
    }

    private static GfwException notRancher(String rancher, String what, String why) {
        return new GfwException(ExitCode.REMOTE_ERROR, "the answer of " + rancher + " to " + what + " is not what Rancher sends (" + why
                + "); is the URL the Rancher server's?");
    }

    /** The context Rancher meant: its current context, else the only one. */
    private static String sourceContext(KubeconfigFile k) {
        String current = k.currentContext();
        if (current != null && k.hasContext(current)) return current;
        List<String> names = k.contextNames();
        if (names.size() == 1) return names.get(0);
        throw new GfwException(ExitCode.REMOTE_ERROR, "Rancher's kubeconfig has " + names.size() + " contexts (" + String.join(", ", names)
                + ") and no current context: cannot tell which one is the cluster's");
    }

    // ---- the file ---------------------------------------------------------------------------------

    /** A kubeconfig already at the target that points at another API server is kept unless --force. */
    private void refuseOtherCluster(Path target, String context, String newServer) {
        if (force || !Files.exists(target)) return;
        KubeconfigFile old;
        try {
            old = KubeconfigFile.read(target);
        } catch (IOException | IllegalArgumentException e) {
            throw new GfwException(ExitCode.REFUSED, target + " exists and is not a kubeconfig gfw can read (" + e.getMessage()
                    + "); pass --force to replace it, or --kubeconfig FILE to write elsewhere");
        }
        String ctx = old.hasContext(context) ? context : old.currentContext();
        String oldServer = ctx == null || !old.hasContext(ctx) ? null : old.server(ctx);
        if (oldServer != null && !oldServer.equals(newServer)) {
            throw new GfwException(ExitCode.REFUSED, target + " is for another cluster: its context " + ctx + " points at " + oldServer
                    + ", the new one at " + newServer + "; pass --force to replace it, or --kubeconfig FILE to write elsewhere");
        }
    }

    /** Calls /version with the file's context through the proxy; returns the server's version. */
    private static String verify(Path file, String context, String server, Http.ProxySpec proxy, String what) {
        var target = new KubeClients.Target(file, what, context, server, proxy == null ? null : proxy.kubeconfigUrl());
        try (var client = KubeClients.connect(target)) {
            var v = client.getKubernetesVersion();
            String version = v == null ? null : v.getGitVersion();
            return version == null || version.isBlank() ? "(version not reported)" : version;
        } catch (KubernetesClientException e) {
            GfwException g = Cli.fromKubernetes(e);
            String why = e.getCode() == 401 || e.getCode() == 403 ? "the API server at " + server + " rejected its credentials (" + e.getCode() + ")"
                    : e.getCode() > 0 ? "the API server at " + server + " answered " + e.getCode() + " to /version"
                    : "cannot reach the API server at " + server + ": " + Http.rootMessage(e);
            throw new GfwException(g.exitCode(), what + " does not work: " + why + (proxy == null ? "" : " (via " + proxy.kubeconfigUrlShown() + ")")
                    + "; nothing written, the old file is kept; --no-verify saves it without this check", e);
        }
    }

    private void nextSteps(EnvConfig.Env env, Path file, String context, boolean gfwFindsIt) {
        Cli.info("Next steps:");
        Cli.info("  gfw provision-namespaces " + env.name() + (gfwFindsIt ? "    # gfw finds " + file.getFileName() + " by itself" : " --kubeconfig " + file));
        Cli.info("  export KUBECONFIG=" + file + "    # kubectl, helm");
        Cli.info("  tofu plan -var k8s_config_path=" + file + " -var cluster_context=" + context);
    }

    private static void print(Format format, Path file, String context, String server, String proxyUrl, String version, boolean ci) {
        switch (format) {
            case path -> Cli.out().println(file);
            case tfvars -> {
                Cli.out().println("k8s_config_path = " + hclString(file.toString()));
                Cli.out().println("cluster_context = " + hclString(context));
            }
            case json -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("kubeconfig", file.toString());
                m.put("context", context);
                m.put("server", server);
                m.put("proxyUrl", proxyUrl);
                m.put("serverVersion", version);
                m.put("ci", ci);
                Cli.out().println(Output.json(m));
            }
        }
    }

    static String hclString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("${", "$${") + "\"";
    }

    // ---- GitLab CI ------------------------------------------------------------------------------

    /** In CI the GitLab agent provides the kubeconfig: check the agent context is there and select it. */
    private Integer selectAgentContext(EnvConfig.Env env, Format format) {
        String context = contextOption != null ? contextOption : env.cluster().ciAgentContext();
        List<Path> files = new ArrayList<>();
        String from;
        if (kubeconfigOption != null) {
            files.add(Path.of(kubeconfigOption));
            from = "--kubeconfig";
        } else {
            String list = System.getenv("KUBECONFIG");
            if (list == null || list.isBlank()) {
                throw new GfwException(ExitCode.NO_INPUT, "GitLab CI mode: KUBECONFIG is not set; the GitLab agent sets it when the agent "
                        + "is shared with this project (ci_access in the agent's config.yaml), or pass --kubeconfig FILE");
            }
            for (String f : list.split(java.io.File.pathSeparator)) if (!f.isBlank()) files.add(Path.of(f));
            from = "KUBECONFIG";
        }
        Cli.info("GitLab CI mode" + (ci != null ? " (--ci)" : " (GITLAB_CI=true)") + ": no Rancher call; looking for context " + context + " in " + from);
        var contextsSeen = new ArrayList<String>();
        for (Path file : files) {
            KubeconfigFile k;
            try {
                k = KubeconfigFile.read(file);
            } catch (IOException e) {
                throw new GfwException(ExitCode.NO_INPUT, "kubeconfig " + file + " (from " + from + ") cannot be read: " + Http.rootMessage(e));
            } catch (IllegalArgumentException e) {
                throw new GfwException(ExitCode.NO_INPUT, "kubeconfig " + file + " (from " + from + ") is not a usable kubeconfig: " + e.getMessage());
            }
            if (!k.hasContext(context)) {
                contextsSeen.addAll(k.contextNames());
                continue;
            }
            String server = k.server(context);
            Http.ProxySpec proxy = proxyOption == null ? null : Http.proxy(proxyOption, "--proxy");
            boolean alreadySelected = context.equals(k.currentContext());
            String version = null;
            if (!noVerify) version = verify(file, context, server, proxy, "the agent context " + context);
            if (!alreadySelected) {
                k.setCurrentContext(context);
                try (var pending = KubeconfigFile.writeTemp(file, k.toYaml(), KubeconfigFile.permissionsOf(file))) {
                    pending.commit();
                }
            }
            Path abs = file.toAbsolutePath().normalize();
            Cli.info("Found context " + context + " in " + abs + (alreadySelected ? "; it already is the current context"
                    : "; selected it as current-context (like kubectl config use-context)") + ".");
            Cli.info(version == null ? "Not verified (--no-verify)." : "Verified: API server " + version + " answered through the agent.");
            Cli.info("OpenTofu: -var k8s_config_path=" + abs + " -var cluster_context=" + context);
            print(format, abs, context, server, proxy == null ? null : proxy.kubeconfigUrlShown(), version, true);
            return ExitCode.OK;
        }
        throw new GfwException(ExitCode.NO_INPUT, "GitLab CI mode: context '" + context + "' is not in " + from + " ("
                + (contextsSeen.isEmpty() ? "no contexts" : "contexts: " + String.join(", ", contextsSeen))
                + "); share the agent with this project (ci_access in the agent's config.yaml) or check " + env.file() + " cluster.ciAgentContext");
    }
}
