import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Quantities, canonicalised like resource.Quantity does (0.5 -> 500m, 1024Mi -> 1Gi, 2000 -> 2k). */
final class TestApiQuantities {
  private static final Pattern QUANTITY = Pattern.compile("([+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))"
      + "(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");
  private static final List<String> BINARY = List.of("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei");
  private static final Map<String, Integer> DECIMAL = Map.of("n", -9, "u", -6, "m", -3, "", 0, "k", 3, "M", 6,
      "G", 9, "T", 12, "P", 15, "E", 18);

  /** Canonical form, or null if this is not a quantity. */
  static String canonical(String s) {
    Matcher m = QUANTITY.matcher(s.trim());
    if (!m.matches()) {
      return null;
    }
    BigDecimal num = new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1));
    String suffix = m.group(2) == null ? "" : m.group(2);
    if (suffix.startsWith("e") || suffix.startsWith("E")) {
      return s.trim();
    }
    int bin = BINARY.indexOf(suffix);
    if (bin > 0) {
      BigDecimal value = num.multiply(BigDecimal.valueOf(1024).pow(bin));
      boolean integral = value.stripTrailingZeros().scale() <= 0;
      if (value.abs().compareTo(BigDecimal.valueOf(1024)) < 0 || !integral) {
        return decimalSI(value);
      }
      BigInteger v = value.toBigIntegerExact();
      int j = 0;
      BigInteger k = BigInteger.valueOf(1024);
      while (j < 6 && v.mod(k).signum() == 0) {
        v = v.divide(k);
        j++;
      }
      return v + BINARY.get(j);
    }
    return decimalSI(num.scaleByPowerOfTen(DECIMAL.get(suffix)));
  }

  private static String decimalSI(BigDecimal value) {
    if (value.signum() == 0) {
      return "0";
    }
    BigDecimal v = value.stripTrailingZeros();
    if (v.scale() > 9) {
      v = v.setScale(9, RoundingMode.UP).stripTrailingZeros();
    }
    int exp10 = -v.scale();
    int e3 = Math.min(Math.floorDiv(exp10, 3) * 3, 18);
    BigInteger mantissa = v.scaleByPowerOfTen(-e3).toBigIntegerExact();
    String suffix = DECIMAL.entrySet().stream().filter(e -> e.getValue() == e3).findFirst().orElseThrow().getKey();
    return mantissa + suffix;
  }

  /** Canonicalises every value of a quantity map in place; a bad value is the real server's 400. */
  static void canonicalizeMap(JsonNode map, String kind) {
    if (!(map instanceof ObjectNode o)) {
      return;
    }
    List<String> keys = new ArrayList<>();
    o.fieldNames().forEachRemaining(keys::add);
    for (String k : keys) {
      JsonNode v = o.get(k);
      if (v.isNumber() || v.isTextual()) {
        String c = canonical(v.asText());
        if (c == null) {
          throw TestApiError.badRequest(kind + " in version \"v1\" cannot be handled as a " + kind
              + ": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
        }
        o.put(k, c);
      }
    }
  }

  /** Container-style {limits, requests} maps anywhere in the object. */
  static void canonicalizeResources(JsonNode node, String kind) {
    if (node.isObject()) {
      JsonNode res = node.get("resources");
      if (res != null && res.isObject()) {
        canonicalizeMap(res.get("limits"), kind);
        canonicalizeMap(res.get("requests"), kind);
      }
      node.elements().forEachRemaining(n -> canonicalizeResources(n, kind));
    } else if (node.isArray()) {
      node.elements().forEachRemaining(n -> canonicalizeResources(n, kind));
    }
  }
}
