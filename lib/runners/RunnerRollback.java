// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../kube/HelmRecords.java
//SOURCES ../kube/HelmReleases.java
//SOURCES RunnerValues.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * {@code runners ENV rollback}'s story: a runner type's Helm release back to an earlier revision (default: the last
 * good one before the current), what changes in its values, and {@code --unstick} for a release an interrupted Helm
 * left in pending-*: marked failed first ({@link HelmReleases.JvmHelm#unstick}), then rolled back.
 */
final class RunnerRollback {

    final KubernetesClient client;
    final HelmReleases.JvmHelm helm;
    final EnvConfig.Env env;
    final RunnerValues.Release r;
    /** False for a dry run (or --diff): the plan is printed, nothing is changed. */
    final boolean writes;

    RunnerRollback(KubernetesClient client, HelmReleases.JvmHelm helm, EnvConfig.Env env, RunnerValues.Release r, boolean writes) {
        this.client = client;
        this.helm = helm;
        this.env = env;
        this.r = r;
        this.writes = writes;
    }

    /** Rolls back to {@code to} (null: the last good revision before the current), printing the result as {@code format}. */
    void run(Integer to, boolean unstick, Duration timeout, Output.Format format) {
        HelmReleases.Deployed live = helm.get(r.namespace(), r.name());
        if (live == null) throw new GfwException(ExitCode.NOT_FOUND, "release " + r.name() + " is not installed in namespace " + r.namespace());
        var history = helm.history(r.namespace(), r.name());
        boolean pending = live.status() != null && live.status().startsWith("pending");
        int target0 = to != null ? to : HelmReleases.lastGoodBefore(history, live, pending);
        if (history.stream().noneMatch(h -> h.revision() == target0)) {
            throw new GfwException(ExitCode.NOT_FOUND, "release " + r.name() + " has no revision " + target0 + " (it has "
                    + String.join(", ", history.stream().map(h -> String.valueOf(h.revision())).toList()) + "); see 'gfw runners " + env.name() + " history " + r.type() + "'");
        }
        if (pending && !unstick) {
            throw new GfwException(ExitCode.CONFLICT, "release " + r.name() + " is " + live.status() + " (revision " + live.revision()
                    + "): another Helm operation is running, or one was interrupted; if none is running, 'gfw runners " + env.name()
                    + " rollback " + r.type() + " --unstick' marks it failed and rolls back to revision " + target0);
        }
        if (unstick && !pending) {
            throw new GfwException(ExitCode.USAGE, "--unstick is for a release stuck in pending-*; " + r.name() + " is " + live.status()
                    + " (revision " + live.revision() + ")");
        }
        var wanted = HelmRecords.values(HelmRecords.read(client, r.namespace(), r.name(), target0));
        List<String> changes = HelmReleases.valueChanges(wanted, live.values());
        var m = new LinkedHashMap<String, Object>();
        m.put("release", r.name());
        m.put("from", live.revision());
        m.put("to", target0);
        if (!pending && target0 == live.revision()) {
            m.put("action", "unchanged");
        } else if (!writes) {
            m.put("action", pending ? "would mark revision " + live.revision() + " failed and roll back" : "would roll back");
        } else {
            if (pending) live = helm.unstick(client, r.namespace(), r.name(), history, Output::info);
            Output.info("rolling back release " + r.name() + " to revision " + target0 + " (timeout " + timeout.toSeconds() + " s)");
            var after = helm.rollback(client, r.namespace(), r.name(), target0, timeout, live);
            m.put("action", "rolled back");
            m.put("revision", after.revision());
        }
        m.put("changes", changes);
        switch (format) {
            case json -> Output.out().println(Output.json(m));
            case yaml -> Output.out().print(Output.yaml(m));
            default -> {
                Output.out().println("release " + r.name() + " " + m.get("action") + ": revision " + live.revision() + " -> " + target0
                        + (m.containsKey("revision") ? " (now revision " + m.get("revision") + ")" : ""));
                for (String c : changes) Output.out().println("  " + c);
            }
        }
        if (!writes) Output.info("dry run: nothing was changed");
    }
}
