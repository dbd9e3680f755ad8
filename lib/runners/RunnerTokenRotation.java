// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../gitlab/GitLabApi.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES RunnerValues.java
//SOURCES RunnerTokens.java
//SOURCES RunnerFleet.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;

/**
 * {@code runners ENV rotate-token}'s story: check first what a failure half-way would leave (the runner id, its
 * Deployment), then reset the token in GitLab, store it in the runner's token Secret, restart the release's pods and
 * wait until GitLab hears from the runner after the reset. Every failure names the runner id and the state it left.
 */
final class RunnerTokenRotation {

    /** Rotates {@code r}'s token; with {@code writes} false, says what it would do and changes nothing. */
    static void run(KubernetesClient client, GitLabApi api, EnvConfig.Env env, RunnerValues.Release r, Duration timeout,
                    boolean writes, boolean forceConflicts) {
        long id = RunnerFleet.runnerId(client, r);
        RunnerFleet.requireDeployment(client, r, id, env.name());
        GitLabApi.Runner before = api.runner(id);
        String who = "runner " + id + " (" + r.name() + ")";
        if (!writes) {
            Output.out().println(who + ": would reset its token, store it in Secret " + r.namespace() + "/" + r.tokenSecret()
                    + ", restart deployment/" + r.name() + " and wait until GitLab sees it online (now " + before.status() + ")");
            Output.info("dry run: nothing was changed");
            return;
        }
        Instant start = Instant.now();
        GitLabApi.RunnerToken token;
        try {
            token = api.resetAuthenticationToken(id);
        } catch (GfwException e) {
            throw new GfwException(e.exitCode(), who + " keeps its old token (GitLab did not reset it; it is " + before.status() + "): " + e.getMessage(), e);
        }
        Output.info(who + ": token reset in GitLab; the old token no longer works");
        try {
            ServerSideApply.apply(client, RunnerTokens.annotate(RunnerValues.tokenSecret(r, token.token(), id), start, token.expiresAt()),
                    false, forceConflicts);
        } catch (RuntimeException e) {
            GfwException why = e instanceof GfwException g ? g : e instanceof io.fabric8.kubernetes.client.KubernetesClientException k
                    ? KubeClients.fromKubernetes(k) : new GfwException(ExitCode.INTERNAL, String.valueOf(e));
            throw new GfwException(why.exitCode(), who + " has a new token that could not be stored in Secret " + r.namespace() + "/"
                    + r.tokenSecret() + " (" + why.getMessage() + "): its pods hold the old token, which GitLab no longer accepts, so it goes offline;"
                    + " run rotate-token again once the cluster accepts the Secret", e);
        }
        Output.info(who + ": new token stored in Secret " + r.namespace() + "/" + r.tokenSecret() + "; restarting deployment/" + r.name());
        if (!RunnerFleet.restart(client, r, timeout, Output::info)) {
            throw new GfwException(ExitCode.CHECK_FAILED, who + ": new token stored in Secret " + r.tokenSecret() + ", but deployment/" + r.name()
                    + " did not finish its restart within " + timeout.toSeconds() + " s; check 'kubectl -n " + r.namespace() + " get pods -l app=" + r.name() + "'");
        }
        var seen = new GitLabApi.Runner[1];
        boolean online = RunnerFleet.waitFor(timeout, Duration.ofSeconds(2), Output::info, () -> {
            seen[0] = api.runner(id);
            return new RunnerFleet.Poll(RunnerFleet.onlineSince(seen[0], start), "waiting for GitLab to hear from " + who
                    + " with the new token (it is " + seen[0].status() + ", contacted " + str(seen[0].contactedAt()) + ")");
        });
        if (!online) {
            // GitLab keeps a runner "online" for 2 h after its last contact: what tells is a contact after the reset.
            throw new GfwException(ExitCode.CHECK_FAILED, who + ": new token stored and deployment/" + r.name() + " restarted, but GitLab has not heard from it"
                    + " since the reset " + timeout.toSeconds() + " s ago (it is " + seen[0].status() + ", contacted_at " + str(seen[0].contactedAt())
                    + "); check the runner's log with 'kubectl -n " + r.namespace() + " logs deploy/" + r.name() + "'");
        }
        Output.out().println(who + ": token rotated, stored in Secret " + r.namespace() + "/" + r.tokenSecret() + ", pods restarted, online (contacted "
                + seen[0].contactedAt() + ")");
    }

    private static String str(Object o) {
        return o == null ? "-" : String.valueOf(o);
    }

    private RunnerTokenRotation() {}
}
