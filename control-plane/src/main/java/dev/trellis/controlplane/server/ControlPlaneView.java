package dev.trellis.controlplane.server;

import dev.trellis.controlplane.admin.AdminView;
import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.server.ClientStatus;
import java.time.Duration;
import java.util.List;

/** What the admin port reads of a started {@link ControlPlane}. */
record ControlPlaneView(ControlPlane cp, MetricsPipeline metrics) implements AdminView {

  @Override
  public Snapshot snapshot() {
    return cp.store().current();
  }

  @Override
  public List<ClientStatus> clients(Duration timeout) {
    return cp.ads().registry().clients(timeout);
  }

  @Override
  public MeshFileSource.Status meshStatus() {
    return cp.meshStatus();
  }

  @Override
  public ClusterStatus clusterStatus() {
    return cp.clusterStatus();
  }

  @Override
  public String metricsText() {
    return metrics.prometheusText();
  }
}
