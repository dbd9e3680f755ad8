// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/TempFiles.java
//SOURCES ../core/Output.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Helm's own record of a release revision, as Helm 3's default storage keeps it: Secret
 * {@code sh.helm.release.v1.<release>.v<revision>} (type {@code helm.sh/release.v1}), whose {@code release} key holds
 * base64 of the gzipped release JSON — its chart (metadata, templates, files, default values, schema), the user's
 * values ({@code config}) and {@code info.status}. helm-java 0.0.21 (the newest) has no rollback, so gfw rolls back
 * as Helm does, from these records: the old revision's chart and values become a new revision.
 */
final class HelmRecords {

    private static final ObjectMapper JSON = new ObjectMapper();

    static String secretName(String release, int revision) {
        return "sh.helm.release.v1." + release + ".v" + revision;
    }

    /** The release JSON of one revision; a missing record is {@link ExitCode#NOT_FOUND} naming it. */
    static JsonNode read(KubernetesClient client, String namespace, String release, int revision) {
        String name = secretName(release, revision);
        Secret s = client.secrets().inNamespace(namespace).withName(name).get();
        if (s == null || s.getData() == null || s.getData().get("release") == null) {
            throw new GfwException(ExitCode.NOT_FOUND, "release " + release + " has no revision " + revision
                    + " (no Secret " + namespace + "/" + name + "); see 'gfw runners ENV history TYPE'");
        }
        return decode(s, namespace);
    }

    /** The release JSON a record Secret holds (Helm's Secrets driver: base64 of the gzipped JSON, under key {@code release}). */
    static JsonNode decode(Secret s, String namespace) {
        String name = s.getMetadata().getName();
        if (s.getData() == null || s.getData().get("release") == null) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Secret " + namespace + "/" + name + " is not a Helm release record: it has no key 'release'");
        }
        try {
            byte[] helmBase64 = Base64.getDecoder().decode(s.getData().get("release"));
            byte[] bytes = Base64.getDecoder().decode(new String(helmBase64, StandardCharsets.UTF_8).trim());
            if (bytes.length > 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) {
                try (var in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
                    bytes = in.readAllBytes();
                }
            }
            return JSON.readTree(bytes);
        } catch (IOException | IllegalArgumentException e) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "Secret " + namespace + "/" + name + " is not a Helm release record: "
                    + GfwException.firstLine(String.valueOf(e.getMessage())), e);
        }
    }

    /** The user-supplied values of a revision ({@code helm get values --revision N}). */
    static Map<String, Object> values(JsonNode release) {
        JsonNode config = release.path("config");
        if (!config.isObject()) return new LinkedHashMap<>();
        @SuppressWarnings("unchecked")
        Map<String, Object> m = JSON.convertValue(config, LinkedHashMap.class);
        return m;
    }

    /** "gitlab-runner-0.86.0": the chart of a revision as helm list names it. */
    static String chart(JsonNode release) {
        JsonNode meta = release.path("chart").path("metadata");
        return meta.path("name").asText() + "-" + meta.path("version").asText();
    }

    /**
     * The chart of a revision written back as a chart directory (Chart.yaml, values.yaml, values.schema.json,
     * templates and files as Helm stored them), in a private temporary directory. A chart with subcharts is refused:
     * Helm's record does not keep them.
     */
    static Path chartDirectory(JsonNode release, String releaseName) {
        JsonNode chart = release.path("chart");
        JsonNode meta = chart.path("metadata");
        if (!meta.isObject()) throw new GfwException(ExitCode.REMOTE_ERROR, "the Helm record of " + releaseName + " holds no chart");
        if (meta.path("dependencies").isArray() && !meta.path("dependencies").isEmpty()) {
            throw new GfwException(ExitCode.REMOTE_ERROR, "chart " + chart(release) + " of release " + releaseName
                    + " has subcharts, which Helm's record does not keep: roll back with a helm binary ('helm rollback')");
        }
        try {
            Path dir = TempFiles.directory("gfw-chart-");
            write(dir, "Chart.yaml", Output.yaml(meta).getBytes(StandardCharsets.UTF_8));
            write(dir, "values.yaml", Output.yaml(chart.path("values").isObject() ? chart.path("values") : JSON.createObjectNode())
                    .getBytes(StandardCharsets.UTF_8));
            if (chart.hasNonNull("schema") && !chart.path("schema").asText().isEmpty()) {
                write(dir, "values.schema.json", Base64.getDecoder().decode(chart.path("schema").asText()));
            }
            for (String list : new String[] {"templates", "files"}) {
                for (JsonNode f : chart.path(list)) write(dir, f.path("name").asText(), Base64.getDecoder().decode(f.path("data").asText("")));
            }
            return dir;
        } catch (IOException | IllegalArgumentException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot write the chart of release " + releaseName + " for Helm: " + e.getMessage(), e);
        }
    }

    private static void write(Path dir, String name, byte[] bytes) throws IOException {
        Path f = dir.resolve(name).normalize();
        if (!f.startsWith(dir) || name.isEmpty()) throw new IOException("file name '" + name + "' leaves the chart directory");
        Files.createDirectories(f.getParent());
        Files.write(f, bytes);
    }

    /**
     * Marks an interrupted revision (pending-install/upgrade/rollback) {@code failed} with {@code description}, in the
     * record and its {@code status} label — what Helm itself would have written had it finished — so that Helm no longer
     * refuses the release as "another operation is in progress".
     */
    static void markFailed(KubernetesClient client, String namespace, String release, int revision, String description) {
        JsonNode rel = read(client, namespace, release, revision);
        ObjectNode info = (ObjectNode) rel.path("info");
        info.put("status", "failed");
        info.put("description", description);
        String encoded;
        try {
            var out = new ByteArrayOutputStream();
            try (var z = new GZIPOutputStream(out)) {
                z.write(JSON.writeValueAsBytes(rel));
            }
            encoded = Base64.getEncoder().encodeToString(out.toByteArray());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        client.secrets().inNamespace(namespace).withName(secretName(release, revision)).edit(s -> {
            s.getData().put("release", Base64.getEncoder().encodeToString(encoded.getBytes(StandardCharsets.UTF_8)));
            if (s.getMetadata().getLabels() != null) s.getMetadata().getLabels().put("status", "failed");
            return s;
        });
    }

    private HelmRecords() {}
}
