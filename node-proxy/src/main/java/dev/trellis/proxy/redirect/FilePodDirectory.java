package dev.trellis.proxy.redirect;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The node agent's pod directory outside Kubernetes: a JSON file with the namespaces' labels and the pods of
 * this node, re-read when it changes ({@link #reload}). Namespaces not listed have no labels. A pod may name
 * its cgroup directory (where eBPF attaches). The format (docs/node-agent.md):
 *
 * <pre>
 * {"namespaces": {"demo": {"trellis.dev/mesh": "enabled"}},
 *  "pods": [{"namespace": "demo", "name": "client-0", "uid": "…", "labels": {…}, "annotations": {…},
 *            "hostNetwork": false, "cgroup": "/sys/fs/cgroup/…"}]}
 * </pre>
 *
 * A file that cannot be read or parsed is reported and the last good contents stay in force: a typo never
 * releases every pod. Thread-safe (the contents are swapped whole).
 */
public final class FilePodDirectory implements PodDirectory, CgroupResolver {

  private record Contents(Map<String, Pod> pods, Map<String, String> cgroups, String text) {}

  private final Path file;
  private volatile Contents contents = new Contents(Map.of(), Map.of(), null);

  private FilePodDirectory(Path file) {
    this.file = file;
  }

  /** Reads {@code file}; fails if it cannot be read or parsed (the agent should not start on a bad file). */
  public static FilePodDirectory load(Path file) throws IOException {
    FilePodDirectory d = new FilePodDirectory(file);
    d.reload();
    return d;
  }

  /**
   * Reads the file again; returns whether its contents changed.
   *
   * @throws IOException if it cannot be read or is not a valid pods file (the previous contents stay)
   */
  public boolean reload() throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    if (text.equals(contents.text())) {
      return false;
    }
    contents = parse(text, file.toString());
    return true;
  }

  static Contents parse(String text, String label) throws IOException {
    JsonObject root;
    try {
      JsonElement e = JsonParser.parseString(text);
      if (!e.isJsonObject()) {
        throw new IOException(label + ": expected a JSON object with \"namespaces\" and \"pods\"");
      }
      root = e.getAsJsonObject();
      Map<String, Map<String, String>> namespaces = new HashMap<>();
      if (root.has("namespaces")) {
        for (var ns : root.getAsJsonObject("namespaces").entrySet()) {
          namespaces.put(ns.getKey(), strings(ns.getValue(), label + ": namespaces." + ns.getKey()));
        }
      }
      Map<String, Pod> pods = new LinkedHashMap<>();
      Map<String, String> cgroups = new HashMap<>();
      int i = 0;
      for (JsonElement pe : root.has("pods") ? root.getAsJsonArray("pods") : new JsonArray()) {
        String at = label + ": pods[" + i++ + "]";
        JsonObject p = pe.getAsJsonObject();
        String ns = required(p, "namespace", at);
        String name = required(p, "name", at);
        Pod pod = new Pod(ns, name, p.has("uid") ? p.get("uid").getAsString() : null,
            strings(p.get("labels"), at + ".labels"), namespaces.getOrDefault(ns, Map.of()),
            p.has("hostNetwork") && p.get("hostNetwork").getAsBoolean(), strings(p.get("annotations"), at + ".annotations"));
        pods.put(ns + "/" + name, pod);
        if (p.has("cgroup")) {
          cgroups.put(ns + "/" + name, p.get("cgroup").getAsString());
        }
      }
      return new Contents(Map.copyOf(pods), Map.copyOf(cgroups), text);
    } catch (JsonParseException | IllegalStateException | ClassCastException | UnsupportedOperationException e) {
      throw new IOException(label + ": not a valid pods file: " + e.getMessage(), e);
    }
  }

  private static String required(JsonObject o, String field, String at) throws IOException {
    if (!o.has(field) || !o.get(field).isJsonPrimitive() || o.get(field).getAsString().isBlank()) {
      throw new IOException(at + "." + field + " is required");
    }
    return o.get(field).getAsString();
  }

  private static Map<String, String> strings(JsonElement e, String at) throws IOException {
    if (e == null || e.isJsonNull()) {
      return Map.of();
    }
    if (!e.isJsonObject()) {
      throw new IOException(at + ": expected an object of strings");
    }
    Map<String, String> m = new HashMap<>();
    for (var entry : e.getAsJsonObject().entrySet()) {
      m.put(entry.getKey(), entry.getValue().getAsString());
    }
    return m;
  }

  @Override
  public Optional<Pod> find(String namespace, String name, String uid) {
    Pod p = contents.pods().get(namespace + "/" + name);
    if (p == null || (uid != null && p.uid() != null && !Objects.equals(uid, p.uid()))) {
      return Optional.empty();
    }
    return Optional.of(p);
  }

  @Override
  public Optional<String> find(PodAttachment a, Optional<Pod> pod) {
    return Optional.ofNullable(contents.cgroups().get(a.namespace() + "/" + a.pod()));
  }
}
