// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../core/Output.java
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES ConnectionStrings.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * cnpg-connstr's story against the cluster, so that {@code up} runs it in the same process: the connection
 * parts from the database owner's Secret (host, port and sslmode as configured or overridden), the
 * {@code --check} login with pgjdbc (through a port-forward to the instance pod unless a host is given),
 * and DATABASE_URL written into the Attic Secret with server-side apply (read-compare-skip).
 */
final class DatabaseUrl {

    /** CNPG's services: read-write (the primary), read-only (replicas), read (any instance). */
    enum Service { rw, ro, r }

    static final String DATABASE_URL = "DATABASE_URL";

    /** --service, --host, --port, --sslmode (null: from the Secret or the environment), --request-timeout (bounds the login). */
    final Service service;
    final String host;
    final Integer port;
    final String sslmode;
    final Duration requestTimeout;

    DatabaseUrl(Service service, String host, Integer port, String sslmode, Duration requestTimeout) {
        this.service = service;
        this.host = host;
        this.port = port;
        this.sslmode = sslmode;
        this.requestTimeout = requestTimeout;
    }

    // ---- the CNPG secret --------------------------------------------------------------------

    /** The connection parts from the secret, with host, port and sslmode as configured or overridden. */
    ConnectionStrings.Parts fromSecret(KubernetesClient client, EnvConfig.Env env, String ns, String name) {
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
        int p = port != null ? port : secretPort != null ? secretPort : ConnectionStrings.POSTGRES_PORT;
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

    // ---- --check ----------------------------------------------------------------------------

    /**
     * Logs in with pgjdbc. Without --host, through a port-forward to the pod behind the chosen
     * service (the primary for rw), opened here and closed afterwards.
     */
    void checkLogin(ConnectionStrings.Parts parts, KubernetesClient client, EnvConfig.Env env, String ns) {
        if (host != null || client == null) {
            login(parts, parts.host(), parts.port() == null ? ConnectionStrings.POSTGRES_PORT : parts.port(), null);
            return;
        }
        Pod pod = instancePod(client, env, ns);
        KubeClients.throughPortForward(client, pod, KubeClients.containerPort(pod, "postgresql", ConnectionStrings.POSTGRES_PORT), (host, port) -> {
            login(parts, host, port, "port-forward to pod " + pod.getMetadata().getName());
            return null;
        });
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

    /** Connects, asks for the version, and reports; maps failures to CHECK_FAILED or UNAVAILABLE. */
    private void login(ConnectionStrings.Parts parts, String toHost, int toPort, String via) {
        var props = new Properties();
        props.setProperty("user", parts.user() == null ? "" : parts.user());
        if (parts.password() != null) props.setProperty("password", parts.password());
        String ssl = parts.params().get("sslmode");
        if (ssl != null) props.setProperty("sslmode", ssl);
        // --request-timeout bounds the login as it bounds API requests (pgjdbc takes whole seconds).
        long seconds = Math.max(1, requestTimeout.toSeconds());
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
            Output.out().println("server:      " + target);
            Output.out().println("tls:         " + (rs.getBoolean(5) ? "yes" : "no") + (ssl == null ? "" : " (sslmode " + ssl + ")"));
            Output.out().println("version:     PostgreSQL " + rs.getString(1) + (rs.getBoolean(4) ? " (replica, read-only)" : " (primary)"));
            Output.out().println("credentials: ok (logged in as " + rs.getString(2) + " to database " + rs.getString(3) + ")");
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

    /** How --write-secret runs: --diff or a client dry run (compare only), a server dry run, --force-conflicts; {@code dryRun} names the mode in messages. */
    record Write(boolean diff, boolean clientDryRun, boolean serverDryRun, boolean forceConflicts, String dryRun) {
        boolean writes() {
            return !diff && !clientDryRun && !serverDryRun;
        }
    }

    /** DATABASE_URL into the Attic Secret (never a ConfigMap: it holds the password); unchanged: no write. */
    static ServerSideApply.Result writeSecret(KubernetesClient client, EnvConfig.Env env, String ns, ConnectionStrings.Parts parts, Write change) {
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
            result = ServerSideApply.apply(client, desired, change.serverDryRun(), change.forceConflicts());
        }
        String suffix = change.diff() ? " (--diff: nothing sent)" : change.writes() ? "" : " (dry run: " + change.dryRun() + ")";
        Output.out().println(ServerSideApply.ref(desired) + " " + result.action() + " (key " + DATABASE_URL + ")" + suffix);
        // --diff asked for the differences: they are its data (stdout); otherwise a remark (stderr).
        for (String d : result.diff()) (change.diff() ? Output.out() : System.err).println("  " + d);
        return result;
    }
}
