///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS com.marcnuri.helm-java:helm-java:0.0.21
//DEPS com.marcnuri.helm-java:linux-amd64:0.0.21
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/kube/KubeClients.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/kube/HelmReleases.java
//SOURCES ../lib/observe/IncidentReport.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * One {@code .tar.gz} (mode 0600) an operator can attach to a ticket: health as JSON, versions, every object of the
 * environment's namespaces as YAML (Secrets reduced to their key names), the runner releases' Helm history, the events,
 * the last lines of each pod's log and the environment file, every file masked with the values of the environment's
 * own Secrets ({@link IncidentReport}). Lists what it wrote on stdout. Read-only on the cluster.
 *
 * <pre>
 *   gfw report dev                      # gfw-report-dev-20261202T093000Z.tar.gz in the current directory
 *   gfw report prod -o /tmp/prod.tar.gz
 * </pre>
 */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write an incident bundle (.tar.gz, mode 0600): health, versions, objects (Secrets as key names), Helm history, events, logs, the environment file; secrets masked.",
        footer = {"", "Examples:", "  report dev                          # gfw-report-dev-<time>.tar.gz here; lists its files",
                "  report prod -o /tmp/prod.tar.gz     # attach it to the ticket"})
class Report implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENV", description = "Environment, e.g. dev (environments/<ENV>.yaml).")
    String envName;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to write the bundle (default: gfw-report-ENV-TIME.tar.gz in the current directory).")
    Path file;

    @Option(names = "--force", description = "Replace FILE if it exists.")
    boolean force;

    @Mixin Cli.EnvOptions envOptions;
    @Mixin Cli.ClusterOptions cluster;

    static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    public static void main(String... args) {
        System.exit(Cli.run(new Report(), args));
    }

    @Override
    public Integer call() {
        EnvConfig.Env env = envOptions.load(envName);
        Cli.refusePlanned(env, "report on an environment that has no cluster yet");
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Path out = file != null ? file : Path.of("gfw-report-" + env.name() + "-" + STAMP.format(now) + ".tar.gz");
        if (Files.exists(out) && !force) throw new GfwException(ExitCode.REFUSED, out + " exists: refusing to replace it; pass --force or another -o FILE");
        String envText = envFile(env);
        KubeClients.Target target = cluster.target(env);
        HelmReleases.JvmHelm helm;
        try {
            helm = new HelmReleases.JvmHelm(target);
        } catch (GfwException e) {
            helm = null; // the report says so in errors.txt; everything else is still read
        }
        IncidentReport.Bundle bundle;
        try (KubernetesClient client = cluster.connect(target)) {
            bundle = IncidentReport.collect(client, env, helm, cluster.requestTimeout(), cluster.http(env, "Attic"), envText, Cli.VERSION);
        }
        IncidentReport.write(bundle, out, force, now);
        long total = 0;
        for (var e : bundle.files.entrySet()) {
            Cli.out().println(e.getKey() + "\t" + e.getValue().length);
            total += e.getValue().length;
        }
        Cli.out().flush();
        for (String problem : bundle.errors) Cli.warn("not in the report: " + problem);
        Cli.info("wrote " + out + " (mode 0600, " + bundle.files.size() + " files, " + total + " bytes before compression)"
                + (bundle.errors.isEmpty() ? "" : "; " + bundle.errors.size() + " part" + (bundle.errors.size() == 1 ? "" : "s")
                + " could not be read (errors.txt)"));
        return ExitCode.OK;
    }

    /** The environment file's text, from its file or URL (as gfw loaded it). */
    private static String envFile(EnvConfig.Env env) {
        try {
            if (env.file().contains("://")) {
                try (var in = java.net.URI.create(env.file()).toURL().openStream()) {
                    return new String(in.readNBytes(EnvConfig.MAX_FILE_BYTES), java.nio.charset.StandardCharsets.UTF_8);
                }
            }
            return Files.readString(Path.of(env.file()));
        } catch (java.io.IOException | RuntimeException e) {
            return "# " + env.file() + " could not be read again: " + e.getMessage() + "\n";
        }
    }
}
