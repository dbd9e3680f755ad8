import java.util.Arrays;

/** A request path: /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{sub}]] or /apis/{g}/{v}/... */
record TestApiResourcePath(String group, String version, String namespace, String resource, String name, String sub) {
  static TestApiResourcePath parse(String path) {
    String[] s = path.substring(1).split("/", -1);
    String group;
    String version;
    int i;
    if (s.length >= 3 && s[0].equals("api")) {
      group = "";
      version = s[1];
      i = 2;
    } else if (s.length >= 4 && s[0].equals("apis")) {
      group = s[1];
      version = s[2];
      i = 3;
    } else {
      return null;
    }
    String[] r = Arrays.copyOfRange(s, i, s.length);
    for (String seg : r) {
      if (seg.isEmpty()) {
        return null;
      }
    }
    String ns = null;
    boolean namespaceSub = r.length == 3 && (r[2].equals("status") || r[2].equals("finalize"));
    if (r[0].equals("namespaces") && r.length >= 3 && !namespaceSub) {
      ns = r[1];
      r = Arrays.copyOfRange(r, 2, r.length);
    }
    if (r.length > 3) {
      return null;
    }
    return new TestApiResourcePath(group, version, ns, r[0], r.length > 1 ? r[1] : null, r.length > 2 ? r[2] : null);
  }

  static String prefix(String group, String version) {
    return group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version;
  }

  String collectionPath() {
    return prefix(group, version) + (namespace != null ? "/namespaces/" + namespace : "") + "/" + resource;
  }

  String objectPath() {
    return collectionPath() + "/" + name;
  }
}
