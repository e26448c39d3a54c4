package dev.trellis.proxy.cni;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;

/** A pod attachment as JSON: the agent protocol's fields, also the agent's state file entries. */
public final class AttachmentJson {

  private AttachmentJson() {}

  public static JsonObject toJson(NodeAgent.Attachment a) {
    JsonObject o = new JsonObject();
    o.addProperty("containerId", a.containerId());
    o.addProperty("netns", a.netns());
    o.addProperty("ifname", a.ifname());
    o.addProperty("namespace", a.namespace());
    o.addProperty("pod", a.pod());
    o.addProperty("podUid", a.podUid());
    JsonArray ips = new JsonArray();
    a.ips().forEach(ips::add);
    o.add("ips", ips);
    return o;
  }

  /** The attachment in {@code o}; absent fields are null, absent addresses none. */
  public static NodeAgent.Attachment fromJson(JsonObject o) {
    List<String> ips = new ArrayList<>();
    if (o.has("ips") && o.get("ips").isJsonArray()) {
      o.getAsJsonArray("ips").forEach(e -> ips.add(e.getAsString()));
    }
    return new NodeAgent.Attachment(string(o, "containerId"), string(o, "netns"), string(o, "ifname"),
        string(o, "namespace"), string(o, "pod"), string(o, "podUid"), ips);
  }

  private static String string(JsonObject o, String name) {
    JsonElement e = o.get(name);
    return e == null || e.isJsonNull() ? null : e.getAsString();
  }
}
