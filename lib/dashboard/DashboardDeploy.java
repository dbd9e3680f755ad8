// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/SecretInput.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/Manifests.java
//SOURCES DashboardObjects.java
//SOURCES ../kube/ApplyRun.java

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * deploy-dashboard's story, so that {@code up} runs it in the same process: the namespaces must exist;
 * Secret runner-dashboard-secrets (GITLAB_TOKEN from the secret input, or kept from the live Secret;
 * SESSION_SECRET generated once and kept; the OAuth client secret when configured), then ConfigMap,
 * ServiceAccount, read-only Role and RoleBinding on the runner namespace, Deployment, Service, Ingress,
 * then the rollout. Everything through {@link ApplyRun}: a re-run on an unchanged cluster sends no write.
 */
final class DashboardDeploy {

    /** Where the secret inputs come from: the flags' values (null: the variables GITLAB_TOKEN, GITLAB_OAUTH_CLIENT_SECRET). */
    record Inputs(String gitlabTokenFile, String oauthSecretFile) {}

    static final SecretInput.Spec TOKEN = new SecretInput.Spec("--gitlab-token-file", "GITLAB_TOKEN", "the GitLab access token the dashboard reads runners with",
            "glpat-...", "GITLAB_TOKEN is not set and Secret " + DashboardObjects.SECRET + " does not exist yet: export GITLAB_TOKEN"
            + " (a token with the read_api scope) or pass --gitlab-token-file FILE");
    static final SecretInput.Spec OAUTH_SECRET = new SecretInput.Spec("--oauth-secret-file", "GITLAB_OAUTH_CLIENT_SECRET", "the GitLab OAuth application's secret",
            "gloas-...", "dashboard.oauth is configured but GITLAB_OAUTH_CLIENT_SECRET is not set and Secret " + DashboardObjects.SECRET
            + " holds none yet: export GITLAB_OAUTH_CLIENT_SECRET or pass --oauth-secret-file FILE");

    /** The section deploy-dashboard needs, or one line saying what to add. */
    static void requireSection(EnvConfig.Env env) {
        if (env.dashboard().app() == null) {
            throw new GfwException(ExitCode.CONFIG, env.file() + " dashboard: names no image; add dashboard.image (pinned by tag and digest), as environments/README.md describes");
        }
    }

    /** Every object with secret values masked, for a client dry run (no cluster, no secret read). */
    static List<HasMetadata> objects(EnvConfig.Env env, String ns, String mask) {
        var secrets = new DashboardObjects.Secrets(mask, mask, env.dashboard().app().oauth() == null ? null : mask);
        var out = new ArrayList<HasMetadata>();
        out.add(DashboardObjects.secret(env, ns, secrets));
        out.addAll(DashboardObjects.objects(env, ns, secrets));
        return out;
    }

    /** Applies every object (or, with --diff / a server dry run, says what would change), then waits for the rollout when it writes. */
    static void deploy(KubernetesClient client, EnvConfig.Env env, String ns, Inputs inputs, ApplyRun run) {
        String runners = env.namespaces().runners().name();
        for (String n : List.of(ns, runners)) {
            if (client.namespaces().withName(n).get() == null) {
                throw new GfwException(ExitCode.NOT_FOUND, "namespace " + n + " does not exist; create it with 'gfw provision-namespaces " + env.name() + "' first");
            }
        }
        Secret live = run.live(client, new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName(DashboardObjects.SECRET)
                .withNamespace(ns).endMetadata().build());
        Map<String, String> have = live == null ? Map.of() : KubeClients.secretData(live, "secret " + DashboardObjects.SECRET + " in namespace " + ns);
        var secrets = new DashboardObjects.Secrets(
                given(inputs.gitlabTokenFile(), TOKEN, have.get(DashboardObjects.GITLAB_TOKEN), run.writes()),
                have.getOrDefault(DashboardObjects.SESSION_SECRET, null) != null ? have.get(DashboardObjects.SESSION_SECRET) : Manifests.randomToken(48),
                env.dashboard().app().oauth() == null ? null : given(inputs.oauthSecretFile(), OAUTH_SECRET, have.get(DashboardObjects.OAUTH_CLIENT_SECRET), run.writes()));
        if (live == null && run.writes()) {
            // The session secret is generated once, also when two first runs start together: a plain create, and the
            // run that loses it (409) goes on with the winner's value; the values the user handed over are still this run's.
            Secret made = run.createOnce(client, DashboardObjects.secret(env, ns, secrets));
            Map<String, String> stored = KubeClients.secretData(made, "secret " + DashboardObjects.SECRET + " in namespace " + ns);
            String session = stored.get(DashboardObjects.SESSION_SECRET);
            if (session != null && !session.equals(secrets.sessionSecret())) {
                secrets = new DashboardObjects.Secrets(secrets.gitlabToken(), session, secrets.oauthClientSecret());
                boolean sameInputs = Objects.equals(stored.get(DashboardObjects.GITLAB_TOKEN), secrets.gitlabToken())
                        && Objects.equals(stored.get(DashboardObjects.OAUTH_CLIENT_SECRET), secrets.oauthClientSecret());
                if (!sameInputs) run.replaceSecret(client, DashboardObjects.secret(env, ns, secrets), made);
            }
        } else if (live == null) {
            run.apply(client, DashboardObjects.secret(env, ns, secrets));
        } else {
            // Values the user hands over replace the stored ones, also over the plain create that made the Secret.
            run.replaceSecret(client, DashboardObjects.secret(env, ns, secrets), live);
        }
        for (HasMetadata o : DashboardObjects.objects(env, ns, secrets)) run.apply(client, o);
        if (run.writes()) run.waitForRollout(client, ns, DashboardObjects.NAME, DashboardObjects.SELECTOR);
    }

    /**
     * The value the user hands over (flag or variable), else what the live Secret holds, else the input's own "missing"
     * error. A run that writes nothing (--diff, --dry-run=server: {@code writes} false) asks for no secret it would
     * not store: without input and without a live value the Secret shows as new, its value {@link Output#MASK}.
     */
    private static String given(String file, SecretInput.Spec spec, String live, boolean writes) {
        String variable = System.getenv(spec.variable());
        if (file != null || (variable != null && !variable.isBlank())) return SecretInput.read(spec, file).value();
        if (live != null) return live;
        if (!writes) return Output.MASK;
        return SecretInput.read(spec, file).value();
    }

    private DashboardDeploy() {}
}
