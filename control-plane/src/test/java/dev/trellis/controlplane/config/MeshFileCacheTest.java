package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.controlplane.model.Mesh;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MeshFileCacheTest {

  private static final Path BASE = Path.of(".");

  /** A file in the examples' style: block items, flow items, comments, every section. */
  static List<String> meshLines(Random random, int nodes, int services, int perService) {
    List<String> l = new ArrayList<>();
    l.add("# generated");
    l.add("trustDomain: cluster.local");
    l.add("mtls:");
    l.add("  mode: permissive");
    l.add("nodes:");
    for (int n = 0; n < nodes; n++) {
      if (random.nextBoolean()) {
        l.add("  - {name: node-" + n + ", address: 127.0." + n + ".1, token: node-token-0123456789-" + n + "}");
      } else {
        l.add("  - name: node-" + n);
        l.add("    address: 127.0." + n + ".1");
        l.add("    token: node-token-0123456789-" + n);
      }
    }
    l.add("");
    l.add("workloads:");
    for (int s = 0; s < services; s++) {
      for (int i = 0; i < perService; i++) {
        l.addAll(workload(random, "svc-" + s + "-" + i, s, random.nextInt(nodes), "10.1." + s + "." + (i + 1)));
      }
    }
    l.add("services:");
    for (int s = 0; s < services; s++) {
      if (random.nextBoolean()) {
        l.add("  - {name: svc-" + s + ", namespace: demo, vip: 10.96.0." + (s + 1) + ", selector: {app: svc-" + s
            + "}, ports: [{name: http, port: 8080}]}");
      } else {
        l.add("  - name: svc-" + s);
        l.add("    namespace: demo");
        l.add("    vip: 10.96.0." + (s + 1));
        l.add("    selector: {app: svc-" + s + "}");
        l.add("    ports:");
        l.add("      - {name: http, port: 8080}");
        l.add("      # a comment inside an item");
      }
    }
    l.add("routes:");
    l.add("  # canary");
    l.add("  - name: r0");
    l.add("    namespace: demo");
    l.add("    service: svc-0");
    l.add("    rules:");
    l.add("      - backends:");
    l.add("          - {service: svc-0, weight: 80}");
    l.add("          - {service: svc-1, weight: 20}");
    l.add("        timeout: 5s");
    l.add("policies:");
    l.add("  - {name: p0, namespace: demo, service: svc-1, loadBalancer: {algorithm: least-request}}");
    l.add("authorizations:");
    l.add("  - name: a0");
    l.add("    namespace: demo");
    l.add("    selector: {app: svc-0}");
    l.add("    action: allow");
    l.add("    rules:");
    l.add("      - from: [spiffe://cluster.local/ns/demo/sa/svc-1]");
    l.add("        paths: [/api/*]");
    l.add("http:");
    l.add("  escapedSlashes: reject-request");
    return l;
  }

  static List<String> workload(Random random, String name, int service, int node, String address) {
    if (random.nextBoolean()) {
      return List.of("  - {name: " + name + ", namespace: demo, serviceAccount: svc-" + service + ", node: node-" + node
          + ", address: " + address + ", labels: {app: svc-" + service + "}}");
    }
    return List.of("  - name: " + name, "    namespace: demo", "    serviceAccount: svc-" + service,
        "    node: node-" + node, "    address: " + address, "    labels:", "      app: svc-" + service);
  }

  /** Random edits as an operator (or a generator, or a typo) makes them; some leave the file invalid. */
  private static final List<BiConsumer<List<String>, Random>> EDITS = List.of(
      (l, r) -> replaceValue(l, r, "address: 10.", "10." + r.nextInt(3) + "." + r.nextInt(3) + "." + r.nextInt(250)),
      (l, r) -> replaceValue(l, r, "node: node-", "node-" + r.nextInt(8)),
      (l, r) -> replaceValue(l, r, "vip: ", "10.96.0." + r.nextInt(20)),
      (l, r) -> replaceValue(l, r, "weight: ", Integer.toString(r.nextInt(3) * 10)),
      (l, r) -> replaceValue(l, r, "port: ", Integer.toString(8079 + r.nextInt(3))),
      (l, r) -> l.addAll(itemStart(l, r, "workloads:"), workload(r, "new-" + r.nextInt(50), r.nextInt(4), r.nextInt(5),
          "10.2.0." + r.nextInt(250))),
      (l, r) -> removeItem(l, r),
      (l, r) -> swapItems(l, r),
      (l, r) -> l.add(r.nextInt(l.size() + 1), List.of("# c", "  # c", "    # c", "      #c").get(r.nextInt(4))),
      (l, r) -> l.add(r.nextInt(l.size() + 1), List.of("", "  ", "    ").get(r.nextInt(3))),
      (l, r) -> replaceIn(l, r, "# ", "# edited " + r.nextInt(9) + " "),
      (l, r) -> { // an anchor and an alias in different items
        replaceIn(l, r, "labels: {app: svc-", "labels: &x {app: svc-");
        replaceIn(l, r, "labels: {app: svc-", "labels: *x, x: {app: svc-");
      },
      (l, r) -> replaceIn(l, r, "labels: {app: svc-", "labels: &y {app: svc-"),
      (l, r) -> replaceIn(l, r, ", namespace: demo", ",\n    namespace: demo"), // a flow item over two lines
      (l, r) -> replaceIn(l, r, ", namespace: demo", ",\n  namespace: demo"),
      (l, r) -> replaceIn(l, r, "labels: {app: svc-", "labels: {note: \"two\n  - lines\", app: svc-"),
      (l, r) -> replaceIn(l, r, "labels: {app: svc-", "labels: {note: 'two\n      lines', app: svc-"),
      (l, r) -> replaceIn(l, r, "labels:", "labels: |\n      x: y\n    z: w\n   "),
      (l, r) -> l.add(r.nextInt(l.size() + 1), List.of("---", "...", "%YAML 1.2", "---\nnodes: []").get(r.nextInt(4))),
      (l, r) -> l.remove(r.nextInt(l.size())),
      (l, r) -> { // one character
        int i = r.nextInt(l.size());
        String s = l.get(i);
        int at = r.nextInt(s.length() + 1);
        l.set(i, s.substring(0, at) + ":-[]{}\"'#&*!,? \t|>x".charAt(r.nextInt(19)) + s.substring(at));
      },
      (l, r) -> removeHeader(l, r),
      (l, r) -> l.add(r.nextInt(l.size() + 1), List.of("workloads:", "services:", "nodes: []", "services: [{name: q, "
          + "namespace: demo, ports: [{port: 1}]}]", "routes:", "workloads: # again").get(r.nextInt(6))),
      (l, r) -> reindent(l, r),
      (l, r) -> replaceIn(l, r, "trustDomain: cluster.local", "trustDomain: other.local"),
      (l, r) -> replaceIn(l, r, "workloads:", "workloads:   # the pods"),
      (l, r) -> replaceIn(l, r, "routes:", "routes: []\nx-routes:"),
      (l, r) -> replaceIn(l, r, "  - name: svc-", "  -   name: svc-"),
      (l, r) -> replaceIn(l, r, "  - {name: svc-", "  -\n    {name: svc-"));

  private static void replaceIn(List<String> l, Random r, String what, String with) {
    List<Integer> at = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i).contains(what)) {
        at.add(i);
      }
    }
    if (!at.isEmpty()) {
      int i = at.get(r.nextInt(at.size()));
      String s = l.get(i);
      int from = s.indexOf(what);
      String replaced = s.substring(0, from) + with + s.substring(from + what.length());
      l.remove(i);
      l.addAll(i, List.of(replaced.split("\n", -1)));
    }
  }

  /** The value after {@code key} (up to ',', '}' or the line's end) on a random line holding it. */
  private static void replaceValue(List<String> l, Random r, String key, String value) {
    String field = key.substring(0, key.indexOf(':') + 2);
    List<Integer> at = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i).contains(key)) {
        at.add(i);
      }
    }
    if (!at.isEmpty()) {
      int i = at.get(r.nextInt(at.size()));
      String s = l.get(i);
      int from = s.indexOf(key) + field.length();
      int end = from;
      while (end < s.length() && s.charAt(end) != ',' && s.charAt(end) != '}') {
        end++;
      }
      l.set(i, s.substring(0, from) + value + s.substring(end));
    }
  }

  private static List<Integer> itemStarts(List<String> l) {
    List<Integer> at = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i).matches("^ *- .*")) {
        at.add(i);
      }
    }
    return at;
  }

  private static int itemStart(List<String> l, Random r, String section) {
    int header = l.indexOf(section);
    List<Integer> at = itemStarts(l).stream().filter(i -> i > header).toList();
    return at.isEmpty() ? l.size() : at.get(r.nextInt(Math.min(at.size(), 20)));
  }

  private static int itemEnd(List<String> l, int start) {
    int indent = l.get(start).indexOf('-');
    int end = start + 1;
    while (end < l.size() && (l.get(end).isBlank() || l.get(end).length() - l.get(end).stripLeading().length() > indent)) {
      end++;
    }
    return end;
  }

  private static void removeItem(List<String> l, Random r) {
    List<Integer> at = itemStarts(l);
    if (!at.isEmpty()) {
      int start = at.get(r.nextInt(at.size()));
      l.subList(start, itemEnd(l, start)).clear();
    }
  }

  private static void swapItems(List<String> l, Random r) {
    List<Integer> at = itemStarts(l).stream().filter(i -> l.get(i).startsWith("  - ")).toList();
    if (at.size() < 2) {
      return;
    }
    int a = at.get(r.nextInt(at.size()));
    int b = at.get(r.nextInt(at.size()));
    if (a == b) {
      return;
    }
    int first = Math.min(a, b);
    int second = Math.max(a, b);
    List<String> one = new ArrayList<>(l.subList(first, itemEnd(l, first)));
    List<String> two = new ArrayList<>(l.subList(second, itemEnd(l, second)));
    if (first + one.size() > second) {
      return;
    }
    l.subList(second, second + two.size()).clear();
    l.addAll(second, one);
    l.subList(first, first + one.size()).clear();
    l.addAll(first, two);
  }

  private static void removeHeader(List<String> l, Random r) {
    List<Integer> at = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i).matches("^[a-z]+:$")) {
        at.add(i);
      }
    }
    if (!at.isEmpty()) {
      l.remove((int) at.get(r.nextInt(at.size())));
    }
  }

  /** A section's lines all indented two more (or two less) spaces. */
  private static void reindent(List<String> l, Random r) {
    List<Integer> at = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i).matches("^[a-z]+:$")) {
        at.add(i);
      }
    }
    if (at.isEmpty()) {
      return;
    }
    int header = at.get(r.nextInt(at.size()));
    boolean deeper = r.nextBoolean();
    for (int i = header + 1; i < l.size() && !l.get(i).matches("^[a-z].*"); i++) {
      String s = l.get(i);
      l.set(i, deeper ? "  " + s : s.startsWith("  ") ? s.substring(2) : s);
    }
  }

  /** What a parse gives: the mesh, or the messages of its rejection. */
  private static Object outcome(MeshFileCache cache, String text) {
    try {
      return cache == null ? MeshFile.parse(text, "mesh.yaml", BASE) : cache.parse(text, "mesh.yaml", BASE);
    } catch (MeshFileException e) {
      return e.problems();
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
  void randomEditsGiveWhatTheFullParseGives(int seed) {
    Random random = new Random(seed);
    List<String> start = meshLines(random, 5, 6, 3);
    List<String> good = start;
    MeshFileCache cache = new MeshFileCache();
    int reused = 0;
    int valid = 0;
    int steps = 300;
    for (int step = 0; step < steps; step++) {
      if (step % 20 == 0) {
        good = start; // edits that stick (an anchor, a document marker) would leave every later parse to the full one
      }
      List<String> lines = new ArrayList<>(good);
      int edits = 1 + (random.nextInt(4) == 0 ? random.nextInt(3) : 0);
      for (int e = 0; e < edits; e++) {
        EDITS.get(random.nextInt(EDITS.size())).accept(lines, random);
      }
      String text = String.join("\n", lines) + (random.nextInt(5) == 0 ? "" : "\n");
      Object full = outcome(null, text);
      Object incremental = outcome(cache, text);
      assertThat(incremental).as("seed %d step %d:\n%s", seed, step, text).isEqualTo(full);
      if (cache.lastReused()) {
        reused++;
      }
      if (full instanceof Mesh) {
        valid++;
        if (random.nextInt(3) > 0) {
          good = lines;
        }
      }
    }
    // The test means something only if both paths ran often: reuse on most valid files, full parses on the rest.
    assertThat(valid).isGreaterThan(steps / 4);
    assertThat(reused).isGreaterThan(valid / 4).isLessThanOrEqualTo(valid);
  }

  private static String text(List<String> lines) {
    return String.join("\n", lines) + "\n";
  }

  @Test
  void aOneWorkloadEditComposesOnlyThatItem() throws MeshFileException {
    List<String> lines = meshLines(new Random(7), 5, 20, 5);
    MeshFileCache cache = new MeshFileCache();
    cache.parse(text(lines), "mesh.yaml", BASE);
    int at = lines.indexOf(lines.stream().filter(s -> s.contains("address: 10.1.3.2")).findFirst().orElseThrow());
    lines.set(at, lines.get(at).replace("address: 10.1.3.2", "address: 10.3.3.3"));

    Mesh mesh = cache.parse(text(lines), "mesh.yaml", BASE);

    assertThat(cache.lastReused()).isTrue();
    assertThat(cache.lastComposed()).isEqualTo(1);
    assertThat(mesh).isEqualTo(MeshFile.parse(text(lines), "mesh.yaml", BASE));
    assertThat(mesh.workloads()).anyMatch(w -> w.address().equals("10.3.3.3"));
  }

  @Test
  void anchorsAndAliasesAreLeftToTheFullParse() throws MeshFileException {
    String text = """
        nodes:
          - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
        workloads:
          - {name: a, namespace: demo, node: node-1, address: 10.0.0.1, labels: &l {app: x}}
          - {name: b, namespace: demo, node: node-1, address: 10.0.0.2, labels: *l}
        """;
    MeshFileCache cache = new MeshFileCache();

    Mesh mesh = cache.parse(text, "mesh.yaml", BASE);

    assertThat(cache.lastReused()).isFalse();
    assertThat(mesh.workloads().get(1).labels()).containsEntry("app", "x");
  }

  @Test
  void anInvalidEditIsRejectedWithTheFullParsesMessagesAndTheNextEditReusesTheLastGoodPieces()
      throws MeshFileException {
    List<String> lines = meshLines(new Random(3), 3, 5, 2);
    MeshFileCache cache = new MeshFileCache();
    cache.parse(text(lines), "mesh.yaml", BASE);
    List<String> bad = new ArrayList<>(lines);
    int at = bad.indexOf(bad.stream().filter(s -> s.contains("node: node-")).findFirst().orElseThrow());
    bad.set(at, bad.get(at).replaceFirst("node: node-[0-9]+", "node: node-9"));

    assertThatThrownBy(() -> cache.parse(text(bad), "mesh.yaml", BASE)).isInstanceOf(MeshFileException.class)
        .satisfies(e -> assertThat(((MeshFileException) e).problems()).isEqualTo(
            outcome(null, text(bad))).singleElement().asString().contains(":" + (at + 1) + ":").contains("node-9"));
    assertThat(cache.lastReused()).isFalse();

    cache.parse(text(lines), "mesh.yaml", BASE);
    assertThat(cache.lastReused()).isTrue();
    assertThat(cache.lastComposed()).isZero();
  }

  @Test
  void theCutFollowsTopLevelKeysAndListItems() {
    List<MeshFileCache.Entry> entries = MeshFileCache.split("""
        # head
        trustDomain: a.b
        nodes:   # comment
          - {name: n}
        # between
          - name: m
            address: x

        workloads: []
        services:
            - {name: s}
        """);

    assertThat(entries).extracting(MeshFileCache.Entry::key).containsExactly("trustDomain", "nodes", "workloads",
        "services");
    assertThat(entries.get(1).items()).containsExactly("  - {name: n}\n# between\n",
        "  - name: m\n    address: x\n\n");
    assertThat(entries.get(2).items()).isNull();
    assertThat(entries.get(3).items()).containsExactly("    - {name: s}\n");
  }

  @ParameterizedTest
  @ValueSource(strings = {"services:\n- {name: s}\n", "---\nnodes: []\n", "nodes: []\n...\n", "%YAML 1.2\n---\nx: 1\n",
      "{nodes: []}\n", "\"nodes\": []\n", "? nodes\n: []\n", "  nodes: []\n", "nodes: []\r\n", "nodes:\t[]\n",
      "# only a comment\n", "", "nodes:x\n"})
  void textsThatAreNotCutAreLeftToTheFullParse(String text) {
    assertThat(MeshFileCache.split(text)).isNull();
  }
}
