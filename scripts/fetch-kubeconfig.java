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
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/rancher/KubeconfigFetch.java

import java.nio.file.Path;
import java.time.Duration;
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
        // One validate step: every flag is checked before the environment file is read and before any request.
        if (tokenOnCommandLine != null) {
            throw new GfwException(ExitCode.USAGE, "--token is not accepted: a token on the command line ends up in shell history and ps; "
                    + "set RANCHER_TOKEN or pass --token-file FILE (- reads stdin)");
        }
        KubeconfigFetch.Format format = KubeconfigFetch.format(outputText);
        Duration timeout = Cli.duration(timeoutText, "--request-timeout");
        if (caCert != null && insecure) {
            throw new GfwException(ExitCode.USAGE, "--cacert and --insecure-skip-tls-verify contradict each other: pass only one");
        }
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "fetch a kubeconfig for it (there is no cluster yet)");
        var fetch = new KubeconfigFetch(rancherUrl, clusterId, proxyOption, kubeconfigOption, contextOption, force, noVerify,
                caCert, insecure, timeout, format);
        if (ci != null ? ci : KubeClients.inGitLabCi()) return fetch.selectAgentContext(env, ci != null);
        return fetch.fromRancher(env, readToken());
    }

    /** The Rancher API token: --token-file (a file, or - for stdin), else RANCHER_TOKEN. */
    private String readToken() {
        return SecretInput.read(new SecretInput.Spec("--token-file", "RANCHER_TOKEN", "the Rancher API token", "token-xxxxx:yyyy",
                "no Rancher token: set RANCHER_TOKEN or pass --token-file FILE (- reads stdin); "
                        + "create an API key in Rancher under your avatar > Account & API Keys"), tokenFile).value();
    }
}
