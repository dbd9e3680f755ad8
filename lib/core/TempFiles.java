// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES ExitCode.java
//SOURCES GfwException.java

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Set;

/**
 * gfw's temporary files (a kubeconfig copy for Helm, which holds the user's token; a chart from a Helm record; the
 * AppCDS training kubeconfig), all in one private directory: {@code $XDG_RUNTIME_DIR/gfw} (the user's own tmpfs) or
 * else {@code <java.io.tmpdir>/gfw-<user>}, mode 0700 and owned by the user (refused otherwise), one folder per run
 * ({@code run-<pid>}) whose files are 0600. The run deletes its folder when it exits; a run killed with SIGKILL (or
 * SIGTERM during the AppCDS recording) cannot, so every start removes the folders of runs no longer alive.
 */
final class TempFiles {

    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    private static volatile Path runDir;

    /** The private directory of all runs (created 0700 if absent). */
    static Path base() {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        Path base = runtime != null && !runtime.isBlank() && Files.isDirectory(Path.of(runtime))
                ? Path.of(runtime, "gfw")
                : Path.of(System.getProperty("java.io.tmpdir"), "gfw-" + System.getProperty("user.name", "user"));
        try {
            if (!Files.exists(base, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(base, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
                } catch (java.nio.file.FileAlreadyExistsException raced) {
                    // another gfw made it at the same moment
                }
            }
            if (Files.isSymbolicLink(base) || !Files.isDirectory(base, LinkOption.NOFOLLOW_LINKS)) {
                throw new GfwException(ExitCode.CANT_WRITE, base + " is not a directory of gfw's own (a link or a file): remove it; gfw keeps its temporary files there");
            }
            try {
                String owner = Files.getOwner(base, LinkOption.NOFOLLOW_LINKS).getName();
                if (!owner.equals(System.getProperty("user.name"))) {
                    throw new GfwException(ExitCode.CANT_WRITE, base + " belongs to " + owner + ", not to you: gfw keeps secrets there; remove it or set XDG_RUNTIME_DIR");
                }
                if (!Files.getPosixFilePermissions(base, LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY_DIR)) {
                    Files.setPosixFilePermissions(base, OWNER_ONLY_DIR);
                }
            } catch (UnsupportedOperationException notPosix) {
                // not a POSIX file system: the platform's own temp directory rules
            }
            return base;
        } catch (IOException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot make gfw's private temporary directory " + base + ": " + e.getMessage(), e);
        }
    }

    /** This run's folder, made on first use and removed when the JVM exits. */
    static synchronized Path runDir() {
        if (runDir != null) return runDir;
        Path base = base();
        cleanStale(base);
        Path dir = base.resolve("run-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(dir);
            try {
                Files.setPosixFilePermissions(dir, OWNER_ONLY_DIR);
            } catch (UnsupportedOperationException notPosix) {
                // as above
            }
        } catch (IOException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot make " + dir + ": " + e.getMessage(), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir), "gfw-temp-files"));
        runDir = dir;
        return dir;
    }

    /** A new file only the user can read, with {@code content}, in this run's folder. */
    static Path file(String prefix, String suffix, byte[] content) {
        try {
            Path f = Files.createTempFile(runDir(), prefix, suffix);
            try {
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                // as above
            }
            Files.write(f, content);
            return f;
        } catch (IOException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot write a temporary file in " + runDir() + ": " + e.getMessage(), e);
        }
    }

    /** A new folder in this run's folder. */
    static Path directory(String prefix) {
        try {
            return Files.createTempDirectory(runDir(), prefix);
        } catch (IOException e) {
            throw new GfwException(ExitCode.CANT_WRITE, "cannot make a temporary folder in " + runDir() + ": " + e.getMessage(), e);
        }
    }

    /** Removes the folders of runs that are no longer alive (killed before they could clean up). Never fails a command. */
    static void cleanStale() {
        try {
            Path base = base();
            cleanStale(base);
        } catch (RuntimeException e) {
            // cleaning is a courtesy: the command goes on
        }
    }

    private static void cleanStale(Path base) {
        try (DirectoryStream<Path> runs = Files.newDirectoryStream(base, "run-*")) {
            for (Path run : runs) {
                long pid;
                try {
                    pid = Long.parseLong(run.getFileName().toString().substring(4));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) deleteTree(run);
            }
        } catch (IOException | RuntimeException e) {
            // as above
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException | RuntimeException e) {
            // the next start tries again
        }
    }

    private TempFiles() {}
}
