// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/Output.java
//SOURCES EnvChecks.java
//SOURCES CacheConfig.java
//SOURCES DashboardConfig.java
//SOURCES KubeRules.java

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * An environment file ({@code environments/<env>.yaml}) loaded and validated. The schema is
 * documented in {@code environments/README.md}. Every error names file, line, column and field
 * path, e.g. {@code environments/dev.yaml:12:5 runners[1].concurrent: must be a positive integer}.
 * Strings may use the placeholders {@code {org}} and {@code {environment}}.
 */
final class EnvConfig {

    record Env(String name, String file, String status, boolean production, Organization organization,
               Cluster cluster, Namespaces namespaces, Dashboard dashboard, Cnpg cnpg, Attic attic,
               RunnerChart runnerChart, List<Runner> runners, CacheConfig.Cache cache, Smoke smoke) {
        boolean planned() { return "planned".equals(status); }
        /** The Attic cache URL the runners' jobs use (the seed: ATTIC_SERVER points into the Attic namespace). */
        String atticServerUrl() {
            return "http://" + attic.service() + "." + namespaces.attic().name() + ".svc.cluster.local"
                    + (attic.port() == 80 ? "" : ":" + attic.port());
        }
        /** The three namespaces of the layout, then the extra ones. */
        List<NamespaceSpec> allNamespaces() {
            var all = new ArrayList<NamespaceSpec>(List.of(namespaces.attic(), namespaces.runners(), namespaces.dashboard()));
            all.addAll(namespaces.extra());
            return List.copyOf(all);
        }
    }
    record Organization(String name, String fullName, String gitlabUrl, String group) {}
    record Cluster(String name, String context, String ciAgentContext, Rancher rancher, String proxy, String jumphost) {}
    record Rancher(String url, String cluster) {}
    /** {@code extra}: further namespaces with the same guards (quota, limits, default-deny, service accounts). */
    record Namespaces(NamespaceSpec attic, NamespaceSpec runners, NamespaceSpec dashboard, List<NamespaceSpec> extra) {
        Namespaces(NamespaceSpec attic, NamespaceSpec runners, NamespaceSpec dashboard) {
            this(attic, runners, dashboard, List.of());
        }
    }
    /** One namespace of the layout; {@code component} is its role: attic, runners or dashboard. */
    record NamespaceSpec(String component, String name, PodSecurity podSecurity, Map<String, String> quota,
                         Limits limits, List<String> serviceAccounts) {}
    record PodSecurity(String enforce, String warn, String audit) {}
    record Limits(Map<String, String> defaultRequest, Map<String, String> defaultLimit, Map<String, String> max) {}
    /** {@code app}: what deploy-dashboard runs (lib/env/DashboardConfig), null when the section names no image. */
    record Dashboard(int port, String ingressNamespace, DashboardConfig.App app) {}
    record Cnpg(String cluster, int instances, String storage, String database, String owner, String sslmode,
                String appSecret, String operatorNamespace) {}
    /** {@code ciTokenValidity}: how long the CI jobs' cache token lasts (attic-token --ci; lib/cache/CiCacheToken). */
    record Attic(String service, int port, int targetPort, String secret, String cache, String ciTokenValidity) {}
    record RunnerChart(String name, String repository, String version, Resources manager) {}
    record Resources(Map<String, String> requests, Map<String, String> limits) {}
    record Autoscaling(int minReplicas, int maxReplicas, int cpuPercent, int memoryPercent) {}
    /**
     * {@code runUntagged}, {@code locked}, {@code accessLevel}, {@code maximumTimeout} (seconds, null: none) live on
     * GitLab's runner, like {@code tags}: deploy-runners reconciles them there (lib/runners/RunnerSettings).
     */
    record Runner(String type, String image, List<String> tags, int concurrent, boolean privileged,
                  Resources job, Autoscaling autoscaling, int pollTimeout, Map<String, String> env,
                  boolean runUntagged, boolean locked, String accessLevel, Integer maximumTimeout) {}
    /** {@code runners ENV smoke}: the GitLab project (path or id) whose pipeline runs the smoke job, at {@code ref}. */
    record Smoke(String project, String ref) {}

    /** GitLab's runner access levels (app/models/ci/runner.rb {@code enum access_level}). */
    static final List<String> ACCESS_LEVELS = List.of("not_protected", "ref_protected");
    /** GitLab refuses a runner maximum_timeout under 10 minutes (app/models/ci/runner.rb validates maximum_timeout >= 600). */
    static final int MIN_MAXIMUM_TIMEOUT = 600;

    static final List<String> STATUSES = List.of("active", "planned");
    static final List<String> POD_SECURITY_LEVELS = List.of("privileged", "baseline", "restricted");
    static final List<String> SSL_MODES = List.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    /** Thrown with every problem found in a file, one per line. */
    static final class ConfigException extends GfwException {
        final List<String> problems;
        ConfigException(List<String> problems) {
            super(ExitCode.CONFIG, String.join("\n", EnvChecks.capped(problems)));
            this.problems = List.copyOf(problems);
        }
    }

    // ---- finding environment files ----------------------------------------------------------

    /**
     * Where environment files are looked for, first match wins: {@code --env-dir} / {@code GFW_ENVIRONMENTS},
     * {@code environments/} in the current directory or a parent, then {@code ../environments/} next to
     * the script itself.
     */
    static List<String> searchPath(String envDirOption) {
        var dirs = new ArrayList<String>();
        if (envDirOption != null) {
            dirs.add(envDirOption);
            return dirs;
        }
        String fromEnv = System.getenv("GFW_ENVIRONMENTS");
        if (fromEnv != null && !fromEnv.isBlank()) {
            dirs.add(fromEnv);
            return dirs;
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("environments"))) {
                dirs.add(relative(p.resolve("environments")));
                break;
            }
        }
        // The script's file (./jbang exports GFW_SCRIPT; JBang itself passes none): scripts/x.java -> environments/ beside scripts/.
        String source = System.getProperty("jbang.source", System.getenv("GFW_SCRIPT"));
        if (source != null) {
            Path scriptDir = Path.of(source).toAbsolutePath().getParent();
            Path envs = scriptDir == null || scriptDir.getParent() == null ? null : scriptDir.getParent().resolve("environments");
            if (envs != null && Files.isDirectory(envs) && !dirs.contains(relative(envs))) dirs.add(relative(envs));
        }
        return dirs;
    }

    /** Loads {@code name} (an environment name, or a path to a .yaml file). */
    static Env load(String name, String envDirOption) {
        if (name.endsWith(".yaml") || name.endsWith(".yml") || name.contains("/")) {
            Path file = Path.of(name);
            if (!Files.isRegularFile(file)) {
                throw new GfwException(ExitCode.CONFIG, "environment file " + Output.quote(name) + " not found");
            }
            return parse(relative(file), read(file), null);
        }
        String nameProblem = EnvChecks.dnsLabelProblem(name);
        if (nameProblem != null) {
            throw new GfwException(ExitCode.CONFIG, "environment name " + nameProblem.replace(" is not a valid DNS-1123 label", " is not valid")
                    + "; an environment name is a DNS label: lower-case letters, digits and '-' (e.g. dev)");
        }
        List<String> dirs = searchPath(envDirOption);
        for (String dir : dirs) {
            String text = readIfExists(dir, name + ".yaml");
            if (text != null) return parse(join(dir, name + ".yaml"), text, name);
        }
        Set<String> known = new TreeSet<>();
        for (String dir : dirs) known.addAll(listEnvironments(dir));
        throw new GfwException(ExitCode.CONFIG, "unknown environment " + Output.quote(name) + ": no " + name + ".yaml in "
                + (dirs.isEmpty() ? "any environments/ directory" : String.join(", ", dirs))
                + (known.isEmpty() ? "" : " (known: " + String.join(", ", known) + ")")
                + "; run from the gfw repository or set --env-dir / GFW_ENVIRONMENTS");
    }

    /** Names of the environments in the first directory of the search path that has any. */
    static List<String> available(String envDirOption) {
        for (String dir : searchPath(envDirOption)) {
            var names = listEnvironments(dir);
            if (!names.isEmpty()) return names;
        }
        return List.of();
    }

    private static List<String> listEnvironments(String dir) {
        if (dir.contains("://")) return List.of();
        try (var files = Files.list(Path.of(dir))) {
            return files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".yaml"))
                    .map(f -> f.substring(0, f.length() - 5)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String join(String dir, String file) {
        return dir.endsWith("/") ? dir + file : dir + "/" + file;
    }

    private static String readIfExists(String dir, String file) {
        if (dir.contains("://")) {
            try (InputStream in = URI.create(join(dir, file)).toURL().openStream()) {
                return text(join(dir, file), in.readNBytes(MAX_FILE_BYTES + 1));
            } catch (java.io.FileNotFoundException e) {
                return null;
            } catch (IOException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cannot read " + join(dir, file) + ": " + e.getMessage());
            }
        }
        Path p = Path.of(dir, file);
        return Files.isRegularFile(p) ? read(p) : null;
    }

    /** An environment file is at most 1 MiB, as Kubernetes' own limit for a ConfigMap; gfw's are a few KiB. */
    static final int MAX_FILE_BYTES = 1 << 20;

    private static String read(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            return text(relative(p), in.readNBytes(MAX_FILE_BYTES + 1));
        } catch (IOException e) {
            throw new GfwException(ExitCode.CONFIG, "cannot read environment file " + relative(p) + ": "
                    + (e instanceof java.nio.file.AccessDeniedException ? "permission denied" : Output.clip(String.valueOf(e.getMessage()))));
        }
    }

    /** The file's text: refused over {@link #MAX_FILE_BYTES} or when not UTF-8 (without quoting any of it). */
    private static String text(String file, byte[] bytes) {
        if (bytes.length > MAX_FILE_BYTES) {
            throw new ConfigException(List.of(file + " is over 1 MiB: not a gfw environment file (those are a few KiB); refusing to read it"));
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new ConfigException(List.of(file + " is not UTF-8 text: not a gfw environment file"));
        }
    }

    /** The YAML parser's words, which may hold a piece of the file (a duplicate key, a token): quoted parts cut, the whole at 200 characters. */
    private static String parserText(String problem) {
        String s = Output.quoteQuoted(String.valueOf(problem));
        return s.length() <= 200 ? s : s.substring(0, 200) + "…";
    }

    /** A gfw environment file has a mapping at the top with a 'cluster' mapping in it; anything else is some other file. */
    private static boolean looksLikeEnvironment(Node root) {
        if (!(root instanceof MappingNode m)) return false;
        for (NodeTuple t : m.getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals("cluster") && t.getValueNode() instanceof MappingNode) return true;
        }
        return false;
    }

    private static String relative(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path cwd = Path.of("").toAbsolutePath();
        return abs.startsWith(cwd) ? cwd.relativize(abs).toString() : abs.toString();
    }

    // ---- parsing and validation -------------------------------------------------------------

    /** Parses and validates one file's text; {@code file} is only used in messages. */
    static Env parse(String file, String text, String envName) {
        Node root;
        try (Reader r = new StringReader(text)) {
            var options = new LoaderOptions();
            options.setAllowDuplicateKeys(false);
            root = new Yaml(options).compose(r);
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String where = m == null ? file : file + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1);
            throw new ConfigException(List.of(where + " YAML syntax error: " + parserText(e.getProblem())
                    + " (check indentation and quoting)"));
        } catch (IOException | RuntimeException e) {
            throw new ConfigException(List.of(file + " cannot be parsed as YAML: " + parserText(GfwException.firstLine(String.valueOf(e.getMessage())))));
        }
        if (root == null) throw new ConfigException(List.of(file + " is empty: see environments/README.md for the schema"));
        if (!looksLikeEnvironment(root)) {
            throw new ConfigException(List.of(file + " is not a gfw environment file (it has no 'cluster' mapping at the top level);"
                    + " see environments/README.md for the schema"));
        }
        var v = new Validator(file);
        Env env = v.env(new EnvChecks.Field(root, "", v), envName);
        if (!v.problems.isEmpty()) throw new ConfigException(v.problems);
        return env;
    }

    /** The schema of an environment file (documented in environments/README.md), on the checks every field gets. */
    static final class Validator extends EnvChecks {
        private static final Pattern CHART_VERSION = Pattern.compile("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");

        Validator(String file) {
            super(file);
        }


        Map<String, String> resources(Field parent, String key) {
            return stringMap(parent, key, this::quantity, List.of("cpu", "memory", "ephemeral-storage"));
        }

        Resources resourcesBlock(Field parent, String key) {
            Field f = parent.get(key);
            if (f == null) return new Resources(Map.of(), Map.of());
            if (!f.mapWithKeys("requests", "limits")) return new Resources(Map.of(), Map.of());
            return new Resources(resources(f, "requests"), resources(f, "limits"));
        }


        // ---- the schema ----

        Env env(Field root, String envName) {
            if (!root.mapWithKeys("environment", "status", "production", "organization", "cluster", "namespaces",
                    "dashboard", "cnpg", "attic", "runnerChart", "runners", "cache", "smoke")) {
                return null;
            }
            String name = dnsLabel(root, "environment", null);
            if (name != null && envName != null && !name.equals(envName)) {
                problem(root.get("environment"), "is '" + name + "' but the file is named " + envName
                        + ".yaml; they must match");
            }
            vars.put("environment", name == null ? "" : name);
            String status = oneOf(root, "status", null, STATUSES);
            boolean production = bool(root, "production", false);

            Organization org = null;
            Field o = required(root, "organization");
            if (o != null && o.mapWithKeys("name", "fullName", "gitlabUrl", "group")) {
                String orgName = dnsLabel(o, "name", null);
                vars.put("org", orgName == null ? "" : orgName);
                org = new Organization(orgName, optStr(o, "fullName", orgName), url(o, "gitlabUrl", null, "https", "http"),
                        str(o, "group"));
            }

            Cluster cluster = null;
            Field c = required(root, "cluster");
            if (c != null && c.mapWithKeys("name", "context", "ciAgentContext", "rancher", "proxy", "jumphost")) {
                Rancher rancher = null;
                Field r = required(c, "rancher");
                if (r != null && r.mapWithKeys("url", "cluster")) {
                    rancher = new Rancher(url(r, "url", null, "https", "http"), str(r, "cluster"));
                }
                String agent = matching(c, "ciAgentContext", expand(c, "{org}/projects/kubernetes/gitlab-agents:{environment}"),
                        Pattern.compile("[a-z0-9-]+/[^:]+:[a-z0-9-]+"), "a GitLab agent context like {org}/projects/kubernetes/gitlab-agents:{environment}");
                cluster = new Cluster(dnsLabel(c, "name", null), str(c, "context"), agent, rancher,
                        url(c, "proxy", "", "socks5", "socks5h", "http", "https"), optStr(c, "jumphost", "jumphost"));
            }

            Namespaces namespaces = null;
            Field n = required(root, "namespaces");
            if (n != null && n.mapWithKeys("attic", "runners", "dashboard", "extra")) {
                var extra = new ArrayList<NamespaceSpec>();
                Field ex = n.get("extra");
                if (ex != null && !(ex.node() instanceof SequenceNode)) problem(ex, "must be a list of namespaces (- name: ...)");
                if (ex != null && ex.node() instanceof SequenceNode seq) {
                    for (int i = 0; i < seq.getValue().size(); i++) {
                        NamespaceSpec spec = namespaceAt(new Field(seq.getValue().get(i), ex.path() + "[" + i + "]", this), null);
                        if (spec != null) extra.add(spec);
                    }
                }
                namespaces = new Namespaces(namespace(n, "attic"), namespace(n, "runners"), namespace(n, "dashboard"), List.copyOf(extra));
                var names = new LinkedHashSet<String>();
                var all = new ArrayList<NamespaceSpec>(java.util.Arrays.asList(namespaces.attic(), namespaces.runners(), namespaces.dashboard()));
                all.addAll(extra);
                for (NamespaceSpec ns : all) {
                    if (ns != null && ns.name() != null && !names.add(ns.name())) {
                        problem(n, "namespace name '" + ns.name() + "' is used twice; each component needs its own namespace");
                    }
                }
            }

            Dashboard dashboard = new Dashboard(3000, "ingress-nginx", null);
            Field d = root.get("dashboard");
            if (d != null && d.mapWithKeys("port", "ingressNamespace", "image", "replicas", "resources", "groupId", "oauth", "ingress")) {
                dashboard = new Dashboard(integer(d, "port", 3000, 1, "a port number"), dnsLabel(d, "ingressNamespace", "ingress-nginx"),
                        DashboardConfig.parse(this, d, org == null ? null : org.group())); // deploy-dashboard's part
            }

            Cnpg cnpg = null;
            Field p = required(root, "cnpg");
            if (p != null && p.mapWithKeys("cluster", "instances", "storage", "database", "owner", "sslmode", "appSecret", "operatorNamespace")) {
                String clusterName = dnsLabel(p, "cluster", null);
                Field storage = required(p, "storage");
                cnpg = new Cnpg(clusterName, positive(p, "instances", null), storage == null ? null : quantity(storage),
                        str(p, "database"), str(p, "owner"), oneOf(p, "sslmode", "require", SSL_MODES),
                        dnsSubdomain(p, "appSecret", clusterName + "-app-credentials"), dnsLabel(p, "operatorNamespace", "cnpg-system"));
            }

            Attic attic = null;
            Field a = required(root, "attic");
            if (a != null && a.mapWithKeys("service", "port", "targetPort", "secret", "cache", "ciTokenValidity")) {
                attic = new Attic(dnsLabel(a, "service", "attic"), integer(a, "port", 80, 1, "a port number"),
                        integer(a, "targetPort", 8080, 1, "a port number"), dnsSubdomain(a, "secret", "attic-secrets"),
                        matching(a, "cache", "main", ATTIC_CACHE_NAME, ATTIC_CACHE_NAME_RULE),
                        matching(a, "ciTokenValidity", "90d", java.util.regex.Pattern.compile("[1-9][0-9]{0,3}[dw]"), "a number of days or weeks, e.g. 90d or 12w"));
            }

            RunnerChart chart = null;
            Field ch = required(root, "runnerChart");
            if (ch != null && ch.mapWithKeys("name", "repository", "version", "manager")) {
                chart = new RunnerChart(str(ch, "name"), url(ch, "repository", null, "https", "http", "oci", "file"),
                        matching(ch, "version", null, CHART_VERSION, "a chart version like 0.86.0"),
                        resourcesBlock(ch, "manager"));
            }

            var runners = new ArrayList<Runner>();
            Field rs = required(root, "runners");
            if (rs != null) {
                if (!(rs.node() instanceof SequenceNode seq)) {
                    problem(rs, "must be a list of runner types");
                } else {
                    var types = new LinkedHashSet<String>();
                    for (int i = 0; i < seq.getValue().size(); i++) {
                        Runner runner = runner(new Field(seq.getValue().get(i), "runners[" + i + "]", this));
                        if (runner != null && runner.type() != null && !types.add(runner.type())) {
                            problem(new Field(seq.getValue().get(i), "runners[" + i + "].type", this),
                                    "runner type '" + runner.type() + "' appears twice");
                        }
                        if (runner != null) runners.add(runner);
                    }
                }
            }
            Env env = new Env(name, file, status, production, org, cluster, namespaces, dashboard, cnpg, attic, chart,
                    List.copyOf(runners), CacheConfig.parse(this, root), // cache: deploy-cache's section (lib/env/CacheConfig)
                    smoke(root));
            if (problems.isEmpty()) policies(root, env); // on a file whose every field is well-formed
            return env;
        }

        // ---- what the cluster's admission rules will say (lib/env/KubeRules) ----

        /** Pod Security, the disruption budget, and every namespace's quota against what runs in it. */
        private void policies(Field root, Env env) {
            NamespaceSpec runnerNs = env.namespaces().runners();
            Field rs = root.get("runners");
            for (int i = 0; i < env.runners().size(); i++) {
                Runner r = env.runners().get(i);
                if (r.privileged() && !KubeRules.admitsPrivileged(runnerNs.podSecurity().enforce())) {
                    Field item = new Field(((SequenceNode) rs.node()).getValue().get(i), "runners[" + i + "]", this);
                    problem(item.get("privileged"), "runner " + r.type() + " runs privileged job pods, but namespaces.runners.podSecurity.enforce is '"
                            + runnerNs.podSecurity().enforce() + "': Pod Security admission refuses privileged pods in namespace " + runnerNs.name()
                            + "; set that to privileged, or privileged: false here");
                }
            }
            CacheConfig.Cache cache = env.cache();
            if (cache != null && cache.disruptionBudget() != null) {
                CacheConfig.DisruptionBudget b = cache.disruptionBudget();
                int min = cache.autoscaling().minReplicas();
                if (KubeRules.disruptionsAllowed(b.minAvailable(), b.maxUnavailable(), min) == 0) {
                    Field pdb = root.get("cache").get("disruptionBudget");
                    Field f = pdb.get("minAvailable") != null ? pdb.get("minAvailable") : pdb.get("maxUnavailable");
                    problem(f, "allows no eviction while the autoscaler sits at cache.autoscaling.minReplicas " + min
                            + ": every node drain would hang on the Attic pods; use maxUnavailable: 1, or a minAvailable below minReplicas");
                }
            }
            quota(root, "attic", env.namespaces().attic(), false, atticPods(env, false));
            quota(root, "attic", env.namespaces().attic(), true, atticPods(env, true));
            quota(root, "runners", runnerNs, false, runnerPods(env, false));
            quota(root, "runners", runnerNs, true, runnerPods(env, true));
            quota(root, "dashboard", env.namespaces().dashboard(), false, dashboardPods(env));
        }

        /** Reports each quota key of the namespace that cannot hold {@code pods} (the maximum scale only when the minimum fits). */
        private void quota(Field root, String component, NamespaceSpec ns, boolean max, List<KubeRules.Pods> pods) {
            if (ns.quota().isEmpty() || pods.isEmpty()) return;
            Limits l = ns.limits();
            var shortfalls = KubeRules.shortfalls(ns.quota(), new KubeRules.LimitRange(l.defaultRequest(), l.defaultLimit(), l.max()), pods);
            Field q = root.get("namespaces").get(component).get("quota");
            String scale = max ? "their maximum scale (every autoscaler at maxReplicas)" : "their minimum scale (every autoscaler at minReplicas)";
            for (KubeRules.Shortfall s : shortfalls) {
                problem(q.get(s.key()), s.message(scale) + (s.needed() == null ? "" : " by " + KubeRules.breakdown(pods)
                        + "; raise it, or make less run there (environments/README.md, \"Quotas\")"));
            }
        }

        private static KubeRules.Resources resources(Resources r) {
            return r == null ? KubeRules.Resources.NONE : new KubeRules.Resources(r.requests(), r.limits());
        }

        /**
         * The runner namespace: per runner type, its manager pods (runnerChart.manager) and each manager's
         * {@code concurrent} job pods, each a build container (runners[].job) and a helper container,
         * whose resources gfw does not set (the LimitRange's defaults).
         */
        static List<KubeRules.Pods> runnerPods(Env env, boolean max) {
            var out = new ArrayList<KubeRules.Pods>();
            for (Runner r : env.runners()) {
                int n = max ? r.autoscaling().maxReplicas() : r.autoscaling().minReplicas();
                out.add(KubeRules.Pods.of("manager pods", null, n, resources(env.runnerChart().manager())));
                out.add(KubeRules.Pods.of("job pods", r.type() + " " + n + "x" + r.concurrent(), (long) n * r.concurrent(),
                        resources(r.job()), KubeRules.Resources.NONE));
            }
            return out;
        }

        /**
         * The Attic namespace: the server's replicas plus the one surge pod of a rolling update, one
         * db-migrations pod and the garbage collector (the server's resources), attic-storage, and the
         * PostgreSQL instances with their volumes.
         */
        static List<KubeRules.Pods> atticPods(Env env, boolean max) {
            var out = new ArrayList<KubeRules.Pods>();
            CacheConfig.Cache c = env.cache();
            if (c != null) {
                int n = max ? c.autoscaling().maxReplicas() : c.autoscaling().minReplicas();
                KubeRules.Resources attic = resources(c.resources());
                out.add(KubeRules.Pods.of("Attic pods", n + " replicas + 1 rollout surge", n + 1, attic));
                out.add(KubeRules.Pods.of("Attic pods", "1 db-migrations", 1, attic));
                out.add(KubeRules.Pods.of("Attic pods", "1 attic-gc", 1, attic));
                if (!c.storage().s3()) out.add(new KubeRules.Pods("claims", "attic-storage", 0, List.of(), 1, c.storage().size()));
            }
            KubeRules.Resources db = c == null ? KubeRules.Resources.NONE : resources(c.database().resources());
            int instances = env.cnpg().instances();
            out.add(new KubeRules.Pods("PostgreSQL instance pods", null, instances, List.of(db), 0, null));
            out.add(new KubeRules.Pods("claims", instances + " PostgreSQL volumes", 0, List.of(), instances, env.cnpg().storage()));
            return out;
        }

        /** The dashboard namespace: the replicas plus a rolling update's surge (Deployment default maxSurge 25%, rounded up). */
        static List<KubeRules.Pods> dashboardPods(Env env) {
            DashboardConfig.App app = env.dashboard().app();
            if (app == null) return List.of();
            int surge = (app.replicas() + 3) / 4;
            return List.of(KubeRules.Pods.of("dashboard pods", app.replicas() + " replicas + " + surge + " rollout surge",
                    app.replicas() + surge, resources(app.resources())));
        }

        private NamespaceSpec namespace(Field parent, String component) {
            Field f = required(parent, component);
            return f == null ? null : namespaceAt(f, component);
        }

        /** One namespace block; {@code component} null: an extra namespace, whose optional component field defaults to "extra". */
        private NamespaceSpec namespaceAt(Field f, String component) {
            if (component == null) {
                if (!f.mapWithKeys("name", "component", "podSecurity", "quota", "limits", "serviceAccounts")) return null;
                component = dnsLabel(f, "component", "extra");
            } else if (!f.mapWithKeys("name", "podSecurity", "quota", "limits", "serviceAccounts")) {
                return null;
            }
            PodSecurity pss = new PodSecurity("baseline", "restricted", "restricted");
            Field ps = f.get("podSecurity");
            if (ps != null && ps.mapWithKeys("enforce", "warn", "audit")) {
                pss = new PodSecurity(oneOf(ps, "enforce", "baseline", POD_SECURITY_LEVELS),
                        oneOf(ps, "warn", "restricted", POD_SECURITY_LEVELS), oneOf(ps, "audit", "restricted", POD_SECURITY_LEVELS));
            }
            Map<String, String> quota = stringMap(f, "quota", this::quantity, List.of("requests.cpu", "requests.memory",
                    "limits.cpu", "limits.memory", "pods", "services", "secrets", "configmaps",
                    "persistentvolumeclaims", "requests.storage"));
            Limits limits = new Limits(Map.of(), Map.of(), Map.of());
            Field l = f.get("limits");
            if (l != null && l.mapWithKeys("defaultRequest", "default", "max")) {
                limits = new Limits(resources(l, "defaultRequest"), resources(l, "default"), resources(l, "max"));
            }
            List<String> sas = stringList(f, "serviceAccounts", e -> {
                String s = expand(e, scalar(e));
                String problem = s == null ? null : EnvChecks.dnsSubdomainProblem(s);
                if (problem != null) problem(e, "service account name " + problem);
                return s;
            });
            String nsName = dnsLabel(f, "name", null);
            return new NamespaceSpec(component, nsName, pss, quota, limits, sas);
        }

        private Smoke smoke(Field root) {
            Field f = root.get("smoke");
            if (f == null || !f.mapWithKeys("project", "ref")) return null;
            return new Smoke(str(f, "project"), optStr(f, "ref", "main"));
        }

        private Runner runner(Field f) {
            if (!f.mapWithKeys("type", "image", "tags", "concurrent", "privileged", "job", "autoscaling",
                    "pollTimeout", "env", "runUntagged", "locked", "accessLevel", "maximumTimeout")) {
                return null;
            }
            String type = dnsLabel(f, "type", null);
            List<String> tags = stringList(f, "tags", e -> {
                String s = expand(e, scalar(e));
                if (s != null && !s.matches("[A-Za-z0-9_.-]+")) problem(e, "'" + s + "' is not a valid runner tag");
                return s;
            });
            if (tags.isEmpty()) problem(f, "tags: at least one tag is needed so that jobs can select the runner");
            Autoscaling as = null;
            Field a = required(f, "autoscaling");
            if (a != null && a.mapWithKeys("minReplicas", "maxReplicas", "cpu", "memory")) {
                as = new Autoscaling(positive(a, "minReplicas", null), positive(a, "maxReplicas", null),
                        percent(a, "cpu", 70), percent(a, "memory", 80));
                if (as.minReplicas() > as.maxReplicas()) problem(a.get("maxReplicas"), "must be at least minReplicas (" + as.minReplicas() + ")");
            }
            Map<String, String> env = stringMap(f, "env", e -> expand(e, scalar(e)), List.of());
            for (String k : env.keySet()) {
                if (!k.matches("[A-Za-z_][A-Za-z0-9_]*")) problem(f.get("env"), "'" + k + "' is not a valid environment variable name");
            }
            return new Runner(type, str(f, "image"), tags, positive(f, "concurrent", null), bool(f, "privileged", false),
                    resourcesBlock(f, "job"), as, positive(f, "pollTimeout", 600), env,
                    bool(f, "runUntagged", false), bool(f, "locked", false), oneOf(f, "accessLevel", "not_protected", ACCESS_LEVELS),
                    f.get("maximumTimeout") == null ? null
                            : integer(f, "maximumTimeout", 0, MIN_MAXIMUM_TIMEOUT, "at least " + MIN_MAXIMUM_TIMEOUT + " (seconds; GitLab refuses less than 10 minutes)"));
        }
    }

    private EnvConfig() {}
}
