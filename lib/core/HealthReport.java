// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//SOURCES ExitCode.java
//SOURCES Output.java

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code gfw health} reports: one row per check (component, check, ok | warn | fail | unknown,
 * detail, and what was read to decide it), the exit code the rows add up to, and the table, wide
 * table, JSON and YAML forms. A row is {@code unknown} when its source could not be read: health
 * never reports what it did not read.
 */
final class HealthReport {

    enum Status { ok, warn, fail, unknown }

    /** The components in the order they are checked and printed ({@code --only} takes these names). */
    static final List<String> COMPONENTS = List.of("namespaces", "database", "cache", "runners", "dashboard");

    /** One check. {@code source}: what was read ("deployments -n attic-cache-dev"), shown with -o wide. */
    record Row(String component, String check, Status status, String detail, String source) {}

    static Row ok(String component, String check, String detail, String source) {
        return new Row(component, check, Status.ok, detail, source);
    }

    static Row warn(String component, String check, String detail, String source) {
        return new Row(component, check, Status.warn, detail, source);
    }

    static Row fail(String component, String check, String detail, String source) {
        return new Row(component, check, Status.fail, detail, source);
    }

    static Row unknown(String component, String check, String reason, String source) {
        return new Row(component, check, Status.unknown, reason, source);
    }

    /**
     * 0 when every check was read and is ok; {@link ExitCode#CHECK_FAILED} when any failed;
     * otherwise {@link ExitCode#DEGRADED} (warnings, or checks that could not be read).
     */
    static int exitCode(List<Row> rows) {
        if (rows.stream().anyMatch(r -> r.status() == Status.fail)) return ExitCode.CHECK_FAILED;
        if (rows.stream().anyMatch(r -> r.status() != Status.ok)) return ExitCode.DEGRADED;
        return ExitCode.OK;
    }

    /** healthy, degraded or failing: what {@link #exitCode} says, in words. */
    static String overall(List<Row> rows) {
        int code = exitCode(rows);
        return code == ExitCode.OK ? "healthy" : code == ExitCode.DEGRADED ? "degraded" : "failing";
    }

    /** "12 ok, 1 warn, 2 fail, 0 unknown". */
    static String counts(List<Row> rows) {
        var parts = new ArrayList<String>();
        for (Status s : Status.values()) parts.add(rows.stream().filter(r -> r.status() == s).count() + " " + s);
        return String.join(", ", parts);
    }

    /** The rows that are not ok, as "component/check: status" (for progress lines and summaries). */
    static List<String> notOk(List<Row> rows) {
        return rows.stream().filter(r -> r.status() != Status.ok).map(r -> r.component() + " " + r.check() + ": " + r.status()).toList();
    }

    static String table(List<Row> rows, boolean wide) {
        var out = new ArrayList<List<String>>();
        for (Row r : rows) {
            var line = new ArrayList<>(List.of(r.component(), r.check(), r.status().name(), r.detail()));
            if (wide) line.add(r.source());
            out.add(line);
        }
        List<String> headers = wide ? List.of("component", "check", "status", "detail", "source")
                : List.of("component", "check", "status", "detail");
        return Output.table(headers, out);
    }

    /** The JSON/YAML document: environment, overall status, exit code, counts and every check. */
    static Map<String, Object> document(String environment, List<Row> rows) {
        var doc = new LinkedHashMap<String, Object>();
        doc.put("environment", environment);
        doc.put("status", overall(rows));
        doc.put("exitCode", exitCode(rows));
        var counts = new LinkedHashMap<String, Long>();
        for (Status s : Status.values()) counts.put(s.name(), rows.stream().filter(r -> r.status() == s).count());
        doc.put("counts", counts);
        var checks = new ArrayList<Map<String, Object>>();
        for (Row r : rows) {
            var m = new LinkedHashMap<String, Object>();
            m.put("component", r.component());
            m.put("check", r.check());
            m.put("status", r.status().name());
            m.put("detail", r.detail());
            m.put("source", r.source());
            checks.add(m);
        }
        doc.put("checks", checks);
        return doc;
    }

    private HealthReport() {}
}
