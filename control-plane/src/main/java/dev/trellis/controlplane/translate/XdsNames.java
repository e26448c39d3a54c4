package dev.trellis.controlplane.translate;

/**
 * Names of the xDS resources Trellis generates; clients (and tests) rely on them.
 *
 * <ul>
 *   <li>Cluster and its endpoints: {@code outbound|<port>||<fqdn>} (Istio's convention)
 *   <li>RouteConfiguration of a service port, and its API listener for proxyless gRPC and Envoy:
 *       {@code <fqdn>:<port>}, the exact name a gRPC client dialing {@code xds:///<fqdn>:<port>} asks for
 *   <li>The node proxies' capture listener: {@value #OUTBOUND_LISTENER}
 *   <li>The trust bundle: SDS secret {@value #TRUST_BUNDLE}
 * </ul>
 */
public final class XdsNames {

  public static final String OUTBOUND_LISTENER = "trellis-outbound";
  public static final String PASSTHROUGH_CLUSTER = "PassthroughCluster";
  public static final String TRUST_BUNDLE = "trellis-trust-bundle";
  public static final int OUTBOUND_PORT = 15001;
  /** filter_metadata key of Trellis facts on clusters and endpoints. */
  public static final String METADATA = "trellis";
  /** Field of the passthrough chain's Trellis metadata: the egress allow-list ("address/length" strings). */
  public static final String EGRESS_ALLOW_CIDRS = "egress_allow_cidrs";

  private XdsNames() {}

  public static String cluster(String fqdn, int port) {
    return "outbound|" + port + "||" + fqdn;
  }

  public static String routeConfig(String fqdn, int port) {
    return fqdn + ":" + port;
  }

  public static String apiListener(String fqdn, int port) {
    return fqdn + ":" + port;
  }
}
