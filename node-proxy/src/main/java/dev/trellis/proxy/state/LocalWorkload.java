package dev.trellis.proxy.state;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.List;
import java.util.Map;

/**
 * A workload running on this proxy's node, from the Trellis {@code Workload} resource.
 *
 * @param authorizations the policies selecting it
 * @param portProtocols application protocol ("http", "http2", "grpc", "tcp") by workload port
 */
public record LocalWorkload(String name, String namespace, SpiffeId identity, List<String> addresses, boolean inMesh,
    MtlsMode mtls, Map<String, String> labels, List<AuthorizationSpec> authorizations, Map<Integer, String> portProtocols) {

  public LocalWorkload {
    addresses = List.copyOf(addresses);
    labels = Map.copyOf(labels);
    authorizations = List.copyOf(authorizations);
    portProtocols = Map.copyOf(portProtocols);
  }

  /** A workload without authorization policies or known port protocols. */
  public LocalWorkload(String name, String namespace, SpiffeId identity, List<String> addresses, boolean inMesh,
      MtlsMode mtls, Map<String, String> labels) {
    this(name, namespace, identity, addresses, inMesh, mtls, labels, List.of(), Map.of());
  }

  public LocalWorkload withAuthorizations(List<AuthorizationSpec> policies, Map<Integer, String> protocols) {
    return new LocalWorkload(name, namespace, identity, addresses, inMesh, mtls, labels, policies, protocols);
  }

  /** Whether {@code port} is known to speak HTTP (any version), so requests on it can be parsed. */
  public boolean isHttpPort(int port) {
    String p = portProtocols.get(port);
    return p != null && !p.equals("tcp");
  }

  public enum MtlsMode {
    STRICT,
    PERMISSIVE,
    DISABLE
  }
}
