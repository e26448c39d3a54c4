package dev.trellis.proxy;

import dev.trellis.proxy.admin.AdminView;
import dev.trellis.proxy.cluster.ClusterRuntime;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** What the admin ports and the proxy's metrics read of a started {@link NodeProxy}. */
record NodeProxyView(NodeProxy proxy, MetricsPipeline metrics) implements AdminView {

  @Override
  public boolean ready() {
    return proxy.ready();
  }

  @Override
  public boolean draining() {
    return proxy.draining();
  }

  @Override
  public long drainClosedConnections() {
    return proxy.drainClosedConnections();
  }

  @Override
  public ProxyConfig config() {
    return proxy.config();
  }

  @Override
  public Collection<CertificateManager.IdentityStatus> identities() {
    return proxy.certificates().status().values();
  }

  @Override
  public Collection<ClusterRuntime> clusters() {
    return proxy.clusters().all();
  }

  @Override
  public List<InboundRecords.Entry> recentInbound() {
    return proxy.inbound().recent();
  }

  @Override
  public Map<Integer, Long> inboundByStatus() {
    return proxy.inbound().countByStatus();
  }

  @Override
  public int hboneConnections() {
    return proxy.outbound().hboneConnections();
  }

  @Override
  public int upstreamConnections() {
    return proxy.outbound().upstreamConnections();
  }

  @Override
  public Map<String, Long> unobservedConnections() {
    return proxy.outbound().unobservedConnections();
  }

  @Override
  public Map<String, Map<String, Long>> refusals() {
    return proxy.refusals().counts();
  }

  @Override
  public String metricsText() {
    return metrics.prometheusText();
  }
}
