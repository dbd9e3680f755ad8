import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The hand-written scanners that replaced regular expressions with nested repetition (which
 * overflow Java's stack on long input) accept exactly what those expressions accepted: checked
 * on many random short strings, where the old expressions still work, and on long ones, where
 * only the scanners do.
 */
class ScannerTest {

    // The expressions as they were (lib/database/ConnectionStrings.java and lib/env/EnvConfig.java before the change).
    static final Pattern CANONICAL = Pattern.compile("([A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})*");
    static final Pattern LEGAL_USERINFO = Pattern.compile("([A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*");
    static final String HOST = "(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._%-]*)(:[0-9]*)?";
    static final Pattern HOST_LIST = Pattern.compile(HOST + "(," + HOST + ")*");
    static final Pattern QUERY = Pattern.compile("([A-Za-z0-9_.%-]+=[^&=]*)(&[A-Za-z0-9_.%-]+=[^&=]*)*");
    static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    static void sameAs(Pattern old, Predicate<String> scanner, String alphabet, long seed) {
        var random = new Random(seed);
        int accepted = 0;
        for (int n = 0; n < 20_000; n++) {
            int length = random.nextInt(12);
            var sb = new StringBuilder();
            for (int i = 0; i < length; i++) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            String s = sb.toString();
            boolean expected = old.matcher(s).matches();
            assertEquals(expected, scanner.test(s), old + " on \"" + s + "\"");
            if (expected) accepted++;
        }
        assertTrue(accepted > 500 && accepted < 19_500, "the alphabet exercises both answers: " + accepted + " of 20000 accepted by " + old);
    }

    @Test
    void connectionStringScannersAcceptWhatTheExpressionsDid() {
        sameAs(CANONICAL, ConnectionStrings::canonical, "aZ9._~-%%4fG!:@ ", 1);
        sameAs(LEGAL_USERINFO, ConnectionStrings::legalUserinfo, "aZ9._~-%%4fG!$&'()*+,;=:@/ ", 2);
        sameAs(HOST_LIST, ConnectionStrings::hostList, "ab9.%-::,,[]f1@/", 3);
        sameAs(QUERY, ConnectionStrings::query, "ab9_.%-===&&&x ", 4);
    }

    @Test
    void dnsNameScannersAcceptWhatTheExpressionsDid() {
        sameAs(DNS_LABEL, s -> EnvChecks.dnsLabelProblem(s) == null, "ab9--A_.", 5);
        sameAs(DNS_SUBDOMAIN, s -> EnvChecks.dnsSubdomainProblem(s) == null, "ab9-..A_", 6);
    }

    @Test
    void quotedPartsOfMessagesAreCutAndEscapedButApostrophesAreNotQuotes() {
        String value = "v".repeat(250);
        assertEquals("gfw's file 'short' and the environment's '" + "v".repeat(40) + "…' (JBang's)",
                Output.quoteQuoted("gfw's file 'short' and the environment's '" + value + "' (JBang's)", 200));
        assertEquals("bad '\\u001b[2J' here; it's fine", Output.quoteQuoted("bad '\u001b[2J' here; it's fine", 200));
        assertEquals("no quote at all\\u0007", Output.quoteQuoted("no quote at all\u0007", 200));
        assertEquals("'" + "w".repeat(40) + "…'", Output.quote("w".repeat(41)));
        assertEquals("'" + "w".repeat(40) + "'", Output.quote("w".repeat(40)));
    }

    @Test
    void longInputIsScannedWhereTheExpressionsOverflowed() {
        String labels = "a.".repeat(5000) + "a";
        assertTrue(EnvChecks.dnsSubdomainProblem(labels).contains("at most 253"));
        assertNull(EnvChecks.dnsSubdomainProblem("a.".repeat(126) + "a")); // 253 characters: the limit itself
        assertTrue(EnvChecks.dnsLabelProblem("a".repeat(64)).contains("at most 63"));
        assertNull(EnvChecks.dnsLabelProblem("a".repeat(63)));
        assertTrue(ConnectionStrings.canonical("%41".repeat(20_000)));
        assertTrue(ConnectionStrings.legalUserinfo("x!".repeat(30_000)));
        assertTrue(ConnectionStrings.hostList("h1:5432,".repeat(5000) + "h2"));
        assertTrue(ConnectionStrings.query("a=b&".repeat(10_000) + "c=d"));
    }
}
