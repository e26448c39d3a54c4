package dev.trellis.controlplane.model;

import java.util.Objects;

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

  // equals and hashCode written out: a record's generated ones run through method handles, which the control plane's
  // C1-only JIT does not inline, and translation cache keys hash and compare these for every workload on each change.

  @Override
  public boolean equals(Object o) {
    return this == o || o instanceof Workload w && ready == w.ready && inMesh == w.inMesh
        && Objects.equals(name, w.name) && Objects.equals(namespace, w.namespace)
        && Objects.equals(serviceAccount, w.serviceAccount)
        && Objects.equals(node, w.node) && Objects.equals(address, w.address) && labels.equals(w.labels)
        && mtls == w.mtls;
  }

  @Override
  public int hashCode() {
    int h = Objects.hashCode(name);
    h = 31 * h + Objects.hashCode(namespace);
    h = 31 * h + Objects.hashCode(serviceAccount);
    h = 31 * h + Objects.hashCode(node);
    h = 31 * h + Objects.hashCode(address);
    h = 31 * h + labels.hashCode();
    h = 31 * h + (inMesh ? 1 : 0);
    h = 31 * h + (ready ? 1 : 0);
    return 31 * h + Objects.hashCode(mtls);
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
