import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Query parameters of a request, URL-decoded, in order. */
record TestApiParams(Map<String, List<String>> values) {
  static TestApiParams parse(String query) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    if (query != null && !query.isEmpty()) {
      for (String part : query.split("&")) {
        if (part.isEmpty()) {
          continue;
        }
        int eq = part.indexOf('=');
        String k = decode(eq < 0 ? part : part.substring(0, eq));
        String v = eq < 0 ? "" : decode(part.substring(eq + 1));
        m.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
      }
    }
    return new TestApiParams(m);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  String first(String name) {
    List<String> v = values.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }
}
