// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/KubeconfigFile.java
//SOURCES RancherApi.java

import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.URI;
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

/**
 * fetch-kubeconfig's story: from Rancher, the cluster's kubeconfig (through the route every gfw request takes),
 * renamed to the environment's context, its token's expiry read, verified against the API server with a temporary
 * 0600 file and only then moved over the old one (never over another cluster's without --force); in GitLab CI, the
 * agent's context checked and selected instead, with no Rancher call.
 */
final class KubeconfigFetch {

    /** What goes to stdout. */
    enum Format { path, tfvars, json }

    final String rancherUrl;
    final String clusterId;
    final String proxyOption;
    final String kubeconfigOption;
    final String contextOption;
    final boolean force;
    final boolean noVerify;
    final Path caCert;
    final boolean insecure;
    final Duration timeout;
    final Format format;

    /** The flags of fetch-kubeconfig, checked by it (one validate step) before this runs. */
    KubeconfigFetch(String rancherUrl, String clusterId, String proxyOption, String kubeconfigOption, String contextOption,
                    boolean force, boolean noVerify, Path caCert, boolean insecure, Duration timeout, Format format) {
        this.rancherUrl = rancherUrl;
        this.clusterId = clusterId;
        this.proxyOption = proxyOption;
        this.kubeconfigOption = kubeconfigOption;
        this.contextOption = contextOption;
        this.force = force;
        this.noVerify = noVerify;
        this.caCert = caCert;
        this.insecure = insecure;
        this.timeout = timeout;
        this.format = format;
    }

    /**
     * From Rancher: the cluster's kubeconfig, renamed as the environment expects, verified against the API server
     * and written (0600) over {@code --kubeconfig} or kubeconfig-ENV. {@code token} is the Rancher API token.
     */
    int fromRancher(EnvConfig.Env env, String token) {
        // 1. Inputs: everything that can be wrong locally is checked before the first request.
        String context = contextOption != null ? contextOption : env.cluster().context();
        String clusterName = env.cluster().rancher().cluster();
        RancherApi rancher = rancher(env, token, timeout);
        Http.ProxySpec proxy = route(env, rancher.url()).proxy();
        Path target = kubeconfigOption != null ? Path.of(kubeconfigOption) : KubeClients.environmentKubeconfig(env.name());
        Output.info("Rancher " + rancher.url() + (proxy == null ? "" : " via " + proxy.url() + " (" + proxy.origin() + ")")
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
        Output.info("Wrote " + written + " (mode 0600): context " + context + ", server " + server
                + (proxy == null ? "" : ", proxy-url " + proxy.kubeconfigUrlShown()));
        Output.info(version == null ? "Not verified (--no-verify)." : "Verified: API server " + version + " answered; current context " + context + ".");
        if (execCommand != null) {
            Output.info("Credentials: no token in the file; kubectl, helm and gfw run '" + execCommand + " token' (Rancher's"
                    + " kubeconfig-generate-token is false), which needs the Rancher CLI logged in to " + rancher.url() + ".");
        } else if (expiry != null && expiry.expiresAt() != null) {
            Output.info("Token " + expiry.tokenName() + " expires " + expiry.expiresAt() + " (in "
                    + Math.round(Duration.between(Instant.now(), expiry.expiresAt()).toHours() / 24.0) + " days): run fetch-kubeconfig again before then.");
        } else if (expiry != null && expiry.unknownBecause() == null) {
            Output.info("Token " + expiry.tokenName() + " does not expire (Rancher's kubeconfig token TTL is 0).");
        } else if (expiry != null) {
            Output.warn("when token " + expiry.tokenName() + " expires is unknown: " + expiry.unknownBecause());
        }
        String kubeconfigVariable = System.getenv("KUBECONFIG");
        boolean shadowed = kubeconfigVariable != null && !kubeconfigVariable.isBlank()
                && !Path.of(kubeconfigVariable.split(java.io.File.pathSeparator)[0]).toAbsolutePath().normalize().equals(written);
        if (shadowed) {
            Output.warn("KUBECONFIG is set (" + kubeconfigVariable + "): kubectl and gfw use it before " + written.getFileName()
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
            Output.warn("--insecure-skip-tls-verify: Rancher's certificate is not checked; the token could go to an impostor");
            http.insecure(true);
        }
        if (url.startsWith("http://") && !Http.isLoopback(url)) {
            Output.warn("Rancher URL " + url + " is plain http: the token crosses the network unencrypted");
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
        Output.info("Next steps:");
        Output.info("  gfw provision-namespaces " + env.name() + (gfwFindsIt ? "    # gfw finds " + file.getFileName() + " by itself" : " --kubeconfig " + file));
        Output.info("  export KUBECONFIG=" + file + "    # kubectl, helm");
        Output.info("  tofu plan -var k8s_config_path=" + file + " -var cluster_context=" + context);
    }

    private static void print(Format format, Path file, String context, String server, String proxyUrl, String version, boolean ci) {
        print(format, file, context, server, proxyUrl, version, ci, null, null);
    }

    private static void print(Format format, Path file, String context, String server, String proxyUrl, String version, boolean ci,
                              String credentials, String tokenExpiresAt) {
        switch (format) {
            case path -> Output.out().println(file);
            case tfvars -> {
                Output.out().println("k8s_config_path = " + hclString(file.toString()));
                Output.out().println("cluster_context = " + hclString(context));
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
                Output.out().println(Output.json(m));
            }
        }
    }

    static String hclString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("${", "$${") + "\"";
    }

    // ---- GitLab CI ------------------------------------------------------------------------------

    /** In CI the GitLab agent provides the kubeconfig: check the agent context is there and select it. */
    int selectAgentContext(EnvConfig.Env env, boolean ciByFlag) {
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
        Output.info("GitLab CI mode" + (ciByFlag ? " (--ci)" : " (GITLAB_CI=true)") + ": no Rancher call; looking for context " + context + " in " + from);
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
            Output.info("Found context " + context + " in " + abs + (alreadySelected ? "; it already is the current context"
                    : "; selected it as current-context (like kubectl config use-context)") + ".");
            Output.info(version == null ? "Not verified (--no-verify)." : "Verified: API server " + version + " answered through the agent.");
            Output.info("OpenTofu: -var k8s_config_path=" + abs + " -var cluster_context=" + context);
            print(format, abs, context, server, proxy == null ? null : proxy.kubeconfigUrlShown(), version, true);
            return ExitCode.OK;
        }
        throw new GfwException(ExitCode.NO_INPUT, "GitLab CI mode: context '" + context + "' is not in " + from + " ("
                + (contextsSeen.isEmpty() ? "no contexts" : "contexts: " + String.join(", ", contextsSeen))
                + "); share the agent with this project (ci_access in the agent's config.yaml) or check " + env.file() + " cluster.ciAgentContext");
    }
}
