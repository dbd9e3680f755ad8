/**
 * An error meant for the user: {@link #getMessage()} is one line saying what is wrong and what
 * to do, {@link #exitCode()} comes from {@link ExitCode}. Scripts throw it; {@code Cli.run}
 * prints it to stderr and exits with its code.
 */
class GfwException extends RuntimeException {
    private final int exitCode;

    GfwException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    GfwException(int exitCode, String message, Throwable cause) {
        super(message, cause);
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
