// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES Output.java

/**
 * An error meant for the user: {@link #getMessage()} is one line saying what is wrong and what
 * to do, {@link #exitCode()} comes from {@link ExitCode}. Scripts throw it; {@code Cli.run}
 * prints it to stderr and exits with its code. A secret gfw sent ({@link Output#secretSent}) is masked in the
 * message, wherever it came from (a server's error body echoing a token).
 */
class GfwException extends RuntimeException {
    private final int exitCode;

    GfwException(int exitCode, String message) {
        super(Output.redact(message));
        this.exitCode = exitCode;
    }

    GfwException(int exitCode, String message, Throwable cause) {
        super(Output.redact(message), cause);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }

    /** The first line of another library's message: gfw's errors are one line. */
    static String firstLine(String message) {
        if (message == null || message.isBlank()) return "no details";
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
