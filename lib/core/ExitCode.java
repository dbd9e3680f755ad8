import java.util.LinkedHashMap;
import java.util.Map;

/**
 * gfw's exit codes, one table for every script. They avoid JBang's own codes (1, 2, 10, 255)
 * so that a caller can tell "gfw said no" from "JBang could not start the script": 1 never comes
 * from gfw (Cli.run turns every exception and error into one of these).
 */
final class ExitCode {
    static final int OK = 0;
    /** A flag or argument is wrong (picocli's usage errors land here). */
    static final int USAGE = 64;
    /** An environment file is malformed or invalid, or names an unknown environment. */
    static final int CONFIG = 65;
    /** A file the command needs is missing or unreadable: kubeconfig, token file, input. */
    static final int NO_INPUT = 66;
    /** The environment is planned, or production without --yes (refused before any request), or a file would be replaced without --force. */
    static final int REFUSED = 67;
    /** Something the command needs on the cluster or a remote API does not exist. */
    static final int NOT_FOUND = 68;
    /** The API server, Rancher, GitLab, the database or the proxy cannot be reached (after retries). */
    static final int UNAVAILABLE = 69;
    /** A bug in gfw: an unexpected exception. Please report it with the stack trace (GFW_DEBUG=1). */
    static final int INTERNAL = 70;
    /** A file could not be written. */
    static final int CANT_WRITE = 73;
    /** Credentials were rejected (401) or lack permission (403). */
    static final int AUTH = 77;
    /** Server-side apply conflict: another field manager owns a field; use --force-conflicts. */
    static final int CONFLICT = 78;
    /** The remote side answered with something gfw cannot use (bad kubeconfig, 5xx, invalid reply). */
    static final int REMOTE_ERROR = 79;
    /** A check ran and failed (e.g. cnpg-connstr --check could not log in). */
    static final int CHECK_FAILED = 80;
    /** Checks ran and none failed, but some warned or could not be read (health: the environment is degraded). */
    static final int DEGRADED = 81;
    /** {@code up ENV --diff}: the cluster differs from the environment file (what differs is listed); the scheduled drift job's signal. */
    static final int DRIFT = 82;

    static Map<Integer, String> table() {
        var t = new LinkedHashMap<Integer, String>();
        t.put(OK, "success");
        t.put(USAGE, "bad flag or argument");
        t.put(CONFIG, "environment file invalid or unknown environment");
        t.put(NO_INPUT, "a needed file is missing or unreadable (kubeconfig, token file)");
        t.put(REFUSED, "environment is planned, production without --yes, or a file would be replaced without --force");
        t.put(NOT_FOUND, "a needed object is missing (secret, key, Rancher cluster, Helm chart)");
        t.put(UNAVAILABLE, "API server, proxy, Rancher, GitLab or database unreachable or timed out");
        t.put(INTERNAL, "internal error in gfw (a bug)");
        t.put(CANT_WRITE, "a file could not be written");
        t.put(AUTH, "credentials rejected (401) or forbidden (403)");
        t.put(CONFLICT, "server-side apply conflict with another field manager, or a Helm release left pending");
        t.put(REMOTE_ERROR, "the remote side answered with an error or unusable data");
        t.put(CHECK_FAILED, "a requested check failed, or a wait ran out of time (drain, rotate-token, smoke, an upgrade's drain)");
        t.put(DEGRADED, "no check failed, but some warned or could not be read (health: degraded)");
        t.put(DRIFT, "the cluster drifted from the environment file (up --diff lists what)");
        return t;
    }

    /** The constant's name of a code ({@code 64} is {@code USAGE}), or "?" for a code gfw does not use. */
    static String name(int code) {
        for (var f : ExitCode.class.getDeclaredFields()) {
            try {
                if (f.getType() == int.class && java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getInt(null) == code) return f.getName();
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
        return "?";
    }

    private ExitCode() {}
}
