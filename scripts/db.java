///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/core/HealthReport.java
//SOURCES ../lib/database/DbAdmin.java
//SOURCES ../lib/database/DbRestore.java

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
 * status, psql on the primary, on-demand backups and their list (lib/database/DbAdmin.java), and restore into a new cluster (lib/database/DbRestore.java).
 *
 * <pre>
 *   gfw db dev status -o wide
 *   gfw db dev psql -c 'select count(*) from object'
 *   gfw db prod backup --wait -y
 *   gfw db dev restore --backup attic-pg-20261201020000 --into attic-pg-r1 --switch
 * </pre>
 */
@Command(name = "db", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        subcommands = {Db.Status.class, Db.Psql.class, Db.Backup.class, Db.Backups.class, Db.Restore.class},
        description = "Administer the Attic database (CloudNativePG): status, psql, backup, backups, restore.",
        footer = {"", "Examples:",
                "  db dev status                       # phase, primary, instances, archiving, last backup, certificates",
                "  db dev psql                         # interactive psql on the primary as the owner",
                "  db dev psql -c 'select 1'           # one statement; exit code is psql's",
                "  db prod backup --wait -y            # an on-demand backup, waited for",
                "  db dev backups -o json              # every backup with phase, start, end, method",
                "  db dev restore --backup attic-pg-20261201020000 --into attic-pg-r1 --wait   # recover into a NEW cluster",
                "  db prod restore --to-time 2026-12-01T09:30:00Z --into attic-pg-r2 --switch -y   # then point Attic at it"})
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


    @Command(name = "restore", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Recover into a NEW CloudNativePG cluster (bootstrap.recovery; never over the running one) from a completed backup or to a point in time,"
                    + " keeping the owner, database and credentials; then show, or with --switch do, what points Attic at it: DATABASE_URL in Attic's Secret and a rollout.",
                    "Exit 64: --into is the running cluster or no source given; 67: --into exists (or planned, or production without -y);"
                    + " 68: the backup is missing or not completed; 80: not healthy or not rolled out within --timeout."})
    static class Restore extends Sub {
        @Mixin Cli.WithDiff change;

        @Option(names = "--backup", paramLabel = "NAME", description = "A completed Backup of the cluster ('gfw db ENV backups').")
        String backup;

        @Option(names = "--to-time", paramLabel = "TIME", description = "Point in time (RFC 3339, e.g. 2026-12-01T09:30:00Z), replayed from the WAL archive.")
        String toTime;

        @Option(names = "--into", paramLabel = "NAME", required = true, description = "Name of the NEW Cluster (must not exist).")
        String into;

        @Option(names = "--switch", description = "Once it is healthy, point Attic's DATABASE_URL at <NAME>-rw and roll Attic (alone, with --into an earlier restore: switch to it).")
        boolean doSwitch;

        @Option(names = "--wait", description = "Wait until the new cluster is healthy, with progress (--switch always waits).")
        boolean await;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", description = "How long the waits take at most (default: ${DEFAULT-VALUE}).")
        String timeout = "30m";

        @Override
        public Integer call() {
            change.validate();
            if (backup != null && toTime != null) throw new GfwException(ExitCode.USAGE, "--backup and --to-time do not go together: give one");
            if (backup == null && toTime == null && !doSwitch) throw new GfwException(ExitCode.USAGE, "give one of --backup NAME or --to-time TIME");
            Duration limit = Cli.duration(timeout, "--timeout");
            String time = toTime == null ? null : DbRestore.targetTime(toTime);
            EnvConfig.Env env = env();
            DbRestore.checkInto(env, into);
            change.confirm(env, "restore database " + env.cnpg().cluster() + " into a new cluster " + into + (doSwitch ? " and switch Attic to it" : ""));
            var r = new DbRestore.Request(backup, time, into, doSwitch, await, change.clientDryRun(), change.serverDryRun(), change.diff(),
                    change.forceConflicts, System.nanoTime() + limit.toNanos(), timeout);
            try (KubernetesClient client = cluster.connect(env)) {
                return DbRestore.run(client, env, r, Cli.out(), Cli::info);
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
