package dev.trellis.cni;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.trellis.cni.AgentChannel.AgentException;
import dev.trellis.cni.AgentChannel.Answer;
import dev.trellis.cni.AgentChannel.Attachment;
import dev.trellis.cni.AgentChannel.State;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The node agent's Unix-socket protocol, both ends of it (the plugin's {@link UnixSocketAgentChannel} and the agent's
 * server): one connection per call; the request is one JSON object on a line, {@code {"op":
 * "add"|"del"|"check"|"status"|"gc", ...}} with the pod's attachment fields ({@code containerId, netns, ifname,
 * namespace, pod, podUid, ips}) or, for gc, {@code validContainerIds}; the answer is one line too: {@code {"state":
 * "CAPTURED"|"NOT_ENROLLED"|"MISSING"|"READY"|"NOT_READY", "reason": "..."}} or {@code {"error": "..."}}.
 */
public final class AgentProtocol {

  /** Where the node agent listens unless told otherwise (the plugin's {@code agentSocket}, the agent's --socket). */
  public static final String DEFAULT_SOCKET = "/var/run/trellis/cni.sock";
  /** The longest request or answer line either side reads. */
  public static final int MAX_LINE_BYTES = 64 * 1024;

  private AgentProtocol() {}

  /** The operations, by their wire names. */
  public enum Op {
    ADD, DEL, CHECK, STATUS, GC;

    String wireName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * A request as the agent reads it.
   *
   * @param attachment the pod (add, del, check), else null
   * @param validContainerIds the containers the runtime still has (gc), else empty
   */
  public record Request(Op op, Attachment attachment, List<String> validContainerIds) {
    public Request {
      validContainerIds = List.copyOf(validContainerIds);
    }
  }

  /** The request line (without its newline) for a pod operation. */
  static String request(Op op, Attachment a) {
    JsonObject r = new JsonObject();
    r.addProperty("containerId", a.containerId());
    r.addProperty("netns", a.netns());
    r.addProperty("ifname", a.ifname());
    r.addProperty("namespace", a.namespace());
    r.addProperty("pod", a.pod());
    r.addProperty("podUid", a.podUid());
    JsonArray ips = new JsonArray();
    a.ips().forEach(ips::add);
    r.add("ips", ips);
    r.addProperty("op", op.wireName());
    return r.toString();
  }

  /** The STATUS request line. */
  static String status() {
    JsonObject r = new JsonObject();
    r.addProperty("op", Op.STATUS.wireName());
    return r.toString();
  }

  /** The GC request line. */
  static String collect(List<String> validContainerIds) {
    JsonObject r = new JsonObject();
    r.addProperty("op", Op.GC.wireName());
    JsonArray ids = new JsonArray();
    validContainerIds.forEach(ids::add);
    r.add("validContainerIds", ids);
    return r.toString();
  }

  /**
   * Reads a request line.
   *
   * @throws IllegalArgumentException naming what is wrong (not JSON, an unknown op, a field of the wrong type)
   */
  public static Request parseRequest(String line) {
    JsonObject r;
    try {
      r = JsonParser.parseString(line).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new IllegalArgumentException("not a JSON request: " + e.getMessage());
    }
    String op = r.has("op") && r.get("op").isJsonPrimitive() ? r.get("op").getAsString() : "";
    try {
      return switch (op) {
        case "add", "del", "check" -> new Request(Op.valueOf(op.toUpperCase(Locale.ROOT)), attachment(r), List.of());
        case "status" -> new Request(Op.STATUS, null, List.of());
        case "gc" -> {
          List<String> valid = new ArrayList<>();
          if (r.has("validContainerIds")) {
            r.getAsJsonArray("validContainerIds").forEach(e -> valid.add(e.getAsString()));
          }
          yield new Request(Op.GC, null, valid);
        }
        default -> throw new IllegalArgumentException("unknown op '" + op + "' (expected add, del, check, status or gc)");
      };
    } catch (ClassCastException | IllegalStateException | UnsupportedOperationException e) {
      throw new IllegalArgumentException("malformed " + op + " request: " + e.getMessage());
    }
  }

  private static Attachment attachment(JsonObject o) {
    List<String> ips = new ArrayList<>();
    if (o.has("ips") && o.get("ips").isJsonArray()) {
      o.getAsJsonArray("ips").forEach(e -> ips.add(e.getAsString()));
    }
    return new Attachment(string(o, "containerId"), string(o, "netns"), string(o, "ifname"), string(o, "namespace"),
        string(o, "pod"), string(o, "podUid"), ips);
  }

  private static String string(JsonObject o, String name) {
    JsonElement e = o.get(name);
    return e == null || e.isJsonNull() ? null : e.getAsString();
  }

  /** The answer line (without its newline). */
  public static String answer(Answer a) {
    JsonObject o = new JsonObject();
    o.addProperty("state", a.state().name());
    if (a.reason() != null) {
      o.addProperty("reason", a.reason());
    }
    return o.toString();
  }

  /** The error answer line (without its newline). */
  public static String error(String message) {
    JsonObject o = new JsonObject();
    o.addProperty("error", message);
    return o.toString();
  }

  /**
   * Reads an answer line.
   *
   * @throws AgentException if the agent answered an error, or something that is no answer
   */
  static Answer parseAnswer(String line) {
    JsonObject o;
    try {
      o = JsonParser.parseString(line).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new AgentException("the node agent's answer is not a JSON object: " + line);
    }
    if (o.has("error")) {
      throw new AgentException(o.get("error").getAsString());
    }
    if (!o.has("state")) {
      throw new AgentException("the node agent answered without a state: " + o);
    }
    try {
      State state = State.valueOf(o.get("state").getAsString().toUpperCase(Locale.ROOT));
      return new Answer(state, o.has("reason") ? o.get("reason").getAsString() : null);
    } catch (IllegalArgumentException e) {
      throw new AgentException("the node agent answered an unknown state: " + o.get("state"));
    }
  }
}
