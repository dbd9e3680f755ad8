import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CI jobs' cache token: attic-token ENV --ci writes Secret attic-ci-token in the runner namespace, --rotate replaces
 * it, the nix runner's config mounts it into its job pods, and health warns 14 days before it expires.
 */
class CiCacheTokenTest {

    static TestCluster api;
    static KubernetesClient kube;
    static final List<String> NAMESPACES = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        api = TestCluster.shared();
        kube = api.client();
    }

    @AfterAll
    static void tearDown() {
        for (String n : NAMESPACES) kube.namespaces().withName(n).delete();
    }

    static String namespace(String prefix) {
        String ns = prefix + TestCluster.randomHex(3);
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        NAMESPACES.add(ns);
        return ns;
    }

    static TestSupport.Result token(Path envDir, String... more) {
        var a = new ArrayList<>(List.of("dev", "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(), "--context", api.context()));
        a.addAll(List.of(more));
        return TestSupport.inProcess(new AtticToken(), a.toArray(String[]::new));
    }

    static String data(Secret s, String key) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
    }

    /**
     * The job pod gitlab-runner's Kubernetes executor makes from a runner's config.toml, as far as the token goes
     * (executors/kubernetes/executor_kubernetes.go getVolumesForConfig/getVolumesForSecrets: a volume named after each
     * {@code [[runners.kubernetes.volumes.secret]]} with that Secret; getVolumeMountsForConfig: its mount_path and
     * read_only on the build container; the runner's {@code environment} as the build container's variables).
     */
    static Pod jobPod(String ns, String configToml, String image) {
        var b = new PodBuilder().withNewMetadata().withName("runner-nix-project-1-concurrent-0").withNamespace(ns).endMetadata()
                .withNewSpec().withRestartPolicy("Never");
        var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("build").withImage(image);
        var block = Pattern.compile("\\[\\[runners\\.kubernetes\\.volumes\\.secret]]\\s*\\n\\s*name = \"([^\"]+)\"\\s*\\n\\s*mount_path = \"([^\"]+)\"\\s*\\n\\s*read_only = (true|false)").matcher(configToml);
        while (block.find()) {
            b.addNewVolume().withName(block.group(1)).withNewSecret().withSecretName(block.group(1)).endSecret().endVolume();
            container.addNewVolumeMount().withName(block.group(1)).withMountPath(block.group(2)).withReadOnly(Boolean.parseBoolean(block.group(3))).endVolumeMount();
        }
        var envLine = Pattern.compile("environment = \\[(.*)]").matcher(configToml);
        if (envLine.find()) {
            var item = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(envLine.group(1));
            while (item.find()) {
                String kv = item.group(1).replace("\\\"", "\"").replace("\\\\", "\\");
                int eq = kv.indexOf('=');
                container.addToEnv(new EnvVar(kv.substring(0, eq), kv.substring(eq + 1), null));
            }
        }
        return b.addToContainers(container.build()).endSpec().build();
    }

    @Test
    void ciTokenSecretIsWrittenRotatedAndMountedIntoANixJobPod() throws Exception {
        Assumptions.assumeTrue(api.isLocal(), "needs kwok's port-forward to the Attic stand-in");
        String atticNs = namespace("gfw-citok-a-");
        String runnerNs = namespace("gfw-citok-r-");
        Path env = EnvFile.dev().set("namespaces.attic.name", atticNs).set("namespaces.runners.name", runnerNs)
                .add("attic", "ciTokenValidity", "20d").writeTo(TestSupport.tempDir("citok"), "dev");
        String key = AtticTokens.newSigningKey(new SecureRandom());
        kube.resource(new SecretBuilder().withNewMetadata().withName(AtticTokens.SIGNING_SECRET).withNamespace(atticNs).endMetadata()
                .addToStringData(AtticTokens.SIGNING_KEY, key).build()).create();
        try (var attic = new AtticStandIn(() -> key)) {
            attic.caches.put("main", "main:pubkey-" + TestCluster.randomHex(4));
            api.serviceBackend(atticNs, 8080, URI.create("http://127.0.0.1:" + attic.port()));
            kube.resource(new PodBuilder().withNewMetadata().withName("attic-0").withNamespace(atticNs).withLabels(CacheObjects.selector("server")).endMetadata()
                    .withNewSpec().addNewContainer().withName("attic").withImage("ghcr.io/zhaofengli/attic:latest").endContainer().endSpec().build()).create();
            kube.pods().inNamespace(atticNs).withName("attic-0").waitUntilCondition(p -> p != null && DbAdmin.podReady(p), 60, TimeUnit.SECONDS);

            // A client dry run shows the Secret, masked, and writes nothing.
            var dry = token(env, "--ci", "--dry-run");
            assertEquals(0, dry.exit(), dry.toString());
            assertTrue(dry.out().contains("name: attic-ci-token") && dry.out().contains("namespace: " + runnerNs) && dry.out().contains("token: '****'"), dry.out());
            assertEquals(null, kube.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get());

            var first = token(env, "--ci");
            assertEquals(0, first.exit(), first.toString());
            Secret s = kube.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get();
            assertNotNull(s, "written into the runner namespace");
            String tok = data(s, "token");
            assertFalse(first.out().contains(tok) || first.err().contains(tok), "no token printed without --reveal");
            assertTrue(first.out().contains("secret/attic-ci-token -n " + runnerNs + " created") || first.out().contains("created"), first.out());
            AtticTokens.Decoded d = AtticTokens.decode(tok, key);
            assertEquals(Boolean.TRUE, d.verified());
            assertEquals("gitlab-ci-dev", d.sub());
            assertEquals("{main={r=1, w=1}}", String.valueOf(d.caches()));
            long days = Duration.between(Instant.now(), d.exp()).toHours();
            assertTrue(days > 20 * 24 - 2 && days <= 20 * 24, "valid attic.ciTokenValidity (20d): " + d.exp());
            assertEquals(d.exp(), CiCacheToken.expiresAt(s));
            String host = "attic." + atticNs + ".svc.cluster.local";
            assertEquals("machine " + host + " password " + tok + "\n", data(s, "netrc"));
            assertEquals("extra-substituters = http://" + host + "/main\nextra-trusted-public-keys = " + attic.caches.get("main")
                    + "\nnetrc-file = /etc/gfw-attic/netrc\n", data(s, "nix.conf"));

            // Again: it exists, nothing is written.
            api.resetRequests();
            var again = token(env, "--ci");
            assertEquals(0, again.exit(), again.toString());
            assertTrue(again.out().startsWith("secret/attic-ci-token unchanged (expires " + d.exp()), again.out());
            assertEquals(0, api.mutatingRequests(), api.requests().toString());

            // --rotate: a new token replaces it; --reveal prints it.
            Thread.sleep(1100); // a new iat
            var rotated = token(env, "--rotate", "--reveal");
            assertEquals(0, rotated.exit(), rotated.toString());
            String tok2 = data(kube.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get(), "token");
            assertNotEquals(tok, tok2);
            assertTrue(rotated.out().lines().anyMatch(tok2::equals), "--reveal prints the new token");

            // health: ok at 20 days, warns within 14 days, fails when missing.
            var read = new HealthState.Read<Secret>(List.of(kube.secrets().inNamespace(runnerNs).withName(CiCacheToken.SECRET).get()), null, 0, "secrets -n " + runnerNs);
            EnvConfig.Env e = EnvConfig.load("dev", env.toString());
            assertEquals(HealthReport.Status.ok, HealthRunners.cacheToken(e, read).status());
            Secret soon = CiCacheToken.secret(e, "t", Instant.now().plus(Duration.ofDays(13)), "k");
            var warn = HealthRunners.cacheToken(e, new HealthState.Read<>(List.of(soon), null, 0, "secrets"));
            assertEquals(HealthReport.Status.warn, warn.status(), warn.toString());
            assertTrue(warn.detail().contains("'gfw attic-token dev --rotate' replaces it"), warn.detail());
            assertEquals(HealthReport.Status.fail, HealthRunners.cacheToken(e, new HealthState.Read<Secret>(List.of(), null, 0, "secrets")).status());
        }

        // The nix runner's job pod, as gitlab-runner renders it from the config deploy-runners writes, mounts the Secret.
        EnvConfig.Env e = EnvConfig.load("dev", env.toString());
        EnvConfig.Runner nix = e.runners().stream().filter(r -> r.type().equals("nix")).findFirst().orElseThrow();
        String toml = RunnerValues.configToml(e, nix);
        Pod job = kube.resource(jobPod(runnerNs, toml, nix.image())).create();
        var mount = job.getSpec().getContainers().get(0).getVolumeMounts().stream().filter(m -> m.getName().equals(CiCacheToken.SECRET)).findFirst().orElseThrow();
        assertEquals("/etc/gfw-attic", mount.getMountPath());
        assertEquals(Boolean.TRUE, mount.getReadOnly());
        assertEquals(CiCacheToken.SECRET, job.getSpec().getVolumes().stream().filter(v -> v.getSecret() != null).findFirst().orElseThrow().getSecret().getSecretName());
        assertTrue(job.getSpec().getContainers().get(0).getEnv().stream().anyMatch(v -> v.getName().equals("NIX_USER_CONF_FILES") && v.getValue().equals("/etc/gfw-attic/nix.conf")),
                job.getSpec().getContainers().get(0).getEnv().toString());
        // kwok runs it: the Secret it mounts exists.
        kube.pods().inNamespace(runnerNs).withName(job.getMetadata().getName()).waitUntilCondition(
                p -> p != null && p.getStatus() != null && "Running".equals(p.getStatus().getPhase()), 60, TimeUnit.SECONDS);
        // The other runners' jobs get no token.
        EnvConfig.Runner docker = e.runners().stream().filter(r -> r.type().equals("docker")).findFirst().orElseThrow();
        assertFalse(RunnerValues.configToml(e, docker).contains(CiCacheToken.SECRET));
        assertFalse(RunnerValues.configToml(e, docker).contains("NIX_USER_CONF_FILES"));

        // Planned: refused before any request.
        var planned = token(EnvFile.dev().set("namespaces.attic.name", atticNs).set("status", "planned").writeTo(TestSupport.tempDir("citok"), "dev"), "--ci");
        assertEquals(ExitCode.REFUSED, planned.exit(), planned.toString());
        var mixed = token(env, "--ci", "--sub", "x");
        assertEquals(ExitCode.USAGE, mixed.exit(), mixed.toString());
    }
}
