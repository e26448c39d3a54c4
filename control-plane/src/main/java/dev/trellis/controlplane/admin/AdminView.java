package dev.trellis.controlplane.admin;

import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.server.ClientStatus;
import java.time.Duration;
import java.util.List;

/**
 * What the admin port reads of a running control plane: read-only, each call answers with the state at that moment.
 * The control plane implements it over its parts (so this package does not depend on {@code ControlPlane}, which
 * starts the admin server); tests give a fake.
 */
public interface AdminView {

  /** The snapshot being served. */
  Snapshot snapshot();

  /** Each connected xDS client, as its stream reports itself within {@code timeout}. */
  List<ClientStatus> clients(Duration timeout);

  /** The mesh file's reload status; null in cluster mode. */
  MeshFileSource.Status meshStatus();

  /** Cluster mode: the Lease and the optional APIs the cluster lacks; null in local mode. */
  ClusterStatus clusterStatus();

  /** Every metric of the process (its one metrics pipeline) in the Prometheus text format 0.0.4. */
  String metricsText();

  /** Whether this replica holds the control-plane Lease, who does, and which optional APIs are missing. */
  record ClusterStatus(boolean leader, String identity, String currentLeader, List<String> missingApis) {}
}
