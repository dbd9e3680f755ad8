///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//DEPS commons-codec:commons-codec:1.21.0
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/Http.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/ServerSideApply.java
//SOURCES ../lib/ConnectionStrings.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.LocalPortForward;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
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

    /** CNPG's services: read-write (the primary), read-only (replicas), read (any instance). */
    enum Service { rw, ro, r }

    static final String DATABASE_URL = "DATABASE_URL";
    static final int POSTGRES_PORT = 5432;

    @Parameters(paramLabel = "ENV", arity = "0..1", description = "Environment, e.g. dev (not needed with --decode).")
    String envName;

    @Option(names = "--secret", paramLabel = "NAME", description = "Secret to read (default: cnpg.appSecret, <cnpg.cluster>-app-credentials, the Cluster's bootstrap secret).")
    String secretName;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", converter = Cli.Namespace.class, description = "Namespace of the secret (default: the environment's Attic namespace).")
    String namespace;

    @Option(names = "--service", paramLabel = "rw|ro|r", defaultValue = "rw",
            description = "CNPG service for the host name: rw (primary), ro (replicas), r (any) (default: ${DEFAULT-VALUE}).")
    Service service = Service.rw;

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

        try (KubernetesClient client = cluster.connect(env)) {
            ConnectionStrings.Parts parts = fromSecret(client, env, ns, secret);
            if (check) checkLogin(parts, client, env, ns);
            if (writeSecret) {
                writeSecret(client, env, ns, parts);
                if (format != null) print(parts, null);
            } else if (!check || format != null) {
                print(parts, null);
            }
        }
        return ExitCode.OK;
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

    // ---- the CNPG secret --------------------------------------------------------------------

    /** The connection parts from the secret, with host, port and sslmode as configured or overridden. */
    private ConnectionStrings.Parts fromSecret(KubernetesClient client, EnvConfig.Env env, String ns, String name) {
        Secret s = client.secrets().inNamespace(ns).withName(name).get();
        String where = "secret " + name + " in namespace " + ns;
        if (s == null) {
            throw new GfwException(ExitCode.NOT_FOUND, where + " not found; it is cluster " + env.cnpg().cluster()
                    + "'s bootstrap secret, which 'gfw deploy-cache " + env.name() + "' creates (kubectl get secrets -n " + ns + "; or name another with --secret)");
        }
        Map<String, String> data = KubeClients.secretData(s, where);
        String user = required(data, "username", where);
        String password = required(data, "password", where);
        String dbname = data.getOrDefault("dbname", "").isEmpty() ? env.cnpg().database() : data.get("dbname");
        Integer secretPort = null;
        if (data.containsKey("port") && !data.get("port").isBlank()) {
            try {
                secretPort = Integer.parseInt(data.get("port").trim());
            } catch (NumberFormatException e) {
                throw new GfwException(ExitCode.REMOTE_ERROR, where + ": key 'port' is not a number; pass --port");
            }
        }
        String h = host != null ? host : env.cnpg().cluster() + "-" + service + "." + ns + ".svc.cluster.local";
        int p = port != null ? port : secretPort != null ? secretPort : POSTGRES_PORT;
        var params = new LinkedHashMap<String, String>();
        params.put("sslmode", sslmode != null ? sslmode : env.cnpg().sslmode());
        return new ConnectionStrings.Parts(user, password, h, p, dbname, params);
    }

    private static String required(Map<String, String> data, String key, String where) {
        String v = data.get(key);
        if (v == null) {
            throw new GfwException(ExitCode.NOT_FOUND, where + " has no key '" + key + "' (keys: "
                    + (data.isEmpty() ? "none" : String.join(", ", data.keySet())) + "); the database owner's secret has username and password");
        }
        if (v.isEmpty()) throw new GfwException(ExitCode.NOT_FOUND, where + " has an empty '" + key + "'");
        return v;
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
        if (check) checkLogin(parts, null, null, null);
        if (!check || format != null) print(parts, parsed);
        return ExitCode.OK;
    }

    // ---- --check ----------------------------------------------------------------------------

    /**
     * Logs in with pgjdbc. Without --host, through a port-forward to the pod behind the chosen
     * service (the primary for rw), opened here and closed afterwards.
     */
    private void checkLogin(ConnectionStrings.Parts parts, KubernetesClient client, EnvConfig.Env env, String ns) {
        if (host != null || client == null) {
            login(parts, parts.host(), parts.port() == null ? POSTGRES_PORT : parts.port(), null);
            return;
        }
        Pod pod = instancePod(client, env, ns);
        String podName = pod.getMetadata().getName();
        // Bound to loopback on a free port (fabric8's portForward(port) alone listens on every interface).
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (LocalPortForward forward = client.pods().inNamespace(ns).withName(podName).portForward(containerPort(pod), loopback, 0)) {
            login(parts, loopback.getHostAddress(), forward.getLocalPort(), "port-forward to pod " + podName);
        } catch (IOException e) {
            throw new GfwException(ExitCode.UNAVAILABLE, "port-forward to pod " + podName + " -n " + ns + " failed: " + e.getMessage());
        }
    }

    /** The pod behind the service: CNPG labels its instances cnpg.io/cluster and cnpg.io/instanceRole. */
    private Pod instancePod(KubernetesClient client, EnvConfig.Env env, String ns) {
        String clusterName = env.cnpg().cluster();
        var pods = client.pods().inNamespace(ns).withLabel("cnpg.io/cluster", clusterName);
        String wanted = service == Service.rw ? "primary" : "replica";
        List<Pod> candidates = service == Service.r ? pods.list().getItems()
                : pods.withLabel("cnpg.io/instanceRole", wanted).list().getItems();
        if (candidates.isEmpty() && service != Service.r) {
            // CNPG before 1.18 labelled the role as "role" only.
            candidates = client.pods().inNamespace(ns).withLabel("cnpg.io/cluster", clusterName).withLabel("role", wanted).list().getItems();
        }
        candidates = candidates.stream().filter(p -> p.getStatus() == null || !"Failed".equals(p.getStatus().getPhase())).toList();
        if (candidates.isEmpty()) {
            String role = service == Service.rw ? "primary" : service == Service.ro ? "replica" : "instance";
            throw new GfwException(ExitCode.NOT_FOUND, "no " + role + " pod of CNPG cluster " + clusterName + " in namespace " + ns
                    + " (labels cnpg.io/cluster=" + clusterName + (service == Service.r ? "" : ", cnpg.io/instanceRole=" + role)
                    + "); is the cluster running? Or pass --host/--port to check through your own port-forward");
        }
        return candidates.get(0);
    }

    private static int containerPort(Pod pod) {
        if (pod.getSpec() != null && pod.getSpec().getContainers() != null) {
            for (var c : pod.getSpec().getContainers()) {
                if (c.getPorts() == null) continue;
                for (var p : c.getPorts()) if ("postgresql".equals(p.getName()) && p.getContainerPort() != null) return p.getContainerPort();
            }
        }
        return POSTGRES_PORT;
    }

    /** Connects, asks for the version, and reports; maps failures to CHECK_FAILED or UNAVAILABLE. */
    private void login(ConnectionStrings.Parts parts, String toHost, int toPort, String via) {
        var props = new Properties();
        props.setProperty("user", parts.user() == null ? "" : parts.user());
        if (parts.password() != null) props.setProperty("password", parts.password());
        String ssl = parts.params().get("sslmode");
        if (ssl != null) props.setProperty("sslmode", ssl);
        // --request-timeout bounds the login as it bounds API requests (pgjdbc takes whole seconds).
        long seconds = Math.max(1, cluster.requestTimeout().toSeconds());
        props.setProperty("connectTimeout", String.valueOf(Math.min(10, seconds)));
        props.setProperty("loginTimeout", String.valueOf(seconds));
        props.setProperty("socketTimeout", String.valueOf(seconds));
        props.setProperty("ApplicationName", "gfw cnpg-connstr --check");
        String db = parts.dbname() == null ? "" : ConnectionStrings.encode(parts.dbname());
        String target = toHost + ":" + toPort + (via == null ? "" : " (" + via + ")");
        String url = "jdbc:postgresql://" + (toHost.contains(":") ? "[" + toHost + "]" : toHost) + ":" + toPort + "/" + db;
        AutoCloseable waiting = Http.waitNotice("PostgreSQL at " + target + " to log in, at most " + seconds + "s (--request-timeout)");
        try (var c = DriverManager.getConnection(url, props); var st = c.createStatement();
             var rs = st.executeQuery("select current_setting('server_version'), current_user, current_database(), pg_is_in_recovery(),"
                     + " coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false)")) {
            rs.next();
            Cli.out().println("server:      " + target);
            Cli.out().println("tls:         " + (rs.getBoolean(5) ? "yes" : "no") + (ssl == null ? "" : " (sslmode " + ssl + ")"));
            Cli.out().println("version:     PostgreSQL " + rs.getString(1) + (rs.getBoolean(4) ? " (replica, read-only)" : " (primary)"));
            Cli.out().println("credentials: ok (logged in as " + rs.getString(2) + " to database " + rs.getString(3) + ")");
        } catch (SQLException e) {
            throw checkFailure(e, parts, target);
        } finally {
            Http.closeQuietly(waiting);
        }
    }

    private static GfwException checkFailure(SQLException e, ConnectionStrings.Parts parts, String target) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String reason = e instanceof org.postgresql.util.PSQLException p && p.getServerErrorMessage() != null
                ? p.getServerErrorMessage().getMessage() : firstSentence(GfwException.firstLine(e.getMessage()));
        if (state.startsWith("28")) {
            return new GfwException(ExitCode.CHECK_FAILED, "credentials rejected by " + target + ": " + reason
                    + "; the secret's password does not match the role (or pg_hba refuses this client)", e);
        }
        if (state.equals("3D000")) {
            return new GfwException(ExitCode.CHECK_FAILED, "database " + parts.dbname() + " does not exist on " + target + ": " + reason, e);
        }
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
        if (cause instanceof ConnectException || cause instanceof UnknownHostException || cause instanceof NoRouteToHostException
                || cause instanceof SocketTimeoutException || state.equals("08001")) {
            if (cause instanceof UnknownHostException) reason = "unknown host (no DNS entry)";
            else if (cause instanceof SocketTimeoutException) reason = "timed out";
            return new GfwException(ExitCode.UNAVAILABLE, "cannot reach PostgreSQL at " + target + ": " + reason
                    + "; check host and port (from outside the cluster: --check without --host port-forwards to the pod)", e);
        }
        if (reason.contains("SSL")) {
            return new GfwException(ExitCode.CHECK_FAILED, "SSL problem with " + target + ": " + reason
                    + "; verify-ca and verify-full need the cluster's CA in ~/.postgresql/root.crt (CNPG keeps it in secret <cluster>-ca,"
                    + " key ca.crt), or choose another --sslmode", e);
        }
        return new GfwException(ExitCode.CHECK_FAILED, "login to " + target + " failed: " + reason
                + (state.isEmpty() ? "" : " (SQLSTATE " + state + ")"), e);
    }

    /** pgjdbc's messages run on ("... refused. Check that the hostname ..."): the first sentence says it. */
    private static String firstSentence(String s) {
        int end = s.indexOf(". ");
        String first = end < 0 ? s : s.substring(0, end);
        return first.endsWith(".") ? first.substring(0, first.length() - 1) : first;
    }

    // ---- --write-secret ---------------------------------------------------------------------

    /** DATABASE_URL into the Attic Secret (never a ConfigMap: it holds the password); unchanged: no write. */
    private void writeSecret(KubernetesClient client, EnvConfig.Env env, String ns, ConnectionStrings.Parts parts) {
        String uri = ConnectionStrings.uri(parts, true);
        Secret desired = new SecretBuilder()
                .withNewMetadata().withName(env.attic().secret()).withNamespace(ns).endMetadata()
                .addToData(DATABASE_URL, Base64.getEncoder().encodeToString(uri.getBytes(StandardCharsets.UTF_8)))
                .build();
        ServerSideApply.Result result;
        if (change.clientDryRun() || change.diff()) {
            HasMetadata live = client.resource(desired).get();
            List<String> diff = live == null ? List.of() : ServerSideApply.differences(desired, live);
            var action = live == null ? ServerSideApply.Action.created : diff.isEmpty() ? ServerSideApply.Action.unchanged : ServerSideApply.Action.configured;
            result = new ServerSideApply.Result(desired, action, true, diff);
        } else {
            result = ServerSideApply.apply(client, desired, change.serverDryRun(), change.forceConflicts);
        }
        String suffix = change.diff() ? " (--diff: nothing sent)" : change.writes() ? "" : " (dry run: " + change.dryRun + ")";
        Cli.out().println(ServerSideApply.ref(desired) + " " + result.action() + " (key " + DATABASE_URL + ")" + suffix);
        // --diff asked for the differences: they are its data (stdout); otherwise a remark (stderr).
        for (String d : result.diff()) (change.diff() ? Cli.out() : Cli.err()).println("  " + d);
    }
}
