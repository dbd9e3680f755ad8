///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//CDS
//DEPS info.picocli:picocli:4.7.7
//DEPS io.fabric8:kubernetes-client:7.9.0
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//DEPS commons-codec:commons-codec:1.23.0
//DEPS org.postgresql:postgresql:42.7.14
//SOURCES ../lib/core/ExitCode.java
//SOURCES ../lib/core/GfwException.java
//SOURCES ../lib/env/EnvConfig.java
//SOURCES ../lib/core/Http.java
//SOURCES ../lib/core/Output.java
//SOURCES ../lib/cli/Cli.java
//SOURCES ../lib/cache/AtticTokens.java
//SOURCES ../lib/cache/AtticApi.java
//SOURCES ../lib/cache/CacheObjects.java
//SOURCES ../lib/database/DbAdmin.java
//SOURCES ../lib/cache/CacheAdmin.java
//SOURCES ../lib/cache/CacheGc.java

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Day-2 administration of an environment's Attic cache ({@code attic.cache}) against atticd's own API and
 * database: info, usage, configure. The story is in lib/cache/CacheAdmin.java.
 *
 * <pre>
 *   gfw cache dev info
 *   gfw cache dev usage -o json
 *   gfw cache dev configure --retention 30d --priority 40 --diff
 * </pre>
 */
@Command(name = "cache", mixinStandardHelpOptions = true, sortOptions = false, abbreviateSynopsis = true,
        subcommands = {Cache.Info.class, Cache.Usage.class, Cache.Configure.class, Cache.Gc.class},
        description = "Administer the Attic cache: info, usage, configure, gc.",
        footer = {"", "Examples:",
                "  cache dev info                             # public or private, priority, retention, public key, substituter",
                "  cache dev usage                            # store paths, NARs, chunks, bytes stored, last upload",
                "  cache dev configure --retention 30d --diff # what would change; nothing sent",
                "  cache prod configure --public -y           # anonymous pull",
                "  cache dev gc --wait                        # one garbage collection now, usage before and after"})
class Cache extends Cli.EnvCommand {
    public static void main(String... args) {
        System.exit(Cli.run(new Cache(), args));
    }

    abstract static class Sub extends Cli.EnvSubcommand {
        @Option(names = "--attic-url", paramLabel = "URL", description = "Attic's URL (default: a port-forward to a ready Attic pod).")
        String atticUrl;

        static void print(Map<String, Object> m, Output.Format format) {
            switch (format) {
                case json -> Cli.out().println(Output.json(m));
                case yaml -> Cli.out().print(Output.yaml(m));
                default -> {
                    var rows = new ArrayList<List<String>>();
                    m.forEach((k, v) -> rows.add(List.of(k, v == null ? "" : v instanceof List<?> l ? String.join(", ", l.stream().map(String::valueOf).toList()) : String.valueOf(v))));
                    Cli.out().print(Output.table(List.of("field", "value"), rows));
                }
            }
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The cache's configuration (public or private, priority, retention, upstream keys), its public key and substituter URL.")
    static class Info extends Sub {
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Cli.refusePlanned(env, "read the cache's configuration");
            String ns = env.namespaces().attic().name();
            String cache = env.attic().cache();
            try (KubernetesClient client = cluster.connect(env)) {
                String key = AtticTokens.readSigningKey(client, ns);
                Http.Client http = cluster.http(env, "Attic").bearer(CacheAdmin.token(key, cache, false));
                Map<String, Object> config = AtticApi.through(client, env, ns, atticUrl, (base, via) -> CacheAdmin.config(http, base, via, cache));
                print(CacheAdmin.info(cache, config), output.format);
                return ExitCode.OK;
            }
        }
    }

    @Command(name = "usage", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Store paths, NARs, chunks, bytes stored after deduplication and compression, the last upload: read-only SQL on Attic's database (the route 'db psql' takes).")
    static class Usage extends Sub {
        @Mixin Cli.OutputOption output;

        @Override
        public Integer call() {
            EnvConfig.Env env = env();
            Cli.refusePlanned(env, "read the cache's usage");
            try (KubernetesClient client = cluster.connect(env)) {
                long timeout = Math.max(1, cluster.requestTimeout().toSeconds());
                Map<String, Object> u = DbAdmin.withPrimary(client, env, false, route -> CacheAdmin.usage(route, env.attic().cache(), timeout));
                if (output.format == Output.Format.json || output.format == Output.Format.yaml) {
                    print(u, output.format);
                } else {
                    var shown = new java.util.LinkedHashMap<String, Object>(u);
                    if (output.format != Output.Format.wide) {
                        for (String k : List.of("narBytes", "chunkBytes", "storedBytes", "serverStoredBytes")) shown.put(k, CacheAdmin.bytes((Long) u.get(k)));
                    }
                    print(shown, output.format);
                }
                return ExitCode.OK;
            }
        }
    }

    @Command(name = "configure", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Change the cache's retention, visibility, priority or upstream keys: only what differs is sent (nothing when nothing does).")
    static class Configure extends Sub {
        @Option(names = "--retention", paramLabel = "D", description = "Retention period: global (the server's default), or e.g. 30d, 12h, 2w; 0d disables time-based garbage collection.")
        String retention;

        @Option(names = "--public", description = "Anonymous clients may pull.")
        boolean makePublic;

        @Option(names = "--private", description = "Only token holders may pull.")
        boolean makePrivate;

        @Option(names = "--priority", paramLabel = "N", description = "Substituter priority (lower wins; cache.nixos.org is 40).")
        Integer priority;

        @Option(names = "--upstream-key", paramLabel = "K", description = "Upstream cache key name (repeatable; the list replaces the cache's), e.g. cache.nixos.org-1.")
        List<String> upstreamKeys;

        @Mixin Cli.WithDiff change;

        @Override
        public Integer call() {
            change.validate();
            if (makePublic && makePrivate) throw new GfwException(ExitCode.USAGE, "--public and --private do not go together");
            Long seconds = retention == null ? null : CacheAdmin.parseRetention(retention);
            var wanted = new CacheAdmin.Change(makePublic ? Boolean.TRUE : makePrivate ? Boolean.FALSE : null, priority, seconds,
                    retention != null && seconds == null ? Boolean.TRUE : null, upstreamKeys);
            if (wanted.empty()) throw new GfwException(ExitCode.USAGE, "nothing to configure: give --retention, --public, --private, --priority or --upstream-key");
            EnvConfig.Env env = env();
            change.confirm(env, "configure cache " + env.attic().cache());
            String ns = env.namespaces().attic().name();
            String cache = env.attic().cache();
            try (KubernetesClient client = cluster.connect(env)) {
                String key = AtticTokens.readSigningKey(client, ns);
                String token = CacheAdmin.token(key, cache, retention != null);
                Http.Client http = cluster.http(env, "Attic").bearer(token);
                return AtticApi.through(client, env, ns, atticUrl, (base, via) -> {
                    Map<String, Object> live = CacheAdmin.config(http, base, via, cache);
                    var diff = new ArrayList<String>();
                    Map<String, Object> body = CacheAdmin.patch(live, wanted, diff);
                    String suffix = change.diff() ? " (--diff: nothing sent)" : change.writes() ? "" : " (dry run: " + change.dryRun + ", nothing sent)";
                    if (body.isEmpty()) {
                        Cli.out().println("cache " + cache + " unchanged");
                        return ExitCode.OK;
                    }
                    if (change.writes()) CacheAdmin.configure(http, token, base, via, cache, body, cluster.requestTimeout());
                    Cli.out().println("cache " + cache + " configured" + suffix);
                    for (String d : diff) (change.writes() ? Cli.err() : Cli.out()).println("  " + d);
                    return ExitCode.OK;
                });
            }
        }
    }

    @Command(name = "gc", mixinStandardHelpOptions = true, sortOptions = false,
            description = "One garbage collection now: a Job running atticd --mode garbage-collector-once in the Attic namespace; usage before and (with --wait) after.")
    static class Gc extends Sub {
        @Mixin Cli.ChangeOptions change;

        @Option(names = "--wait", description = "Wait until the Job completed, with progress (exit 80 when it failed or --timeout ran out: the reason, the pod's exit code or the Job's last warning), then show usage before and after.")
        boolean await;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30m", description = "How long --wait waits (default: ${DEFAULT-VALUE}).")
        String timeout = "30m";

        @Override
        public Integer call() throws InterruptedException {
            change.validate();
            java.time.Duration limit = Cli.duration(timeout, "--timeout");
            EnvConfig.Env env = env();
            if (env.cache() == null) throw new GfwException(ExitCode.CONFIG, env.file() + " has no cache: section: gc runs the image cache.image names");
            String ns = env.namespaces().attic().name();
            String name = "attic-gc-once-" + java.time.format.DateTimeFormatter.ofPattern("yyyyMMddHHmmss").withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.now());
            var job = CacheObjects.gcOnce(env, ns, name);
            if (change.clientDryRun()) {
                Cli.out().print(Output.objects(List.of(job), Output.Format.yaml));
                Cli.info("job.batch/" + name + " created (dry run: client)");
                return ExitCode.OK;
            }
            change.confirm(env, "run Attic's garbage collector in namespace " + ns);
            try (KubernetesClient client = cluster.connect(env)) {
                long seconds = Math.max(1, cluster.requestTimeout().toSeconds());
                Map<String, Object> before = change.serverDryRun() ? null
                        : DbAdmin.withPrimary(client, env, false, route -> CacheAdmin.usage(route, env.attic().cache(), seconds));
                var jobs = client.batch().v1().jobs().inNamespace(ns);
                if (change.serverDryRun()) {
                    jobs.resource(job).dryRun().create();
                    Cli.out().println("job.batch/" + name + " created (dry run: server)");
                    return ExitCode.OK;
                }
                jobs.resource(job).create();
                Cli.out().println("job.batch/" + name + " created (atticd --mode " + CacheObjects.MODE_GC_ONCE + ")");
                if (!await) {
                    printUsage(before, null);
                    return ExitCode.OK;
                }
                CacheGc.await(client, ns, name, System.nanoTime() + limit.toNanos(), timeout, Cli::info);
                Cli.out().println("job.batch/" + name + " completed");
                Map<String, Object> after = DbAdmin.withPrimary(client, env, false, route -> CacheAdmin.usage(route, env.attic().cache(), seconds));
                printUsage(before, after);
                return ExitCode.OK;
            }
        }

        private static void printUsage(Map<String, Object> before, Map<String, Object> after) {
            var rows = new ArrayList<List<String>>();
            for (var e : before.entrySet()) {
                if (e.getKey().equals("cache")) continue;
                Object b = e.getValue();
                Object a = after == null ? null : after.get(e.getKey());
                boolean bytes = e.getKey().endsWith("Bytes");
                rows.add(after == null ? List.of(e.getKey(), show(b, bytes)) : List.of(e.getKey(), show(b, bytes), show(a, bytes)));
            }
            Cli.out().print(Output.table(after == null ? List.of("usage", "before") : List.of("usage", "before", "after"), rows));
        }

        private static String show(Object v, boolean bytes) {
            if (v == null) return "";
            return bytes && v instanceof Long l ? CacheAdmin.bytes(l) : String.valueOf(v);
        }
    }
}
