package dev.trellis.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Renders {@code trellis status} from what was fetched: the run state, which pids are alive, the
 * control plane's {@code /debug/clients} and each node proxy's {@code /config_dump}. Pure: the
 * fetching is done by {@link StatusCommand}.
 */
final class StatusView {

  private StatusView() {}

  /**
   * @param clients the control plane's {@code /debug/clients} body, if it answered
   * @param dumps node name to its {@code /config_dump} body, for the proxies that answered
   */
  static List<String> render(RunState state, Predicate<RunState.Entry> alive, Optional<String> clients, Map<String, String> dumps) {
    List<String> out = new ArrayList<>();
    out.add("Run of " + state.meshFile() + " (started " + state.startedAt() + ")");
    out.add("");
    out.add("PROCESSES");
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("NAME", "ROLE", "STATE", "PID", "LISTENS ON", "LOG"));
    for (RunState.Entry e : state.processes()) {
      rows.add(List.of(e.name(), e.role().name().toLowerCase(Locale.ROOT).replace('_', '-'),
          alive.test(e) ? "alive" : "DEAD", String.valueOf(e.pid()), listens(e), e.log()));
    }
    out.addAll(table(rows));
    if (state.network() != null) {
      out.add("");
      out.add("PODS (network namespaces; enter one with 'trellis exec WORKLOAD -- COMMAND')");
      out.addAll(podRows(state.network()));
    }
    out.add("");
    out.add("XDS CLIENTS (control plane /debug/clients)");
    if (clients.isEmpty()) {
      out.add("  the control plane's admin did not answer; see its log above");
    } else {
      out.addAll(clientRows(clients.get()));
    }
    out.add("");
    out.add("CERTIFICATES (node proxies /config_dump)");
    out.addAll(certificateRows(state, dumps));
    return out;
  }

  /** One row per pod of a {@code --netns} run: where it is and whether the mesh captures it. */
  static List<String> podRows(RunState.Network network) {
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("WORKLOAD", "NODE", "ADDRESS", "NETWORK NAMESPACE", "MESH"));
    for (NetnsPlan.PodNet p : network.pods()) {
      rows.add(List.of(p.name(), p.node(), p.address(), p.netns(), p.inMesh() ? "captured" : "not in the mesh"));
    }
    return table(rows);
  }

  /** {@code 127.0.61.1:15001,15006}, or {@code -} when it listens nowhere known. */
  static String listens(RunState.Entry e) {
    if (e.ports() == null || e.ports().isEmpty()) {
      return "-";
    }
    return e.address() + ":" + String.join(",", e.ports().stream().map(String::valueOf).toList());
  }

  static List<String> clientRows(String json) {
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("NODE", "PROTOCOL", "ACKED VERSIONS", "NACKS"));
    for (JsonElement c : JsonParser.parseString(json).getAsJsonArray()) {
      JsonObject o = c.getAsJsonObject();
      List<String> acked = new ArrayList<>();
      long nacks = 0;
      for (JsonElement t : o.getAsJsonArray("types")) {
        JsonObject to = t.getAsJsonObject();
        acked.add(shortType(text(to, "type")) + "=" + text(to, "ackedVersion"));
        nacks += to.has("nacks") ? to.get("nacks").getAsLong() : 0;
      }
      rows.add(List.of(text(o, "node"), text(o, "protocol"), String.join(" ", acked), String.valueOf(nacks)));
    }
    if (rows.size() == 1) {
      return List.of("  no xDS client is connected");
    }
    return table(rows);
  }

  static List<String> certificateRows(RunState state, Map<String, String> dumps) {
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("NODE", "IDENTITY", "READY", "EXPIRES"));
    for (RunState.Entry e : state.all(RunState.Role.NODE_PROXY)) {
      String dump = dumps.get(e.name());
      if (dump == null) {
        rows.add(List.of(e.name(), "(debug admin " + LaunchPlan.proxyDebugAdmin(state, e) + " did not answer)", "-",
            "-"));
        continue;
      }
      JsonArray ids = JsonParser.parseString(dump).getAsJsonObject().getAsJsonArray("identities");
      for (JsonElement id : ids == null ? new JsonArray() : ids) {
        JsonObject o = id.getAsJsonObject();
        rows.add(List.of(e.name(), text(o, "identity"), text(o, "ready"), o.has("notAfter") ? text(o, "notAfter") : "-"));
      }
    }
    return table(rows);
  }

  /** {@code type.googleapis.com/envoy.config.cluster.v3.Cluster} → {@code Cluster}. */
  static String shortType(String type) {
    return type.substring(Math.max(type.lastIndexOf('.'), type.lastIndexOf('/')) + 1);
  }

  private static String text(JsonObject o, String field) {
    JsonElement e = o.get(field);
    return e == null || e.isJsonNull() ? "-" : e.getAsString();
  }

  /** Rows padded into aligned columns, each line indented by two spaces. */
  static List<String> table(List<List<String>> rows) {
    int columns = rows.getFirst().size();
    int[] width = new int[columns];
    rows.forEach(r -> {
      for (int i = 0; i < columns; i++) {
        width[i] = Math.max(width[i], r.get(i).length());
      }
    });
    List<String> out = new ArrayList<>();
    for (List<String> r : rows) {
      StringBuilder b = new StringBuilder(" ");
      for (int i = 0; i < columns; i++) {
        b.append(' ').append(i == columns - 1 ? r.get(i) : String.format("%-" + width[i] + "s ", r.get(i)));
      }
      out.add(b.toString().stripTrailing());
    }
    return out;
  }
}
