// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS commons-codec:commons-codec:1.23.0
//SOURCES ../core/Output.java

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.commons.codec.DecoderException;
import org.apache.commons.codec.EncoderException;
import org.apache.commons.codec.net.PercentCodec;

/**
 * PostgreSQL connection strings: building them with user, password and database name
 * percent-encoded per RFC 3986 (so that {@code # : ? @ / % +}, spaces, quotes and non-ASCII all
 * survive libpq, pgjdbc and URL parsers), and reading them back — also the broken, unencoded
 * kind people paste when troubleshooting.
 *
 * <p>Formats: libpq URI {@code postgresql://user:pw@host:port/db?sslmode=...}; JDBC
 * {@code jdbc:postgresql://host:port/db?user=..&password=..} (pgjdbc reads no userinfo, and
 * form-decodes its query, so {@code +} would be a space: RFC 3986 encoding never emits one);
 * pgpass {@code host:port:db:user:password} with {@code \} and {@code :} escaped.
 *
 * <p>Messages from here never contain the string being parsed: it may hold a password.
 */
final class ConnectionStrings {

    /** PostgreSQL's port: what libpq uses when a URL names none, and what CloudNativePG's instances listen on. */
    static final int POSTGRES_PORT = 5432;

    /**
     * The parts of a connection string, decoded. {@code port} is null when the string names none
     * (libpq then uses 5432); {@code host} may be a libpq multi-host list ({@code h1:5432,h2}).
     * {@code params} are the query parameters other than user and password, in order.
     */
    record Parts(String user, String password, String host, Integer port, String dbname, Map<String, String> params) {
        Parts {
            params = params == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
        }

        Parts withHost(String newHost, Integer newPort) {
            return new Parts(user, password, newHost, newPort, dbname, params);
        }

        Parts withParam(String key, String value) {
            var p = new LinkedHashMap<>(params);
            if (value == null) p.remove(key);
            else p.put(key, value);
            return new Parts(user, password, host, port, dbname, p);
        }
    }

    /** RFC 3986 unreserved characters: the only ones left as they are. */
    private static final String UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

    /**
     * commons-codec's {@code new PercentCodec()} only encodes '%' and non-ASCII; given every other
     * ASCII byte outside the unreserved set (and plus-for-space off) it is exactly RFC 3986.
     */
    private static final PercentCodec RFC3986 = new PercentCodec(reservedAscii(), false);

    private static byte[] reservedAscii() {
        var b = new ByteArrayOutputStream();
        for (int c = 0; c < 128; c++) if (UNRESERVED.indexOf(c) < 0) b.write(c);
        return b.toByteArray();
    }

    /** Percent-encodes {@code s} (UTF-8): every byte outside {@code A-Z a-z 0-9 - . _ ~} becomes {@code %XX}. */
    static String encode(String s) {
        try {
            return new String(RFC3986.encode(s.getBytes(StandardCharsets.UTF_8)), StandardCharsets.US_ASCII);
        } catch (EncoderException e) {
            throw new IllegalStateException(e); // PercentCodec does not throw for byte input
        }
    }

    /**
     * Decodes {@code %XX} sequences (UTF-8), strictly: a stray '%', a bad hex digit or bytes that are
     * not UTF-8 throw IllegalArgumentException (whose message does not repeat the input).
     * {@code plusIsSpace}: form decoding, as pgjdbc reads its query parameters.
     */
    static String decode(String s, boolean plusIsSpace) {
        if (!isAscii(s)) throw new IllegalArgumentException("contains characters that are not percent-encoded");
        String in = plusIsSpace ? s.replace("+", "%20") : s;
        byte[] bytes;
        try {
            bytes = RFC3986.decode(in.getBytes(StandardCharsets.US_ASCII));
        } catch (DecoderException e) {
            throw new IllegalArgumentException("has a '%' not followed by two hex digits");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("percent-encodes bytes that are not UTF-8");
        }
    }

    static String decode(String s) {
        return decode(s, false);
    }

    private static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) > 127) return false;
        return true;
    }

    // ---- building ---------------------------------------------------------------------------

    /** {@code postgresql://user:password@host:port/dbname?params}; the password is {@link Output#MASK} unless reveal. */
    static String uri(Parts p, boolean reveal) {
        var sb = new StringBuilder("postgresql://");
        if (p.user() != null) {
            sb.append(encode(p.user()));
            if (p.password() != null) sb.append(':').append(reveal ? encode(p.password()) : Output.MASK);
            sb.append('@');
        }
        sb.append(hostPort(p));
        if (p.dbname() != null) sb.append('/').append(encode(p.dbname()));
        appendQuery(sb, p.params(), reveal);
        return sb.toString();
    }

    /** {@code jdbc:postgresql://host:port/dbname?user=..&password=..&params}, for pgjdbc. */
    static String jdbc(Parts p, boolean reveal) {
        var sb = new StringBuilder("jdbc:postgresql://").append(hostPort(p)).append('/');
        if (p.dbname() != null) sb.append(encode(p.dbname()));
        var params = new LinkedHashMap<String, String>();
        if (p.user() != null) params.put("user", p.user());
        if (p.password() != null) params.put("password", p.password());
        params.putAll(p.params());
        appendQuery(sb, params, reveal);
        return sb.toString();
    }

    /** One line of a ~/.pgpass file. Fields without a value match anything ({@code *}). */
    static String pgpass(Parts p, boolean reveal) {
        String password = p.password() == null ? "" : p.password();
        for (String field : new String[] {p.host(), p.dbname(), p.user(), password}) {
            if (field != null && (field.contains("\n") || field.contains("\r"))) {
                throw new IllegalArgumentException("a pgpass line cannot hold a line break (in the user, password or database name)");
            }
        }
        return pgpassField(p.host()) + ":" + (p.port() == null ? "*" : p.port()) + ":" + pgpassField(p.dbname()) + ":"
                + pgpassField(p.user()) + ":" + (reveal ? pgpassEscape(password) : Output.mask(password, false));
    }

    private static String pgpassField(String s) {
        return s == null ? "*" : pgpassEscape(s);
    }

    private static String pgpassEscape(String s) {
        return s.replace("\\", "\\\\").replace(":", "\\:");
    }

    private static String hostPort(Parts p) {
        String host = p.host() == null ? "" : p.host();
        // An IPv6 literal needs brackets; a multi-host list (with commas) is kept as given.
        if (host.contains(":") && !host.contains(",") && !host.startsWith("[")) host = "[" + host + "]";
        return host + (p.port() == null ? "" : ":" + p.port());
    }

    /** Parameters that hold a secret: the password, and libpq's sslpassword (the client key's passphrase). */
    static boolean isSecretParam(String key) {
        return key.equals("password") || key.equals("sslpassword");
    }

    private static void appendQuery(StringBuilder sb, Map<String, String> params, boolean reveal) {
        char sep = '?';
        for (var e : params.entrySet()) {
            String value = isSecretParam(e.getKey()) && !reveal ? Output.MASK : encode(e.getValue());
            sb.append(sep).append(encode(e.getKey())).append('=').append(value);
            sep = '&';
        }
    }

    // ---- reading ----------------------------------------------------------------------------

    /** How a userinfo part was written in the input. */
    enum Encoding {
        /** Only unreserved characters and %XX: what {@link #encode} writes. */
        canonical,
        /** Legal RFC 3986 userinfo, but with raw sub-delimiters such as '+' or '!' that some drivers read differently. */
        legal,
        /** Not percent-encoded: holds characters that end or split a URI, taken literally. */
        raw
    }

    /**
     * A parsed connection string: its parts, whether it was a JDBC URL, how user and password were
     * encoded, and notes for people (none of which contains a secret).
     */
    record Parsed(Parts parts, boolean jdbc, Encoding userEncoding, Encoding passwordEncoding, List<String> notes) {
        /** True when writing the parts back ({@link #uri}) gives a different string than the input's userinfo. */
        boolean needsCorrection() {
            return userEncoding == Encoding.raw || passwordEncoding == Encoding.raw
                    || userEncoding == Encoding.legal || passwordEncoding == Encoding.legal;
        }
    }

    private static final Pattern SCHEME = Pattern.compile("(?i)(jdbc:)?(postgresql|postgres)://");
    private static final Pattern ENV_ASSIGNMENT = Pattern.compile("(?:export\\s+)?[A-Za-z_][A-Za-z0-9_]*=(.*)", Pattern.DOTALL);
    /** The longest input {@link #parse} reads: a connection string is far shorter; anything longer is not one. */
    static final int MAX_INPUT = 64 * 1024;

    // The grammar below is checked by scanning loops, not regular expressions with nested
    // repetition: Java's regex engine recurses per repetition and overflows on ~2,000 characters.

    private static final String SUB_DELIMS_AND_COLON = "!$&'()*+,;=:";

    /** Only unreserved characters and %XX: {@code ([A-Za-z0-9._~-]|%XX)*}. */
    static boolean canonical(String s) {
        return percentEncodedOver(s, "");
    }

    /** Legal RFC 3986 userinfo: unreserved, sub-delimiters, ':' and %XX. */
    static boolean legalUserinfo(String s) {
        return percentEncodedOver(s, SUB_DELIMS_AND_COLON);
    }

    private static boolean percentEncodedOver(String s, String extra) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) return false;
                i += 2;
            } else if (UNRESERVED.indexOf(c) < 0 && extra.indexOf(c) < 0) {
                return false;
            }
        }
        return true;
    }

    /** libpq's host list: {@code host[:port](,host[:port])*}, a host being {@code [IPv6]} or {@code [A-Za-z0-9._%-]*}. */
    static boolean hostList(String s) {
        int i = 0;
        while (true) {
            if (i < s.length() && s.charAt(i) == '[') {
                int close = i + 1;
                while (close < s.length() && "0123456789abcdefABCDEF:.".indexOf(s.charAt(close)) >= 0) close++;
                if (close == i + 1 || close >= s.length() || s.charAt(close) != ']') return false;
                i = close + 1;
            } else {
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) && s.charAt(i) < 128 || "._%-".indexOf(s.charAt(i)) >= 0)) i++;
            }
            if (i < s.length() && s.charAt(i) == ':') {
                i++;
                while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            }
            if (i == s.length()) return true;
            if (s.charAt(i) != ',') return false;
            i++;
        }
    }

    /** {@code key=value(&key=value)*}, keys {@code [A-Za-z0-9_.%-]+}, values without '&' or '='. */
    static boolean query(String s) {
        int i = 0;
        while (true) {
            int keyStart = i;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) && s.charAt(i) < 128 || "_.%-".indexOf(s.charAt(i)) >= 0)) i++;
            if (i == keyStart || i >= s.length() || s.charAt(i) != '=') return false;
            i++;
            while (i < s.length() && s.charAt(i) != '&' && s.charAt(i) != '=') i++;
            if (i == s.length()) return true;
            if (s.charAt(i) != '&') return false;
            i++;
        }
    }

    /**
     * Parses a libpq URI ({@code postgresql://} or {@code postgres://}) or a pgjdbc URL
     * ({@code jdbc:postgresql://}). Also accepts it as an assignment, e.g. {@code DATABASE_URL='...'}.
     *
     * <p>Strings whose password was not encoded are read by this rule: the userinfo ends at the
     * <em>last</em> '@' that is followed by a valid host (so a password may contain '@', '/', '?',
     * '#'), and the user ends at the <em>first</em> ':' (so a password may contain ':', a user may
     * not). A userinfo that holds characters no encoded string can hold (such as '@', ':' twice,
     * '/', space, non-ASCII, or a '%' not followed by two hex digits) is taken literally; one that
     * is valid percent-encoding is decoded — so an unencoded password that happens to contain
     * "%41" cannot be told from an encoded "A".
     *
     * @throws IllegalArgumentException saying what is wrong, without repeating the input
     */
    static Parsed parse(String text) {
        if (text.length() > MAX_INPUT) {
            throw new IllegalArgumentException("the input is over 64 KiB: not a connection string (those are a few hundred characters)");
        }
        String s = unwrap(text.strip());
        var m = SCHEME.matcher(s);
        if (!m.lookingAt()) {
            throw new IllegalArgumentException("not a PostgreSQL connection URI: it must start with postgresql://, postgres:// "
                    + "or jdbc:postgresql:// (key=value strings are not supported)");
        }
        boolean jdbc = m.group(1) != null;
        String rest = s.substring(m.end());
        if (rest.contains("\n") || rest.contains("\r")) throw new IllegalArgumentException("holds a line break: give one connection string");

        // Strict reading first (RFC 3986: the authority ends at the first / ? #), accepted when it
        // leaves nothing that looks like a misplaced userinfo.
        int authorityEnd = indexOfAny(rest, "/?#", 0);
        String authority = authorityEnd < 0 ? rest : rest.substring(0, authorityEnd);
        String tail = authorityEnd < 0 ? "" : rest.substring(authorityEnd);
        int at = authority.lastIndexOf('@');
        String userinfo = at < 0 ? null : authority.substring(0, at);
        String hostPart = at < 0 ? authority : authority.substring(at + 1);
        boolean strictOk = hostList(hostPart) && tailLooksRight(tail)
                && (userinfo == null || (userinfo.indexOf('@') < 0 && legalUserinfo(userinfo)));
        if (!strictOk) {
            // Lenient: the userinfo ends at the last '@' followed by a valid host. One pass from the
            // right, knowing where the next / ? # is, so that a string of many '@' stays linear.
            userinfo = null;
            int nextDelimiter = rest.length();
            int nextAt = rest.length();
            for (int i = rest.length() - 1; i >= 0; i--) {
                char c = rest.charAt(i);
                if (c == '/' || c == '?' || c == '#') {
                    nextDelimiter = i;
                } else if (c == '@') {
                    // A host holds no '@': only the last '@' before a delimiter can start one.
                    boolean candidateHasAt = nextAt < nextDelimiter;
                    nextAt = i;
                    if (candidateHasAt || nextDelimiter == i + 1) continue;
                    String candidate = rest.substring(i + 1, nextDelimiter);
                    if (hostList(candidate)) {
                        userinfo = rest.substring(0, i);
                        hostPart = candidate;
                        tail = rest.substring(nextDelimiter);
                        break;
                    }
                }
            }
            if (userinfo == null) {
                hostPart = authority;
                if (!hostList(hostPart)) {
                    throw new IllegalArgumentException("cannot find the host: expected host[:port] after '@' (or after :// when there is no user)");
                }
            }
        }

        var notes = new ArrayList<String>();
        String user = null;
        String password = null;
        Encoding userEnc = Encoding.canonical;
        Encoding passEnc = Encoding.canonical;
        if (userinfo != null) {
            int colon = userinfo.indexOf(':');
            String rawUser = colon < 0 ? userinfo : userinfo.substring(0, colon);
            String rawPassword = colon < 0 ? null : userinfo.substring(colon + 1);
            userEnc = classify(rawUser, false);
            user = userEnc == Encoding.raw ? rawUser : decode(rawUser);
            if (rawPassword != null) {
                passEnc = classify(rawPassword, true);
                password = passEnc == Encoding.raw ? rawPassword : decode(rawPassword);
            }
        }
        if (jdbc && userinfo != null) {
            notes.add("pgjdbc does not read user:password@ in a JDBC URL (it takes them for the host name): pass user= and password= as parameters");
        }

        // Host and port.
        String host = hostPart;
        Integer port = null;
        if (!hostPart.contains(",")) {
            int colon = hostPart.startsWith("[") ? hostPart.indexOf(':', hostPart.indexOf(']')) : hostPart.indexOf(':');
            if (colon >= 0) {
                host = hostPart.substring(0, colon);
                String portText = hostPart.substring(colon + 1);
                if (!portText.isEmpty()) {
                    port = Integer.parseInt(portText.length() > 6 ? "99999999" : portText);
                    if (port < 1 || port > 65535) throw new IllegalArgumentException("the port is not between 1 and 65535");
                }
            }
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
            else host = decodeOrRaw(host);
        }

        // Database name and parameters.
        String dbname = null;
        var params = new LinkedHashMap<String, String>();
        int hash = tail.indexOf('#');
        if (hash >= 0) {
            notes.add("the part after '#' was ignored (libpq does not read it; other parsers see a URL fragment)");
            tail = tail.substring(0, hash);
        }
        int q = tail.indexOf('?');
        String path = q < 0 ? tail : tail.substring(0, q);
        String query = q < 0 ? "" : tail.substring(q + 1);
        if (path.startsWith("/")) path = path.substring(1);
        if (!path.isEmpty()) dbname = decodeOrRaw(path);
        if (!query.isEmpty()) {
            for (String pair : query.split("&")) {
                if (pair.isEmpty()) continue;
                int eq = pair.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("a query parameter is not key=value");
                String key = decodeOrRaw(pair.substring(0, eq));
                String rawValue = pair.substring(eq + 1);
                if (jdbc && key.equals("password") && rawValue.contains("+")) {
                    notes.add("pgjdbc reads '+' in a parameter as a space: encode a '+' in the password as %2B");
                }
                String value;
                try {
                    value = decode(rawValue, jdbc);
                } catch (IllegalArgumentException e) {
                    value = rawValue;
                    if (!key.equals("password")) notes.add("parameter " + key + " is not percent-encoded");
                    else passEnc = Encoding.raw;
                }
                if (key.equals("user") && user == null) user = value;
                else if (key.equals("password") && password == null) password = value;
                else if (!key.equals("user") && !key.equals("password")) params.put(key, value);
            }
        }
        if (userEnc == Encoding.raw) notes.add("the user name is not percent-encoded");
        if (passEnc == Encoding.raw) {
            notes.add("the password is not percent-encoded: it holds characters (such as @ : / ? # % or spaces) "
                    + "that end or change parts of a URI, so libpq and other drivers misread this string");
        } else if (passEnc == Encoding.legal) {
            notes.add("the password holds raw characters such as : + ! $ & ( ) * , ; = that RFC 3986 allows but some drivers "
                    + "read differently (pgjdbc reads '+' as a space): encode every character outside A-Z a-z 0-9 - . _ ~");
        }
        return new Parsed(new Parts(user, password, host, port, dbname, params), jdbc, userEnc, passEnc, List.copyOf(notes));
    }

    /** How a user or password was written: canonical %XX, legal RFC 3986 userinfo, or raw text. */
    private static Encoding classify(String raw, boolean password) {
        boolean decodable;
        try {
            decode(raw);
            decodable = true;
        } catch (IllegalArgumentException e) {
            decodable = false;
        }
        if (!decodable) return Encoding.raw;
        if (canonical(raw)) return Encoding.canonical;
        // ':' is legal in a password's userinfo part but not in the user part (it would split it).
        if (legalUserinfo(raw) && (password || raw.indexOf(':') < 0)) return Encoding.legal;
        return Encoding.raw;
    }

    private static String decodeOrRaw(String s) {
        try {
            return decode(s);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    /** After the authority: optional /dbname without '/' or '@', optional key=value query. */
    private static boolean tailLooksRight(String tail) {
        if (tail.isEmpty()) return true;
        if (tail.indexOf('#') >= 0) return false;
        int q = tail.indexOf('?');
        String path = q < 0 ? tail : tail.substring(0, q);
        String query = q < 0 ? null : tail.substring(q + 1);
        if (!path.isEmpty() && (!path.startsWith("/") || path.indexOf('/', 1) >= 0 || path.indexOf('@') >= 0)) return false;
        return query == null || query.isEmpty() || query(query);
    }

    /** {@code NAME=value}, {@code export NAME="value"} or a quoted string: the value. */
    private static String unwrap(String s) {
        if (!SCHEME.matcher(s).lookingAt()) {
            var m = ENV_ASSIGNMENT.matcher(s);
            if (m.matches()) s = m.group(1).strip();
        }
        if (s.length() >= 2 && (s.charAt(0) == '\'' || s.charAt(0) == '"') && s.charAt(s.length() - 1) == s.charAt(0)) {
            s = s.substring(1, s.length() - 1);
        }
        return s;
    }

    private static int indexOfAny(String s, String chars, int from) {
        for (int i = from; i < s.length(); i++) if (chars.indexOf(s.charAt(i)) >= 0) return i;
        return -1;
    }

    private ConnectionStrings() {}
}
