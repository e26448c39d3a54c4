package dev.trellis.cni;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One invocation of the plugin, as the runtime makes it: the {@code CNI_*} environment and the network
 * configuration on stdin, validated against the CNI spec. Every problem becomes a {@link CniError}
 * with the spec's code and a message naming the variable or field.
 *
 * @param args {@code CNI_ARGS} as key/value pairs (Kubernetes runtimes send {@code K8S_POD_NAMESPACE},
 *     {@code K8S_POD_NAME}, {@code K8S_POD_UID})
 * @param config the whole network configuration, {@code prevResult} included
 */
public record CniRequest(Command command, String containerId, String netns, String ifname, Map<String, String> args,
    String cniVersion, JsonObject config) {

  /** The CNI verbs; STATUS and GC came with spec 1.1.0. */
  public enum Command {
    ADD,
    DEL,
    CHECK,
    VERSION,
    STATUS,
    GC
  }

  /** Versions whose result format we produce (the 0.3.0+ result; older ones have another shape). */
  public static final List<String> SUPPORTED_VERSIONS = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");
  public static final String NEWEST = "1.1.0";

  public CniRequest {
    args = Map.copyOf(args);
  }

  public static CniRequest parse(Map<String, String> env, String stdin) {
    String verb = env.get("CNI_COMMAND");
    if (verb == null || verb.isBlank()) {
      throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_COMMAND is not set",
          "expected one of ADD, DEL, CHECK, VERSION, STATUS, GC");
    }
    Command command;
    try {
      command = Command.valueOf(verb.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_COMMAND '" + verb + "' is not a CNI verb",
          "expected one of ADD, DEL, CHECK, VERSION, STATUS, GC");
    }
    JsonObject config = decode(stdin, command);
    String version = config.has("cniVersion") && config.get("cniVersion").isJsonPrimitive()
        ? config.get("cniVersion").getAsString() : null;
    if (command == Command.VERSION) {
      return new CniRequest(command, null, null, null, Map.of(), version, config);
    }
    if (version == null) {
      throw new CniError(CniError.INVALID_CONFIG, "the network configuration has no cniVersion", null);
    }
    if (!SUPPORTED_VERSIONS.contains(version)) {
      throw new CniError(CniError.INCOMPATIBLE_VERSION, "incompatible CNI version " + version,
          "trellis-cni supports " + SUPPORTED_VERSIONS);
    }
    if ((command == Command.STATUS || command == Command.GC) && version.compareTo("1.1.0") < 0) {
      throw new CniError(CniError.INCOMPATIBLE_VERSION, command + " needs CNI version 1.1.0, the config says " + version,
          null);
    }
    String container = env.get("CNI_CONTAINERID");
    String netns = env.get("CNI_NETNS");
    String ifname = env.get("CNI_IFNAME");
    switch (command) {
      case ADD, CHECK -> {
        require(container, "CNI_CONTAINERID");
        require(netns, "CNI_NETNS");
        require(ifname, "CNI_IFNAME");
      }
      case DEL -> require(container, "CNI_CONTAINERID");
      default -> { }
    }
    return new CniRequest(command, container, blankToNull(netns), blankToNull(ifname), parseArgs(env.get("CNI_ARGS")),
        version, config);
  }

  private static JsonObject decode(String stdin, Command command) {
    if (stdin == null || stdin.isBlank()) {
      if (command == Command.VERSION) {
        return new JsonObject();
      }
      throw new CniError(CniError.DECODING_FAILURE, "no network configuration on stdin", null);
    }
    try {
      JsonElement e = JsonParser.parseString(stdin);
      if (!e.isJsonObject()) {
        throw new CniError(CniError.DECODING_FAILURE, "the network configuration is not a JSON object", null);
      }
      return e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new CniError(CniError.DECODING_FAILURE, "the network configuration is not valid JSON", e.getMessage());
    }
  }

  private static void require(String value, String name) {
    if (value == null || value.isBlank()) {
      throw new CniError(CniError.INVALID_ENVIRONMENT, name + " is not set", "required for this CNI command");
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  /** {@code K1=V1;K2=V2}; a pair without '=' is refused (the runtime sent something we cannot read). */
  static Map<String, String> parseArgs(String raw) {
    Map<String, String> out = new LinkedHashMap<>();
    if (raw == null || raw.isBlank()) {
      return out;
    }
    for (String pair : raw.split(";")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_ARGS has '" + pair + "', not KEY=VALUE", raw);
      }
      out.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return out;
  }

  /** The previous plugin's result (chained ADD/CHECK/DEL), or null. */
  public JsonObject prevResult() {
    JsonElement p = config.get("prevResult");
    return p != null && p.isJsonObject() ? p.getAsJsonObject() : null;
  }
}
