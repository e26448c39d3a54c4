package dev.trellis.controlplane.server;

import dev.trellis.ca.server.BearerAuthInterceptor.Anonymous;
import dev.trellis.controlplane.cluster.Leadership;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.mtls.identity.TrustDomain;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How a control plane runs. Ports 0 pick free ones (tests).
 *
 * @param meshFile the local-mode mesh file
 * @param stateDir where the CA keeps its root ({@code <stateDir>/ca})
 * @param bind the address all ports listen on (local mode: 127.0.0.1)
 * @param xdsPort plaintext xDS + CA (15010)
 * @param xdsTlsPort TLS xDS + CA with a certificate from the mesh CA (15012)
 * @param adminPort health, metrics, debug (15014)
 * @param anonymousXds whether xDS clients without a token get the global view (with the anonymous limits of
 *     {@code AdsLimits}): local mode allows them (proxyless gRPC with an insecure bootstrap), cluster mode refuses
 *     them unless asked to
 * @param debounce quiet period before a change is pushed
 * @param maxDebounce longest a burst of changes may delay a push
 * @param pollInterval how often the mesh file is checked for changes
 * @param servingDnsNames DNS SANs of the 15012 certificate
 * @param cluster how to run in a Kubernetes cluster; null in local mode (mesh file)
 * @param adminTokenFile a file holding the admin token that reads every {@code /debug/*} page from anywhere; null
 *     for none (then only callers on this host and node tokens, for their own node, may)
 */
public record ControlPlaneOptions(Path meshFile, Path stateDir, String bind, int xdsPort, int xdsTlsPort, int adminPort,
    Anonymous anonymousXds, Duration debounce, Duration maxDebounce, Duration pollInterval, List<String> servingDnsNames,
    Cluster cluster, Path adminTokenFile) {

  /**
   * Cluster mode: the mesh comes from the API server, the CA root lives in a Secret, node proxies authenticate
   * with projected service-account tokens (TokenReview).
   *
   * @param namespace the control plane's own namespace (its Secret, Lease, Service; mesh-wide PeerAuthentication)
   * @param podName this replica's name (its identity in the Lease)
   * @param trustedNodeProxies the node proxies' service accounts, {@code namespace/name}
   * @param startTimeout how long the informers may take to list the cluster before start-up fails
   * @param egress what captured pods may reach by passthrough beyond the defaults ({@code --egress-allow-cidrs})
   */
  public record Cluster(String namespace, String podName, Set<String> trustedNodeProxies, TrustDomain trustDomain,
      String clusterDomain, MtlsMode defaultMtls, Leadership.Timings leaseTimings, Duration startTimeout,
      MeshEgress egress) {

    /** Default egress settings. */
    public Cluster(String namespace, String podName, Set<String> trustedNodeProxies, TrustDomain trustDomain,
        String clusterDomain, MtlsMode defaultMtls, Leadership.Timings leaseTimings, Duration startTimeout) {
      this(namespace, podName, trustedNodeProxies, trustDomain, clusterDomain, defaultMtls, leaseTimings, startTimeout,
          MeshEgress.DEFAULTS);
    }

    public Cluster withEgress(MeshEgress settings) {
      return new Cluster(namespace, podName, trustedNodeProxies, trustDomain, clusterDomain, defaultMtls, leaseTimings,
          startTimeout, settings);
    }

    public Cluster {
      Objects.requireNonNull(egress, "egress");
      trustedNodeProxies = Set.copyOf(trustedNodeProxies);
      if (trustedNodeProxies.isEmpty()) {
        throw new IllegalArgumentException("trusted node proxies: none (expected: at least one namespace/name, e.g. "
            + "trellis-system/trellis-node-proxy)");
      }
      for (String sa : trustedNodeProxies) {
        if (!sa.matches("[a-z0-9.-]+/[a-z0-9.-]+")) {
          throw new IllegalArgumentException("trusted node proxy '" + sa + "' (expected: namespace/serviceaccount)");
        }
      }
    }

    public static Cluster defaults(String namespace, String podName, Set<String> trustedNodeProxies) {
      return new Cluster(namespace, podName, trustedNodeProxies, TrustDomain.CLUSTER_LOCAL, "cluster.local",
          MtlsMode.PERMISSIVE, Leadership.Timings.defaults(), Duration.ofMinutes(2));
    }

    /** DNS names of the control plane's Service, for the 15012 certificate. */
    List<String> servingDnsNames(String service) {
      return List.of(service, service + "." + namespace, service + "." + namespace + ".svc",
          service + "." + namespace + ".svc." + clusterDomain);
    }
  }

  public ControlPlaneOptions {
    servingDnsNames = List.copyOf(servingDnsNames);
    Objects.requireNonNull(anonymousXds, "anonymousXds");
    if (pollInterval.isNegative() || pollInterval.isZero()) {
      throw new IllegalArgumentException("poll interval: " + pollInterval + " (expected: > 0)");
    }
    if (debounce.isNegative() || maxDebounce.compareTo(debounce) < 0) {
      throw new IllegalArgumentException("debounce: " + debounce + ", max " + maxDebounce
          + " (expected: 0 <= debounce <= max)");
    }
    for (int port : new int[] {xdsPort, xdsTlsPort, adminPort}) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
      }
    }
  }

  /** Local-mode defaults: loopback, the standard ports, anonymous xDS allowed (global view only), 100 ms debounce. */
  public static ControlPlaneOptions local(Path meshFile, Path stateDir) {
    return new ControlPlaneOptions(meshFile, stateDir, "127.0.0.1", 15010, 15012, 15014, Anonymous.ALLOW,
        Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(1),
        List.of("localhost", "trellis-control-plane", "trellis-control-plane.trellis-system.svc"), null, null);
  }

  /** Cluster-mode defaults: all addresses, the standard ports, anonymous xDS refused (every client needs a token). */
  public static ControlPlaneOptions kubernetes(Cluster cluster) {
    return new ControlPlaneOptions(null, null, "0.0.0.0", 15010, 15012, 15014, Anonymous.REJECT, Duration.ofMillis(100),
        Duration.ofSeconds(1), Duration.ofSeconds(1), cluster.servingDnsNames("trellis-control-plane"), cluster, null);
  }

  /** Whether xDS clients without a token are served (the global view, anonymous limits) or refused. */
  public ControlPlaneOptions withAnonymousXds(Anonymous anonymous) {
    return new ControlPlaneOptions(meshFile, stateDir, bind, xdsPort, xdsTlsPort, adminPort, anonymous, debounce,
        maxDebounce, pollInterval, servingDnsNames, cluster, adminTokenFile);
  }

  public ControlPlaneOptions withAdminTokenFile(Path file) {
    return new ControlPlaneOptions(meshFile, stateDir, bind, xdsPort, xdsTlsPort, adminPort, anonymousXds, debounce,
        maxDebounce, pollInterval, servingDnsNames, cluster, file);
  }

  public ControlPlaneOptions withPorts(int xds, int xdsTls, int admin) {
    return new ControlPlaneOptions(meshFile, stateDir, bind, xds, xdsTls, admin, anonymousXds, debounce, maxDebounce,
        pollInterval, servingDnsNames, cluster, adminTokenFile);
  }

  public ControlPlaneOptions withBind(String address) {
    return new ControlPlaneOptions(meshFile, stateDir, address, xdsPort, xdsTlsPort, adminPort, anonymousXds, debounce,
        maxDebounce, pollInterval, servingDnsNames, cluster, adminTokenFile);
  }

  public ControlPlaneOptions withDebounce(Duration quiet, Duration max) {
    return new ControlPlaneOptions(meshFile, stateDir, bind, xdsPort, xdsTlsPort, adminPort, anonymousXds, quiet, max,
        pollInterval, servingDnsNames, cluster, adminTokenFile);
  }

  public ControlPlaneOptions withPollInterval(Duration interval) {
    return new ControlPlaneOptions(meshFile, stateDir, bind, xdsPort, xdsTlsPort, adminPort, anonymousXds, debounce,
        maxDebounce, interval, servingDnsNames, cluster, adminTokenFile);
  }
}
