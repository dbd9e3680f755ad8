// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Times as Kubernetes and its operators write them, and durations as gfw prints them for people. */
final class Times {

    private static final Pattern GO_TIME = Pattern.compile("(\\d{4}-\\d\\d-\\d\\d) (\\d\\d:\\d\\d:\\d\\d)(\\.\\d+)? ([+-]\\d{4}).*");

    /** RFC 3339, or Go's time.String() ("2026-03-01 10:00:00 +0000 UTC"), as CloudNativePG writes expirations; null when neither. */
    static Instant parse(String text) {
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (RuntimeException e) {
            Matcher m = GO_TIME.matcher(text.trim());
            if (!m.matches()) return null;
            try {
                return OffsetDateTime.parse(m.group(1) + "T" + m.group(2) + m.group(4), DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssxx")).toInstant();
            } catch (RuntimeException again) {
                return null;
            }
        }
    }

    /** "3 d 4 h", "5 h 2 m", "40 s". */
    static String human(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s >= 86_400) return s / 86_400 + " d " + (s % 86_400) / 3600 + " h";
        if (s >= 3600) return s / 3600 + " h " + (s % 3600) / 60 + " m";
        if (s >= 60) return s / 60 + " m " + s % 60 + " s";
        return s + " s";
    }

    private Times() {}
}
