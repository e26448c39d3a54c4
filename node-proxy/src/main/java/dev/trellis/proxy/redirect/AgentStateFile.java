package dev.trellis.proxy.redirect;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * What the node agent must not forget across its own restart: every pod attachment the runtime
 * reported (enrolled or not: a label change may enroll it later) and which of them are captured.
 * One JSON file, replaced atomically on every change, so a crash never leaves half a file.
 */
public final class AgentStateFile {

  /** A remembered attachment and whether it is captured. */
  public record Entry(PodAttachment attachment, boolean captured) {}

  private final Path file;

  public AgentStateFile(Path file) {
    this.file = file;
  }

  public void save(Collection<Entry> entries) throws IOException {
    JsonArray pods = new JsonArray();
    for (Entry e : entries) {
      JsonObject o = toJson(e.attachment());
      o.addProperty("captured", e.captured());
      pods.add(o);
    }
    JsonObject root = new JsonObject();
    root.addProperty("version", 1);
    root.add("pods", pods);
    Files.createDirectories(file.toAbsolutePath().getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().create().toJson(root), StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The saved entries; none when there is no file yet. A damaged file is an error naming the file. */
  public List<Entry> load() throws IOException {
    if (!Files.exists(file)) {
      return List.of();
    }
    try {
      JsonObject root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
      List<Entry> out = new ArrayList<>();
      for (JsonElement e : root.getAsJsonArray("pods")) {
        JsonObject o = e.getAsJsonObject();
        out.add(new Entry(fromJson(o), o.get("captured").getAsBoolean()));
      }
      return out;
    } catch (JsonParseException | IllegalStateException | NullPointerException | UnsupportedOperationException e) {
      throw new IOException("node agent state file " + file + " is damaged (" + e.getMessage()
          + "); move it away to start from the runtime's next calls", e);
    }
  }

  /** An attachment's fields under the names the CNI plugin sends them with (files written before keep loading). */
  private static JsonObject toJson(PodAttachment a) {
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

  private static PodAttachment fromJson(JsonObject o) {
    List<String> ips = new ArrayList<>();
    if (o.has("ips") && o.get("ips").isJsonArray()) {
      o.getAsJsonArray("ips").forEach(e -> ips.add(e.getAsString()));
    }
    return new PodAttachment(string(o, "containerId"), string(o, "netns"), string(o, "ifname"), string(o, "namespace"),
        string(o, "pod"), string(o, "podUid"), ips);
  }

  private static String string(JsonObject o, String name) {
    JsonElement e = o.get(name);
    return e == null || e.isJsonNull() ? null : e.getAsString();
  }
}
