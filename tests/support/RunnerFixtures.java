import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.ReleaseHistory;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * What the deploy-runners tests share: a copy of dev.yaml per test (its own runner namespace), the fixture chart,
 * an in-process deploy against the shared test API server and a GitLab stand-in, and Helm's release records read
 * (history) and, to simulate an interrupted Helm, rewritten — in the format Helm's Secret storage uses.
 */
final class RunnerFixtures {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final Path FIXTURE = TestSupport.repo().resolve("tests/fixtures/gitlab-runner");
    /** Numbers namespace names; starts at random, so runs against one long-lived cluster (GFW_TEST_KUBECONFIG) never meet. */
    static final AtomicInteger SEQ = new AtomicInteger(new java.util.Random().nextInt(900_000) + 1000);

    static EnvConfig.Env dev() {
        return EnvConfig.load("dev", TestSupport.repo().resolve("environments").toString());
    }

    /** A copy of environments/dev.yaml whose runner namespace is {@code runnerNs}, edited by {@code edit}. */
    static Path envDir(String runnerNs, UnaryOperator<String> edit) {
        try {
            Path dir = TestSupport.tempDir("runners-env");
            Files.writeString(dir.resolve("dev.yaml"), edit.apply(EnvFile.dev().set("namespaces.runners.name", runnerNs).text()));
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sets the value at YAML path {@code path} (e.g. runners[3].concurrent) of the copied dev.yaml (it must exist). */
    static void editEnv(Path envDir, String path, String value) {
        EnvFile.of(read(envDir.resolve("dev.yaml"))).set(path, value).writeTo(envDir, "dev");
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void createNamespace(TestCluster api, String ns) {
        api.client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    }

    /**
     * The runner namespace of a test that installs: created, with rollouts whose pods do as {@code readiness} says
     * (Helm's --wait needs them). Skipped on a real cluster (GFW_TEST_KUBECONFIG): the fixture chart's pods cannot run
     * there.
     */
    static void namespaceWithRollouts(TestCluster api, String ns, TestCluster.Readiness readiness) {
        org.junit.jupiter.api.Assumptions.assumeTrue(api.isLocal(),
                "installs the fixture chart with --wait: needs the test API server's rollouts");
        createNamespace(api, ns);
        api.rollouts(ns, readiness);
    }

    /** An in-process deploy of the types against the shared test server and a GitLab stand-in (real Helm; --timeout 30s unless given). */
    static TestSupport.Result deploy(Path envDir, GitLabStandIn gitlab, String... rest) {
        TestCluster api = TestCluster.shared();
        var args = new ArrayList<>(List.of("dev", "--env-dir", envDir.toString(), "--kubeconfig", api.kubeconfig().toString(),
                "--context", api.context(), "--gitlab-url", gitlab.url(), "--gitlab-token-file", gitlab.tokenFile.toString(),
                "--chart", TestCharts.runnerChart().toString()));
        if (!List.of(rest).contains("--timeout")) args.addAll(List.of("--timeout", "30s"));
        args.addAll(List.of(rest));
        return TestSupport.inProcess(new DeployRunners(), args.toArray(String[]::new));
    }

    /** Helm (helm-java) against the shared test server, as deploy-runners runs it. */
    static HelmReleases.JvmHelm helm(TestCluster api) {
        return new HelmReleases.JvmHelm(new KubeClients.Target(api.kubeconfig(), "test", api.context(), api.url(), null));
    }

    /** {@code helm history}: "1 superseded Install complete", ... oldest first. */
    static List<String> history(TestCluster api, String ns, String release) {
        Path kc = HelmReleases.writePrivate("gfw-test-kubeconfig-", HelmReleases.kubeconfigFor(
                new KubeClients.Target(api.kubeconfig(), "test", api.context(), api.url(), null)), true);
        List<ReleaseHistory> h = Helm.history(release).withNamespace(ns).withKubeConfig(kc).call();
        return h.stream().map(x -> x.getRevision() + " " + x.getStatus() + " " + x.getDescription()).toList();
    }

    static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }

    static List<JsonNode> documents(String manifest) throws IOException {
        var out = new ArrayList<JsonNode>();
        for (String doc : manifest.split("(?m)^---\\s*$")) {
            JsonNode n = YAML.readTree(doc);
            if (n != null && n.has("kind")) out.add(n);
        }
        return out;
    }

    /**
     * Leaves revision {@code revision} of a release in {@code status} (e.g. pending-upgrade), as a Helm killed
     * mid-operation does: the record Secret {@code sh.helm.release.v1.NAME.vN} (base64 of gzipped JSON) gets the
     * status in its {@code info} and its {@code status} label.
     */
    static void setReleaseStatus(TestCluster api, String ns, String release, int revision, String status) {
        String name = "sh.helm.release.v1." + release + ".v" + revision;
        Secret s = api.client().secrets().inNamespace(ns).withName(name).get();
        if (s == null) throw new IllegalStateException("no Helm record " + ns + "/" + name);
        try {
            byte[] gz = Base64.getDecoder().decode(decode(s.getData().get("release")));
            ObjectNode rel;
            try (var in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
                rel = (ObjectNode) JSON.readTree(in.readAllBytes());
            }
            ((ObjectNode) rel.path("info")).put("status", status);
            var out = new ByteArrayOutputStream();
            try (var z = new GZIPOutputStream(out)) {
                z.write(JSON.writeValueAsBytes(rel));
            }
            String encoded = Base64.getEncoder().encodeToString(out.toByteArray());
            api.client().secrets().inNamespace(ns).withName(name).edit(x -> {
                x.getData().put("release", Base64.getEncoder().encodeToString(encoded.getBytes(StandardCharsets.UTF_8)));
                x.getMetadata().getLabels().put("status", status);
                return x;
            });
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private RunnerFixtures() {}
}
