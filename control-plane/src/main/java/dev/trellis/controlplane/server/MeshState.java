package dev.trellis.controlplane.server;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import dev.trellis.ca.server.CallerAuthenticator;
import dev.trellis.ca.server.StaticTokenAuthenticator;
import dev.trellis.ca.server.WorkloadDirectory;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The mesh currently in effect and what derives from it for access control: node tokens (local mode; a cluster
 * authenticates callers by TokenReview instead) and which identities run on which node. Replaced as a whole on reload, read lock-free, so a token or a
 * workload added to the mesh file is honoured at once, and a removed one no longer is.
 */
final class MeshState implements CallerAuthenticator, WorkloadDirectory {

  private record Derived(Mesh mesh, StaticTokenAuthenticator tokens, Map<String, Set<SpiffeId>> identitiesByNode) {}

  private volatile Derived current;
  private final CallerAuthenticator cluster;
  /**
   * The identities of the last update by namespace and service account: a reload builds one per service account
   * still in use instead of one per workload (10,000 validated SPIFFE IDs were a third of a one-endpoint change's
   * allocation).
   */
  private Map<Account, SpiffeId> identities = Map.of();
  private TrustDomain identitiesDomain;

  private record Account(String namespace, String serviceAccount) {
    // Written out, as Workload's are (see there).
    @Override
    public boolean equals(Object o) {
      return o instanceof Account a && Objects.equals(namespace, a.namespace)
          && Objects.equals(serviceAccount, a.serviceAccount);
    }

    @Override
    public int hashCode() {
      return Objects.hashCode(namespace) * 31 + Objects.hashCode(serviceAccount);
    }
  }

  /** @param cluster how callers authenticate in a cluster (TokenReview); null: the mesh file's node tokens */
  MeshState(Mesh mesh, CallerAuthenticator cluster) {
    this.cluster = cluster;
    update(mesh);
  }

  synchronized void update(Mesh mesh) {
    Map<String, String> tokens = new HashMap<>();
    for (MeshNode n : mesh.nodes()) {
      if (n.token() != null) {
        tokens.put(n.name(), n.token());
      }
    }
    Map<String, Set<SpiffeId>> byNode = new HashMap<>();
    Map<Account, SpiffeId> previous = mesh.trustDomain().equals(identitiesDomain) ? identities : Map.of();
    Map<Account, SpiffeId> used = new HashMap<>();
    for (Workload w : mesh.workloads()) {
      if (!w.inMesh()) {
        continue; // a pod outside the mesh needs no mesh identity: its node proxy may not obtain one for it
      }
      SpiffeId id = used.computeIfAbsent(new Account(w.namespace(), w.serviceAccount()), a -> {
        SpiffeId known = previous.get(a);
        return known != null ? known : w.identity(mesh.trustDomain());
      });
      byNode.computeIfAbsent(w.node(), n -> new HashSet<>()).add(id);
    }
    identities = used;
    identitiesDomain = mesh.trustDomain();
    current = new Derived(mesh, new StaticTokenAuthenticator(tokens), byNode);
  }

  Mesh mesh() {
    return current.mesh();
  }

  @Override
  public Caller authenticate(String bearerToken) throws CaException {
    return authenticate(bearerToken, null);
  }

  @Override
  public Caller authenticate(String bearerToken, SocketAddress peer) throws CaException {
    return cluster != null ? cluster.authenticate(bearerToken, peer) : current.tokens().authenticate(bearerToken);
  }

  @Override
  public boolean runsOn(SpiffeId identity, String node) {
    return current.identitiesByNode().getOrDefault(node, Set.of()).contains(identity);
  }
}
