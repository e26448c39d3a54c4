package dev.trellis.telemetry.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a Prometheus text exposition (format 0.0.4) for tests: each family's name, type and the label names its
 * samples carry ({@code le} of histogram buckets left out), checking on the way what a scraper relies on — one TYPE
 * per family, before its samples, and the samples of a family together.
 */
public final class PrometheusFamilies {

  /** One metric family: {@code trellis_proxy_refusals_total counter listener,reason} in {@link #describe}. */
  public record Family(String name, String type, Set<String> labels) {
    @Override
    public String toString() {
      return name + " " + type + " " + (labels.isEmpty() ? "-" : String.join(",", labels));
    }
  }

  private static final Pattern TYPE = Pattern.compile("# TYPE (\\S+) (\\S+)");
  private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

  private PrometheusFamilies() {}

  /** The families of {@code text} in order; throws {@link AssertionError} naming the line that breaks the format. */
  public static Map<String, Family> parse(String text) {
    Map<String, String> types = new LinkedHashMap<>();
    Map<String, Set<String>> labels = new LinkedHashMap<>();
    String current = null;
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("# HELP ")) {
        continue;
      }
      Matcher type = TYPE.matcher(line);
      if (type.matches()) {
        if (types.put(type.group(1), type.group(2)) != null) {
          throw new AssertionError("a second TYPE line for " + type.group(1) + ": " + line);
        }
        labels.put(type.group(1), new TreeSet<>());
        current = type.group(1);
        continue;
      }
      Matcher sample = SAMPLE.matcher(line);
      if (!sample.matches()) {
        throw new AssertionError("not a sample line: " + line);
      }
      String family = familyOf(sample.group(1), types);
      if (family == null || !family.equals(current)) {
        throw new AssertionError("a sample outside its family's block (after its TYPE line, with the family's other "
            + "samples): " + line);
      }
      Double.parseDouble(sample.group(3).replace("+Inf", "Infinity").replace("-Inf", "-Infinity"));
      String rest = sample.group(2) == null ? "" : sample.group(2);
      Matcher label = LABEL.matcher(rest);
      int end = 0;
      while (label.find() && label.start() == end) {
        if (!label.group(1).equals("le")) {
          labels.get(family).add(label.group(1));
        }
        end = label.end();
      }
      if (end != rest.length()) {
        throw new AssertionError("malformed labels: " + line);
      }
    }
    Map<String, Family> out = new LinkedHashMap<>();
    types.forEach((name, type) -> out.put(name, new Family(name, type, labels.get(name))));
    return out;
  }

  /** Each family as {@code name type label,label} (or {@code -} without labels), in order. */
  public static List<String> describe(String text) {
    List<String> out = new ArrayList<>();
    parse(text).values().forEach(f -> out.add(f.toString()));
    return out;
  }

  private static String familyOf(String sample, Map<String, String> types) {
    if (types.containsKey(sample)) {
      return sample;
    }
    for (String suffix : new String[] {"_bucket", "_sum", "_count"}) {
      if (sample.endsWith(suffix)) {
        String base = sample.substring(0, sample.length() - suffix.length());
        if (types.containsKey(base)) {
          return base;
        }
      }
    }
    return null;
  }
}
