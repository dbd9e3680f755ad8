// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.19.2
//SOURCES ExitCode.java
//SOURCES GfwException.java
//SOURCES CacheConfig.java

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
               RunnerChart runnerChart, List<Runner> runners, CacheConfig.Cache cache) {
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
    record Dashboard(int port, String ingressNamespace) {}
    record Cnpg(String cluster, int instances, String storage, String database, String owner, String sslmode,
                String appSecret, String operatorNamespace) {}
    record Attic(String service, int port, int targetPort, String secret, String cache) {}
    record RunnerChart(String name, String repository, String version, Resources manager) {}
    record Resources(Map<String, String> requests, Map<String, String> limits) {}
    record Autoscaling(int minReplicas, int maxReplicas, int cpuPercent, int memoryPercent) {}
    record Runner(String type, String image, List<String> tags, int concurrent, boolean privileged,
                  Resources job, Autoscaling autoscaling, int pollTimeout, Map<String, String> env) {}

    static final List<String> STATUSES = List.of("active", "planned");
    static final List<String> POD_SECURITY_LEVELS = List.of("privileged", "baseline", "restricted");
    static final List<String> SSL_MODES = List.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    /** Thrown with every problem found in a file, one per line. */
    static final class ConfigException extends GfwException {
        final List<String> problems;
        ConfigException(List<String> problems) {
            super(ExitCode.CONFIG, String.join("\n", problems));
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
        // JBang sets jbang.source to the script's file: scripts/x.java -> environments/ beside scripts/.
        String source = System.getProperty("jbang.source");
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
                throw new GfwException(ExitCode.CONFIG, "environment file " + name + " not found");
            }
            return parse(relative(file), read(file), null);
        }
        if (!name.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?")) {
            throw new GfwException(ExitCode.CONFIG, "environment name '" + name
                    + "' is not valid: use lower-case letters, digits and '-' (e.g. dev)");
        }
        List<String> dirs = searchPath(envDirOption);
        for (String dir : dirs) {
            String text = readIfExists(dir, name + ".yaml");
            if (text != null) return parse(join(dir, name + ".yaml"), text, name);
        }
        Set<String> known = new TreeSet<>();
        for (String dir : dirs) known.addAll(listEnvironments(dir));
        throw new GfwException(ExitCode.CONFIG, "unknown environment '" + name + "': no " + name + ".yaml in "
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
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.FileNotFoundException e) {
                return null;
            } catch (IOException e) {
                throw new GfwException(ExitCode.UNAVAILABLE, "cannot read " + join(dir, file) + ": " + e.getMessage());
            }
        }
        Path p = Path.of(dir, file);
        return Files.isRegularFile(p) ? read(p) : null;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new GfwException(ExitCode.CONFIG, "cannot read environment file " + p + ": " + e.getMessage());
        }
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
            throw new ConfigException(List.of(where + " YAML syntax error: " + e.getProblem()
                    + " (check indentation and quoting)"));
        } catch (IOException | RuntimeException e) {
            throw new ConfigException(List.of(file + " cannot be parsed as YAML: " + e.getMessage()));
        }
        if (root == null) throw new ConfigException(List.of(file + " is empty: see environments/README.md for the schema"));
        var v = new Validator(file, text);
        Env env = v.env(new Field(root, "", v), envName);
        if (!v.problems.isEmpty()) throw new ConfigException(v.problems);
        return env;
    }

    /** A YAML node with its path, so that each accessor can report where a problem is. */
    record Field(Node node, String path, Validator v) {
        String where() {
            Mark m = node.getStartMark();
            return v.file + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1) + " " + (path.isEmpty() ? "(top level)" : path);
        }
        boolean isMap() { return node instanceof MappingNode; }

        /** The child at key, or null; reports keys that the schema does not know. */
        Field get(String key) {
            if (!(node instanceof MappingNode m)) return null;
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                    return new Field(t.getValueNode(), path.isEmpty() ? key : path + "." + key, v);
                }
            }
            return null;
        }

        /** Checks this is a mapping with only the given keys; returns false (reported) if not a mapping. */
        boolean mapWithKeys(String... allowed) {
            if (!(node instanceof MappingNode m)) {
                v.problem(this, "must be a mapping (key: value lines)");
                return false;
            }
            var allowedSet = new LinkedHashSet<>(List.of(allowed));
            var seen = new LinkedHashSet<String>();
            for (NodeTuple t : m.getValue()) {
                String k = t.getKeyNode() instanceof ScalarNode s ? s.getValue() : "?";
                Field kf = new Field(t.getKeyNode(), path.isEmpty() ? k : path + "." + k, v);
                if (!seen.add(k)) v.problem(kf, "duplicate key");
                else if (allowed.length > 0 && !allowedSet.contains(k)) {
                    v.problem(kf, "unknown field; expected one of " + String.join(", ", allowedSet));
                }
            }
            return true;
        }
    }

    static final class Validator {
        private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_]+)\\}");
        private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
        private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
        private static final Pattern QUANTITY = Pattern.compile("[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");
        private static final Pattern CHART_VERSION = Pattern.compile("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");

        final String file;
        final List<String> problems = new ArrayList<>();
        private final Map<String, String> vars = new LinkedHashMap<>();

        Validator(String file, String text) {
            this.file = file;
        }

        private final Set<String> reported = new java.util.HashSet<>();

        /** Reports the first problem of a field only: the rest follow from it. */
        void problem(Field f, String message) {
            if (reported.add(f.path())) problems.add(f.where() + ": " + message);
        }

        private Field required(Field parent, String key) {
            Field f = parent.get(key);
            if (f == null) {
                String path = parent.path().isEmpty() ? key : parent.path() + "." + key;
                Mark m = parent.node().getStartMark();
                problems.add(file + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1) + " " + path + ": is required");
            }
            return f;
        }

        private String scalar(Field f) {
            if (!(f.node() instanceof ScalarNode s)) {
                problem(f, "must be a single value, not a list or mapping");
                return null;
            }
            return s.getValue();
        }

        private String expand(Field f, String raw) {
            if (raw == null) return null;
            Matcher m = PLACEHOLDER.matcher(raw);
            var sb = new StringBuilder();
            while (m.find()) {
                String value = vars.get(m.group(1));
                if (value == null) {
                    problem(f, "unknown placeholder {" + m.group(1) + "}; only {org} and {environment} expand");
                    value = m.group();
                }
                m.appendReplacement(sb, Matcher.quoteReplacement(value));
            }
            m.appendTail(sb);
            return sb.toString();
        }

        String str(Field parent, String key) {
            Field f = required(parent, key);
            if (f == null) return null;
            String s = expand(f, scalar(f));
            if (s != null && s.isBlank()) problem(f, "must not be empty");
            return s;
        }

        String optStr(Field parent, String key, String dflt) {
            Field f = parent.get(key);
            if (f == null || (f.node() instanceof ScalarNode s && s.getTag().getValue().endsWith(":null"))) return dflt;
            return expand(f, scalar(f));
        }

        String matching(Field parent, String key, String dflt, Pattern p, String what) {
            String s = dflt == null ? str(parent, key) : optStr(parent, key, dflt);
            if (s != null && !p.matcher(s).matches()) {
                Field f = parent.get(key);
                if (f != null) problem(f, "'" + s + "' is not " + what);
            }
            return s;
        }

        String dnsLabel(Field parent, String key, String dflt) {
            String s = matching(parent, key, dflt, DNS_LABEL,
                    "a valid DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)");
            if (s != null && s.length() > 63 && parent.get(key) != null) problem(parent.get(key), "must be at most 63 characters");
            return s;
        }

        String dnsSubdomain(Field parent, String key, String dflt) {
            return matching(parent, key, dflt, DNS_SUBDOMAIN,
                    "a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.')");
        }

        String oneOf(Field parent, String key, String dflt, List<String> allowed) {
            String s = dflt == null ? str(parent, key) : optStr(parent, key, dflt);
            if (s != null && !allowed.contains(s)) {
                Field f = parent.get(key);
                if (f != null) problem(f, "'" + s + "' is not allowed; use one of " + String.join(", ", allowed));
            }
            return s;
        }

        String url(Field parent, String key, String dflt, String... schemes) {
            String s = dflt == null ? str(parent, key) : optStr(parent, key, dflt);
            if (s == null || s.isEmpty()) return s;
            try {
                URI u = URI.create(s);
                if (u.getScheme() == null || !List.of(schemes).contains(u.getScheme()) || u.getHost() == null) {
                    problem(parent.get(key), "'" + s + "' is not a " + String.join(" or ", schemes) + " URL with a host");
                }
            } catch (IllegalArgumentException e) {
                problem(parent.get(key), "'" + s + "' is not a valid URL");
            }
            return s;
        }

        int integer(Field parent, String key, Integer dflt, int min, String rule) {
            Field f = dflt == null ? required(parent, key) : parent.get(key);
            if (f == null) return dflt == null ? 0 : dflt;
            String s = scalar(f);
            if (s == null) return 0;
            try {
                int n = Integer.parseInt(s.trim());
                if (n < min) problem(f, "must be " + rule);
                return n;
            } catch (NumberFormatException e) {
                problem(f, "must be " + rule + ", not '" + s + "'");
                return 0;
            }
        }

        int positive(Field parent, String key, Integer dflt) {
            return integer(parent, key, dflt, 1, "a positive integer");
        }

        int percent(Field parent, String key, Integer dflt) {
            int n = integer(parent, key, dflt, 1, "a percentage from 1 to 100");
            Field f = parent.get(key);
            if (n > 100 && f != null) problem(f, "must be a percentage from 1 to 100");
            return n;
        }

        boolean bool(Field parent, String key, boolean dflt) {
            Field f = parent.get(key);
            if (f == null) return dflt;
            String s = scalar(f);
            if ("true".equals(s)) return true;
            if ("false".equals(s)) return false;
            if (s != null) problem(f, "must be true or false, not '" + s + "'");
            return dflt;
        }

        /** A field's single value with placeholders expanded. */
        String value(Field f) {
            return expand(f, scalar(f));
        }

        String quantity(Field f) {
            String s = expand(f, scalar(f));
            if (s != null && !QUANTITY.matcher(s).matches()) {
                problem(f, "'" + s + "' is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 8Gi)");
            }
            return s;
        }

        List<String> stringList(Field parent, String key, Function<Field, String> item) {
            Field f = parent.get(key);
            if (f == null) return List.of();
            if (!(f.node() instanceof SequenceNode seq)) {
                problem(f, "must be a list");
                return List.of();
            }
            var out = new ArrayList<String>();
            for (int i = 0; i < seq.getValue().size(); i++) {
                Field e = new Field(seq.getValue().get(i), f.path() + "[" + i + "]", this);
                String s = item.apply(e);
                if (s != null) out.add(s);
            }
            return List.copyOf(out);
        }

        Map<String, String> stringMap(Field parent, String key, Function<Field, String> value, Set<String> allowedKeys) {
            Field f = parent.get(key);
            if (f == null) return Map.of();
            if (!f.mapWithKeys(allowedKeys.toArray(String[]::new))) return Map.of();
            var out = new LinkedHashMap<String, String>();
            for (NodeTuple t : ((MappingNode) f.node()).getValue()) {
                String k = ((ScalarNode) t.getKeyNode()).getValue();
                String val = value.apply(new Field(t.getValueNode(), f.path() + "." + k, this));
                if (val != null) out.put(k, val);
            }
            return java.util.Collections.unmodifiableMap(out);
        }

        Map<String, String> resources(Field parent, String key) {
            return stringMap(parent, key, this::quantity, Set.of("cpu", "memory", "ephemeral-storage"));
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
                    "dashboard", "cnpg", "attic", "runnerChart", "runners", "cache")) {
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

            Dashboard dashboard = new Dashboard(3000, "ingress-nginx");
            Field d = root.get("dashboard");
            if (d != null && d.mapWithKeys("port", "ingressNamespace")) {
                dashboard = new Dashboard(integer(d, "port", 3000, 1, "a port number"), dnsLabel(d, "ingressNamespace", "ingress-nginx"));
            }

            Cnpg cnpg = null;
            Field p = required(root, "cnpg");
            if (p != null && p.mapWithKeys("cluster", "instances", "storage", "database", "owner", "sslmode", "appSecret", "operatorNamespace")) {
                String clusterName = dnsLabel(p, "cluster", null);
                Field storage = required(p, "storage");
                cnpg = new Cnpg(clusterName, positive(p, "instances", null), storage == null ? null : quantity(storage),
                        str(p, "database"), str(p, "owner"), oneOf(p, "sslmode", "require", SSL_MODES),
                        dnsSubdomain(p, "appSecret", clusterName + "-app"), dnsLabel(p, "operatorNamespace", "cnpg-system"));
            }

            Attic attic = null;
            Field a = required(root, "attic");
            if (a != null && a.mapWithKeys("service", "port", "targetPort", "secret", "cache")) {
                attic = new Attic(dnsLabel(a, "service", "attic"), integer(a, "port", 80, 1, "a port number"),
                        integer(a, "targetPort", 8080, 1, "a port number"), dnsSubdomain(a, "secret", "attic-secrets"),
                        optStr(a, "cache", "main"));
            }

            RunnerChart chart = null;
            Field ch = required(root, "runnerChart");
            if (ch != null && ch.mapWithKeys("name", "repository", "version", "manager")) {
                chart = new RunnerChart(str(ch, "name"), url(ch, "repository", null, "https", "http", "oci", "file"),
                        matching(ch, "version", null, CHART_VERSION, "a chart version like 0.78.0"),
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
            return new Env(name, file, status, production, org, cluster, namespaces, dashboard, cnpg, attic, chart,
                    List.copyOf(runners), CacheConfig.parse(this, root)); // cache: deploy-cache's section (lib/CacheConfig)
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
            Map<String, String> quota = stringMap(f, "quota", this::quantity, Set.of("requests.cpu", "requests.memory",
                    "limits.cpu", "limits.memory", "pods", "services", "secrets", "configmaps",
                    "persistentvolumeclaims", "requests.storage"));
            Limits limits = new Limits(Map.of(), Map.of(), Map.of());
            Field l = f.get("limits");
            if (l != null && l.mapWithKeys("defaultRequest", "default", "max")) {
                limits = new Limits(resources(l, "defaultRequest"), resources(l, "default"), resources(l, "max"));
            }
            List<String> sas = stringList(f, "serviceAccounts", e -> {
                String s = expand(e, scalar(e));
                if (s != null && !DNS_SUBDOMAIN.matcher(s).matches()) problem(e, "'" + s + "' is not a valid service account name");
                return s;
            });
            String nsName = dnsLabel(f, "name", null);
            return new NamespaceSpec(component, nsName, pss, quota, limits, sas);
        }

        private Runner runner(Field f) {
            if (!f.mapWithKeys("type", "image", "tags", "concurrent", "privileged", "job", "autoscaling",
                    "pollTimeout", "env")) {
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
            Map<String, String> env = stringMap(f, "env", e -> expand(e, scalar(e)), Set.of());
            for (String k : env.keySet()) {
                if (!k.matches("[A-Za-z_][A-Za-z0-9_]*")) problem(f.get("env"), "'" + k + "' is not a valid environment variable name");
            }
            return new Runner(type, str(f, "image"), tags, positive(f, "concurrent", null), bool(f, "privileged", false),
                    resourcesBlock(f, "job"), as, positive(f, "pollTimeout", 600), env);
        }
    }

    private EnvConfig() {}
}
