///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/database/ConnectionStrings.java
//SOURCES ../lib/database/DatabaseUrl.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Prints the Attic database connection string of an environment, built from the owner's credentials in
 * {@code cnpg.appSecret} ({@code <cnpg.cluster>-app-credentials}: username, password), the bootstrap Secret
 * deploy-cache names in the Cluster's {@code bootstrap.initdb.secret} — with it set CloudNativePG writes no
 * {@code <cluster>-app} Secret (api/v1/cluster_funcs.go ShouldInitDBCreateApplicationSecret). Host
 * {@code <cluster>-rw.<ns>.svc.cluster.local}, port 5432 and database {@code cnpg.database} come from gfw's own Cluster
 * spec (a secret's {@code dbname} and {@code port}, as in a CNPG-written {@code <cluster>-app}, win), with
 * user and password percent-encoded per RFC 3986 so that it always parses. The password is
 * masked ({@code ****}) unless {@code --reveal}.
 *
 * <ul>
 * <li>{@code -o uri} (default) | {@code jdbc} | {@code env} ({@code DATABASE_URL='...'}, shell-quoted)
 * | {@code pgpass} | {@code json} | {@code yaml} | {@code table} (the parts)</li>
 * <li>{@code --secret NAME}: another secret with username and password, e.g. a {@code <cluster>-app} CNPG wrote for a
 * Cluster without a bootstrap secret; {@code -n}: another namespace (default: the Attic one)</li>
 * <li>{@code --service rw|ro|r}, {@code --host}, {@code --port}, {@code --sslmode} (default: cnpg.sslmode)</li>
 * <li>{@code --check}: log in with pgjdbc (to --host/--port, or through a port-forward to the
 * primary pod that it opens and closes itself) and print the server version</li>
 * <li>{@code --write-secret}: put the URI as DATABASE_URL into the Attic Secret (attic.secret) with
 * server-side apply; {@code --dry-run=client|server}, {@code --diff} (what would change, nothing sent),
 * {@code --yes} for production, {@code --force-conflicts}</li>
 * <li>{@code --decode [URI]}: read a connection string (from stdin, or the argument — visible to
 * other users in ps), show its parts, and when it was not encoded say so and give the corrected one</li>
 * </ul>
 * Environment: KUBECONFIG, HTTPS_PROXY, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   cnpg-connstr dev --reveal                          # postgresql://attic:...@attic-pg-rw.attic-cache-dev.svc.cluster.local:5432/attic?sslmode=require
 *   echo "$DATABASE_URL" | cnpg-connstr --decode       # parts of a string, and whether it is encoded
 * </pre>
 */
@Command(name = "cnpg-connstr", mixinStandardHelpOptions = true, abbreviateSynopsis = true,
        description = "Print the Attic database connection string from the database owner's Secret, correctly encoded.",
        footer = {"", "Examples:", "  cnpg-connstr dev --reveal -o env > attic.env",
                "  cnpg-connstr dev --host 127.0.0.1 --port 5432 --check",
                "  cnpg-connstr dev --write-secret --dry-run",
                "  echo \"$DATABASE_URL\" | cnpg-connstr --decode"})
class CnpgConnstr implements Callable<Integer> {

    public static void main(String... args) {
        System.exit(Cli.run(new CnpgConnstr(), args));
    }

    /** {@code wide}: the table with each part as it is written percent-encoded. */
    enum Format { uri, jdbc, env, pgpass, json, yaml, table, wide }

    static final String DATABASE_URL = DatabaseUrl.DATABASE_URL;

    @Parameters(paramLabel = "ENV", arity = "0..1", description = "Environment, e.g. dev (not needed with --decode).")
    String envName;

    @Option(names = "--secret", paramLabel = "NAME", description = "Secret to read (default: cnpg.appSecret, <cnpg.cluster>-app-credentials, the Cluster's bootstrap secret).")
    String secretName;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", converter = Cli.Namespace.class, description = "Namespace of the secret (default: the environment's Attic namespace).")
    String namespace;

    @Option(names = "--service", paramLabel = "rw|ro|r", defaultValue = "rw",
            description = "CNPG service for the host name: rw (primary), ro (replicas), r (any) (default: ${DEFAULT-VALUE}).")
    DatabaseUrl.Service service = DatabaseUrl.Service.rw;

    @Option(names = "--host", paramLabel = "HOST", description = "Host instead of <cluster>-<service>.<namespace>.svc.cluster.local (e.g. 127.0.0.1 for a port-forward).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", description = "Port (default: the secret's port, else 5432).")
    Integer port;

    @Option(names = "--sslmode", paramLabel = "MODE", description = "sslmode parameter: disable, allow, prefer, require, verify-ca, verify-full (default: cnpg.sslmode).")
    String sslmode;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT",
            description = "uri (default), jdbc, env, pgpass, json, yaml, table (the parts; default with --decode), wide (the table with each part percent-encoded).")
    Format format;

    @Option(names = "--reveal", description = "Print the password instead of ****.")
    boolean reveal;

    @Option(names = "--check", description = "Log in with the credentials and print the server version (exit 80 when they are rejected, 69 when the server is unreachable).")
    boolean check;

    @Option(names = "--write-secret", description = "Write the URI as key DATABASE_URL of the Attic Secret (attic.secret) with server-side apply.")
    boolean writeSecret;

    @Option(names = "--decode", paramLabel = "URI", arity = "0..1", fallbackValue = "-",
            description = "Read a connection string from stdin (or this argument, which other users can see in ps) and show its parts and encoding problems.")
    String decode;

    /** --dry-run, --diff, --yes, --force-conflicts: only with --write-secret. */
    @Mixin Cli.WithDiff change;
    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    @Override
    public Integer call() throws Exception {
        validateFlags();
        if (decode != null) return decode();

        EnvConfig.Env env = envOptions.load(envName);
        String action = writeSecret ? "write " + DATABASE_URL + " into secret " + env.attic().secret() : "read the database owner's secret";
        if (writeSecret) change.confirm(env, action);
        else Cli.refusePlanned(env, action);
        String ns = namespace != null ? namespace : env.namespaces().attic().name();
        String secret = secretName != null ? secretName : env.cnpg().appSecret();

        var engine = engine();
        try (KubernetesClient client = cluster.connect(env)) {
            ConnectionStrings.Parts parts = engine.fromSecret(client, env, ns, secret);
            if (check) engine.checkLogin(parts, client, env, ns);
            if (writeSecret) {
                DatabaseUrl.writeSecret(client, env, ns, parts, new DatabaseUrl.Write(change.diff(), change.clientDryRun(), change.serverDryRun(),
                        change.forceConflicts, String.valueOf(change.dryRun)));
                if (format != null) print(parts, null);
            } else if (!check || format != null) {
                print(parts, null);
            }
        }
        return ExitCode.OK;
    }

    private DatabaseUrl engine() {
        return new DatabaseUrl(service, host, port, sslmode, cluster.requestTimeout());
    }

    private void validateFlags() {
        if (sslmode != null && !EnvConfig.SSL_MODES.contains(sslmode)) {
            throw new GfwException(ExitCode.USAGE, "--sslmode " + sslmode + " is not one of " + String.join(", ", EnvConfig.SSL_MODES));
        }
        if (port != null && (port < 1 || port > 65535)) throw new GfwException(ExitCode.USAGE, "--port " + port + " is not between 1 and 65535");
        if (host != null && (host.isBlank() || host.matches(".*[\\s/?#@].*"))) {
            throw new GfwException(ExitCode.USAGE, "--host must be a host name or IP address, without spaces, '/', '?', '#' or '@'");
        }
        if (decode != null) {
            if (writeSecret) throw new GfwException(ExitCode.USAGE, "--decode and --write-secret do not go together: write from the environment's secret");
            if (envName != null) throw new GfwException(ExitCode.USAGE, "--decode reads the string from stdin or its argument, not from environment " + envName
                    + "; drop ENV (or put the string right after --decode)");
        } else if (envName == null) {
            throw new GfwException(ExitCode.USAGE, "missing ENV (e.g. dev), or --decode to read a connection string");
        }
        change.validate(writeSecret, "--write-secret");
    }

    // ---- printing ---------------------------------------------------------------------------

    /** Prints the parts in the chosen format; {@code parsed} adds the encoding findings of --decode. */
    private void print(ConnectionStrings.Parts parts, ConnectionStrings.Parsed parsed) {
        Format f = format != null ? format : parsed != null ? Format.table : Format.uri;
        switch (f) {
            case uri -> Cli.out().println(ConnectionStrings.uri(parts, reveal));
            case jdbc -> Cli.out().println(ConnectionStrings.jdbc(parts, reveal));
            // Single quotes: the URI never holds one (it is encoded), and the line can be sourced by a shell.
            case env -> Cli.out().println(DATABASE_URL + "='" + ConnectionStrings.uri(parts, reveal) + "'");
            case pgpass -> {
                try {
                    Cli.out().println(ConnectionStrings.pgpass(parts, reveal));
                } catch (IllegalArgumentException e) {
                    throw new GfwException(ExitCode.USAGE, "-o pgpass: " + e.getMessage() + "; use -o uri");
                }
            }
            case json -> Cli.out().println(Output.json(describe(parts, parsed)));
            case yaml -> Cli.out().print(Output.yaml(describe(parts, parsed)));
            case table, wide -> {
                boolean wide = f == Format.wide;
                var rows = new ArrayList<List<String>>();
                describe(parts, parsed).forEach((k, v) -> {
                    if (v instanceof List<?>) return;
                    String value = v == null ? "" : String.valueOf(v);
                    boolean encodable = v != null && !Output.MASK.equals(value) && !List.of("port", "uri", "corrected", "jdbc", "userEncoding", "passwordEncoding").contains(k);
                    rows.add(wide ? List.of(k, value, encodable ? ConnectionStrings.encode(value) : Output.MASK.equals(value) ? value : "") : List.of(k, value));
                });
                Cli.out().print(Output.table(wide ? List.of("field", "value", "encoded") : List.of("field", "value"), rows));
            }
        }
        if (!reveal && parts.password() != null && f != Format.table && f != Format.wide && f != Format.json && f != Format.yaml) {
            Cli.info("(password masked; add --reveal to print it)");
        }
    }

    private Map<String, Object> describe(ConnectionStrings.Parts parts, ConnectionStrings.Parsed parsed) {
        var m = new LinkedHashMap<String, Object>();
        m.put("user", parts.user());
        m.put("password", Output.mask(parts.password(), reveal));
        m.put("host", parts.host());
        m.put("port", parts.port());
        m.put("dbname", parts.dbname());
        parts.params().forEach((k, v) -> m.put(k, ConnectionStrings.isSecretParam(k) ? Output.mask(v, reveal) : v));
        if (parsed != null) {
            m.put("userEncoding", parsed.userEncoding().name());
            m.put("passwordEncoding", parsed.passwordEncoding().name());
        }
        m.put(parsed != null && parsed.needsCorrection() ? "corrected" : "uri", ConnectionStrings.uri(parts, reveal));
        m.put("jdbc", ConnectionStrings.jdbc(parts, reveal));
        if (parsed != null && !parsed.notes().isEmpty()) m.put("notes", parsed.notes());
        return m;
    }

    // ---- --decode ---------------------------------------------------------------------------

    private int decode() throws IOException {
        String text;
        if (decode.equals("-")) {
            if (System.console() != null) Cli.info("paste the connection string, then Enter and Ctrl-D:");
            byte[] input = System.in.readNBytes(ConnectionStrings.MAX_INPUT + 1); // never more: a stray file piped in is refused, not read whole
            if (input.length > ConnectionStrings.MAX_INPUT) {
                throw new GfwException(ExitCode.USAGE, "--decode: the input on stdin is over 64 KiB: not a connection string (those are a few hundred characters)");
            }
            text = new String(input, StandardCharsets.UTF_8).strip();
            if (text.isEmpty()) throw new GfwException(ExitCode.NO_INPUT, "--decode: nothing on stdin; pipe a connection string in, e.g. echo \"$DATABASE_URL\" | cnpg-connstr --decode");
        } else {
            Cli.warn("the connection string was given as an argument, which other users can see (ps, shell history); pipe it on stdin instead");
            text = decode.strip();
        }
        ConnectionStrings.Parsed parsed;
        try {
            parsed = ConnectionStrings.parse(text);
        } catch (IllegalArgumentException e) {
            throw new GfwException(ExitCode.USAGE, "--decode: " + e.getMessage());
        }
        ConnectionStrings.Parts parts = parsed.parts();
        if (host != null || port != null) parts = parts.withHost(host != null ? host : parts.host(), port != null ? port : parts.port());
        if (sslmode != null) parts = parts.withParam("sslmode", sslmode);
        for (String note : parsed.notes()) Cli.warn(note);
        if (parsed.needsCorrection()) {
            boolean listing = format == null || format == Format.table || format == Format.wide || format == Format.json || format == Format.yaml;
            Cli.warn((listing ? "the corrected string is under 'corrected'" : "stdout has the corrected string")
                    + (reveal ? "" : " (password masked; add --reveal to get it whole)"));
        }
        if (check) engine().checkLogin(parts, null, null, null);
        if (!check || format != null) print(parts, parsed);
        return ExitCode.OK;
    }
}
