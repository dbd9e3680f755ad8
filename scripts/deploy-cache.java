///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.4.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//DEPS commons-codec:commons-codec:1.21.0
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/CacheConfig.java
//SOURCES ../lib/KubeClients.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/Http.java
//SOURCES ../lib/ServerSideApply.java
//SOURCES ../lib/ConnectionStrings.java
//SOURCES ../lib/HelmReleases.java
//SOURCES ../lib/AtticTokens.java
//SOURCES ../lib/CacheObjects.java
//SOURCES ../lib/AtticApi.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Deploys the Attic binary cache and its CloudNativePG database into the environment's Attic
 * namespace, in order: the CNPG operator must be there (or --install-operator), Secret
 * attic-pg-app-credentials (created once), Cluster attic-pg (then waits until it is healthy), Secret
 * attic-jwt-signing (created once; a new key only with --rotate-jwt-key --yes), Secret attic-secrets
 * (DATABASE_URL from the Secret CNPG writes), ConfigMap attic-config (server.toml without secrets),
 * Deployments attic and attic-gc, Service, HPA, PDB, optional Ingress (then waits for the rollout);
 * finally checks /nix-cache-info, creates the environment's cache if absent and prints its public key
 * and the nix.conf lines.
 *
 * <p>Server-side apply with field manager {@code gfw}, read-compare-skip: a re-run on an unchanged
 * cluster sends no write. {@code --dry-run=client} prints every object (secret values masked) without
 * a cluster; {@code --dry-run=server} lets the API server check them; {@code --diff} prints what would
 * change. A planned environment is refused (67); production needs {@code --yes}.
 *
 * <p>Environment: KUBECONFIG, HTTPS_PROXY, GITLAB_CI, GFW_ENVIRONMENTS, GFW_DEBUG.
 *
 * <pre>
 *   ./jbang scripts/deploy-cache.java dev --dry-run=client
 * </pre>
 */
@Command(name = "deploy-cache", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        description = {"Deploy the Attic binary cache and its CloudNativePG database.",
                "Secrets stay in Secrets; unchanged objects are skipped, so a re-run sends no write.",
                "Example: deploy-cache dev --dry-run=client", ""},
        footer = {"", "Exit codes: 0 done, 64 bad flag, 65 bad environment file, 66 no kubeconfig,",
                "67 refused (planned; production without --yes), 68 CNPG operator or namespace missing,",
                "69 unreachable or not ready within --timeout, 77 credentials rejected, 78 field conflict,",
                "79 API or Attic error (gfw exit-codes)."})
class DeployCache implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment: a name in the environments directory (e.g. dev) or a .yaml file.")
    String envName;

    @Mixin Cli.WithDiff change;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "With --dry-run=client: yaml (default) or json (a List); secret values are masked.")
    Output.Format format;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10m", description = "How long to wait, in all, for the database and the rollouts (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--install-operator", description = "Install the pinned cloudnative-pg chart (cache.operator) with Helm when the CNPG operator is missing.")
    boolean installOperator;

    @Option(names = "--operator-chart", paramLabel = "PATH", description = "With --install-operator: a local cloudnative-pg chart directory or .tgz instead of cache.operator.repository (air-gapped).")
    String operatorChart;

    @Option(names = "--rotate-jwt-key", description = "Generate a new token signing key (needs --yes): every existing Attic token stops working.")
    boolean rotateJwtKey;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", description = "Attic namespace (default: the environment's namespaces.attic.name).")
    String namespace;

    @Option(names = "--attic-url", paramLabel = "URL", description = "Reach Attic here for the health check and the cache (default: a port-forward to an Attic pod).")
    String atticUrl;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions clusterOptions;

    static final SecureRandom RANDOM = new SecureRandom();

    public static void main(String... args) {
        System.exit(Cli.run(new DeployCache(), args));
    }

    private boolean diff;
    private EnvConfig.Env env;
    private String ns;
    private Duration waitLimit;
    /** One deadline for every wait of the run (database, then both rollouts): --timeout bounds the whole wait. */
    private long deadline;
    private final ServerSideApply.Options options = new ServerSideApply.Options();
    private final List<ServerSideApply.Result> results = new ArrayList<>();

    @Override
    public Integer call() {
        change.validate();
        diff = change.diff();
        if (format != null && !change.clientDryRun()) throw new GfwException(ExitCode.USAGE, "-o prints the objects of a client dry run: add --dry-run=client");
        if (format == Output.Format.table) throw new GfwException(ExitCode.USAGE, "-o table is not available here: use yaml or json");
        if (rotateJwtKey && !change.yes) {
            throw new GfwException(ExitCode.REFUSED, "--rotate-jwt-key invalidates every Attic token issued so far (runners, laptops, CI): add --yes to confirm");
        }
        waitLimit = Cli.duration(timeout, "--timeout");
        deadline = System.nanoTime() + waitLimit.toNanos();
        env = envOptions.load(envName);
        if (env.cache() == null) {
            throw new GfwException(ExitCode.CONFIG, env.file() + " has no cache: section; add one (image, storage, ...) as environments/README.md describes");
        }
        ns = namespace != null ? namespace : env.namespaces().attic().name();

        if (change.clientDryRun()) return printObjects();

        change.confirm(env, "deploy the cache on " + env.cluster().name());
        boolean writes = change.writes();
        options.serverDryRun = change.serverDryRun();
        options.forceConflicts = change.forceConflicts;
        options.diffOnly = diff;

        try (KubernetesClient client = ServerSideApply.withoutClientRetries(clusterOptions.connect(env))) {
            return deploy(client, writes);
        } catch (ServerSideApply.PartialFailure f) {
            throw f;
        } catch (KubernetesClientException e) {
            GfwException g = KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), g.getMessage() + doneSoFar(), e);
        }
    }

    // ---- client dry run: every object, secret values masked, no cluster ---------------------

    private int printObjects() {
        if (diff) throw new GfwException(ExitCode.USAGE, "--diff needs the cluster: drop --dry-run=client");
        var secrets = new CacheObjects.Secrets(Output.MASK, Output.MASK, Output.MASK, Output.MASK);
        var objects = new ArrayList<HasMetadata>();
        objects.add(CacheObjects.pgCredentials(env, ns, Output.MASK));
        objects.add(CacheObjects.cluster(env, ns));
        if (env.cache().database().backup() != null) objects.add(CacheObjects.scheduledBackup(env, ns));
        objects.add(CacheObjects.signingSecret(env, ns, Output.MASK));
        objects.add(CacheObjects.atticSecrets(env, ns, secrets));
        objects.addAll(CacheObjects.atticObjects(env, ns, secrets));
        Output.Format f = format == null ? Output.Format.yaml : format;
        Cli.out().print(Output.objects(objects.stream().map(CacheObjects::masked).toList(), f));
        if (f == Output.Format.json) Cli.out().println();
        Cli.info(env.name() + ": " + objects.size() + " objects in namespace " + ns + " (client dry run: nothing sent; secret values are generated"
                + " or read at apply time and never printed" + (env.planned() ? "; the environment is planned, applying it is refused" : "") + ")");
        return ExitCode.OK;
    }

    // ---- against the cluster ----------------------------------------------------------------

    private int deploy(KubernetesClient client, boolean writes) {
        if (client.namespaces().withName(ns).get() == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "namespace " + ns + " does not exist; create it with 'gfw provision-namespaces " + env.name() + "' first");
        }
        // 1. The operator.
        requireOperator(client, writes);

        // 2. The database owner's password: generated once, never rewritten.
        keepOrCreate(client, CacheObjects.pgCredentials(env, ns, newPassword()), false);

        // 3. The Cluster, then wait for it.
        apply(client, CacheObjects.cluster(env, ns));
        if (env.cache().database().backup() != null) apply(client, CacheObjects.scheduledBackup(env, ns));
        if (writes) waitForCluster(client);

        // 4. The token signing key: generated once, new only when asked.
        Secret signing = keepOrCreate(client, CacheObjects.signingSecret(env, ns, AtticTokens.newSigningKey(RANDOM)), rotateJwtKey);
        if (rotateJwtKey) Cli.warn("the token signing key was replaced: every Attic token issued before is now rejected; mint new ones with 'gfw attic-token " + env.name() + "'");

        // 5. attic-secrets from the secret CNPG wrote.
        String signingKey = value(signing, AtticTokens.SIGNING_KEY);
        CacheObjects.Secrets secrets = secrets(client, signingKey);
        if (secrets.databaseUrl() == null) {
            report(new ServerSideApply.Result(CacheObjects.atticSecrets(env, ns, new CacheObjects.Secrets("", "", "", "")),
                    ServerSideApply.Action.created, options.serverDryRun, List.of(), "not checked: built from secret " + env.cnpg().appSecret()
                    + ", which CNPG writes once the cluster exists"));
        } else {
            apply(client, CacheObjects.atticSecrets(env, ns, secrets));
        }

        // 6-7. Configuration and workloads, then the rollout.
        for (HasMetadata o : CacheObjects.atticObjects(env, ns, secrets)) apply(client, o);
        if (writes) {
            waitForRollout(client, CacheObjects.DEPLOYMENT);
            waitForRollout(client, CacheObjects.GC_DEPLOYMENT);
        }
        Cli.info(summary());

        // 8. Health and the cache.
        if (!writes) {
            Cli.info("health check and cache " + env.attic().cache() + " not checked (" + (diff ? "--diff" : "server dry run") + ": nothing runs yet)");
            return ExitCode.OK;
        }
        AtticApi.CacheInfo cache = AtticApi.ensureCache(client, env, ns, signingKey, atticUrl, clusterOptions.http(env, "Attic"));
        Cli.info("attic: /nix-cache-info ok (" + cache.via() + ")");
        Cli.out().println("cache/" + cache.cache() + " " + (cache.created() ? "created" : "unchanged"));
        Cli.out().println("public key: " + cache.publicKey());
        Cli.out().println("nix.conf:");
        Cli.out().println("  substituters = " + cache.substituter());
        Cli.out().println("  trusted-public-keys = " + cache.publicKey());
        return ExitCode.OK;
    }

    private void requireOperator(KubernetesClient client, boolean writes) {
        String crd = "clusters.postgresql.cnpg.io";
        if (client.apiextensions().v1().customResourceDefinitions().withName(crd).get() != null) return;
        CacheConfig.Operator op = env.cache().operator();
        if (!installOperator) {
            throw new GfwException(ExitCode.NOT_FOUND, "the CloudNativePG operator is not installed (no CRD " + crd + "); re-run with --install-operator"
                    + " to install chart " + op.chart() + " " + op.version() + " into namespace " + op.namespace() + ", or: helm upgrade --install cnpg "
                    + op.chart() + " --repo " + op.repository() + " --version " + op.version() + " -n " + op.namespace() + " --create-namespace");
        }
        if (!writes) throw new GfwException(ExitCode.NOT_FOUND, "the CloudNativePG operator is not installed (no CRD " + crd + "); a dry run or --diff does not install it");
        Path chart = operatorChart != null ? HelmReleases.localChart(operatorChart, op.chart(), op.version(), env.file())
                : HelmReleases.fetchChart(op.repository(), op.chart(), op.version(), HelmReleases.defaultCacheDir());
        if (client.namespaces().withName(op.namespace()).get() == null) {
            apply(client, new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(op.namespace())
                    .addToLabels("app.kubernetes.io/managed-by", "gfw").addToLabels("app.kubernetes.io/name", op.namespace()).endMetadata().build());
        }
        var helm = new HelmReleases.JvmHelm(clusterOptions.target(env));
        Cli.info("installing the CloudNativePG operator (chart " + op.chart() + " " + op.version() + ") into namespace " + op.namespace() + " ...");
        HelmReleases.Deployed d = helm.upgradeInstall(chart, op.namespace(), "cnpg", Map.of(), waitLimit, helm.get(op.namespace(), "cnpg"));
        options.writes.incrementAndGet();
        Cli.out().println("helmrelease/cnpg -n " + op.namespace() + " installed (chart " + d.chart() + ", revision " + d.revision() + ")");
        if (client.apiextensions().v1().customResourceDefinitions().withName(crd).get() == null) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "chart " + op.chart() + " " + op.version() + " was installed but CRD " + crd + " is still missing; check 'helm -n " + op.namespace() + " status cnpg'");
        }
    }

    /** 32 random characters, some of which need percent-encoding in a URL, so the encoder is always exercised. */
    static String newPassword() {
        String letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        String specials = "@:/?#%+&=!";
        var sb = new StringBuilder();
        for (int i = 0; i < 32; i++) {
            String from = i % 4 == 3 ? specials : letters;
            sb.append(from.charAt(RANDOM.nextInt(from.length())));
        }
        return sb.toString();
    }

    /**
     * A Secret created once: if it exists it is kept as it is (read, not compared), unless {@code replace}.
     * Returns what the pods will read (the live one, or the one just created).
     */
    private Secret keepOrCreate(KubernetesClient client, Secret desired, boolean replace) {
        Secret live = ServerSideApply.withRetries(options, () -> client.secrets().inNamespace(ns).withName(desired.getMetadata().getName()).get());
        if (live != null && !replace) {
            report(new ServerSideApply.Result(live, ServerSideApply.Action.unchanged, options.serverDryRun, List.of(), "kept: created once"));
            return live;
        }
        ServerSideApply.Result r = ServerSideApply.applyOne(client, desired, new ServerSideApply.Lookup(live, true), options);
        report(r);
        return options.diffOnly || options.serverDryRun ? desired : r.object() instanceof Secret s ? s : desired;
    }

    private void apply(KubernetesClient client, HasMetadata desired) {
        ServerSideApply.Result r;
        try {
            r = ServerSideApply.applyOne(client, desired, ServerSideApply.Lookup.UNKNOWN, options);
        } catch (KubernetesClientException e) {
            GfwException g = e.getCode() == 409 ? ServerSideApply.conflict(desired, e) : KubeClients.fromKubernetes(e);
            throw new GfwException(g.exitCode(), ServerSideApply.ref(desired) + ": " + g.getMessage() + doneSoFar(), e);
        }
        report(r);
    }

    private void report(ServerSideApply.Result r) {
        results.add(r);
        if (diff) {
            switch (r.action()) {
                case created -> Cli.out().println("+ " + r.ref() + " (new" + (r.note() == null ? "" : "; " + r.note()) + ")");
                case configured -> {
                    Cli.out().println("~ " + r.ref());
                    for (String d : r.diff()) Cli.out().println("    " + d);
                }
                default -> { }
            }
        } else {
            Cli.out().println(r.line());
        }
    }

    private String doneSoFar() {
        long changed = results.stream().filter(r -> r.action() != ServerSideApply.Action.unchanged).count();
        return results.isEmpty() ? " (nothing was changed)" : " (" + results.size() + " objects handled before, " + changed + " of them changed; a re-run is safe)";
    }

    private String summary() {
        long created = results.stream().filter(r -> r.action() == ServerSideApply.Action.created).count();
        long configured = results.stream().filter(r -> r.action() == ServerSideApply.Action.configured).count();
        long unchanged = results.size() - created - configured;
        String how = diff ? "--diff: nothing sent" : options.serverDryRun ? "server dry run, nothing stored"
                : options.writes.get() == 0 ? "up to date, no write request sent" : options.writes.get() + " write requests";
        return env.name() + ": " + results.size() + " objects: " + created + (diff ? " to create, " : " created, ") + configured
                + (diff ? " to configure, " : " configured, ") + unchanged + " unchanged (" + how + ")";
    }

    // ---- secrets ----------------------------------------------------------------------------

    private String value(Secret s, String key) {
        return KubeClients.secretData(s, "secret " + s.getMetadata().getName() + " in namespace " + ns).get(key);
    }

    /** DATABASE_URL from CNPG's app secret (null while it does not exist), the key, and S3 credentials when used. */
    private CacheObjects.Secrets secrets(KubernetesClient client, String signingKey) {
        String url = null;
        Secret app = client.secrets().inNamespace(ns).withName(env.cnpg().appSecret()).get();
        if (app != null) {
            String user = value(app, "username");
            String password = value(app, "password");
            if (user == null || password == null) {
                throw new GfwException(ExitCode.REMOTE_ERROR, "secret " + env.cnpg().appSecret() + " in namespace " + ns
                        + " has no username or password; is it the one CNPG writes for cluster " + env.cnpg().cluster() + "?");
            }
            String dbname = value(app, "dbname");
            var params = new LinkedHashMap<String, String>();
            params.put("sslmode", env.cnpg().sslmode());
            var parts = new ConnectionStrings.Parts(user, password, env.cnpg().cluster() + "-rw." + ns + ".svc.cluster.local", 5432,
                    dbname == null || dbname.isEmpty() ? env.cnpg().database() : dbname, params);
            url = ConnectionStrings.uri(parts, true);
        } else if (!diff && !options.serverDryRun) {
            throw new GfwException(ExitCode.NOT_FOUND, "secret " + env.cnpg().appSecret() + " in namespace " + ns
                    + " not found although cluster " + env.cnpg().cluster() + " is ready; check the CNPG operator's log");
        }
        String keyId = null;
        String secretKey = null;
        if (env.cache().storage().s3()) {
            String name = env.cache().storage().credentialsSecret();
            Secret s3 = client.secrets().inNamespace(ns).withName(name).get();
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

    private void waitForCluster(KubernetesClient client) {
        String name = env.cnpg().cluster();
        long start = System.nanoTime();
        String last = null;
        while (true) {
            GenericKubernetesResource c = client.genericKubernetesResources(CacheObjects.CNPG_API, "Cluster").inNamespace(ns).withName(name).get();
            Map<?, ?> status = c == null ? null : c.getAdditionalProperties().get("status") instanceof Map<?, ?> m ? m : null;
            Object phase = status == null ? null : status.get("phase");
            int ready = status != null && status.get("readyInstances") instanceof Number n ? n.intValue() : 0;
            int wanted = env.cnpg().instances();
            if (CacheObjects.HEALTHY.equals(phase) && ready == wanted) {
                if (last != null) Cli.info("cluster/" + name + ": healthy, " + ready + "/" + wanted + " instances ready");
                return;
            }
            String now = "cluster/" + name + ": " + (phase == null ? "no status yet" : phase) + ", " + ready + "/" + wanted + " instances ready";
            if (!now.equals(last)) Cli.info(now + " (waiting, " + Http.human(Duration.ofNanos(System.nanoTime() - start)) + " of " + Http.human(waitLimit) + ")");
            last = now;
            if (System.nanoTime() > deadline) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cluster " + name + " in namespace " + ns + " was not ready within " + Http.human(waitLimit)
                        + " (" + (phase == null ? "no status" : phase) + ", " + ready + "/" + wanted + " instances ready); check 'kubectl get cluster "
                        + name + " -n " + ns + "' and the CNPG operator's log, or raise --timeout" + doneSoFar());
            }
            sleep(1000);
        }
    }

    private void waitForRollout(KubernetesClient client, String name) {
        String last = null;
        while (true) {
            var d = client.apps().deployments().inNamespace(ns).withName(name).get();
            var st = d == null ? null : d.getStatus();
            long generation = d == null || d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration();
            long observed = st == null || st.getObservedGeneration() == null ? -1 : st.getObservedGeneration();
            int replicas = st == null || st.getReplicas() == null ? 0 : st.getReplicas();
            int updated = st == null || st.getUpdatedReplicas() == null ? 0 : st.getUpdatedReplicas();
            int available = st == null || st.getAvailableReplicas() == null ? 0 : st.getAvailableReplicas();
            if (observed >= generation && replicas > 0 && updated == replicas && available == replicas) {
                if (last != null) Cli.info("deployment/" + name + ": rolled out, " + available + "/" + replicas + " available");
                return;
            }
            String now = "deployment/" + name + ": " + updated + "/" + replicas + " updated, " + available + " available";
            if (!now.equals(last)) Cli.info(now + " (waiting for the rollout)");
            last = now;
            if (System.nanoTime() > deadline) {
                throw new GfwException(ExitCode.UNAVAILABLE, "deployment " + name + " in namespace " + ns + " did not roll out within " + Http.human(waitLimit)
                        + " (" + updated + "/" + replicas + " updated, " + available + " available); check 'kubectl -n " + ns + " get pods -l app.kubernetes.io/name=attic'"
                        + " or raise --timeout");
            }
            sleep(1000);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GfwException(ExitCode.INTERNAL, "interrupted");
        }
    }
}
