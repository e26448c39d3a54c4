package dev.trellis.controlplane.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * A YAML node with its field path (e.g. {@code services[0].ports[1].port}) and position, so every
 * problem can be reported as {@code file:line:column: path: message}. Problems are collected, not
 * thrown: the parser reports them all at once. Accessors return empty or null after reporting.
 */
public final class YamlValue {

  /** Collected problems, in the order found. */
  static final class Problems {
    private final List<String> messages = new ArrayList<>();

    void add(YamlValue at, String message) {
      messages.add(at.where() + ": " + message);
    }

    void addAt(String where, String message) {
      messages.add(where + ": " + message);
    }

    List<String> messages() {
      return List.copyOf(messages);
    }

    boolean isEmpty() {
      return messages.isEmpty();
    }
  }

  private static final Pattern DURATION = Pattern.compile("^(\\d+(?:\\.\\d+)?)(ms|s|m|h)$");

  private final Node node;
  // The path is built only when a message needs it: parent + key or index, not a string per node.
  private final YamlValue parent;
  private final String key;
  private final int index;
  private final String file;
  private final Problems problems;

  YamlValue(Node node, String path, String file, Problems problems) {
    this(node, null, path, -1, file, problems);
  }

  private YamlValue(Node node, YamlValue parent, String key, int index, String file, Problems problems) {
    this.node = node;
    this.parent = parent;
    this.key = key;
    this.index = index;
    this.file = file;
    this.problems = problems;
  }

  private YamlValue child(Node n, String childKey) {
    return new YamlValue(n, this, childKey, -1, file, problems);
  }

  private YamlValue element(Node n, int i) {
    return new YamlValue(n, this, null, i, file, problems);
  }

  public String path() {
    if (parent == null) {
      return key == null ? "" : key;
    }
    String p = parent.path();
    if (key == null) {
      return p + "[" + index + "]";
    }
    return p.isEmpty() ? key : p + "." + key;
  }

  /** {@code file:line:column: path}, lines and columns from 1. */
  public String where() {
    Optional<Mark> m = node.getStartMark();
    String position = m.map(mark -> ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1)).orElse("");
    String path = path();
    return file + position + (path.isEmpty() ? "" : ": " + path);
  }

  public void problem(String message) {
    problems.add(this, message);
  }

  /** The fields of a mapping; reports unknown and duplicate keys. Empty if this is not a mapping. */
  public Map<String, YamlValue> fields(Set<String> allowed) {
    Map<String, YamlValue> result = new LinkedHashMap<>();
    if (!(node instanceof MappingNode mapping)) {
      problem("expected a mapping (key: value lines), found " + kind());
      return result;
    }
    for (NodeTuple t : mapping.getValue()) {
      if (!(t.getKeyNode() instanceof ScalarNode keyNode)) {
        new YamlValue(t.getKeyNode(), parent, key, index, file, problems).problem("keys must be plain strings");
        continue;
      }
      String name = keyNode.getValue();
      if (!allowed.contains(name)) {
        child(t.getKeyNode(), name).problem("unknown field '" + name + "'"
            + suggestion(name, allowed) + " (expected one of: " + String.join(", ", new TreeSet<>(allowed)) + ")");
        continue;
      }
      if (result.containsKey(name)) {
        child(t.getKeyNode(), name).problem("field '" + name + "' is given twice");
        continue;
      }
      result.put(name, child(t.getValueNode(), name));
    }
    return result;
  }

  public List<YamlValue> list() {
    if (isNull()) {
      return List.of();
    }
    if (!(node instanceof SequenceNode seq)) {
      problem("expected a list (lines starting with '- '), found " + kind());
      return List.of();
    }
    List<YamlValue> items = new ArrayList<>();
    for (int i = 0; i < seq.getValue().size(); i++) {
      items.add(element(seq.getValue().get(i), i));
    }
    return items;
  }

  public boolean isNull() {
    return node instanceof ScalarNode s && s.getTag().getValue().endsWith(":null");
  }

  /** The scalar's text, or null after reporting if this is not a scalar or is empty. */
  public String string() {
    if (!(node instanceof ScalarNode s) || isNull()) {
      problem("expected a value, found " + kind());
      return null;
    }
    if (s.getValue().isBlank()) {
      problem("must not be empty");
      return null;
    }
    return s.getValue();
  }

  public Integer integer(int min, int max) {
    String s = string();
    if (s == null) {
      return null;
    }
    try {
      int v = Integer.parseInt(s.strip());
      if (v < min || v > max) {
        problem(v + " is out of range (expected: " + min + ".." + max + ")");
        return null;
      }
      return v;
    } catch (NumberFormatException e) {
      problem("'" + s + "' is not a whole number (expected: " + min + ".." + max + ")");
      return null;
    }
  }

  public Double decimal(double min, double max) {
    String s = string();
    if (s == null) {
      return null;
    }
    try {
      double v = Double.parseDouble(s.strip());
      if (!(v >= min && v <= max)) {
        problem(s + " is out of range (expected: " + min + ".." + max + ")");
        return null;
      }
      return v;
    } catch (NumberFormatException e) {
      problem("'" + s + "' is not a number");
      return null;
    }
  }

  public Boolean bool() {
    String s = string();
    if (s == null) {
      return null;
    }
    return switch (s.strip().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> {
        problem("'" + s + "' is not true or false");
        yield null;
      }
    };
  }

  /** A positive duration like {@code 250ms}, {@code 2s}, {@code 1.5m}, {@code 1h}. */
  public Duration duration() {
    String s = string();
    if (s == null) {
      return null;
    }
    Matcher m = DURATION.matcher(s.strip());
    if (!m.matches()) {
      problem("'" + s + "' is not a duration (expected e.g. 250ms, 2s, 1.5m, 1h)");
      return null;
    }
    double amount = Double.parseDouble(m.group(1));
    long millis = Math.round(amount * switch (m.group(2)) {
      case "ms" -> 1;
      case "s" -> 1_000;
      case "m" -> 60_000;
      default -> 3_600_000;
    });
    if (millis <= 0) {
      problem("'" + s + "' must be longer than 0ms");
      return null;
    }
    return Duration.ofMillis(millis);
  }

  public <E extends Enum<E>> E enumValue(Class<E> type) {
    String s = string();
    if (s == null) {
      return null;
    }
    String normalized = s.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    for (E e : type.getEnumConstants()) {
      if (e.name().equals(normalized)) {
        return e;
      }
    }
    List<String> names = new ArrayList<>();
    for (E e : type.getEnumConstants()) {
      names.add(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
    }
    problem("'" + s + "' is not one of " + names);
    return null;
  }

  /** A mapping of strings to strings (labels, selectors). */
  public Map<String, String> stringMap() {
    Map<String, String> result = new LinkedHashMap<>();
    if (isNull()) {
      return result;
    }
    if (!(node instanceof MappingNode mapping)) {
      problem("expected a mapping of names to values, found " + kind());
      return result;
    }
    for (NodeTuple t : mapping.getValue()) {
      if (t.getKeyNode() instanceof ScalarNode k && t.getValueNode() instanceof ScalarNode v) {
        if (result.put(k.getValue(), v.getValue()) != null) {
          child(t.getKeyNode(), k.getValue()).problem("given twice");
        }
      } else {
        new YamlValue(t.getKeyNode(), parent, key, index, file, problems).problem("entries must be plain 'name: value' pairs");
      }
    }
    return result;
  }

  public List<String> strings() {
    List<String> out = new ArrayList<>();
    for (YamlValue v : list()) {
      String s = v.string();
      if (s != null) {
        out.add(s);
      }
    }
    return out;
  }

  private String kind() {
    if (node instanceof MappingNode) {
      return "a mapping";
    }
    if (node instanceof SequenceNode) {
      return "a list";
    }
    return isNull() ? "nothing" : "'" + ((ScalarNode) node).getValue() + "'";
  }

  private static String suggestion(String name, Set<String> allowed) {
    String best = null;
    int bestDistance = 3;
    for (String a : allowed) {
      int d = distance(name.toLowerCase(Locale.ROOT), a.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = a;
      }
    }
    return best == null ? "" : "; did you mean '" + best + "'?";
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
