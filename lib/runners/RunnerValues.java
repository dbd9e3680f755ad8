// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../cache/CiCacheToken.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricSpec;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricSpecBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What each GitLab runner type of an environment becomes on the cluster: one Helm release of the
 * {@code gitlab-runner} chart with its values, the Secret holding its runner token, and the HPA
 * and PodDisruptionBudget gfw applies next to it. Pure computation from the environment file — no
 * cluster, no network — so it is shared by deploy, dry-run and status, and tested in-process.
 *
 * <p>Names are stable and contain the type: release and Deployment {@code gitlab-runner-<type>},
 * Secret {@code gitlab-runner-<type>-token}, HPA {@code gitlab-runner-<type>-hpa}, PDB
 * {@code gitlab-runner-<type>-pdb}. The runner token never goes into values: the chart reads it
 * from the Secret named by {@code runners.secret} (keys {@code runner-token} and
 * {@code runner-registration-token}, both required by the chart's projected volume).
 */
final class RunnerValues {

    /** Keys the gitlab-runner chart reads from the Secret named by {@code runners.secret}. */
    static final String TOKEN_KEY = "runner-token";
    static final String REGISTRATION_TOKEN_KEY = "runner-registration-token";
    /**
     * Annotation on the token Secret: the GitLab runner id ({@code "<id>"}), written when deploy-runners creates the
     * runner; {@code runners} and {@code health} find the runner by it, never by description.
     */
    static final String RUNNER_ID_ANNOTATION = "gfw.gloriousflywheel.dev/runner-id";
    /** Where gfw 0.1.0 wrote it: Secrets made then are still read by it. */
    static final String LEGACY_RUNNER_ID_ANNOTATION = "gfw.gloriousflywheel.io/gitlab-runner-id";

    /** The runner id a token Secret's annotations carry (as written, maybe not a number), or null. */
    /**
     * The runner id an annotation value names, or null when it names none: digits that fit GitLab's id (a bigint, so a
     * Java long) and are above zero. Anything else (text, a number too big for a long) is no id, never an exception.
     */
    static Long runnerId(String annotation) {
        if (annotation == null) return null;
        String t = annotation.trim();
        if (t.isEmpty() || t.length() > 18 || !t.chars().allMatch(c -> c >= '0' && c <= '9')) return null;
        long id = Long.parseLong(t);
        return id > 0 ? id : null;
    }

    static String runnerIdAnnotation(java.util.Map<String, String> annotations) {
        if (annotations == null) return null;
        String id = annotations.get(RUNNER_ID_ANNOTATION);
        return id != null ? id : annotations.get(LEGACY_RUNNER_ID_ANNOTATION);
    }

    /** One runner type as a Helm release. {@code values} never hold a token. */
    record Release(String type, String name, String namespace, String chart, String repository, String version,
                   String tokenSecret, Map<String, Object> values, EnvConfig.Runner runner) {
        String hpaName() { return name + "-hpa"; }
        String pdbName() { return name + "-pdb"; }
    }

    static String releaseName(String type) {
        return "gitlab-runner-" + type;
    }

    /**
     * The releases for the requested types, in the order of the environment file; all of them when
     * {@code types} is empty. An unknown type is a usage error naming the known ones.
     */
    static List<Release> select(EnvConfig.Env env, List<String> types) {
        List<String> known = env.runners().stream().map(EnvConfig.Runner::type).toList();
        for (String t : types) {
            if (!known.contains(t)) {
                throw new GfwException(ExitCode.USAGE, "unknown runner type '" + t + "': " + env.file()
                        + " runners has " + String.join(", ", known) + " (or give no type for all of them)");
            }
        }
        var out = new ArrayList<Release>();
        for (EnvConfig.Runner r : env.runners()) {
            if (types.isEmpty() || types.contains(r.type())) out.add(release(env, r));
        }
        return out;
    }

    static Release release(EnvConfig.Env env, EnvConfig.Runner r) {
        String name = releaseName(r.type());
        var chart = env.runnerChart();
        return new Release(r.type(), name, env.namespaces().runners().name(), chart.name(), chart.repository(),
                chart.version(), name + "-token", values(env, r), r);
    }

    /**
     * The Role each runner manager's ServiceAccount gets in the runner namespace: what GitLab's docs list for the
     * Kubernetes executor (gitlab-org/gitlab-runner docs/executors/kubernetes/_index.md, "Configure runner API
     * permissions", the table between k8s_api_permissions_list_start/end), without {@code namespaces} create/delete,
     * which only {@code namespace_per_job} needs and gfw does not set. Without {@code rbac.rules} the chart
     * (templates/role.yaml, {@code if empty .Values.rbac.rules}) grants every verb on every core resource.
     * Each rule as the chart reads it: {@code apiGroups}, {@code resources}, {@code verbs}.
     */
    static final List<Map<String, Object>> RBAC_RULES = List.of(
            rule("events", "list", "watch"),                          // print_pod_warning_events, FF_PRINT_POD_EVENTS
            rule("pods", "create", "delete", "get", "list", "watch"), // list, watch: the pod informer (runner 17.9+)
            rule("pods/attach", "create", "delete", "get", "patch"),  // FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY=false
            rule("pods/exec", "create", "delete", "get", "patch"),
            rule("pods/log", "get", "list"),
            rule("secrets", "create", "delete", "get", "update"),
            rule("serviceaccounts", "get"),
            rule("services", "create", "get"));

    private static Map<String, Object> rule(String resource, String... verbs) {
        var m = new LinkedHashMap<String, Object>();
        m.put("apiGroups", List.of(""));
        m.put("resources", List.of(resource));
        m.put("verbs", List.of(verbs));
        return java.util.Collections.unmodifiableMap(m);
    }

    /**
     * The chart values for one runner, in the chart's own names (gitlab-runner chart 0.86.0; the same in 0.79.1).
     * Only keys the chart reads: no {@code runners.tags} (the chart's register-the-runner script unsets
     * RUNNER_TAG_LIST for a {@code glrt-} token; tags live on GitLab's runner, set when gfw creates it) and no
     * {@code runners.privileged} (no template reads it; privileged mode is {@code privileged} in the TOML below).
     */
    static Map<String, Object> values(EnvConfig.Env env, EnvConfig.Runner r) {
        String name = releaseName(r.type());
        var v = new LinkedHashMap<String, Object>();
        v.put("fullnameOverride", name);
        v.put("gitlabUrl", env.organization().gitlabUrl());
        v.put("concurrent", r.concurrent());
        // Helm would reset the replica count on every upgrade; start from the HPA's floor.
        v.put("replicas", r.autoscaling().minReplicas());
        var rbac = new LinkedHashMap<String, Object>();
        rbac.put("create", true);
        rbac.put("rules", RBAC_RULES);
        v.put("rbac", rbac);
        // Explicit: with rbac.create and serviceAccount.create unset the chart creates the account only through a
        // compatibility branch it marks for removal (templates/service-account.yaml) and warns in NOTES.txt.
        v.put("serviceAccount", map("create", true));
        var manager = env.runnerChart().manager();
        if (manager != null && !(manager.requests().isEmpty() && manager.limits().isEmpty())) {
            var res = new LinkedHashMap<String, Object>();
            if (!manager.requests().isEmpty()) res.put("requests", new LinkedHashMap<>(manager.requests()));
            if (!manager.limits().isEmpty()) res.put("limits", new LinkedHashMap<>(manager.limits()));
            v.put("resources", res);
        }
        var runners = new LinkedHashMap<String, Object>();
        runners.put("secret", name + "-token");
        runners.put("config", configToml(env, r));
        v.put("runners", runners);
        return v;
    }

    // ---- how long a rollout of the chart takes --------------------------------------------------

    /**
     * The real chart's readiness probe (templates/deployment.yaml: {@code initialDelaySeconds} and {@code periodSeconds}
     * default 60, {@code failureThreshold} 3); gfw sets neither, so a new manager pod is Ready no sooner than 60 s
     * after its container starts, and a probe that fails once (the runner still registering) costs 60 s more.
     */
    static final int PROBE_INITIAL_DELAY_SECONDS = 60;
    static final int PROBE_PERIOD_SECONDS = 60;
    /** Scheduling and the image pull, before the probe's clock starts. */
    static final int POD_START_SECONDS = 30;
    /** deploy-runners' --timeout is never shorter than this (its fixed default before it was derived). */
    static final java.time.Duration MIN_ROLLOUT_TIMEOUT = java.time.Duration.ofMinutes(5);

    /**
     * How many pods at a time a rollout of {@code replicas} replaces, one after another: the chart sets no
     * {@code strategy} (values.yaml {@code strategy: {}}), so Kubernetes' RollingUpdate defaults apply — maxSurge 25%
     * rounded up, maxUnavailable 25% rounded down — and each wave replaces maxSurge + maxUnavailable pods. 1 to 3
     * replicas roll one at a time (1 + 0); 4 in two waves of 2.
     */
    static int rolloutWaves(int replicas) {
        int n = Math.max(1, replicas);
        int surge = (n + 3) / 4;
        int unavailable = n / 4;
        return (n + surge + unavailable - 1) / (surge + unavailable);
    }

    /**
     * deploy-runners' default {@code --timeout} for a release whose Deployment rolls {@code replicas} pods: each wave
     * {@link #POD_START_SECONDS} + {@link #PROBE_INITIAL_DELAY_SECONDS} + {@link #PROBE_PERIOD_SECONDS} (150 s), at least
     * {@link #MIN_ROLLOUT_TIMEOUT}: 1-2 replicas 5 min, 3 replicas 7.5 min.
     */
    static java.time.Duration rolloutTimeout(int replicas) {
        long perWave = POD_START_SECONDS + PROBE_INITIAL_DELAY_SECONDS + PROBE_PERIOD_SECONDS;
        var derived = java.time.Duration.ofSeconds(rolloutWaves(replicas) * perWave);
        return derived.compareTo(MIN_ROLLOUT_TIMEOUT) < 0 ? MIN_ROLLOUT_TIMEOUT : derived;
    }

    /**
     * Environment of every job: ATTIC_SERVER (the Attic service in the Attic namespace) and
     * ATTIC_CACHE for all runners, NIX_USER_CONF_FILES (the mounted cache token's nix.conf: CiCacheToken) for the nix
     * runner, then the runner's own variables (which win on a clash).
     */
    static Map<String, String> jobEnv(EnvConfig.Env env, EnvConfig.Runner r) {
        var e = new LinkedHashMap<String, String>();
        e.put("ATTIC_SERVER", env.atticServerUrl());
        e.put("ATTIC_CACHE", env.attic().cache());
        if (CiCacheToken.RUNNER_TYPE.equals(r.type())) e.putAll(CiCacheToken.jobEnv());
        e.putAll(r.env());
        return e;
    }

    /** {@code runners.config}: the runner's config.toml section for the Kubernetes executor. */
    static String configToml(EnvConfig.Env env, EnvConfig.Runner r) {
        var sb = new StringBuilder();
        sb.append("[[runners]]\n");
        var env0 = new ArrayList<String>();
        jobEnv(env, r).forEach((k, val) -> env0.add(tomlString(k + "=" + val)));
        sb.append("  environment = [").append(String.join(", ", env0)).append("]\n");
        sb.append("  [runners.kubernetes]\n");
        sb.append("    namespace = ").append(tomlString(env.namespaces().runners().name())).append('\n');
        sb.append("    image = ").append(tomlString(r.image())).append('\n');
        sb.append("    privileged = ").append(r.privileged()).append('\n');
        sb.append("    poll_timeout = ").append(r.pollTimeout()).append('\n');
        // The runner cleans its own job pods up (gitlab-runner docs/executors/kubernetes "Pod lifecycle"): a job pod gets
        // this long after TERM before it is killed, and the runner waits this long for its cleanup's deletions.
        sb.append("    pod_termination_grace_period_seconds = ").append(JOB_POD_GRACE_SECONDS).append('\n');
        sb.append("    cleanup_grace_period_seconds = ").append(JOB_POD_GRACE_SECONDS).append('\n');
        Map<String, String> req = r.job() == null ? Map.of() : r.job().requests();
        Map<String, String> lim = r.job() == null ? Map.of() : r.job().limits();
        for (String res : List.of("cpu", "memory", "ephemeral_storage")) {
            String key = res.replace('_', '-');
            if (req.containsKey(key)) sb.append("    ").append(res).append("_request = ").append(tomlString(req.get(key))).append('\n');
            if (lim.containsKey(key)) sb.append("    ").append(res).append("_limit = ").append(tomlString(lim.get(key))).append('\n');
        }
        // The nix runner's jobs get the cache token Secret (attic-token ENV --ci writes it), read-only.
        if (CiCacheToken.RUNNER_TYPE.equals(r.type())) sb.append(CiCacheToken.tomlVolume());
        // A job pod's activeDeadlineSeconds is the job's timeout: Kubernetes ends a pod whose runner died (the default
        // since runner 17.x; written so that an older runner does the same).
        sb.append("  [runners.feature_flags]\n");
        sb.append("    FF_USE_POD_ACTIVE_DEADLINE_SECONDS = true\n");
        return sb.toString();
    }

    /** Seconds a job pod gets to end after TERM, and the runner's cleanup waits (config.toml [runners.kubernetes]). */
    static final int JOB_POD_GRACE_SECONDS = 30;

    /**
     * A TOML basic string. The chart passes runners.config through Helm's {@code tpl}, so a literal
     * {@code {{} is written as a template that prints it.
     */
    static String tomlString(String s) {
        var sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) sb.append(String.format("\\u%04X", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString().replace("{{", "{{ \"{{\" }}");
    }

    // ---- objects gfw applies next to the chart -------------------------------------------------

    static Map<String, String> labels(Release r) {
        var l = new LinkedHashMap<String, String>();
        l.put("app", r.name());
        l.put("app.kubernetes.io/name", "gitlab-runner");
        l.put("app.kubernetes.io/instance", r.name());
        l.put("app.kubernetes.io/component", "runner-" + r.type());
        l.put("app.kubernetes.io/part-of", "gloriousflywheel");
        l.put("app.kubernetes.io/managed-by", "gfw");
        return l;
    }

    /** The Secret the chart reads the runner token from (both keys: the chart mounts both). */
    static HasMetadata tokenSecret(Release r, String token, long runnerId) {
        var meta = new ObjectMetaBuilder().withName(r.tokenSecret()).withNamespace(r.namespace()).withLabels(labels(r));
        if (runnerId > 0) meta.addToAnnotations(RUNNER_ID_ANNOTATION, String.valueOf(runnerId));
        return new SecretBuilder()
                .withMetadata(meta.build())
                .withType("Opaque")
                .addToData(TOKEN_KEY, base64(token))
                .addToData(REGISTRATION_TOKEN_KEY, "")
                .build();
    }

    /** HPA on the runner manager Deployment, cpu and memory utilisation, bounds from the environment file. */
    static HasMetadata hpa(Release r) {
        EnvConfig.Autoscaling a = r.runner().autoscaling();
        return new HorizontalPodAutoscalerBuilder()
                .withNewMetadata().withName(r.hpaName()).withNamespace(r.namespace()).withLabels(labels(r)).endMetadata()
                .withNewSpec()
                .withNewScaleTargetRef().withApiVersion("apps/v1").withKind("Deployment").withName(r.name()).endScaleTargetRef()
                .withMinReplicas(a.minReplicas())
                .withMaxReplicas(a.maxReplicas())
                .withMetrics(utilisation("cpu", a.cpuPercent()), utilisation("memory", a.memoryPercent()))
                .endSpec()
                .build();
    }

    private static MetricSpec utilisation(String resource, int percent) {
        return new MetricSpecBuilder().withType("Resource")
                .withNewResource().withName(resource)
                .withNewTarget().withType("Utilization").withAverageUtilization(percent).endTarget()
                .endResource().build();
    }

    /**
     * At most one runner manager down at a time during node drains. maxUnavailable rather than
     * minAvailable: with one replica, minAvailable 1 would block every drain.
     */
    static HasMetadata pdb(Release r) {
        return new PodDisruptionBudgetBuilder()
                .withNewMetadata().withName(r.pdbName()).withNamespace(r.namespace()).withLabels(labels(r)).endMetadata()
                .withNewSpec()
                .withMaxUnavailable(new IntOrString(1))
                .withNewSelector().addToMatchLabels("app", r.name()).endSelector()
                .endSpec()
                .build();
    }

    static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static Map<String, Object> map(String k, Object v) {
        var m = new LinkedHashMap<String, Object>();
        m.put(k, v);
        return m;
    }

    private RunnerValues() {}
}
