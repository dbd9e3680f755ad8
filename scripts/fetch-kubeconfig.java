///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/core/Http.java
//SOURCES ../lib/kube/KubeconfigFile.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/rancher/RancherApi.java

import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * <li>Looks up the environment's Rancher cluster ({@code GET /v3/clusters?name=<cluster.rancher.cluster>}; several of
 * that name are refused, listing their ids; {@code --cluster-id ID} reads it by id instead, as a cluster-scoped API
 * key needs) and asks for its kubeconfig ({@code POST /v3/clusters/<id>?action=generateKubeconfig}), with the
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
 * <li>Says when the kubeconfig's token expires (Rancher gives each generated kubeconfig its own token, 30 days by
 * default: {@code GET /v3/tokens/<name>}), or that the file holds no token and runs the Rancher CLI
 * ({@code kubeconfig-generate-token=false}; refused unless {@code rancher} is on PATH or {@code --no-verify}).</li>
 * <li>Prints the next steps to stderr ({@code export KUBECONFIG=...}, the OpenTofu flags) and the
 * file's path to stdout; {@code -o tfvars} prints {@code k8s_config_path}/{@code cluster_context} as a
 * tfvars snippet instead, {@code -o json} everything as JSON.</li>
 * </ol>
 *
 * <p>Proxy: the rule of every gfw request ({@code Http.route}, README "Proxies"): {@code --proxy URL}
 * ({@code none} turns it off); a loopback Rancher URL (a port-forward) never; none when {@code $NO_PROXY}
 * names Rancher's host; {@code $HTTPS_PROXY}; none under GitLab CI; the environment's {@code cluster.proxy}.
 * {@code socks5h://} lets the proxy resolve host names. When the proxy is down the error says how to
 * open it: {@code ssh -D 1080 <cluster.jumphost>}. {@code --request-timeout} bounds each request.
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
 * <p>Exit codes: 0 written (or selected in CI); 64 bad flag (or --cluster-id of another cluster); 65 bad environment; 66 no token, unreadable
 * token file or --cacert, agent context missing in CI, a kubeconfig that runs the Rancher CLI when {@code rancher} is not on PATH; 67 planned environment, or the file is for another
 * cluster (use --force); 68 no such Rancher cluster; 69 proxy, Rancher or API server unreachable, timed
 * out, or Rancher's TLS certificate not trusted; 73 cannot write the file; 77 token rejected (401/403) or
 * the new kubeconfig's credentials rejected; 79 Rancher answered with an error or something that is not a
 * kubeconfig, or has several clusters of the name.
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
                "Token: RANCHER_TOKEN or --token-file. Proxy: --proxy, else NO_PROXY/HTTPS_PROXY, else the environment's cluster.proxy (never for loopback)."},
        footer = {"", "Examples:", "  RANCHER_TOKEN=token-... fetch-kubeconfig dev   # writes ./kubeconfig-dev",
                "  fetch-kubeconfig dev -o tfvars > dev.auto.tfvars"})
class FetchKubeconfig implements Callable<Integer> {

    enum Format { path, tfvars, json }

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment name (environments/ENV.yaml) or file.")
    String envName;

    @Mixin Cli.EnvOptions envOptions;

    @Option(names = "--rancher-url", paramLabel = "URL", description = "Rancher server (default: the environment's cluster.rancher.url).")
    String rancherUrl;

    @Option(names = "--cluster-id", paramLabel = "ID", description = "Rancher's id of the cluster (c-...): needed for an API key scoped to that cluster, or when several clusters share the name; it must carry the environment's cluster.rancher.cluster name.")
    String clusterId;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding the Rancher API token; - reads it from stdin, or asks without echo at a terminal (default: $RANCHER_TOKEN).")
    String tokenFile;

    /** Accepted only to refuse it without echoing the value (picocli would print an unknown argument). */
    @Option(names = "--token", hidden = true, paramLabel = "TOKEN")
    String tokenOnCommandLine;

    @Option(names = "--proxy", paramLabel = "URL", description = "Proxy for Rancher and the API server, e.g. socks5h://localhost:1080, or none (default: $HTTPS_PROXY unless $NO_PROXY names the host, else the environment's cluster.proxy; never for loopback).")
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

    @Option(names = {"--request-timeout", "--timeout"}, paramLabel = "DURATION", defaultValue = "30s",
            description = "How long to wait for each answer of Rancher and the API server, e.g. 30s, 2m (default: ${DEFAULT-VALUE}).")
    String timeoutText;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "path",
            description = "What goes to stdout: path (the file written), tfvars (k8s_config_path and cluster_context), json (default: ${DEFAULT-VALUE}).")
    String outputText;

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
        Duration timeout = Cli.duration(timeoutText, "--request-timeout");
        if (caCert != null && insecure) {
            throw new GfwException(ExitCode.USAGE, "--cacert and --insecure-skip-tls-verify contradict each other: pass only one");
        }
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "fetch a kubeconfig for it (there is no cluster yet)");
        if (ci != null ? ci : KubeClients.inGitLabCi()) return selectAgentContext(env, format, timeout);

        // 1. Inputs: everything that can be wrong locally is checked before the first request.
        String context = contextOption != null ? contextOption : env.cluster().context();
        String clusterName = env.cluster().rancher().cluster();
        String token = readToken();
        RancherApi rancher = rancher(env, token, timeout);
        Http.ProxySpec proxy = route(env, rancher.url()).proxy();
        Path target = kubeconfigOption != null ? Path.of(kubeconfigOption) : KubeClients.environmentKubeconfig(env.name());
        Cli.info("Rancher " + rancher.url() + (proxy == null ? "" : " via " + proxy.url() + " (" + proxy.origin() + ")")
                + ": fetching the kubeconfig of cluster " + clusterName);

        // 2. Rancher: the cluster's id, then its kubeconfig.
        RancherApi.Kubeconfig fetched = rancher.kubeconfig(clusterName, env.file() + " cluster.rancher.cluster", clusterId);
        KubeconfigFile kubeconfig = fetched.file();
        // Rancher with kubeconfig-generate-token=false puts no token in the file: its user runs the Rancher CLI
        // (rancher/rancher pkg/kubeconfig/templates.go, the exec branch: command rancher, args token --server --user).
        String execCommand = kubeconfig.execCommand(fetched.context());
        List<String> execArgs = kubeconfig.execArgs(fetched.context());
        RancherApi.Expiry expiry = execCommand != null ? null : rancher.tokenExpiry(kubeconfig.userToken(fetched.context()));

        // 3. Rename: as the environment expects, reachable the way Rancher was.
        kubeconfig.renameContext(fetched.context(), context);
        kubeconfig.setCurrentContext(context);
        if (proxy != null) kubeconfig.setProxyUrl(proxy.kubeconfigUrl());
        String server = kubeconfig.server(context);
        refuseOtherCluster(target, context, server);

        // 4. Verify a temp file (0600) against the API server; 5. commit: rename it over the old one.
        if (execCommand != null && !noVerify && !onPath(execCommand)) {
            throw new GfwException(ExitCode.NO_INPUT, "Rancher's kubeconfig holds no token: it logs in by running '" + execCommand + " "
                    + String.join(" ", execArgs) + "' (Rancher's kubeconfig-generate-token setting is false),"
                    + " and " + execCommand + " is not on PATH: install the Rancher CLI and run 'rancher login', or ask Rancher's admin to set"
                    + " kubeconfig-generate-token to true; --no-verify saves it unverified; nothing written");
        }
        String credentials = execCommand != null
                ? "it holds no token: kubectl runs '" + execCommand + " token' (the Rancher CLI, logged in) for one"
                : expiry == null ? "it holds a token: keep it private, fetch again when it expires"
                : expiry.expiresAt() != null ? "it holds a token (Rancher token " + expiry.tokenName() + ", expires " + expiry.expiresAt()
                        + "): keep it private, fetch again before then"
                : expiry.unknownBecause() == null ? "it holds a token (Rancher token " + expiry.tokenName() + ", no expiry): keep it private"
                : "it holds a token (Rancher token " + expiry.tokenName() + ", expiry unknown): keep it private, fetch again when it expires";
        String header = "# kubeconfig for gfw environment " + env.name() + " (context " + context + "), from Rancher " + rancher.url()
                + " cluster " + clusterName + " (" + fetched.clusterId() + ")\n# written by gfw fetch-kubeconfig at "
                + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "; " + credentials + "\n";
        String version = null;
        try (var pending = KubeconfigFile.writeTemp(target, header + kubeconfig.toYaml(), KubeconfigFile.PRIVATE)) {
            if (!noVerify) version = verify(pending.path(), context, server, proxy, "the new kubeconfig", timeout);
            pending.commit();
        }
        Path written = target.toAbsolutePath().normalize();
        Cli.info("Wrote " + written + " (mode 0600): context " + context + ", server " + server
                + (proxy == null ? "" : ", proxy-url " + proxy.kubeconfigUrlShown()));
        Cli.info(version == null ? "Not verified (--no-verify)." : "Verified: API server " + version + " answered; current context " + context + ".");
        if (execCommand != null) {
            Cli.info("Credentials: no token in the file; kubectl, helm and gfw run '" + execCommand + " token' (Rancher's"
                    + " kubeconfig-generate-token is false), which needs the Rancher CLI logged in to " + rancher.url() + ".");
        } else if (expiry != null && expiry.expiresAt() != null) {
            Cli.info("Token " + expiry.tokenName() + " expires " + expiry.expiresAt() + " (in "
                    + Math.round(Duration.between(Instant.now(), expiry.expiresAt()).toHours() / 24.0) + " days): run fetch-kubeconfig again before then.");
        } else if (expiry != null && expiry.unknownBecause() == null) {
            Cli.info("Token " + expiry.tokenName() + " does not expire (Rancher's kubeconfig token TTL is 0).");
        } else if (expiry != null) {
            Cli.warn("when token " + expiry.tokenName() + " expires is unknown: " + expiry.unknownBecause());
        }
        String kubeconfigVariable = System.getenv("KUBECONFIG");
        boolean shadowed = kubeconfigVariable != null && !kubeconfigVariable.isBlank()
                && !Path.of(kubeconfigVariable.split(java.io.File.pathSeparator)[0]).toAbsolutePath().normalize().equals(written);
        if (shadowed) {
            Cli.warn("KUBECONFIG is set (" + kubeconfigVariable + "): kubectl and gfw use it before " + written.getFileName()
                    + "; export KUBECONFIG=" + written + " or unset it");
        }
        nextSteps(env, written, context, kubeconfigOption == null && !shadowed);
        print(format, written, context, server, proxy == null ? null : proxy.kubeconfigUrlShown(), version, false,
                execCommand != null ? "exec:" + execCommand : expiry == null ? null : "token",
                expiry == null || expiry.expiresAt() == null ? null : expiry.expiresAt().toString());
        return ExitCode.OK;
    }

    /** Whether {@code command} is an executable file, by its path or on PATH (what kubectl's exec plugin runner looks for). */
    static boolean onPath(String command) {
        if (command.contains("/")) return Files.isExecutable(Path.of(command));
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, command))) return true;
        }
        return false;
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
        return SecretInput.read(new SecretInput.Spec("--token-file", "RANCHER_TOKEN", "the Rancher API token", "token-xxxxx:yyyy",
                "no Rancher token: set RANCHER_TOKEN or pass --token-file FILE (- reads stdin); "
                        + "create an API key in Rancher under your avatar > Account & API Keys"), tokenFile).value();
    }

    /**
     * The proxy for Rancher (and so for the API server, through the proxy-url written): {@link Http#route}
     * with the environment's cluster.proxy, so the same rule as every gfw request.
     */
    static Http.Route route(EnvConfig.Env env, String rancherUrl, String proxyOption, java.util.Map<String, String> variables) {
        return Http.route(rancherUrl, proxyOption, null, env.cluster().proxy(), env.file() + " cluster.proxy", variables);
    }

    private Http.Route route(EnvConfig.Env env, String rancherUrl) {
        return route(env, rancherUrl, proxyOption, System.getenv());
    }

    /** The proxy {@link #route} picks, from these inputs alone (for tests of the order). */
    static Http.ProxySpec chooseProxy(String option, String httpsProxy, String noProxy, EnvConfig.Env env, String rancherUrl) {
        var variables = new java.util.HashMap<String, String>();
        if (httpsProxy != null) variables.put("HTTPS_PROXY", httpsProxy);
        if (noProxy != null) variables.put("NO_PROXY", noProxy);
        return route(env, rancherUrl, option, variables).proxy();
    }

    /** The Rancher client: URL, token, route, TLS as the flags say; warns about what weakens it. */
    private RancherApi rancher(EnvConfig.Env env, String token, Duration timeout) {
        String url = rancherUrl(env);
        Http.ProxySpec proxy = route(env, url).proxy();
        var http = new Http.Client("Rancher").proxy(proxy).timeout(timeout, "--request-timeout").bearer(token)
                .jumphost(env.cluster().jumphost(), env.file() + " cluster.jumphost");
        if (caCert != null) http.caCert(caCert, "--cacert");
        if (insecure) {
            Cli.warn("--insecure-skip-tls-verify: Rancher's certificate is not checked; the token could go to an impostor");
            http.insecure(true);
        }
        if (url.startsWith("http://") && !Http.isLoopback(url)) {
            Cli.warn("Rancher URL " + url + " is plain http: the token crosses the network unencrypted");
        }
        return new RancherApi(url, http);
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
    private static String verify(Path file, String context, String server, Http.ProxySpec proxy, String what, Duration timeout) {
        var target = new KubeClients.Target(file, what, context, server, proxy == null ? null : proxy.kubeconfigUrl());
        try (var client = KubeClients.connect(target, timeout)) {
            var v = client.getKubernetesVersion();
            String version = v == null ? null : v.getGitVersion();
            return version == null || version.isBlank() ? "(version not reported)" : version;
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
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
        print(format, file, context, server, proxyUrl, version, ci, null, null);
    }

    private static void print(Format format, Path file, String context, String server, String proxyUrl, String version, boolean ci,
                              String credentials, String tokenExpiresAt) {
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
                if (credentials != null) m.put("credentials", credentials);
                if (tokenExpiresAt != null) m.put("tokenExpiresAt", tokenExpiresAt);
                Cli.out().println(Output.json(m));
            }
        }
    }

    static String hclString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("${", "$${") + "\"";
    }

    // ---- GitLab CI ------------------------------------------------------------------------------

    /** In CI the GitLab agent provides the kubeconfig: check the agent context is there and select it. */
    private Integer selectAgentContext(EnvConfig.Env env, Format format, Duration timeout) {
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
            if (!noVerify) version = verify(file, context, server, proxy, "the agent context " + context, timeout);
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
