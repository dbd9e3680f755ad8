///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/ServerSideApply.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/cache/CiCacheToken.java
//SOURCES ../lib/cache/AtticTokenIssue.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Mints an Attic token: an HS256 JWT with {@code sub}, {@code exp}, {@code nbf} (five minutes back, for a
 * cluster clock behind this one) and the claim {@code "https://jwt.attic.rs/v1": {"caches": {CACHE: {"r": 1, ...}}}}, signed with the key in
 * Secret {@code attic-jwt-signing} of the Attic namespace (read from the cluster, never from a flag).
 * The token is the only thing on stdout; claims, expiry and permissions go to stderr. {@code --decode}
 * reads a token on stdin and says what it grants, when it expires and whether it verifies against the
 * cluster's key (exit 80 if not): the answer to Attic's "Unauthorized".
 *
 * <p>Environment: KUBECONFIG, HTTPS_PROXY, GITLAB_CI, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/attic-token.java dev --sub ci-runner --pull main --push main --validity 90d
 * </pre>
 */
@Command(name = "attic-token", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Mint (or --decode) an Attic token signed with the cluster's key.",
                "A cache may be '*' or a pattern like 'team-*'.",
                "Example: attic-token dev --sub ci-runner --pull main --push main", ""})
class AtticToken implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Option(names = "--sub", paramLabel = "NAME", description = "Who the token is for (the JWT subject), e.g. ci-runner or alice.")
    String sub;

    @Option(names = "--validity", paramLabel = "DURATION", defaultValue = "30d", description = "How long it is valid: 12h, 30d, 8w, 1y (default: ${DEFAULT-VALUE}; over a year needs --force).")
    String validity;

    @Option(names = "--pull", paramLabel = "CACHE", description = "Pull from CACHE (r).") List<String> pull = new ArrayList<>();
    @Option(names = "--push", paramLabel = "CACHE", description = "Push to CACHE (w).") List<String> push = new ArrayList<>();
    @Option(names = "--delete", paramLabel = "CACHE", description = "Delete store paths from CACHE (d).") List<String> delete = new ArrayList<>();
    @Option(names = "--create-cache", paramLabel = "CACHE", description = "Create CACHE (cc).") List<String> createCache = new ArrayList<>();
    @Option(names = "--configure-cache", paramLabel = "CACHE", description = "Reconfigure CACHE (cr).") List<String> configureCache = new ArrayList<>();
    @Option(names = "--configure-retention", paramLabel = "CACHE", description = "Configure CACHE's retention (cq).") List<String> configureRetention = new ArrayList<>();
    @Option(names = "--destroy-cache", paramLabel = "CACHE", description = "Destroy CACHE (cd).") List<String> destroyCache = new ArrayList<>();

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "token",
            description = "token (default: the token alone), env (ATTIC_TOKEN=...) or netrc (the line Nix's netrc-file needs for a private cache, as 'attic use' writes it).")
    String output;

    @Option(names = "--write-secret", paramLabel = "NAME", description = "Store the token in Secret NAME (key 'token') of the Attic namespace instead of printing it.")
    String writeSecret;

    @Option(names = "--ci", description = "Write the CI jobs' token: Secret " + CiCacheToken.SECRET + " in the runner namespace (keys token, netrc, nix.conf),"
            + " pull and push on attic.cache, valid attic.ciTokenValidity; nothing is written when it exists (see --rotate). deploy-runners mounts it into the nix runner's job pods.")
    boolean ci;

    @Option(names = "--rotate", description = "With --ci (implied): replace the CI jobs' token with a new one now.")
    boolean rotate;

    @Option(names = "--reveal", description = "With --ci: also print the token.")
    boolean reveal;

    @Option(names = "--attic-url", paramLabel = "URL", description = "With --ci: Attic's URL for reading the cache's public key (default: a port-forward to a ready Attic pod).")
    String atticUrl;

    @Option(names = "--force", description = "Allow a validity over a year.")
    boolean force;

    @Option(names = "--decode", description = "Read a token on stdin: print its claims and expiry, and check it against the cluster's key (exit 80 if it does not verify).")
    boolean decode;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", converter = Cli.Namespace.class, description = "Attic namespace (default: the environment's namespaces.attic.name).")
    String namespace;

    @Mixin Cli.ChangeOptions change;
    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    static final Duration YEAR = Duration.ofDays(365);

    public static void main(String... args) {
        System.exit(Cli.run(new AtticToken(), args));
    }

    @Override
    public Integer call() {
        if (ci || rotate) return ci();
        if (reveal || atticUrl != null) throw new GfwException(ExitCode.USAGE, (reveal ? "--reveal" : "--attic-url") + " only applies to --ci");
        change.validate(writeSecret != null, "--write-secret");
        EnvConfig.Env env;
        if (decode) {
            if (sub != null || !grants().isEmpty() || writeSecret != null) throw new GfwException(ExitCode.USAGE, "--decode reads a token on stdin: drop --sub, the permission flags and --write-secret");
            env = envOptions.load(envName);
            return decode(env);
        }
        if (sub == null || sub.isBlank() || !sub.matches("[\\p{Graph}]{1,128}")) {
            throw new GfwException(ExitCode.USAGE, "--sub NAME is required: who the token is for (printable, no spaces, up to 128 characters)");
        }
        if (!List.of("token", "env", "netrc").contains(output)) throw new GfwException(ExitCode.USAGE, "-o " + output + ": use token, env or netrc");
        Map<String, List<String>> grants = grants();
        if (grants.isEmpty()) throw new GfwException(ExitCode.USAGE, "no permission given: add e.g. --pull main (also --push, --delete, --create-cache, --configure-cache, --configure-retention, --destroy-cache)");
        Duration valid = validity(validity);
        if (valid.compareTo(YEAR) > 0 && !force) {
            throw new GfwException(ExitCode.REFUSED, "--validity " + validity + " is over a year: a leaked token would stay valid that long; add --force if you mean it");
        }
        env = envOptions.load(envName);
        String ns = namespace != null ? namespace : env.namespaces().attic().name();
        if (writeSecret != null && !writeSecret.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
            throw new GfwException(ExitCode.USAGE, "--write-secret " + writeSecret + " is not a valid Secret name (lower-case letters, digits, '-' and '.')");
        }
        var issue = new AtticTokenIssue(env, ns);
        if (writeSecret != null && change.clientDryRun()) {
            Cli.out().print(Output.objects(List.of(issue.secret(writeSecret, sub, Output.MASK)), Output.Format.yaml));
            Cli.info("client dry run: the token is minted and stored when run without --dry-run");
            return ExitCode.OK;
        }
        if (writeSecret != null) change.confirm(env, "write an Attic token into secret " + writeSecret);
        try (KubernetesClient client = clusterOptions.connect(env)) {
            issue.mint(client, sub, valid, validity, grants, output, writeSecret, applyOptions());
            return ExitCode.OK;
        }
    }

    private ServerSideApply.Options applyOptions() {
        var options = new ServerSideApply.Options();
        options.serverDryRun = change.serverDryRun();
        options.forceConflicts = change.forceConflicts;
        options.diffOnly = change.diff();
        return options;
    }

    /** --ci / --rotate: the CI jobs' cache token Secret in the runner namespace (lib/cache/CiCacheToken). */
    private int ci() {
        if (sub != null || !grants().isEmpty() || writeSecret != null || decode || !"token".equals(output) || !"30d".equals(validity)) {
            throw new GfwException(ExitCode.USAGE, "--ci takes its subject, permissions and validity from the environment file (attic.cache, attic.ciTokenValidity):"
                    + " drop --sub, the permission flags, --validity, -o, --write-secret and --decode");
        }
        change.validate();
        EnvConfig.Env env = envOptions.load(envName);
        var issue = new AtticTokenIssue(env, namespace != null ? namespace : env.namespaces().attic().name());
        if (change.clientDryRun()) {
            issue.printCiSecretUnminted();
            return ExitCode.OK;
        }
        change.confirm(env, (rotate ? "replace" : "write") + " the CI jobs' cache token in secret " + CiCacheToken.SECRET);
        try (KubernetesClient client = clusterOptions.connect(env)) {
            issue.ci(client, rotate, reveal, atticUrl, clusterOptions.http(env, "Attic"), applyOptions());
            return ExitCode.OK;
        }
    }

    /** Cache to permission letters, in the order the flags name them. */
    private Map<String, List<String>> grants() {
        var out = new LinkedHashMap<String, List<String>>();
        AtticTokenIssue.grant(out, "--pull", pull, "r");
        AtticTokenIssue.grant(out, "--push", push, "w");
        AtticTokenIssue.grant(out, "--delete", delete, "d");
        AtticTokenIssue.grant(out, "--create-cache", createCache, "cc");
        AtticTokenIssue.grant(out, "--configure-cache", configureCache, "cr");
        AtticTokenIssue.grant(out, "--configure-retention", configureRetention, "cq");
        AtticTokenIssue.grant(out, "--destroy-cache", destroyCache, "cd");
        return out;
    }

    private static final Pattern LONG = Pattern.compile("(\\d+)([dwy])");

    /** Cli.duration's grammar plus days, weeks and years (365 days). */
    static Duration validity(String text) {
        Matcher m = LONG.matcher(text == null ? "" : text.trim());
        Duration d;
        if (m.matches()) {
            // Past MAX_VALIDITY's digits a number is only too large: no overflow of a long or of the token's exp.
            long n = m.group(1).length() > 7 ? Long.MAX_VALUE : Long.parseLong(m.group(1));
            long days = switch (m.group(2)) {
                case "d" -> n;
                case "w" -> n > Long.MAX_VALUE / 7 ? Long.MAX_VALUE : 7 * n;
                default -> n > Long.MAX_VALUE / 365 ? Long.MAX_VALUE : 365 * n;
            };
            if (days == 0) throw new GfwException(ExitCode.USAGE, "--validity " + Output.clip(text) + " must be above zero");
            if (days > MAX_VALIDITY.toDays()) throw tooLong(text);
            d = Duration.ofDays(days);
        } else {
            d = Cli.duration(text, "--validity");
        }
        if (d.compareTo(MAX_VALIDITY) > 0) throw tooLong(text);
        return d;
    }

    /** The longest validity even with --force: a century (a token's exp must be a date people and atticd can read). */
    static final Duration MAX_VALIDITY = Duration.ofDays(36_500);

    private static GfwException tooLong(String text) {
        return new GfwException(ExitCode.USAGE, "--validity " + Output.clip(text) + " is over 100 years, even with --force; use e.g. 30d or 1y");
    }

    private int decode(EnvConfig.Env env) {
        // gfw's one secret reader: stdin, or at a terminal a prompt that does not echo.
        String token = SecretInput.read(new SecretInput.Spec("--decode", "ATTIC_TOKEN", "the Attic token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi...",
                "--decode reads the token on stdin"), "-").value();
        var issue = new AtticTokenIssue(env, namespace != null ? namespace : env.namespaces().attic().name());
        return issue.decode(token, () -> clusterOptions.connect(env));
    }
}
