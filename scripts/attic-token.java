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
//SOURCES ../lib/cache/AtticTokens.java
//SOURCES ../lib/cache/CacheObjects.java
//SOURCES ../lib/core/SecretInput.java
//SOURCES ../lib/cache/CiCacheToken.java

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
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
    public Integer call() throws IOException {
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
        if (writeSecret != null && change.clientDryRun()) {
            Cli.out().print(Output.objects(List.of(secret(env, ns, Output.MASK)), Output.Format.yaml));
            Cli.info("client dry run: the token is minted and stored when run without --dry-run");
            return ExitCode.OK;
        }
        if (writeSecret != null) change.confirm(env, "write an Attic token into secret " + writeSecret);
        try (KubernetesClient client = clusterOptions.connect(env)) {
            String key = AtticTokens.readSigningKey(client, ns);
            Instant now = Instant.now();
            String token = AtticTokens.mint(key, sub, now, valid, grants);
            Cli.info("token for " + sub + ", valid until " + now.plus(valid) + " (" + validity + "); " + describe(grants));
            if (writeSecret == null) {
                Cli.out().println(switch (output) {
                    case "env" -> "ATTIC_TOKEN=" + token;
                    case "netrc" -> CacheObjects.netrcLine(env, token);
                    default -> token;
                });
                return ExitCode.OK;
            }
            var options = new ServerSideApply.Options();
            options.serverDryRun = change.serverDryRun();
            options.forceConflicts = change.forceConflicts;
            options.diffOnly = change.diff();
            ServerSideApply.Result r = ServerSideApply.applyOne(client, secret(env, ns, token), ServerSideApply.Lookup.UNKNOWN, options);
            Cli.out().println(r.line());
            return ExitCode.OK;
        }
    }

    /** --ci / --rotate: the CI jobs' cache token Secret in the runner namespace (lib/cache/CiCacheToken). */
    private int ci() {
        if (sub != null || !grants().isEmpty() || writeSecret != null || decode || !"token".equals(output) || !"30d".equals(validity)) {
            throw new GfwException(ExitCode.USAGE, "--ci takes its subject, permissions and validity from the environment file (attic.cache, attic.ciTokenValidity):"
                    + " drop --sub, the permission flags, --validity, -o, --write-secret and --decode");
        }
        change.validate();
        EnvConfig.Env env = envOptions.load(envName);
        String runnerNs = env.namespaces().runners().name();
        java.time.Duration valid = CiCacheToken.validity(env);
        if (change.clientDryRun()) {
            Cli.out().print(Output.objects(List.of(CiCacheToken.secret(env, Output.MASK, Instant.now().plus(valid), "<the cache's public key>")), Output.Format.yaml));
            Cli.info("client dry run: the token is minted and stored when run without --dry-run");
            return ExitCode.OK;
        }
        change.confirm(env, (rotate ? "replace" : "write") + " the CI jobs' cache token in secret " + CiCacheToken.SECRET);
        try (KubernetesClient client = clusterOptions.connect(env)) {
            Secret live = client.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get();
            if (live != null && !rotate) {
                Instant exp = CiCacheToken.expiresAt(live);
                Cli.out().println("secret/" + CiCacheToken.SECRET + " unchanged (expires " + (exp == null ? "at an unknown time" : exp) + "; --rotate replaces it)");
                return ExitCode.OK;
            }
            String ns = namespace != null ? namespace : env.namespaces().attic().name();
            String key = AtticTokens.readSigningKey(client, ns);
            String publicKey = CiCacheToken.publicKey(client, env, key, atticUrl, clusterOptions.http(env, "Attic"));
            Instant now = Instant.now();
            String token = AtticTokens.mint(key, CiCacheToken.sub(env), now, valid, CiCacheToken.grants(env));
            var options = new ServerSideApply.Options();
            options.serverDryRun = change.serverDryRun();
            options.forceConflicts = change.forceConflicts;
            ServerSideApply.Result r = ServerSideApply.applyOne(client, CiCacheToken.secret(env, token, now.plus(valid), publicKey), ServerSideApply.Lookup.UNKNOWN, options);
            Cli.out().println(r.line());
            Cli.info("token for " + CiCacheToken.sub(env) + ", valid until " + now.plus(valid) + " (" + env.attic().ciTokenValidity() + "); "
                    + describe(CiCacheToken.grants(env)) + "; the " + CiCacheToken.RUNNER_TYPE + " runner's job pods mount it at " + CiCacheToken.MOUNT_PATH
                    + " ('gfw deploy-runners " + env.name() + "')");
            if (reveal) Cli.out().println(token);
            return ExitCode.OK;
        }
    }

    private Secret secret(EnvConfig.Env env, String ns, String token) {
        return new SecretBuilder().withNewMetadata().withName(writeSecret).withNamespace(ns)
                .addToLabels("app.kubernetes.io/managed-by", "gfw").addToLabels("gfw.gloriousflywheel.dev/environment", env.name())
                .addToLabels("gfw.gloriousflywheel.dev/owner", "attic-token").addToAnnotations("gfw.gloriousflywheel.dev/attic-token-sub", sub)
                .endMetadata().withType("Opaque").addToStringData("token", token).build();
    }

    /** Cache to permission letters, in the order the flags name them. */
    private Map<String, List<String>> grants() {
        var out = new LinkedHashMap<String, List<String>>();
        add(out, "--pull", pull, "r");
        add(out, "--push", push, "w");
        add(out, "--delete", delete, "d");
        add(out, "--create-cache", createCache, "cc");
        add(out, "--configure-cache", configureCache, "cr");
        add(out, "--configure-retention", configureRetention, "cq");
        add(out, "--destroy-cache", destroyCache, "cd");
        return out;
    }

    private static void add(Map<String, List<String>> out, String flag, List<String> caches, String letter) {
        for (String c : caches) {
            String problem = AtticTokens.patternProblem(c);
            if (problem != null) throw new GfwException(ExitCode.USAGE, flag + " " + problem);
            List<String> letters = out.computeIfAbsent(c, k -> new ArrayList<>());
            if (!letters.contains(letter)) letters.add(letter);
        }
    }

    private static String describe(Map<String, List<String>> grants) {
        var m = new LinkedHashMap<String, Object>();
        grants.forEach((c, letters) -> {
            var p = new LinkedHashMap<String, Object>();
            for (String l : letters) p.put(l, 1);
            m.put(c, p);
        });
        return "permissions: " + AtticTokens.describe(m);
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

    private int decode(EnvConfig.Env env) throws IOException {
        // gfw's one secret reader: stdin, or at a terminal a prompt that does not echo.
        String token = SecretInput.read(new SecretInput.Spec("--decode", "ATTIC_TOKEN", "the Attic token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi...",
                "--decode reads the token on stdin"), "-").value();
        if (token.startsWith("ATTIC_TOKEN=")) token = token.substring("ATTIC_TOKEN=".length());
        AtticTokens.Decoded unchecked = AtticTokens.decode(token, null);
        var m = new LinkedHashMap<String, Object>(unchecked.claims());
        // Dates as people read them next to the epoch seconds. Every line holds the token's own text: escaped.
        for (String line : Output.json(jsonable(m)).split("\n")) Cli.out().println(Output.escapeControls(line));
        Instant now = Instant.now();
        Cli.out().println("algorithm: " + Output.escapeControls(unchecked.algorithm()));
        Cli.out().println("subject: " + Output.escapeControls(unchecked.sub()));
        String unreadableExp = unchecked.unreadable().stream().filter(u -> u.startsWith("its exp ")).findFirst().orElse(null);
        Cli.out().println("expires: " + (unreadableExp != null ? "unreadable (" + unreadableExp.substring(4) + ")"
                : unchecked.exp() == null ? "never (no exp claim)" : unchecked.exp() + (unchecked.exp().isBefore(now) ? " (EXPIRED)" : "")));
        if (unchecked.nbf() != null && unchecked.nbf().isAfter(now)) Cli.out().println("not before: " + unchecked.nbf() + " (NOT YET VALID)");
        List<String> rejections = AtticTokens.rejections(unchecked, now);
        for (String r : rejections) Cli.out().println("atticd ignores it: " + Output.escapeControls(r));
        Cli.out().println("permissions: " + Output.escapeControls(AtticTokens.describe(unchecked.caches())));
        String ns = namespace != null ? namespace : env.namespaces().attic().name();
        String key;
        try (KubernetesClient client = clusterOptions.connect(env)) {
            key = AtticTokens.readSigningKey(client, ns);
        } catch (GfwException e) {
            Cli.out().println("signature: not checked (could not read secret " + AtticTokens.SIGNING_SECRET + ")");
            throw e;
        }
        boolean verified = Boolean.TRUE.equals(AtticTokens.decode(token, key).verified());
        String where = "secret " + AtticTokens.SIGNING_SECRET + " in namespace " + ns;
        Cli.out().println("signature: " + (verified ? "verifies against " + where : "does NOT verify against " + where));
        if (!verified) {
            Cli.info("error: the token was not signed with the key Attic uses now (another environment, or the key was rotated): Attic answers Unauthorized; mint a new one");
            return ExitCode.CHECK_FAILED;
        }
        if (!rejections.isEmpty()) {
            // atticd's apply_auth (server/src/access/http.rs) drops a token it cannot validate: the request is anonymous.
            Cli.info("error: atticd treats this token as no token (" + Output.escapeControls(rejections.get(0)) + "): Attic answers Unauthorized; mint a new one");
            return ExitCode.CHECK_FAILED;
        }
        return ExitCode.OK;
    }

    private static Object jsonable(Object o) {
        if (o instanceof java.util.Date d) return d.toInstant().getEpochSecond();
        if (o instanceof Map<?, ?> m) {
            var out = new LinkedHashMap<String, Object>();
            m.forEach((k, v) -> out.put(String.valueOf(k), jsonable(v)));
            return out;
        }
        if (o instanceof List<?> l) return l.stream().map(AtticToken::jsonable).toList();
        return o;
    }
}
