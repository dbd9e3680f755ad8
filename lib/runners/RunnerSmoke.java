// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES RunnerValues.java
//SOURCES RunnerFleet.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code runners ENV smoke}: one tiny job per runner type, run through GitLab. Health says a runner is online; smoke
 * says it runs jobs. For each type gfw creates a pipeline in {@code smoke.project} at {@code smoke.ref}
 * ({@code POST /projects/:id/pipeline}, docs.gitlab.com/ee/api/pipelines.html) with the variables
 * {@code GFW_SMOKE_TYPE} (the type), {@code GFW_SMOKE_TAG} (the tag that selects it) and {@code GFW_SMOKE_RUNNER_ID};
 * the project's {@code .gitlab-ci.yml} has one job {@code tags: [$GFW_SMOKE_TAG]} that runs only when
 * {@code $GFW_SMOKE_TYPE} is set (README, "Smoke tests"). gfw waits for the pipeline's job: pass when it succeeded on
 * this type's runner; fail with the job's URL otherwise (failed, taken by another runner, or no runner took it in time).
 */
final class RunnerSmoke {
    private RunnerSmoke() {}

    /** Job statuses that end a wait (Ci::HasStatus COMPLETED_STATUSES and manual). */
    static final Set<String> DONE = Set.of("success", "failed", "canceled", "skipped", "manual");

    /** One type's smoke result. */
    record Result(String type, Long runnerId, boolean pass, String status, String jobUrl, String detail) {
        Map<String, Object> row() {
            var m = new LinkedHashMap<String, Object>();
            m.put("type", type);
            m.put("runner", runnerId);
            m.put("result", pass ? "pass" : "fail");
            m.put("job", jobUrl);
            m.put("detail", detail);
            return m;
        }
    }

    /**
     * The tag that selects runner type {@code r}: its first tag no other type of the environment has (a job with it can
     * land only there); else its first tag, and {@code unique} false (the job may land on another type, which smoke
     * then reports as a failure).
     */
    record Selector(String tag, boolean unique) {}

    static Selector selector(EnvConfig.Env env, EnvConfig.Runner r) {
        for (String t : r.tags()) {
            if (env.runners().stream().filter(o -> o != r).noneMatch(o -> o.tags().contains(t))) return new Selector(t, true);
        }
        return new Selector(r.tags().get(0), false);
    }

    /** The smoke section, or one line saying how to add it (exit 65). */
    static EnvConfig.Smoke config(EnvConfig.Env env) {
        if (env.smoke() == null) {
            throw new GfwException(ExitCode.CONFIG, env.file() + " has no smoke section: add smoke: {project: GROUP/PROJECT, ref: main},"
                    + " a project whose .gitlab-ci.yml runs the smoke job (README, \"Smoke tests\")");
        }
        return env.smoke();
    }

    /** Runs one smoke job per release, one after the other; waits at most {@code timeout} for each. */
    /** The results as the table {@code runners smoke} and {@code up --smoke} print. */
    static String table(List<Result> results) {
        return Output.table(List.of("type", "runner", "result", "job", "detail"), results.stream().map(r -> {
            var m = r.row();
            return m.keySet().stream().limit(5).map(k -> m.get(k) == null ? "" : String.valueOf(m.get(k))).toList();
        }).toList());
    }

    static List<Result> run(KubernetesClient client, GitLabApi api, EnvConfig.Env env, List<RunnerValues.Release> releases,
                            Duration timeout, Duration poll, Consumer<String> info) {
        EnvConfig.Smoke smoke = config(env);
        var out = new ArrayList<Result>();
        for (RunnerValues.Release r : releases) {
            Long id = null;
            try {
                id = RunnerFleet.runnerId(client, r);
                Selector sel = selector(env, r.runner());
                if (!sel.unique()) {
                    info.accept(r.type() + ": no tag of its own (every tag is also another type's); the smoke job asks for '" + sel.tag()
                            + "' and may land on another runner");
                }
                var vars = new LinkedHashMap<String, String>();
                vars.put("GFW_SMOKE_TYPE", r.type());
                vars.put("GFW_SMOKE_TAG", sel.tag());
                vars.put("GFW_SMOKE_RUNNER_ID", String.valueOf(id));
                GitLabApi.Pipeline p = api.createPipeline(smoke.project(), smoke.ref(), vars);
                info.accept(r.type() + ": pipeline " + p.id() + " created in " + smoke.project() + " (" + p.webUrl() + ")");
                long runner = id;
                GitLabApi.Job[] job = new GitLabApi.Job[1];
                boolean done = RunnerFleet.waitFor(timeout, poll, info, () -> {
                    List<GitLabApi.Job> jobs = api.pipelineJobs(smoke.project(), p.id());
                    job[0] = jobs.isEmpty() ? null : jobs.get(0);
                    String st = job[0] == null ? "no job yet" : job[0].status();
                    return new RunnerFleet.Poll(job[0] != null && DONE.contains(st), r.type() + ": smoke job " + st);
                });
                GitLabApi.Job j = job[0];
                String url = j == null ? p.webUrl() : j.webUrl();
                if (!done) {
                    out.add(new Result(r.type(), id, false, j == null ? "none" : j.status(), url, (j == null ? "no job"
                            : j.status().equals("pending") ? "no runner took the job" : "the job is still " + j.status())
                            + " after " + timeout.toSeconds() + " s"));
                } else if (!"success".equals(j.status())) {
                    out.add(new Result(r.type(), id, false, j.status(), url, "the job " + j.status()
                            + (j.runnerId() == null ? "" : " on runner " + j.runnerId())));
                } else if (j.runnerId() == null || j.runnerId() != runner) {
                    out.add(new Result(r.type(), id, false, j.status(), url, "the job ran on runner " + j.runnerId() + ", not on "
                            + runner + " (tag '" + sel.tag() + "' is not this type's alone)"));
                } else {
                    out.add(new Result(r.type(), id, true, j.status(), url, "ran on runner " + runner));
                }
            } catch (GfwException e) {
                out.add(new Result(r.type(), id, false, "error", null, e.getMessage()));
            }
        }
        return out;
    }
}
