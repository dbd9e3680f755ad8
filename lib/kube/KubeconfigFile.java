// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.21.4
//SOURCES ../core/ExitCode.java
//SOURCES ../core/GfwException.java
//SOURCES ../core/SecretInput.java

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A kubeconfig file edited as plain YAML maps, so that every field survives (certificate data, exec
 * plugins, extensions), and written the safe way: a temporary file in the same directory, mode 0600
 * before any content goes in, then an atomic rename over the old file — which stays untouched when
 * anything fails before {@link Pending#commit()}.
 */
final class KubeconfigFile {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .disable(YAMLGenerator.Feature.SPLIT_LINES));

    static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rw-------");

    private final Map<String, Object> root;

    private KubeconfigFile(Map<String, Object> root) {
        this.root = root;
    }

    /**
     * Parses kubeconfig YAML; throws {@link IllegalArgumentException} saying why it is not a usable
     * kubeconfig (not YAML, no clusters/contexts/users, a context naming a missing cluster, no server).
     */
    static KubeconfigFile parse(String yaml) {
        Map<String, Object> root;
        try {
            root = YAML.readValue(yaml, new TypeReference<LinkedHashMap<String, Object>>() {});
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not YAML (" + GfwException.firstLine(e.getOriginalMessage()) + ")");
        }
        if (root == null) throw new IllegalArgumentException("empty");
        var k = new KubeconfigFile(root);
        Object kind = root.get("kind");
        if (kind != null && !"Config".equals(kind)) throw new IllegalArgumentException("kind is " + kind + ", not Config");
        if (k.entries("clusters").isEmpty()) throw new IllegalArgumentException("no clusters");
        if (k.entries("contexts").isEmpty()) throw new IllegalArgumentException("no contexts");
        for (String ctx : k.contextNames()) {
            String cluster = k.contextField(ctx, "cluster");
            if (cluster == null || k.entry("clusters", cluster) == null) {
                throw new IllegalArgumentException("context " + ctx + " names cluster " + cluster + ", which is not in the file");
            }
            if (k.server(ctx) == null) throw new IllegalArgumentException("cluster " + cluster + " has no server");
        }
        return k;
    }

    static KubeconfigFile read(Path file) throws IOException {
        try {
            return parse(SecretInput.strictUtf8(Files.readAllBytes(file)));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("it " + SecretInput.NOT_UTF8);
        }
    }

    String toYaml() {
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    String currentContext() {
        Object c = root.get("current-context");
        return c == null || c.toString().isEmpty() ? null : c.toString();
    }

    void setCurrentContext(String name) {
        root.put("current-context", name);
    }

    List<String> contextNames() {
        var names = new ArrayList<String>();
        for (Map<String, Object> e : entries("contexts")) names.add(String.valueOf(e.get("name")));
        return names;
    }

    boolean hasContext(String name) {
        return entry("contexts", name) != null;
    }

    /** The API server URL of a context's cluster, or null. */
    String server(String context) {
        Map<String, Object> cluster = body(entry("clusters", contextField(context, "cluster")), "cluster");
        Object s = cluster == null ? null : cluster.get("server");
        return s == null ? null : s.toString();
    }

    /** The {@code user} body of a context's user entry ({@code token}, {@code exec}, ...), or null. */
    private Map<String, Object> user(String context) {
        return body(entry("users", contextField(context, "user")), "user");
    }

    /** The bearer token a context's user holds, or null (client certificates, exec plugins, none). */
    String userToken(String context) {
        Map<String, Object> u = user(context);
        Object t = u == null ? null : u.get("token");
        return t == null || t.toString().isBlank() ? null : t.toString();
    }

    /** The command of a context's user's exec credential plugin ({@code users[].user.exec.command}), or null. */
    String execCommand(String context) {
        Map<String, Object> u = user(context);
        Map<String, Object> exec = u == null ? null : body(u, "exec");
        Object c = exec == null ? null : exec.get("command");
        return c == null || c.toString().isBlank() ? null : c.toString();
    }

    /** The arguments of that exec plugin, or an empty list. */
    List<String> execArgs(String context) {
        Map<String, Object> u = user(context);
        Map<String, Object> exec = u == null ? null : body(u, "exec");
        Object a = exec == null ? null : exec.get("args");
        var out = new ArrayList<String>();
        if (a instanceof List<?> l) for (Object o : l) out.add(String.valueOf(o));
        return out;
    }

    String contextField(String context, String field) {
        Map<String, Object> ctx = body(entry("contexts", context), "context");
        Object v = ctx == null ? null : ctx.get(field);
        return v == null ? null : v.toString();
    }

    /**
     * Renames context {@code from} to {@code to}; its cluster and user entries too when they carry the
     * context's old name (Rancher names all three after the cluster), keeping every reference intact.
     * Another context already called {@code to} is replaced.
     */
    void renameContext(String from, String to) {
        if (from.equals(to)) return;
        entries("contexts").removeIf(e -> to.equals(e.get("name")));
        Map<String, Object> ctx = entry("contexts", from);
        ctx.put("name", to);
        for (String kind : List.of("cluster", "user")) {
            String list = kind + "s";
            String old = contextField(to, kind);
            if (from.equals(old) && entry(list, to) == null && entry(list, old) != null) {
                entry(list, old).put("name", to);
                for (Map<String, Object> c : entries("contexts")) {
                    Map<String, Object> b = body(c, "context");
                    if (b != null && old.equals(b.get(kind))) b.put(kind, to);
                }
            }
        }
        if (from.equals(currentContext())) setCurrentContext(to);
    }

    /** Sets {@code proxy-url} on every cluster entry (kubectl accepts http, https and socks5). */
    void setProxyUrl(String proxyUrl) {
        for (Map<String, Object> e : entries("clusters")) {
            Map<String, Object> b = body(e, "cluster");
            if (b != null) b.put("proxy-url", proxyUrl);
        }
    }

    @SuppressWarnings("unchecked")
    private List<Map<String, Object>> entries(String list) {
        Object v = root.get(list);
        if (!(v instanceof List<?> l)) return new ArrayList<>();
        var out = (List<Map<String, Object>>) (List<?>) l;
        out.removeIf(e -> !(e instanceof Map));
        return out;
    }

    private Map<String, Object> entry(String list, String name) {
        if (name == null) return null;
        for (Map<String, Object> e : entries(list)) if (name.equals(String.valueOf(e.get("name")))) return e;
        return null;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> body(Map<String, Object> entry, String key) {
        if (entry == null) return null;
        Object b = entry.get(key);
        return b instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
    }


    // ---- writing --------------------------------------------------------------------------------

    /**
     * Content written to a temporary file next to {@code target}, waiting for {@link #commit()}
     * (atomic rename over the target) or {@link #close()} (removes it, the target untouched).
     */
    static final class Pending implements AutoCloseable {
        private final Path target;
        private final Path temp;
        private boolean committed;

        Pending(Path target, Path temp) {
            this.target = target;
            this.temp = temp;
        }

        /** The temporary file, complete, for checks before committing (e.g. to connect with it). */
        Path path() {
            return temp;
        }

        void commit() {
            try {
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
                }
                committed = true;
            } catch (IOException e) {
                throw new GfwException(ExitCode.CANT_WRITE, "cannot write " + target + ": " + reason(e), e);
            }
        }

        @Override
        public void close() {
            if (!committed) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // best effort: a stray .tmp file is harmless, the target is untouched
                }
            }
        }
    }

    /**
     * Writes {@code text} to a new temporary file beside {@code target} with {@code permissions} set
     * at creation (so the content is never readable by others, not even for a moment) and synced to
     * disk. Pass {@link #PRIVATE} for anything holding credentials.
     */
    static Pending writeTemp(Path target, String text, Set<PosixFilePermission> permissions) {
        Path dir = target.toAbsolutePath().getParent();
        Path temp = null;
        try {
            Files.createDirectories(dir);
            String prefix = target.getFileName() + ".";  // kubeconfig-dev.123.tmp: gitignored like the file itself
            try {
                temp = Files.createTempFile(dir, prefix, ".tmp", PosixFilePermissions.asFileAttribute(permissions));
            } catch (UnsupportedOperationException e) {
                temp = Files.createTempFile(dir, prefix, ".tmp"); // not a POSIX file system (Windows)
            }
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                var buf = java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(true);
            }
            return new Pending(target, temp);
        } catch (IOException e) {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // nothing more to do
                }
            }
            throw new GfwException(ExitCode.CANT_WRITE, "cannot write " + target + ": " + reason(e)
                    + "; choose another place with --kubeconfig FILE", e);
        }
    }

    /** The permissions of an existing file, or {@link #PRIVATE} when unknown. */
    static Set<PosixFilePermission> permissionsOf(Path file) {
        try {
            return Files.getPosixFilePermissions(file);
        } catch (IOException | UnsupportedOperationException e) {
            return PRIVATE;
        }
    }

    private static String reason(IOException e) {
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
