package dev.trellis.proxy.admin;

import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.state.ProxyConfig;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** An {@link AdminView} whose answers a test sets. */
final class FakeAdminView implements AdminView {

  volatile boolean ready = true;
  volatile boolean draining;
  volatile ProxyConfig config = ProxyConfig.EMPTY;
  volatile List<CertificateManager.IdentityStatus> identities = List.of();
  volatile List<ClusterRuntime> clusters = List.of();
  volatile List<InboundRecords.Entry> recentInbound = List.of();
  volatile Map<Integer, Long> inboundByStatus = Map.of();
  volatile int hboneConnections;
  volatile int upstreamConnections;
  volatile Map<String, Long> unobservedConnections = Map.of();
  volatile Map<String, Map<String, Long>> refusals = Map.of();
  volatile Supplier<String> metricsText = () -> "";

  @Override
  public boolean ready() {
    return ready;
  }

  @Override
  public boolean draining() {
    return draining;
  }

  @Override
  public ProxyConfig config() {
    return config;
  }

  @Override
  public Collection<CertificateManager.IdentityStatus> identities() {
    return identities;
  }

  @Override
  public Collection<ClusterRuntime> clusters() {
    return clusters;
  }

  @Override
  public List<InboundRecords.Entry> recentInbound() {
    return recentInbound;
  }

  @Override
  public Map<Integer, Long> inboundByStatus() {
    return inboundByStatus;
  }

  @Override
  public int hboneConnections() {
    return hboneConnections;
  }

  @Override
  public int upstreamConnections() {
    return upstreamConnections;
  }

  @Override
  public Map<String, Long> unobservedConnections() {
    return unobservedConnections;
  }

  @Override
  public Map<String, Map<String, Long>> refusals() {
    return refusals;
  }

  @Override
  public String metricsText() {
    return metricsText.get();
  }
}
