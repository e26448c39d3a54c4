package dev.trellis.proxy.cni;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Pure edits of the node's CNI network configuration, decided without touching files ({@link CniInstaller} does the
 * I/O): which file the container runtime loads, chaining {@code trellis-cni} last in it, taking it out again, and
 * turning a single-plugin {@code .conf} into the {@code .conflist} chaining needs. Every other field and plugin is
 * kept as it was (field order and number spelling included).
 */
final class CniConfList {

  static final String TYPE = "trellis-cni";
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  private CniConfList() {}

  /** What the configuration directory's first file is, as the runtime would read it. */
  enum Kind {
    /** {@code *.conflist}: a list of chained plugins. */
    LIST,
    /** {@code *.conf} or {@code *.json}: one plugin, which the runtime wraps in a list of one. */
    SINGLE;

    static Optional<Kind> of(String fileName) {
      String n = fileName.toLowerCase(Locale.ROOT);
      if (n.endsWith(".conflist")) {
        return Optional.of(LIST);
      }
      return n.endsWith(".conf") || n.endsWith(".json") ? Optional.of(SINGLE) : Optional.empty();
    }
  }

  /**
   * The file the runtime loads (libcni and containerd take the lexicographically first {@code .conf},
   * {@code .conflist} or {@code .json}), if any. Hidden files (our own temporary files among them) never count.
   */
  static Optional<String> pick(List<String> fileNames) {
    return fileNames.stream().filter(n -> !n.startsWith(".") && Kind.of(n).isPresent())
        .min(Comparator.naturalOrder());
  }

  /**
   * The list with {@code trellis-cni} as its last plugin, talking to {@code agentSocket}; empty if it already is
   * exactly that (nothing to write). An older {@code trellis-cni} entry anywhere in the list is replaced, never
   * doubled.
   *
   * @throws IllegalArgumentException if {@code text} is not a JSON object with a {@code plugins} array
   */
  static Optional<String> chain(String text, String agentSocket) {
    JsonObject list = parseList(text);
    JsonArray plugins = list.getAsJsonArray("plugins");
    JsonObject entry = entry(agentSocket);
    if (!plugins.isEmpty() && entry.equals(plugins.get(plugins.size() - 1)) && count(plugins) == 1) {
      return Optional.empty();
    }
    removeTrellis(plugins);
    plugins.add(entry);
    return Optional.of(GSON.toJson(list) + "\n");
  }

  /** The list without any {@code trellis-cni} plugin; empty if it had none (nothing to write). */
  static Optional<String> unchain(String text) {
    JsonObject list = parseList(text);
    JsonArray plugins = list.getAsJsonArray("plugins");
    if (count(plugins) == 0) {
      return Optional.empty();
    }
    removeTrellis(plugins);
    return Optional.of(GSON.toJson(list) + "\n");
  }

  /** Whether the list chains {@code trellis-cni} (any socket, any position). */
  static boolean chained(String text) {
    return count(parseList(text).getAsJsonArray("plugins")) > 0;
  }

  /**
   * A single-plugin configuration as the list the runtime itself would make of it (libcni's
   * {@code ConfListFromConf}): the list's {@code cniVersion} and {@code name} are the plugin's, and the plugin, whole,
   * is its only member — ready for {@link #chain}.
   *
   * @throws IllegalArgumentException if {@code text} is not a JSON object naming a {@code type}
   */
  static String toList(String text) {
    JsonObject conf = parseObject(text);
    if (!conf.has("type")) {
      throw new IllegalArgumentException("not a CNI network configuration (no \"type\")");
    }
    JsonObject list = new JsonObject();
    if (conf.has("cniVersion")) {
      list.add("cniVersion", conf.get("cniVersion"));
    }
    if (conf.has("name")) {
      list.add("name", conf.get("name"));
    }
    JsonArray plugins = new JsonArray();
    plugins.add(conf);
    list.add("plugins", plugins);
    return GSON.toJson(list) + "\n";
  }

  static JsonObject entry(String agentSocket) {
    JsonObject e = new JsonObject();
    e.addProperty("type", TYPE);
    e.addProperty("agentSocket", agentSocket);
    return e;
  }

  private static int count(JsonArray plugins) {
    int n = 0;
    for (JsonElement p : plugins) {
      n += isTrellis(p) ? 1 : 0;
    }
    return n;
  }

  private static void removeTrellis(JsonArray plugins) {
    for (int i = plugins.size() - 1; i >= 0; i--) {
      if (isTrellis(plugins.get(i))) {
        plugins.remove(i);
      }
    }
  }

  private static boolean isTrellis(JsonElement plugin) {
    return plugin.isJsonObject() && plugin.getAsJsonObject().has("type")
        && plugin.getAsJsonObject().get("type").isJsonPrimitive()
        && TYPE.equals(plugin.getAsJsonObject().get("type").getAsString());
  }

  private static JsonObject parseList(String text) {
    JsonObject list = parseObject(text);
    if (!list.has("plugins") || !list.get("plugins").isJsonArray()) {
      throw new IllegalArgumentException("not a CNI configuration list (no \"plugins\" array)");
    }
    return list;
  }

  private static JsonObject parseObject(String text) {
    try {
      JsonElement e = JsonParser.parseString(text);
      if (!e.isJsonObject()) {
        throw new IllegalArgumentException("not a JSON object");
      }
      return e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
    }
  }
}
