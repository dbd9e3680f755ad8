// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../env/EnvConfig.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES RunnerValues.java
//SOURCES RunnerFleet.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The settings of a runner that live on GitLab's runner, not in the chart: with a runner authentication token
 * ({@code glrt-}) the chart's register script drops {@code runners.tags} and the rest (tags, run-untagged, locked,
 * access level, maximum timeout are the runner's, set through the API — docs.gitlab.com/ee/api/runners.html "Update
 * runner's details", lib/api/ci/runners.rb {@code put ':id'}). deploy-runners (and so {@code up}) reads each runner's
 * details and sends one {@code PUT /runners/:id} with only the fields that differ; nothing when all match.
 */
final class RunnerSettings {
    private RunnerSettings() {}

    /** What the environment file wants on GitLab's runner, in the API's field names. */
    static Map<String, Object> wanted(EnvConfig.Runner r) {
        var m = new LinkedHashMap<String, Object>();
        m.put("tag_list", r.tags());
        m.put("run_untagged", r.runUntagged());
        m.put("locked", r.locked());
        m.put("access_level", r.accessLevel());
        if (r.maximumTimeout() != null) m.put("maximum_timeout", r.maximumTimeout());
        return m;
    }

    /**
     * The fields of {@code wanted} that GitLab's runner does not have yet. Tags compare as a set (GitLab keeps them in
     * its own order). A maximum timeout the file does not name is left as GitLab has it.
     */
    static Map<String, Object> differences(Map<String, Object> wanted, GitLabApi.Settings have) {
        var diff = new LinkedHashMap<String, Object>();
        @SuppressWarnings("unchecked") List<String> tags = (List<String>) wanted.get("tag_list");
        if (!new LinkedHashSet<>(tags).equals(new LinkedHashSet<>(have.tags()))) diff.put("tag_list", tags);
        if (!wanted.get("run_untagged").equals(have.runUntagged())) diff.put("run_untagged", wanted.get("run_untagged"));
        if (!wanted.get("locked").equals(have.locked())) diff.put("locked", wanted.get("locked"));
        if (!wanted.get("access_level").equals(have.accessLevel())) diff.put("access_level", wanted.get("access_level"));
        if (wanted.containsKey("maximum_timeout") && !wanted.get("maximum_timeout").equals(have.maximumTimeout())) {
            diff.put("maximum_timeout", wanted.get("maximum_timeout"));
        }
        return diff;
    }

    /** One line per changed field: "tag_list: [docker] -> [docker, linux]". */
    static List<String> describe(Map<String, Object> diff, GitLabApi.Settings have) {
        var out = new ArrayList<String>();
        diff.forEach((k, v) -> {
            Object was = switch (k) {
                case "tag_list" -> have.tags();
                case "run_untagged" -> have.runUntagged();
                case "locked" -> have.locked();
                case "access_level" -> have.accessLevel();
                default -> have.maximumTimeout();
            };
            out.add("gitlab runner " + k + ": " + was + " -> " + v);
        });
        return out;
    }

    /**
     * For each release with a runner id on its token Secret: compare GitLab's runner with the file and PUT the
     * differences ({@code writes} false: only say them). Returns per release name the changes (empty: unchanged).
     * A release without a token Secret (not deployed yet, or a server dry run that would create it) is skipped.
     */
    static Map<String, List<String>> reconcile(KubernetesClient client, GitLabApi api, List<RunnerValues.Release> releases,
                                               boolean writes, Consumer<String> info) {
        return reconcile(r -> client.secrets().inNamespace(r.namespace()).withName(r.tokenSecret()).get(), api, releases, writes, info);
    }

    /** As above, with each release's token Secret from {@code tokenSecret} (null: absent), e.g. a {@link RunnerInventory}. */
    static Map<String, List<String>> reconcile(java.util.function.Function<RunnerValues.Release, io.fabric8.kubernetes.api.model.Secret> tokenSecret,
                                               GitLabApi api, List<RunnerValues.Release> releases, boolean writes, Consumer<String> info) {
        var out = new LinkedHashMap<String, List<String>>();
        for (RunnerValues.Release r : releases) {
            var secret = tokenSecret.apply(r);
            if (secret == null) continue;
            long id = RunnerFleet.runnerId(secret, r);
            GitLabApi.Settings have = api.settings(id);
            Map<String, Object> diff = differences(wanted(r.runner()), have);
            List<String> changes = describe(diff, have);
            if (!diff.isEmpty() && writes) {
                api.updateRunner(id, diff);
                info.accept("runner " + id + " (" + r.name() + "): GitLab settings updated: " + String.join("; ", changes));
            }
            out.put(r.name(), changes);
        }
        return out;
    }

    /** The managers column of {@code runners status -o wide}: "system-id version contacted_at" of each, or "-". */
    static String managersText(Object managers) {
        if (!(managers instanceof List<?> list) || list.isEmpty()) return "-";
        var out = new ArrayList<String>();
        for (Object o : list) {
            if (o instanceof Map<?, ?> m) out.add(m.get("systemId") + " " + m.get("version") + " " + m.get("contactedAt"));
        }
        return String.join(", ", out);
    }
}
