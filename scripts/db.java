///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//SOURCES ../lib/ExitCode.java
//SOURCES ../lib/GfwException.java
//SOURCES ../lib/EnvConfig.java
//SOURCES ../lib/Output.java
//SOURCES ../lib/Cli.java
//SOURCES ../lib/HealthReport.java
//SOURCES ../lib/DbAdmin.java

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Day-2 administration of an environment's Attic database (the CloudNativePG Cluster {@code cnpg.cluster}):
 * status, psql on the primary, on-demand backups and their list. The story is in lib/DbAdmin.java.
 *
 * <pre>
 *   gfw db dev status -o wide
 *   gfw db dev psql -c 'select count(*) from object'
 *   gfw db prod backup --wait -y
 * </pre>
 */
@Command(name = "db", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        subcommands = {Db.Status.class, Db.Psql.class, Db.Backup.class, Db.Backups.class},
        description = "Administer the Attic database (CloudNativePG): status, psql, backup, backups.",
        footer = {"", "Examples:",
                "  db dev status                       # phase, primary, instances, archiving, last backup, certificates",
                "  db dev psql                         # interactive psql on the primary as the owner",
                "  db dev psql -c 'select 1'           # one statement; exit code is psql's",
                "  db prod backup --wait -y            # an on-demand backup, waited for",
                "  db dev backups -o json              # every backup with phase, start, end, method"})
class Db extends Cli.EnvCommand {
    public static void main(String... args) {
        System.exit(Cli.run(new Db(), args));
    }

    abstract static class Sub extends Cli.EnvSubcommand {
    }

    @Command(name = "status", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Phase, primary, each instance (role, ready, timeline), continuous archiving, the last backup, certificates: exit 0 healthy, 81 degraded, 80 failed.")
    static class Status extends Sub {
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Cli.refusePlanned(env, "read the database's status");
            try (KubernetesClient client = cluster.connect(env)) {
                DbAdmin.Status s = DbAdmin.status(client, env, Instant.now());
                switch (output.format) {
                    case json -> Cli.out().println(Output.json(HealthReport.document(env.name(), s.rows())));
                    case yaml -> Cli.out().print(Output.yaml(HealthReport.document(env.name(), s.rows())));
                    default -> Cli.out().print(HealthReport.table(s.rows(), output.format == Output.Format.wide));
                }
                Cli.info("database " + env.cnpg().cluster() + ": " + HealthReport.overall(s.rows()) + " (" + HealthReport.counts(s.rows()) + ")");
                return HealthReport.exitCode(s.rows());
            }
        }
    }

    @Command(name = "psql", mixinStandardHelpOptions = true, sortOptions = false,
            description = "psql on the primary through a port-forward (the kubeconfig's route, SOCKS proxy included), as the database owner;"
                    + " the password reaches psql through a private pgpass file, never argv or environment. Exit code is psql's.")
    static class Psql extends Sub {
        @Option(names = "--superuser", description = "Connect as postgres (needs the Cluster's spec.enableSuperuserAccess: CloudNativePG's <cluster>-superuser secret).")
        boolean superuser;

        @Option(names = {"-c", "--command"}, paramLabel = "SQL", description = "Run one statement and exit (psql -c).")
        String command;

        @Option(names = "--psql", paramLabel = "PATH", defaultValue = "psql", description = "The psql program (default: ${DEFAULT-VALUE} on PATH).")
        String psqlBin = "psql";

        @Parameters(paramLabel = "ARGS", arity = "0..*", description = "More psql arguments, after --.")
        List<String> args = new ArrayList<>();

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Cli.refusePlanned(env, "open psql on the database");
            var psqlArgs = new ArrayList<String>();
            if (command != null) psqlArgs.addAll(List.of("-c", command));
            psqlArgs.addAll(args);
            boolean interactive = command == null && System.console() != null;
            try (KubernetesClient client = cluster.connect(env)) {
                return DbAdmin.withPrimary(client, env, superuser, route -> {
                    Cli.info("psql " + route);
                    return DbAdmin.psql(psqlBin, route, psqlArgs, interactive, Cli.out(), Cli.err());
                });
            }
        }
    }

    @Command(name = "backup", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Take an on-demand backup with the method the Cluster uses (the Barman Cloud plugin, or volume snapshots); --wait follows it.")
    static class Backup extends Sub {
        @Mixin Cli.ChangeOptions change;

        @Option(names = "--wait", description = "Wait until the backup completed or failed (exit 80 when it failed or the time ran out).")
        boolean await;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", description = "How long --wait waits (default: ${DEFAULT-VALUE}).")
        String timeout = "30m";

        @Override
        public Integer call() throws InterruptedException {
            change.validate();
            Duration limit = Cli.duration(timeout, "--timeout");
            EnvConfig.Env env = env();
            change.confirm(env, "take a backup of database " + env.cnpg().cluster());
            try (KubernetesClient client = cluster.connect(env)) {
                GenericKubernetesResource c = DbAdmin.cluster(client, env);
                GenericKubernetesResource b = DbAdmin.newBackup(env, DbAdmin.map(c.getAdditionalProperties().get("spec")), Instant.now());
                String ref = "backup.postgresql.cnpg.io/" + b.getMetadata().getName();
                if (change.clientDryRun()) {
                    Cli.out().print(Output.objects(List.of(b), Output.Format.yaml));
                    Cli.info(ref + " created (dry run: client)");
                    return ExitCode.OK;
                }
                var backups = client.genericKubernetesResources(DbAdmin.API, "Backup").inNamespace(env.namespaces().attic().name());
                if (change.serverDryRun()) {
                    backups.resource(b).dryRun().create();
                    Cli.out().println(ref + " created (dry run: server)");
                    return ExitCode.OK;
                }
                backups.resource(b).create();
                Cli.out().println(ref + " created (method " + DbAdmin.describe(b).get("method") + ")");
                if (!await) return ExitCode.OK;
                long until = System.nanoTime() + limit.toNanos();
                String last = "";
                while (true) {
                    GenericKubernetesResource live = backups.withName(b.getMetadata().getName()).get();
                    Map<String, Object> d = live == null ? Map.of("phase", "deleted") : DbAdmin.describe(live);
                    String phase = String.valueOf(d.get("phase"));
                    if (!phase.equals(last)) Cli.info("backup " + b.getMetadata().getName() + ": " + phase);
                    last = phase;
                    if ("completed".equals(phase)) {
                        Cli.out().println(ref + " completed (started " + d.get("started") + ", stopped " + d.get("stopped") + ")");
                        return ExitCode.OK;
                    }
                    if (List.of("failed", "walArchivingFailing", "invalid backup definition", "deleted").contains(phase)) {
                        throw new GfwException(ExitCode.CHECK_FAILED, ref + " " + phase + (d.get("error") == null ? "" : ": " + d.get("error")));
                    }
                    if (System.nanoTime() > until) {
                        throw new GfwException(ExitCode.CHECK_FAILED, ref + " still " + phase + " after " + timeout + " (--timeout); it goes on: 'gfw db " + env.name() + " backups'");
                    }
                    Thread.sleep(500);
                }
            }
        }
    }

    @Command(name = "backups", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The Cluster's backups, oldest first: name, phase, method, start, end.")
    static class Backups extends Sub {
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Cli.refusePlanned(env, "list the database's backups");
            try (KubernetesClient client = cluster.connect(env)) {
                List<Map<String, Object>> list = DbAdmin.backups(client, env);
                switch (output.format) {
                    case json -> Cli.out().println(Output.json(list));
                    case yaml -> Cli.out().print(Output.yaml(list));
                    default -> {
                        boolean wide = output.format == Output.Format.wide;
                        var rows = new ArrayList<List<String>>();
                        for (var m : list) {
                            var row = new ArrayList<>(List.of(s(m.get("name")), s(m.get("phase")), s(m.get("method")), s(m.get("started")), s(m.get("stopped"))));
                            if (wide) {
                                row.add(s(m.get("backupId")));
                                row.add(s(m.get("error")));
                            }
                            rows.add(row);
                        }
                        var headers = new ArrayList<>(List.of("name", "phase", "method", "started", "stopped"));
                        if (wide) headers.addAll(List.of("backupId", "error"));
                        Cli.out().print(Output.table(headers, rows));
                    }
                }
                if (list.isEmpty()) Cli.info("no backups of cluster " + env.cnpg().cluster() + " in namespace " + env.namespaces().attic().name());
                return ExitCode.OK;
            }
        }

        private static String s(Object o) {
            return o == null ? "" : String.valueOf(o);
        }
    }
}
