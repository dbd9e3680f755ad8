// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES ExitCode.java
//SOURCES GfwException.java

import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * The one way gfw reads a secret the user hands it (the Rancher and GitLab tokens, and every later
 * one): {@code --FLAG FILE}, {@code --FLAG -} (stdin; at a terminal a prompt without echo), else an
 * environment variable — never a command-line value. A token file others can read gets one warning
 * line (only a regular file: {@code chmod 600 /dev/null} would be no advice); a file that cannot be
 * read says why (missing, a directory, permission denied), one that is not UTF-8 says so. The secret
 * is never part of a message.
 *
 * <p>Also the readable-by-others check for any file holding credentials ({@link #warnIfReadableByOthers}),
 * used for kubeconfigs too.
 */
final class SecretInput {

    /**
     * What to read and how to talk about it: {@code flag} e.g. "--token-file"; {@code variable} e.g.
     * "RANCHER_TOKEN"; {@code what} e.g. "the Rancher API token"; {@code example} its shape, e.g.
     * "token-xxxxx:yyyy"; {@code missing} the whole message when neither is given.
     */
    record Spec(String flag, String variable, String what, String example, String missing) {}

    /** A secret read, and where from ("--token-file /path", "--token-file - (stdin)", "RANCHER_TOKEN"). */
    record Secret(String value, String from) {
        @Override
        public String toString() {
            return "Secret[from=" + from + ", value=****]";
        }
    }

    /** Where warnings go; looked up each time so that in-process tests capture them. */
    private static void warn(String message) {
        System.err.println("warning: " + message);
    }

    /**
     * Reads the secret: {@code file} (the flag's value; {@code -} is stdin) if given, else the variable.
     * One line per problem, never the secret: missing or empty ({@link ExitCode#NO_INPUT}), a file that
     * cannot be read or is not UTF-8 ({@link ExitCode#NO_INPUT}), more than one line or spaces
     * ({@link ExitCode#USAGE}).
     */
    static Secret read(Spec spec, String file) {
        String text;
        String from;
        if (file != null) {
            if ("-".equals(file)) {
                from = spec.flag() + " - (stdin)";
                Console console = interactiveConsole();
                if (console != null) {
                    char[] typed = console.readPassword("%s (not echoed): ", capitalised(spec.what()));
                    text = typed == null ? "" : new String(typed);
                } else {
                    text = utf8(readStdin(from), from);
                }
            } else {
                Path p = Path.of(file);
                from = spec.flag() + " " + file;
                text = readFile(p, from, spec.what());
                warnIfReadableByOthers(p, "token file " + p);
            }
        } else {
            from = spec.variable();
            text = System.getenv(spec.variable());
            if (text == null || text.isBlank()) throw new GfwException(ExitCode.NO_INPUT, spec.missing());
        }
        String value = text.strip();
        if (value.isEmpty()) throw new GfwException(ExitCode.NO_INPUT, from + " is empty: it must hold " + spec.what());
        // A second line or a space cannot be sent as a header, and usually means the wrong file.
        if (value.chars().anyMatch(ch -> ch <= ' ' || ch == 127)) {
            throw new GfwException(ExitCode.USAGE, from + " holds more than one line or spaces: it must be just "
                    + spec.what() + " (" + spec.example() + ")");
        }
        return new Secret(value, from);
    }

    /**
     * A small text file holding a secret, as UTF-8; a failure names the file and the reason, never
     * the content. {@code what} says what it should hold.
     */
    static String readFile(Path p, String from, String what) {
        byte[] bytes;
        try {
            if (Files.isDirectory(p)) throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read it (it is a directory); it must be a file holding " + what);
            try (InputStream in = Files.newInputStream(p)) {
                bytes = in.readNBytes(1024 * 1024 + 1);
            }
        } catch (NoSuchFileException e) {
            throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read it (it does not exist); put " + what + " in a file only you can read", e);
        } catch (AccessDeniedException e) {
            throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read it (permission denied); put " + what + " in a file you can read and others cannot", e);
        } catch (IOException e) {
            throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read it (" + reason(e) + ")", e);
        }
        if (bytes.length > 1024 * 1024) throw new GfwException(ExitCode.NO_INPUT, from + " is larger than 1 MiB: it must hold only " + what);
        return utf8(bytes, from);
    }

    /** Bytes as UTF-8; anything else is said as such (Java's own message would be "Input length = 3"). */
    static String utf8(byte[] bytes, String from) {
        try {
            return strictUtf8(bytes);
        } catch (CharacterCodingException e) {
            throw new GfwException(ExitCode.NO_INPUT, from + " " + NOT_UTF8);
        }
    }

    static final String NOT_UTF8 = "is not UTF-8 text (a binary file, or another encoding); save it as UTF-8";

    /** UTF-8 that refuses malformed input instead of replacing it. */
    static String strictUtf8(byte[] bytes) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    }

    private static byte[] readStdin(String from) {
        try {
            byte[] bytes = System.in.readNBytes(1024 * 1024 + 1);
            if (bytes.length > 1024 * 1024) throw new GfwException(ExitCode.NO_INPUT, from + ": more than 1 MiB on stdin; pipe in only the token");
            return bytes;
        } catch (IOException e) {
            throw new GfwException(ExitCode.NO_INPUT, from + ": cannot read stdin (" + reason(e) + ")", e);
        }
    }

    /**
     * One warning line when a regular file holding credentials can be read by its group or by others
     * (Helm's and ssh's habit); no advice for devices and pipes, whose mode is not the user's to set.
     * Returns whether it warned.
     */
    static boolean warnIfReadableByOthers(Path p, String what) {
        try {
            if (!Files.isRegularFile(p)) return false;
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            boolean group = perms.contains(PosixFilePermission.GROUP_READ);
            boolean others = perms.contains(PosixFilePermission.OTHERS_READ);
            if (!group && !others) return false;
            warn(what + " is readable by " + (others ? "others" : "its group") + "; chmod 600 " + p);
            return true;
        } catch (IOException | UnsupportedOperationException ignored) {
            return false; // not a POSIX file system: nothing to check
        }
    }

    /** The terminal, when stdin is one (Java 22+ returns a Console for pipes too: ask it). */
    static Console interactiveConsole() {
        Console c = System.console();
        if (c == null) return null;
        try {
            return Boolean.TRUE.equals(Console.class.getMethod("isTerminal").invoke(c)) ? c : null;
        } catch (ReflectiveOperationException e) {
            return c; // Java 17-21: a Console exists only for a terminal
        }
    }

    /** The reason of an I/O failure in words, for "cannot read it (...)". */
    static String reason(IOException e) {
        if (e instanceof NoSuchFileException) return "it does not exist";
        if (e instanceof AccessDeniedException) return "permission denied";
        String m = e.getMessage();
        if (m == null || m.isBlank()) return e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static String capitalised(String s) {
        String t = s.startsWith("the ") ? s.substring(4) : s;
        return t.isEmpty() ? t : Character.toUpperCase(t.charAt(0)) + t.substring(1);
    }

    private SecretInput() {}
}
