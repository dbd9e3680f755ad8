// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//SOURCES ../core/Output.java
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../env/CacheConfig.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../database/ConnectionStrings.java
//SOURCES AtticTokens.java
//SOURCES CacheObjects.java
//SOURCES AtticApi.java
//SOURCES ../kube/Manifests.java
//SOURCES ../kube/ServerSideApply.java
//SOURCES ../kube/HelmReleases.java
//SOURCES ../kube/ApplyRun.java
//SOURCES ../env/KubeRules.java
//SOURCES ../kube/Watches.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * deploy-cache's story against the cluster, in order: the CNPG operator (installed with Helm when asked),
 * Secret attic-pg-app-credentials (cnpg.appSecret; created once), Cluster attic-pg (then the wait until it is
 * healthy), Secret attic-jwt-signing (created once; new only when asked), Secret attic-secrets (DATABASE_URL from
 * the owner's credentials in attic-pg-app-credentials), the ConfigMap, the database migrations (a Job, waited for),
 * the workloads (then both rollouts), and finally the environment's cache through Attic's API. Everything through
 * {@link ApplyRun}: a re-run on an unchanged cluster sends no write.
 */
final class CacheDeploy {

    /** The flags deploy-cache hands over: --install-operator, --operator-chart, --rotate-jwt-key, --attic-url, --plugin-chart. */
    record Inputs(boolean installOperator, String operatorChart, boolean rotateJwtKey, String atticUrl, String pluginChart) {}

    private final EnvConfig.Env env;
    private final String ns;
    private final Inputs inputs;
    private final ApplyRun run;
    private final ServerSideApply.Options options;
    private final KubeClients.Target target;
    private final Http.Client atticHttp;
    private final boolean diff;
    private final Duration waitLimit;

    CacheDeploy(EnvConfig.Env env, String ns, Inputs inputs, ApplyRun run, KubeClients.Target target, Http.Client atticHttp) {
        this.env = env;
        this.ns = ns;
        this.inputs = inputs;
        this.run = run;
        this.options = run.options;
        this.target = target;
        this.atticHttp = atticHttp;
        this.diff = run.diff;
        this.waitLimit = run.waitLimit;
    }

    /** The section deploy-cache needs, or one line saying what to add. */
    static void requireSection(EnvConfig.Env env) {
        if (env.cache() == null) {
            throw new GfwException(ExitCode.CONFIG, env.file() + " has no cache: section; add one (image, storage, ...) as environments/README.md describes");
        }
    }

    /** Every object with secret values as {@code mask}, for a client dry run (no cluster, no secret read). */
    static List<HasMetadata> objects(EnvConfig.Env env, String ns, String mask) {
        var secrets = new CacheObjects.Secrets(mask, mask, mask, mask);
        var objects = new java.util.ArrayList<HasMetadata>();
        objects.add(CacheObjects.pgCredentials(env, ns, mask));
        objects.addAll(CacheObjects.databaseObjects(env, ns));
        objects.add(CacheObjects.signingSecret(env, ns, mask));
        objects.add(CacheObjects.atticSecrets(env, ns, secrets));
        objects.addAll(CacheObjects.atticObjects(env, ns, secrets));
        return objects;
    }

    // ---- against the cluster ----------------------------------------------------------------

    int deploy(KubernetesClient client, boolean writes) {
        if (client.namespaces().withName(ns).get() == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "namespace " + ns + " does not exist; create it with 'gfw provision-namespaces " + env.name() + "' first");
        }
        // 0. A storage claim the file would change in a way Kubernetes refuses: said before anything is written.
        checkStorageClaim(client);

        // 1. The operator, and with backups the Barman Cloud plugin (whether it can be installed is checked before anything is).
        boolean installPlugin = env.cache().database().backup() != null && backupPluginToInstall(client, writes);
        requireOperator(client, writes);
        if (installPlugin) installBackupPlugin(client);

        // 2. The database owner's password: generated once, never rewritten.
        keepOrCreate(client, CacheObjects.pgCredentials(env, ns, newPassword()), false);

        // 3. The Cluster, then wait for it.
        for (HasMetadata o : CacheObjects.databaseObjects(env, ns)) apply(client, o);
        if (writes) waitForCluster(client);

        // 4. The token signing key: generated once, new only when asked.
        Secret signing = keepOrCreate(client, CacheObjects.signingSecret(env, ns, AtticTokens.newSigningKey(Manifests.RANDOM)), inputs.rotateJwtKey());
        if (inputs.rotateJwtKey()) Output.info("warning: the token signing key was replaced: every Attic token issued before is now rejected; mint new ones with 'gfw attic-token " + env.name() + "'");

        // 5. attic-secrets from the secret CNPG wrote.
        String signingKey = value(signing, AtticTokens.SIGNING_KEY);
        CacheObjects.Secrets secrets = secrets(client, signingKey);
        if (secrets.databaseUrl() == null) {
            report(new ServerSideApply.Result(CacheObjects.atticSecrets(env, ns, new CacheObjects.Secrets("", "", "", "")),
                    ServerSideApply.Action.created, options.serverDryRun, List.of(), "not checked: built from secret " + env.cnpg().appSecret()
                    + ", which this run creates"));
        } else {
            apply(client, CacheObjects.atticSecrets(env, ns, secrets));
        }

        // 6-7. Configuration, the migrations (once, before any API or collector pod of this configuration), workloads, then the rollout.
        for (HasMetadata o : CacheObjects.atticObjects(env, ns, secrets)) {
            if (o instanceof Job job && writes) waitForOtherMigrations(client, job.getMetadata().getName());
            apply(client, o);
            if (o instanceof Job job && writes) {
                waitForJob(client, job.getMetadata().getName());
                pruneMigrations(client, job.getMetadata().getName());
            }
        }
        if (writes) {
            run.waitForRollout(client, ns, CacheObjects.DEPLOYMENT, "app.kubernetes.io/name=attic");
            run.waitForRollout(client, ns, CacheObjects.GC_DEPLOYMENT, "app.kubernetes.io/name=attic");
        }
        Output.info(run.summary());

        // 8. The cache, through Attic's API.
        if (!writes) {
            Output.info("Attic and cache " + env.attic().cache() + " not checked (" + (diff ? "--diff" : "server dry run") + ": nothing runs yet)");
            return ExitCode.OK;
        }
        return cache(client, signingKey);
    }

    /**
     * Only the last step, for {@code up} when its plan found every object as wanted: the environment's cache
     * exists in Attic (created if absent), with the signing key read from its Secret.
     */
    int ensureCache(KubernetesClient client) {
        Secret signing = ServerSideApply.withRetries(options, () -> client.secrets().inNamespace(ns).withName(AtticTokens.SIGNING_SECRET).get());
        if (signing == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "secret " + AtticTokens.SIGNING_SECRET + " in namespace " + ns + " not found; run 'gfw deploy-cache " + env.name() + "'");
        }
        return cache(client, value(signing, AtticTokens.SIGNING_KEY));
    }

    /** 8. The cache, through Attic's API: created if absent; its public key and the nix.conf lines. */
    private int cache(KubernetesClient client, String signingKey) {
        AtticApi.CacheInfo cache = AtticApi.ensureCache(client, env, ns, signingKey, inputs.atticUrl(), atticHttp);
        Output.info("attic: serving (" + cache.via() + "), cache " + cache.cache() + " answers GET /" + cache.cache() + "/nix-cache-info");
        Output.out().println("cache/" + cache.cache() + " " + (cache.created() ? "created" : "unchanged"));
        Output.out().println("public key: " + cache.publicKey());
        String placeholder = "<token: gfw attic-token " + env.name() + " --sub NAME --pull " + cache.cache() + " -o netrc>";
        for (String line : CacheObjects.nixConf(cache.substituter(), cache.publicKey(), cache.isPublic(), placeholder)) Output.out().println(line);
        return ExitCode.OK;
    }

    private void requireOperator(KubernetesClient client, boolean writes) {
        String crd = "clusters.postgresql.cnpg.io";
        if (KubeClients.crdExists(client, crd)) return;
        CacheConfig.Operator op = env.cache().operator();
        if (!inputs.installOperator()) {
            throw new GfwException(ExitCode.NOT_FOUND, "the CloudNativePG operator is not installed (no CRD " + crd + "); re-run with --install-operator"
                    + " to install chart " + op.chart() + " " + op.version() + " into namespace " + operatorNamespace() + ", or: helm upgrade --install cnpg "
                    + op.chart() + " --repo " + op.repository() + " --version " + op.version() + " -n " + operatorNamespace() + " --create-namespace");
        }
        if (!writes) throw new GfwException(ExitCode.NOT_FOUND, "the CloudNativePG operator is not installed (no CRD " + crd + "); a dry run or --diff does not install it");
        Path chart = inputs.operatorChart() != null ? HelmReleases.localChart(inputs.operatorChart(), op.chart(), op.version(), env.file())
                : HelmReleases.fetchChart(op.repository(), op.chart(), op.version(), HelmReleases.defaultCacheDir());
        ensureNamespace(client, operatorNamespace());
        var helm = new HelmReleases.JvmHelm(target);
        Output.info("installing the CloudNativePG operator (chart " + op.chart() + " " + op.version() + ") into namespace " + operatorNamespace() + " ...");
        // CRDs of the group already there (applied by hand, or left by an earlier operator) belong to no Helm release, and
        // Helm refuses to adopt them: the chart then installs the operator only (its crds.create, templates/crds/crds.yaml).
        boolean crdsPresent = client.apiextensions().v1().customResourceDefinitions().list().getItems().stream()
                .anyMatch(c -> c.getMetadata().getName().endsWith(".postgresql.cnpg.io"));
        Map<String, Object> values = crdsPresent ? Map.of("crds", Map.of("create", false)) : Map.of();
        if (crdsPresent) Output.info("CloudNativePG's CRDs are already present: the chart installs the operator only (crds.create=false)");
        HelmReleases.Deployed d = helm.upgradeInstall(chart, operatorNamespace(), "cnpg", values, waitLimit, helm.get(operatorNamespace(), "cnpg"));
        options.writes.incrementAndGet();
        Output.out().println("helmrelease/cnpg -n " + operatorNamespace() + " installed (chart " + d.chart() + ", revision " + d.revision() + ")");
        if (!KubeClients.crdExists(client, crd)) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "chart " + op.chart() + " " + op.version() + " was installed but CRD " + crd + " is still missing; check 'helm -n " + operatorNamespace() + " status cnpg'");
        }
    }

    /** Where the operator (and the Barman Cloud plugin beside it) is installed: the one field cnpg.operatorNamespace. */
    private String operatorNamespace() {
        return env.cnpg().operatorNamespace();
    }

    private void ensureNamespace(KubernetesClient client, String name) {
        if (client.namespaces().withName(name).get() == null) {
            apply(client, new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(name)
                    .addToLabels("app.kubernetes.io/managed-by", "gfw").addToLabels("app.kubernetes.io/name", name).endMetadata().build());
        }
    }

    static final String OBJECT_STORE_CRD = "objectstores.barmancloud.cnpg.io";
    /** The cert-manager kinds the plugin chart creates (templates/certificate-issuer.yaml, client- and server-certificate.yaml). */
    static final List<String> CERT_MANAGER_CRDS = List.of("certificates.cert-manager.io", "issuers.cert-manager.io");

    /**
     * Backups go through the Barman Cloud plugin, which must run in the operator's namespace (plugin-barman-cloud
     * web/docs/installation.mdx): its CRD {@value #OBJECT_STORE_CRD} present, else, with --install-operator, chart
     * {@code cache.operator.plugin} installed as release barman-cloud the way the operator's chart is. The chart makes its
     * TLS certificates with cert-manager (an Issuer and two Certificates), so cert-manager's CRDs are checked first: without
     * them the install is refused, exit 68, before anything is written. True when the plugin is to be installed.
     */
    private boolean backupPluginToInstall(KubernetesClient client, boolean writes) {
        var crds = client.apiextensions().v1().customResourceDefinitions();
        if (crds.withName(OBJECT_STORE_CRD).get() != null) return false;
        CacheConfig.Operator op = env.cache().operator();
        String what = "the Barman Cloud plugin is not installed (no CRD " + OBJECT_STORE_CRD + "), and cache.database.backup needs it";
        if (!inputs.installOperator()) {
            throw new GfwException(ExitCode.NOT_FOUND, what + "; re-run with --install-operator to install chart " + op.pluginChart() + " " + op.pluginVersion()
                    + " into namespace " + operatorNamespace() + " (it needs cert-manager), or: helm upgrade --install barman-cloud " + op.pluginChart() + " --repo "
                    + op.repository() + " --version " + op.pluginVersion() + " -n " + operatorNamespace());
        }
        if (!writes) throw new GfwException(ExitCode.NOT_FOUND, what + "; a dry run or --diff does not install it");
        List<String> missing = CERT_MANAGER_CRDS.stream().filter(n -> crds.withName(n).get() == null).toList();
        if (!missing.isEmpty()) {
            throw new GfwException(ExitCode.NOT_FOUND, "the Barman Cloud plugin (chart " + op.pluginChart() + " " + op.pluginVersion()
                    + ") needs cert-manager, which is not installed (no CRD " + String.join(", ", missing) + "): install cert-manager first"
                    + " (https://cert-manager.io/docs/installation/), then re-run; nothing was installed");
        }
        return true;
    }

    private void installBackupPlugin(KubernetesClient client) {
        var crds = client.apiextensions().v1().customResourceDefinitions();
        CacheConfig.Operator op = env.cache().operator();
        Path chart = inputs.pluginChart() != null ? HelmReleases.localChart(inputs.pluginChart(), op.pluginChart(), op.pluginVersion(), env.file())
                : HelmReleases.fetchChart(op.repository(), op.pluginChart(), op.pluginVersion(), HelmReleases.defaultCacheDir());
        ensureNamespace(client, operatorNamespace());
        var helm = new HelmReleases.JvmHelm(target);
        Output.info("installing the Barman Cloud plugin (chart " + op.pluginChart() + " " + op.pluginVersion() + ") into namespace " + operatorNamespace() + " ...");
        HelmReleases.Deployed d = helm.upgradeInstall(chart, operatorNamespace(), "barman-cloud", Map.of(), waitLimit, helm.get(operatorNamespace(), "barman-cloud"));
        options.writes.incrementAndGet();
        Output.out().println("helmrelease/barman-cloud -n " + operatorNamespace() + " installed (chart " + d.chart() + ", revision " + d.revision() + ")");
        if (crds.withName(OBJECT_STORE_CRD).get() == null) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "chart " + op.pluginChart() + " " + op.pluginVersion() + " was installed but CRD " + OBJECT_STORE_CRD
                    + " is still missing; check 'helm -n " + operatorNamespace() + " status barman-cloud'");
        }
    }

    /**
     * Compares PVC attic-storage on the cluster with the one the file asks for (lib/env/KubeRules.claimChanges,
     * the API server's ValidatePersistentVolumeClaimUpdate) and refuses a change it cannot take with one
     * line naming the environment file's field, instead of the API server's immutable-spec error halfway through.
     */
    private void checkStorageClaim(KubernetesClient client) {
        if (env.cache().storage().s3()) return;
        var wantedClaim = CacheObjects.storage(env, ns);
        var live = run.live(client, wantedClaim);
        if (live == null || live.getSpec() == null) return;
        var wanted = wantedClaim.getSpec();
        var liveSize = live.getSpec().getResources() == null || live.getSpec().getResources().getRequests() == null ? null
                : live.getSpec().getResources().getRequests().get("storage");
        boolean bound = live.getStatus() != null && "Bound".equals(live.getStatus().getPhase());
        var changes = KubeRules.claimChanges(
                new KubeRules.Claim(live.getSpec().getAccessModes() == null ? List.of() : live.getSpec().getAccessModes(), live.getSpec().getStorageClassName(),
                        liveSize == null ? null : liveSize.toString()),
                new KubeRules.Claim(wanted.getAccessModes(), wanted.getStorageClassName(), env.cache().storage().size()), bound);
        if (changes.isEmpty()) return;
        KubeRules.ClaimChange c = changes.get(0);
        String field = switch (c.field()) {
            case "accessModes" -> "cache.storage.accessMode";
            case "storageClassName" -> "cache.storage.storageClass";
            default -> "cache.storage.size";
        };
        throw new GfwException(ExitCode.CONFIG, env.file() + " " + field + ": " + c.wanted() + ", but PVC " + CacheObjects.STORAGE_PVC + " in namespace " + ns
                + " has " + c.live() + ", and " + c.why() + " (Kubernetes refuses the update); set " + field + " back to " + c.live()
                + ", or move the cache to a new claim (copy its data, delete PVC " + CacheObjects.STORAGE_PVC + ", re-run deploy-cache)");
    }

    /** 32 random characters, some of which need percent-encoding in a URL, so the encoder is always exercised. */
    static String newPassword() {
        String letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        String specials = "@:/?#%+&=!";
        var sb = new StringBuilder();
        for (int i = 0; i < 32; i++) {
            String from = i % 4 == 3 ? specials : letters;
            sb.append(from.charAt(Manifests.RANDOM.nextInt(from.length())));
        }
        return sb.toString();
    }

    private Secret keepOrCreate(KubernetesClient client, Secret desired, boolean replace) {
        return run.keepOrCreate(client, desired, replace);
    }

    private void apply(KubernetesClient client, HasMetadata desired) {
        run.apply(client, desired);
    }

    private void report(ServerSideApply.Result r) {
        run.report(r);
    }

    // ---- secrets ----------------------------------------------------------------------------

    /** A Secret of the namespace by name, to read it ({@link ApplyRun#live}). */
    private Secret probe(String name) {
        return new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata().build();
    }

    private String value(Secret s, String key) {
        return KubeClients.secretData(s, "secret " + s.getMetadata().getName() + " in namespace " + ns).get(key);
    }

    /**
     * DATABASE_URL from the owner's credentials in {@code cnpg.appSecret}, the bootstrap Secret step 2 created (null while
     * it does not exist: a dry run before the first deploy), the key, and S3 credentials when used. That Secret holds only
     * username and password; host, port and database are what gfw's own Cluster spec makes them: Service
     * {@code <cluster>-rw} (cloudnative-pg api/v1/cluster_funcs.go GetServiceReadWriteName), PostgreSQL's 5432, and
     * {@code bootstrap.initdb.database} ({@code cnpg.database}).
     */
    private CacheObjects.Secrets secrets(KubernetesClient client, String signingKey) {
        String url = null;
        Secret app = run.live(client, probe(env.cnpg().appSecret()));
        if (app != null) {
            String user = value(app, "username");
            String password = value(app, "password");
            if (user == null || password == null) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "secret " + env.cnpg().appSecret() + " in namespace " + ns
                        + " has no username or password; it is cluster " + env.cnpg().cluster() + "'s bootstrap secret (bootstrap.initdb.secret): delete it and re-run to have it created again");
            }
            var params = new LinkedHashMap<String, String>();
            params.put("sslmode", env.cnpg().sslmode());
            var parts = new ConnectionStrings.Parts(user, password, env.cnpg().cluster() + "-rw." + ns + ".svc.cluster.local", ConnectionStrings.POSTGRES_PORT,
                    env.cnpg().database(), params);
            url = ConnectionStrings.uri(parts, true);
        } else if (!diff && !options.serverDryRun) {
            throw new GfwException(ExitCode.NOT_FOUND, "secret " + env.cnpg().appSecret() + " in namespace " + ns
                    + " (cnpg.appSecret, cluster " + env.cnpg().cluster() + "'s bootstrap secret) not found although this run created it; was it deleted meanwhile?");
        }
        String keyId = null;
        String secretKey = null;
        if (env.cache().storage().s3()) {
            String name = env.cache().storage().credentialsSecret();
            Secret s3 = run.live(client, probe(name));
            if (s3 == null || value(s3, "AWS_ACCESS_KEY_ID") == null || value(s3, "AWS_SECRET_ACCESS_KEY") == null) {
                throw new GfwException(ExitCode.NOT_FOUND, "secret " + name + " in namespace " + ns + " (cache.storage.credentialsSecret) must exist with keys"
                        + " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; create it with: kubectl create secret generic " + name + " -n " + ns
                        + " --from-file=AWS_ACCESS_KEY_ID=... --from-file=AWS_SECRET_ACCESS_KEY=...");
            }
            keyId = value(s3, "AWS_ACCESS_KEY_ID");
            secretKey = value(s3, "AWS_SECRET_ACCESS_KEY");
        }
        return new CacheObjects.Secrets(url, signingKey, keyId, secretKey);
    }

    // ---- waiting ----------------------------------------------------------------------------

    private List<Job> migrationJobs(KubernetesClient client) {
        return client.batch().v1().jobs().inNamespace(ns).withLabels(CacheObjects.selector(CacheObjects.MIGRATIONS)).list().getItems();
    }

    /** "Complete" or "Failed" once the Job controller has said so (batch/v1 JobCondition), else null. */
    static String finished(Job job) {
        if (job == null || job.getStatus() == null || job.getStatus().getConditions() == null) return null;
        for (JobCondition c : job.getStatus().getConditions()) {
            if ("True".equals(c.getStatus()) && ("Complete".equals(c.getType()) || "Failed".equals(c.getType()))) return c.getType();
        }
        return null;
    }

    /** An earlier migrations Job still running (an interrupted deploy-cache): wait for it, so that two never run at once. */
    private void waitForOtherMigrations(KubernetesClient client, String current) {
        for (Job other : migrationJobs(client)) {
            String name = other.getMetadata().getName();
            if (!name.equals(current) && finished(other) == null) {
                Output.info("job/" + name + ": an earlier migration is still running; waiting for it before the new one");
                waitFor(client, name, false);
            }
        }
    }

    private void waitForJob(KubernetesClient client, String name) {
        waitFor(client, name, true);
    }

    /** Waits (with a watch) until Job {@code name} finished; {@code mustSucceed}: a failure stops deploy-cache (the API is not rolled onto an unmigrated database). */
    private void waitFor(KubernetesClient client, String name, boolean mustSucceed) {
        long start = System.nanoTime();
        var waited = new java.util.concurrent.atomic.AtomicBoolean();
        Watches.Ended<Job> end = Watches.until(client.batch().v1().jobs().inNamespace(ns).withName(name), j -> {
            if (finished(j) != null || (j == null && !mustSucceed)) return true;
            if (!waited.getAndSet(true)) Output.info("job/" + name + ": running atticd --mode db-migrations (waiting, " + Http.human(Duration.ofNanos(System.nanoTime() - start))
                    + " of " + Http.human(waitLimit) + ")");
            return false;
        }, run.deadline);
        Job job = end.last();
        String state = finished(job);
        if ("Complete".equals(state)) {
            if (waited.get()) Output.info("job/" + name + ": complete (database migrations done)");
            return;
        }
        if ("Failed".equals(state)) {
            if (!mustSucceed) return;
            JobCondition c = job.getStatus().getConditions().stream().filter(x -> "Failed".equals(x.getType())).findFirst().orElseThrow();
            throw new GfwException(ExitCode.REMOTE_ERROR, "job " + name + " in namespace " + ns + " (atticd --mode db-migrations) failed"
                    + (c.getReason() == null ? "" : ": " + c.getReason()) + (c.getMessage() == null ? "" : " (" + GfwException.firstLine(c.getMessage()) + ")")
                    + "; the API was not rolled onto the database. See 'kubectl -n " + ns + " logs job/" + name + "', fix the cause, then delete the Job"
                    + " ('kubectl -n " + ns + " delete job " + name + "') and re-run" + run.doneSoFar());
        }
        if (end.done()) return; // gone, and it did not have to succeed
        throw new GfwException(ExitCode.UNAVAILABLE, "job " + name + " in namespace " + ns + " (database migrations) did not complete within "
                + Http.human(waitLimit) + "; see 'kubectl -n " + ns + " describe job " + name + "' and its pod's log, or raise --timeout" + run.doneSoFar());
    }

    /** Migrations Jobs of earlier configurations, finished: deleted with their pods once the current one completed. */
    private void pruneMigrations(KubernetesClient client, String current) {
        for (Job old : migrationJobs(client)) {
            String name = old.getMetadata().getName();
            if (name.equals(current) || finished(old) == null) continue;
            client.batch().v1().jobs().inNamespace(ns).withName(name).withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND).delete();
            options.writes.incrementAndGet();
            Output.out().println("job/" + name + " -n " + ns + " deleted (migrations of an earlier configuration)");
        }
    }

    /** Waits (with a watch on the Cluster, as kubectl wait does) until CNPG reports it healthy with every instance ready. */
    private void waitForCluster(KubernetesClient client) {
        String name = env.cnpg().cluster();
        long start = System.nanoTime();
        int wanted = env.cnpg().instances();
        var last = new java.util.concurrent.atomic.AtomicReference<String>();
        Watches.Ended<GenericKubernetesResource> end = Watches.until(client.genericKubernetesResources(CacheObjects.CNPG_API, "Cluster").inNamespace(ns).withName(name), c -> {
            Object phase = phase(c);
            int ready = readyInstances(c);
            if (CacheObjects.HEALTHY.equals(phase) && ready == wanted) return true;
            String now = "cluster/" + name + ": " + (phase == null ? "no status yet" : phase) + ", " + ready + "/" + wanted + " instances ready";
            if (!now.equals(last.getAndSet(now))) Output.info(now + " (waiting, " + Http.human(Duration.ofNanos(System.nanoTime() - start)) + " of " + Http.human(waitLimit) + ")");
            return false;
        }, run.deadline);
        Object phase = phase(end.last());
        int ready = readyInstances(end.last());
        if (end.done()) {
            if (last.get() != null) Output.info("cluster/" + name + ": healthy, " + ready + "/" + wanted + " instances ready");
            return;
        }
        throw new GfwException(ExitCode.UNAVAILABLE, "cluster " + name + " in namespace " + ns + " was not ready within " + Http.human(waitLimit)
                + " (" + (phase == null ? "no status" : phase) + ", " + ready + "/" + wanted + " instances ready); check 'kubectl get cluster "
                + name + " -n " + ns + "' and the CNPG operator's log, or raise --timeout" + run.doneSoFar());
    }

    private static Map<?, ?> status(GenericKubernetesResource c) {
        return c == null ? null : c.getAdditionalProperties().get("status") instanceof Map<?, ?> m ? m : null;
    }

    private static Object phase(GenericKubernetesResource c) {
        Map<?, ?> status = status(c);
        return status == null ? null : status.get("phase");
    }

    private static int readyInstances(GenericKubernetesResource c) {
        Map<?, ?> status = status(c);
        return status != null && status.get("readyInstances") instanceof Number n ? n.intValue() : 0;
    }
}
