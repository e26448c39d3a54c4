package dev.trellis.controlplane.translate;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.Workload;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which workloads each service selects, and the reverse, computed once per translation through an
 * inverted index of labels: linear in the number of workloads and selector entries instead of
 * services x workloads (10 M label checks for 1,000 services over 10,000 workloads).
 */
final class Membership {

  private final Map<ObjectRef, List<Workload>> byService = new HashMap<>();
  private final Map<Workload, List<Service>> byWorkload = new IdentityHashMap<>();

  Membership(Mesh mesh) {
    Map<Label, List<Workload>> byLabel = new HashMap<>();
    for (Workload w : mesh.workloads()) {
      w.labels().forEach((k, v) -> byLabel.computeIfAbsent(new Label(k, v), x -> new ArrayList<>()).add(w));
    }
    for (Service s : mesh.services()) {
      List<Workload> smallest = null;
      for (Map.Entry<String, String> e : s.selector().entrySet()) {
        List<Workload> posting = byLabel.getOrDefault(new Label(e.getKey(), e.getValue()), List.of());
        if (smallest == null || posting.size() < smallest.size()) {
          smallest = posting;
        }
      }
      List<Workload> members = new ArrayList<>();
      if (smallest != null) {
        for (Workload w : smallest) {
          if (w.matches(s.selector())) {
            members.add(w);
            byWorkload.computeIfAbsent(w, x -> new ArrayList<>()).add(s);
          }
        }
      }
      byService.put(s.ref(), members);
    }
  }

  /** One label, as a key without building a {@code key=value} string per label per translation. */
  private record Label(String key, String value) {
    // Written out, as Workload's are (see there).
    @Override
    public boolean equals(Object o) {
      return o instanceof Label l && key.equals(l.key) && value.equals(l.value);
    }

    @Override
    public int hashCode() {
      return key.hashCode() * 31 + value.hashCode();
    }
  }

  /** The workloads {@code service} selects, in mesh order. */
  List<Workload> workloads(Service service) {
    return byService.getOrDefault(service.ref(), List.of());
  }

  /** The services selecting {@code workload}, in mesh order. */
  List<Service> services(Workload workload) {
    return byWorkload.getOrDefault(workload, List.of());
  }
}
