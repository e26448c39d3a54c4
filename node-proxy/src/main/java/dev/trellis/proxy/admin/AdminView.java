package dev.trellis.proxy.admin;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.state.ProxyConfig;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * What the admin ports and the proxy's own metrics read of a running node proxy: read-only, each call answers with
 * the state at that moment. The node proxy implements it over its parts (so this package does not depend on
 * {@code NodeProxy}, which starts the admin server); tests give a fake.
 */
public interface AdminView {

  /** Config from the control plane for every watched type, and an SVID for each local in-mesh identity. */
  boolean ready();

  /** The xDS view in use. */
  ProxyConfig config();

  /** Each local identity's SVID: ready, not-after, serial. */
  Collection<CertificateManager.IdentityStatus> identities();

  /** The upstream clusters: breakers, counters, endpoints and their health. */
  Collection<ClusterRuntime> clusters();

  /** The latest inbound requests (bounded), for {@code /connections}. */
  List<InboundRecords.Entry> recentInbound();

  /** Inbound tunnel and plaintext requests by the status they were answered with. */
  Map<Integer, Long> inboundByStatus();

  /** Pooled outbound HBONE connections. */
  int hboneConnections();

  /** Pooled upstream HTTP connections. */
  int upstreamConnections();

  /** Inbound connections whose requests telemetry could not follow, by reason. */
  Map<String, Long> unobservedConnections();

  /** What the listeners refused, by listener label, then reason label. */
  Map<String, Map<String, Long>> refusals();

  /** Whether the proxy is draining (SIGTERM): it then reports not ready. */
  default boolean draining() {
    return false;
  }

  /** Connections a drain (SIGTERM) closed at its timeout because they had not finished. */
  default long drainClosedConnections() {
    return 0;
  }

  /** Every metric of the process (its one metrics pipeline) in the Prometheus text format 0.0.4. */
  String metricsText();
}
