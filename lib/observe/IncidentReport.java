// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../env/EnvConfig.java
//SOURCES ../core/Output.java
//SOURCES ../core/Http.java
//SOURCES ../kube/KubeClients.java
//SOURCES ../kube/Manifests.java
//SOURCES ../runners/RunnerValues.java
//SOURCES ../kube/SecretValues.java
//SOURCES ../core/HealthReport.java
//SOURCES ../health/HealthState.java
//SOURCES ../health/HealthChecks.java
//SOURCES ../health/HealthRunners.java
//SOURCES ../kube/HelmReleases.java
//SOURCES EnvEvents.java
//SOURCES PodLogs.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.zip.GZIPOutputStream;

/**
 * An incident bundle an operator can attach to a ticket: what {@code gfw report} writes. Its files (each masked with
 * the environment's Secret values before it is packed, whatever it is):
 * <ul>
 * <li>{@code health.json}: every health check, as {@code gfw health -o json} (GitLab rows unknown: not asked);</li>
 * <li>{@code versions.json}: gfw, the API server, the CloudNativePG operator's image and chart, each runner release's
 * chart, every image the environment's pods run;</li>
 * <li>{@code objects/NAMESPACE/KIND-NAME.yaml}: every object of the environment's namespaces (and the namespaces), as
 * kubectl prints them without managedFields and last-applied annotations, Secrets with their data reduced to key
 * names (each value {@value Output#MASK});</li>
 * <li>{@code helm/RELEASE.json}: each runner release's Helm history;</li>
 * <li>{@code events.txt}: the events, oldest first, as {@code gfw events};</li>
 * <li>{@code logs/NAMESPACE/POD/CONTAINER.log}: the last {@value #LOG_LINES} lines of each container;</li>
 * <li>{@code environment/ENV.yaml}: the environment file;</li>
 * <li>{@code errors.txt}: what could not be read, and why (a report is most needed when things fail).</li>
 * </ul>
 * The archive is a POSIX ustar inside gzip, written with mode 0600 before any byte goes in.
 */
final class IncidentReport {

    static final int LOG_LINES = 200;

    /** The namespaced kinds read into objects/ (core, apps, batch, autoscaling, policy, networking, RBAC). */
    static final List<Class<? extends HasMetadata>> KINDS = List.of(
            io.fabric8.kubernetes.api.model.ConfigMap.class, io.fabric8.kubernetes.api.model.Secret.class,
            io.fabric8.kubernetes.api.model.Service.class, io.fabric8.kubernetes.api.model.ServiceAccount.class,
            io.fabric8.kubernetes.api.model.PersistentVolumeClaim.class, io.fabric8.kubernetes.api.model.ResourceQuota.class,
            io.fabric8.kubernetes.api.model.LimitRange.class, Pod.class,
            io.fabric8.kubernetes.api.model.apps.Deployment.class, io.fabric8.kubernetes.api.model.apps.StatefulSet.class,
            io.fabric8.kubernetes.api.model.batch.v1.Job.class, io.fabric8.kubernetes.api.model.batch.v1.CronJob.class,
            io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler.class,
            io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class,
            io.fabric8.kubernetes.api.model.networking.v1.Ingress.class, io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy.class,
            io.fabric8.kubernetes.api.model.rbac.Role.class, io.fabric8.kubernetes.api.model.rbac.RoleBinding.class);

    /** Custom kinds of the database read when their CRDs exist: CloudNativePG's and the Barman Cloud plugin's. */
    static final List<String[]> CUSTOM_KINDS = List.of(new String[] {"postgresql.cnpg.io/v1", "Cluster"},
            new String[] {"postgresql.cnpg.io/v1", "ScheduledBackup"}, new String[] {"postgresql.cnpg.io/v1", "Backup"},
            new String[] {"barmancloud.cnpg.io/v1", "ObjectStore"});

    /** Annotations that may hold a copy of an object, Secret data included. */
    static final List<String> DROPPED_ANNOTATIONS = List.of("kubectl.kubernetes.io/last-applied-configuration");

    /** The bundle's files, in the order they are written, and what could not be read. */
    static final class Bundle {
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final List<String> errors = new ArrayList<>();

        void add(String name, String text) {
            files.put(name, text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Everything read from the cluster (and Helm); a part that fails is an error line in errors.txt, not the end. */
    static Bundle collect(KubernetesClient client, EnvConfig.Env env, HelmReleases.JvmHelm helm, Duration requestTimeout,
                          Http.Client attic, String envFileText, String version) {
        var b = new Bundle();
        SecretValues secrets = attempt(b, "the environment's Secrets (nothing could be masked, so no log or object is included)",
                () -> SecretValues.read(client, env));
        if (secrets == null) {
            // Without the values to mask, nothing that could carry one goes in.
            b.add("errors.txt", String.join("\n", b.errors) + "\n");
            return b;
        }

        // health
        String health = attempt(b, "health", () -> {
            HealthState state = HealthState.read(client, env, new LinkedHashSet<>(HealthReport.COMPONENTS), requestTimeout, attic);
            var rows = new ArrayList<HealthReport.Row>();
            rows.addAll(HealthChecks.namespaces(env, state));
            rows.addAll(HealthChecks.database(env, state));
            rows.addAll(HealthChecks.cache(env, state));
            rows.addAll(HealthRunners.runners(env, state, new HealthRunners.GitLab(null, "report does not ask GitLab")));
            rows.addAll(HealthChecks.dashboard(env, state));
            return Output.json(HealthReport.document(env.name(), rows)) + "\n";
        });
        if (health != null) b.add("health.json", secrets.mask(health));

        // versions
        var versions = new LinkedHashMap<String, Object>();
        versions.put("gfw", version);
        versions.put("apiServer", attempt(b, "the API server's version", () -> client.getKubernetesVersion().getGitVersion()));
        String operatorNs = env.cnpg().operatorNamespace();
        versions.put("cnpgOperator", attempt(b, "the CloudNativePG operator in namespace " + operatorNs, () -> {
            var out = new ArrayList<Map<String, String>>();
            for (var d : client.apps().deployments().inNamespace(operatorNs).withLabel(HealthState.CNPG_OPERATOR_LABEL, HealthState.CNPG_OPERATOR_NAME)
                    .list().getItems()) {
                var m = new TreeMap<String, String>();
                m.put("deployment", d.getMetadata().getName());
                m.put("chart", labels(d).getOrDefault("helm.sh/chart", "-"));
                m.put("images", String.join(", ", d.getSpec().getTemplate().getSpec().getContainers().stream().map(c -> c.getImage()).toList()));
                out.add(m);
            }
            return out;
        }));
        var charts = new TreeMap<String, Object>();
        var histories = new TreeMap<String, Object>();
        for (RunnerValues.Release r : RunnerValues.select(env, List.of())) {
            if (helm == null) break;
            HelmReleases.Deployed live = attempt(b, "Helm release " + r.name(), () -> helm.get(r.namespace(), r.name()));
            charts.put(r.name(), live == null ? "not installed" : live.chart() + " revision " + live.revision() + " " + live.status());
            if (live != null) {
                var h = attempt(b, "the Helm history of " + r.name(), () -> helm.history(r.namespace(), r.name()));
                if (h != null) histories.put(r.name(), h);
            }
        }
        if (helm == null) b.errors.add("Helm releases: Helm is not available on this platform");
        versions.put("runnerCharts", charts);
        var images = new TreeMap<String, List<String>>();
        var allPods = new ArrayList<Pod>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            var pods = attempt(b, "pods in namespace " + ns.name(), () -> client.pods().inNamespace(ns.name()).list().getItems());
            if (pods == null) continue;
            allPods.addAll(pods);
            for (Pod p : pods) {
                for (var c : p.getSpec().getContainers()) images.computeIfAbsent(c.getImage(), k -> new ArrayList<>()).add(ns.name() + "/" + p.getMetadata().getName());
            }
        }
        versions.put("images", images);
        b.add("versions.json", secrets.mask(Output.json(versions) + "\n"));

        // objects
        var objects = new TreeMap<String, String>();
        for (EnvConfig.NamespaceSpec ns : env.allNamespaces()) {
            var namespace = attempt(b, "namespace " + ns.name(), () -> client.namespaces().withName(ns.name()).get());
            if (namespace != null) objects.put("objects/" + ns.name() + "/namespace-" + ns.name() + ".yaml", yaml(namespace));
            if (namespace == null) continue;
            for (Class<? extends HasMetadata> kind : KINDS) {
                var items = attempt(b, kind.getSimpleName() + " in namespace " + ns.name(), () -> client.resources(kind).inNamespace(ns.name()).list().getItems());
                if (items == null) continue;
                for (HasMetadata o : items) objects.put(path(ns.name(), o), yaml(o));
            }
            for (String[] ck : CUSTOM_KINDS) {
                List<GenericKubernetesResource> items;
                try {
                    items = client.genericKubernetesResources(ck[0], ck[1]).inNamespace(ns.name()).list().getItems();
                } catch (KubernetesClientException e) {
                    if (!KubeClients.noSuchKind(e)) b.errors.add(ck[1] + " in namespace " + ns.name() + ": " + KubeClients.fromKubernetes(e).getMessage());
                    continue; // no CRD: the kind does not exist on this cluster
                }
                for (HasMetadata o : items) objects.put(path(ns.name(), o), yaml(o));
            }
        }
        objects.forEach((name, text) -> b.add(name, secrets.mask(text)));

        // Helm history
        histories.forEach((name, h) -> b.add("helm/" + name + ".json", secrets.mask(Output.json(h) + "\n")));

        // events
        var events = attempt(b, "events", () -> EnvEvents.read(client, env, null, false, secrets));
        if (events != null) b.add("events.txt", secrets.mask(EnvEvents.table(events)));

        // logs
        var sources = new ArrayList<PodLogs.Source>();
        for (Pod p : allPods.stream().sorted(Comparator.comparing((Pod p) -> p.getMetadata().getNamespace()).thenComparing(p -> p.getMetadata().getName())).toList()) {
            for (var c : p.getSpec().getContainers()) sources.add(new PodLogs.Source(p.getMetadata().getNamespace(), p.getMetadata().getName(), c.getName()));
        }
        if (!sources.isEmpty()) {
            var read = attempt(b, "pod logs", () -> PodLogs.read(client, sources, new PodLogs.Options(null, LOG_LINES, false, true), secrets));
            if (read != null) {
                var bySource = new LinkedHashMap<PodLogs.Source, StringBuilder>();
                for (PodLogs.Source s : sources) bySource.put(s, new StringBuilder());
                for (PodLogs.Line l : read.lines()) bySource.get(l.source()).append(l.time() == null ? "" : l.time() + " ").append(l.text()).append('\n');
                bySource.forEach((s, text) -> b.add("logs/" + s.namespace() + "/" + s.pod() + "/" + s.container() + ".log", secrets.mask(text.toString())));
                for (String p : read.problems()) b.errors.add("log of " + p);
            }
        }

        // the environment file
        b.add("environment/" + env.name() + ".yaml", secrets.mask(envFileText));
        b.add("errors.txt", secrets.mask(b.errors.isEmpty() ? "nothing failed\n" : String.join("\n", b.errors) + "\n"));
        return b;
    }

    private static Map<String, String> labels(HasMetadata o) {
        return o.getMetadata().getLabels() == null ? Map.of() : o.getMetadata().getLabels();
    }

    private static <T> T attempt(Bundle b, String what, Supplier<T> read) {
        try {
            return read.get();
        } catch (KubernetesClientException e) {
            b.errors.add(what + ": " + KubeClients.fromKubernetes(e).getMessage());
        } catch (GfwException e) {
            b.errors.add(what + ": " + e.getMessage());
        } catch (RuntimeException e) {
            b.errors.add(what + ": " + e.getClass().getSimpleName() + ": " + GfwException.firstLine(String.valueOf(e.getMessage())));
        }
        return null;
    }

    private static String path(String ns, HasMetadata o) {
        return "objects/" + ns + "/" + o.getKind().toLowerCase(java.util.Locale.ROOT) + "-" + o.getMetadata().getName() + ".yaml";
    }

    /** The object as kubectl prints it, without managedFields and annotations that copy it; a Secret with its keys only. */
    static String yaml(HasMetadata o) {
        HasMetadata copy = o instanceof io.fabric8.kubernetes.api.model.Secret ? Manifests.masked(o)
                : io.fabric8.kubernetes.client.utils.Serialization.clone(o);
        if (copy == o) copy = io.fabric8.kubernetes.client.utils.Serialization.clone(o);
        copy.getMetadata().setManagedFields(null);
        if (copy.getMetadata().getAnnotations() != null) {
            var a = new TreeMap<>(copy.getMetadata().getAnnotations());
            DROPPED_ANNOTATIONS.forEach(a::remove);
            copy.getMetadata().setAnnotations(a.isEmpty() ? null : a);
        }
        return Output.objects(List.of(copy), Output.Format.yaml);
    }

    // ---- the archive ----------------------------------------------------------------------------

    /**
     * Writes the bundle as {@code file} (.tar.gz), mode 0600 from its creation; refuses to replace a file unless
     * {@code replace}. Every entry has the same time ({@code time}), owner 0 and mode 0600, so the same bundle makes
     * the same bytes.
     */
    static void write(Bundle b, Path file, boolean replace, Instant time) {
        if (Files.exists(file) && !replace) {
            throw new GfwException(ExitCode.REFUSED, file + " exists: refusing to replace it; pass --force or another -o FILE");
        }
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            try {
                Files.createFile(tmp, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(tmp); // not a POSIX file system (Windows): its own ACLs apply
            }
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(tmp))) {
                for (var e : b.files.entrySet()) tarEntry(out, e.getKey(), e.getValue(), time.getEpochSecond());
                out.write(new byte[1024]); // two empty blocks end the archive
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the message below names the file
            }
            throw new GfwException(ExitCode.CANT_WRITE, "cannot write " + file + ": " + e.getMessage());
        }
    }

    /** One ustar entry (POSIX.1-1988): a 512-byte header, then the data padded to 512. Names over 100 bytes use the prefix field. */
    static void tarEntry(OutputStream out, String name, byte[] data, long mtime) throws IOException {
        byte[] h = new byte[512];
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        String prefix = "";
        if (n.length > 100) {
            int cut = name.lastIndexOf('/', Math.min(name.length() - 1, 155));
            while (cut > 0 && name.substring(cut + 1).getBytes(StandardCharsets.UTF_8).length > 100) cut = name.lastIndexOf('/', cut - 1);
            if (cut <= 0) throw new IOException("name too long for a tar entry: " + name);
            prefix = name.substring(0, cut);
            n = name.substring(cut + 1).getBytes(StandardCharsets.UTF_8);
        }
        System.arraycopy(n, 0, h, 0, n.length);
        octal(h, 100, 8, 0600);
        octal(h, 108, 8, 0);
        octal(h, 116, 8, 0);
        octal(h, 124, 12, data.length);
        octal(h, 136, 12, mtime);
        for (int i = 148; i < 156; i++) h[i] = ' ';
        h[156] = '0';
        byte[] magic = "ustar\u000000".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(magic, 0, h, 257, magic.length);
        byte[] p = prefix.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(p, 0, h, 345, p.length);
        long sum = 0;
        for (byte x : h) sum += x & 0xff;
        octal(h, 148, 7, sum);
        h[155] = ' ';
        out.write(h);
        out.write(data);
        int pad = (int) ((512 - data.length % 512) % 512);
        out.write(new byte[pad]);
    }

    private static void octal(byte[] h, int offset, int length, long value) {
        String s = Long.toOctalString(value);
        while (s.length() < length - 1) s = "0" + s;
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, offset, b.length);
        h[offset + length - 1] = 0;
    }

    private IncidentReport() {}
}
