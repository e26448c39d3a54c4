package dev.trellis.cni;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.HashSet;
import java.util.Set;

/**
 * Trellis's own fields in its entry of the CNI configuration list:
 * {@code "agentSocket"} (the node agent's Unix socket, default {@value AgentProtocol#DEFAULT_SOCKET}),
 * {@code "agentTimeoutMillis"} (how long ADD waits for redirection, default 10 s) and
 * {@code "excludeNamespaces"} (never captured, default {@code ["kube-system"]}).
 */
record TrellisCniConfig(String agentSocket, int agentTimeoutMillis, Set<String> excludeNamespaces) {

  static TrellisCniConfig of(JsonObject config) {
    String socket = AgentProtocol.DEFAULT_SOCKET;
    int timeout = 10_000;
    Set<String> excluded = new HashSet<>(CniPlugin.DEFAULT_EXCLUDED);
    try {
      if (config.has("agentSocket")) {
        socket = config.get("agentSocket").getAsString();
      }
      if (config.has("agentTimeoutMillis")) {
        timeout = config.get("agentTimeoutMillis").getAsInt();
        if (timeout <= 0) {
          throw new CniError(CniError.INVALID_CONFIG, "agentTimeoutMillis: " + timeout + " (expected: > 0)", null);
        }
      }
      if (config.has("excludeNamespaces")) {
        excluded.clear();
        for (JsonElement e : config.getAsJsonArray("excludeNamespaces")) {
          excluded.add(e.getAsString());
        }
      }
    } catch (ClassCastException | IllegalStateException | UnsupportedOperationException | NumberFormatException e) {
      throw new CniError(CniError.INVALID_CONFIG, "trellis-cni fields: agentSocket is a string, agentTimeoutMillis a "
          + "number, excludeNamespaces a list of strings", e.getMessage());
    }
    return new TrellisCniConfig(socket, timeout, Set.copyOf(excluded));
  }
}
