package dev.trellis.proxy.state;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.List;
import java.util.Map;

/** A workload running on this proxy's node, from the Trellis {@code Workload} resource. */
public record LocalWorkload(String name, String namespace, SpiffeId identity, List<String> addresses, boolean inMesh,
    MtlsMode mtls, Map<String, String> labels) {

  public LocalWorkload {
    addresses = List.copyOf(addresses);
    labels = Map.copyOf(labels);
  }

  public enum MtlsMode {
    STRICT,
    PERMISSIVE,
    DISABLE
  }
}
