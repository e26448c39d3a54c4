package dev.trellis.controlplane.model;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import java.util.Map;

/**
 * One workload instance (a pod).
 *
 * @param address its IP (local mode: a loopback address)
 * @param ready whether it takes new traffic (a cluster's EndpointSlices or pod readiness); a workload that is not
 *     ready still gets its identity, but is no service's endpoint
 * @param mtls its own mTLS mode, or null for the mesh default
 */
public record Workload(String name, String namespace, String serviceAccount, String node, String address,
    Map<String, String> labels, boolean inMesh, boolean ready, MtlsMode mtls) {

  public Workload {
    labels = Map.copyOf(labels);
  }

  public ObjectRef ref() {
    return new ObjectRef(namespace, name);
  }

  public SpiffeId identity(TrustDomain trustDomain) {
    return SpiffeId.forWorkload(trustDomain, namespace, serviceAccount);
  }

  /** Whether every entry of {@code selector} is among this workload's labels. */
  public boolean matches(Map<String, String> selector) {
    if (selector.isEmpty()) {
      return false;
    }
    for (Map.Entry<String, String> e : selector.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
