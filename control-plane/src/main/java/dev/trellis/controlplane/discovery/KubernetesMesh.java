package dev.trellis.controlplane.discovery;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The cluster's objects as the mesh model: the same {@link Mesh} a mesh file gives in local mode. Pure (the
 * informers of {@link KubernetesSource} hand it their caches). What it reads:
 * <ul>
 *   <li>Nodes → mesh nodes at their first {@code InternalIP} (no token: node proxies authenticate with their
 *       service-account token in a cluster);
 *   <li>Pods with an IP, not host-network, not finished → workloads (service account, node, labels); in the mesh
 *       when their namespace is labeled {@value #MESH_LABEL}={@value #ENABLED} and the pod is not labeled
 *       {@value #MESH_LABEL}={@value #DISABLED};
 *   <li>Services with a cluster IP and a selector → services; a port's protocol from {@code appProtocol}, else
 *       from its name as Istio reads it; a named {@code targetPort} is resolved against a selected pod's
 *       container ports, else the service port is used;
 *   <li>EndpointSlices → whether a pod is ready (an endpoint) — a pod no slice lists goes by its Ready condition;
 *   <li>HTTPRoutes whose parent is a Service → routes ({@link GatewayRoutes});
 *   <li>TrafficPolicy, PeerAuthentication, AuthorizationPolicy ({@code mesh.trellis.dev/v1alpha1}) → policies and
 *       mTLS modes ({@link MeshPolicies}).
 * </ul>
 */
public final class KubernetesMesh {

  public static final String MESH_LABEL = "trellis.dev/mesh";
  public static final String ENABLED = "enabled";
  public static final String DISABLED = "disabled";

  private KubernetesMesh() {}

  /** What the informers hold: the cluster objects the mesh is made of. */
  public record ClusterObjects(List<Namespace> namespaces, List<Node> nodes, List<Pod> pods,
      List<io.fabric8.kubernetes.api.model.Service> services, List<EndpointSlice> endpointSlices,
      List<HTTPRoute> httpRoutes, List<GenericKubernetesResource> trafficPolicies,
      List<GenericKubernetesResource> peerAuthentications, List<GenericKubernetesResource> authorizationPolicies) {}

  /** The mesh, and the verdict on each of our CRD objects (their {@code Accepted} conditions). */
  record Translation(Mesh mesh, List<MeshPolicies.Verdict> verdicts) {}

  /** Without EndpointSlices and policy CRDs (tests of the core objects). */
  public static Mesh translate(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      List<Namespace> namespaces, List<Node> nodes, List<Pod> pods, List<io.fabric8.kubernetes.api.model.Service> services,
      List<HTTPRoute> httpRoutes) {
    return translate(trustDomain, clusterDomain, defaultMtls, "trellis-system", new ClusterObjects(namespaces, nodes,
        pods, services, List.of(), httpRoutes, List.of(), List.of(), List.of())).mesh();
  }

  /**
   * @param rootNamespace the control plane's namespace: a PeerAuthentication there without selector is mesh-wide
   */
  static Translation translate(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      String rootNamespace, ClusterObjects cluster) {
    List<Namespace> namespaces = cluster.namespaces();
    List<Node> nodes = cluster.nodes();
    List<Pod> pods = cluster.pods();
    List<io.fabric8.kubernetes.api.model.Service> services = cluster.services();
    List<HTTPRoute> httpRoutes = cluster.httpRoutes();
    Map<String, Boolean> sliceReady = sliceReadiness(cluster.endpointSlices());
    Map<String, Map<String, String>> namespaceLabels = new HashMap<>();
    for (Namespace ns : namespaces) {
      namespaceLabels.put(ns.getMetadata().getName(), labels(ns.getMetadata().getLabels()));
    }
    List<MeshNode> meshNodes = new ArrayList<>();
    for (Node n : nodes) {
      String address = n.getStatus() == null || n.getStatus().getAddresses() == null ? null
          : n.getStatus().getAddresses().stream().filter(a -> "InternalIP".equals(a.getType()))
              .map(NodeAddress::getAddress).findFirst().orElse(null);
      meshNodes.add(new MeshNode(n.getMetadata().getName(), address, null));
    }
    List<Workload> workloads = new ArrayList<>();
    List<Pod> running = new ArrayList<>();
    for (Pod p : pods) {
      if (!isServing(p)) {
        continue;
      }
      running.add(p);
      String ns = p.getMetadata().getNamespace();
      Map<String, String> podLabels = labels(p.getMetadata().getLabels());
      boolean inMesh = ENABLED.equals(namespaceLabels.getOrDefault(ns, Map.of()).get(MESH_LABEL))
          && !DISABLED.equals(podLabels.get(MESH_LABEL));
      String sa = p.getSpec().getServiceAccountName();
      Boolean ready = sliceReady.get(ns + "/" + p.getMetadata().getName());
      workloads.add(new Workload(p.getMetadata().getName(), ns, sa == null || sa.isBlank() ? "default" : sa,
          p.getSpec().getNodeName(), p.getStatus().getPodIP(), podLabels, inMesh,
          ready != null ? ready : podReady(p), null));
    }
    List<Service> meshServices = new ArrayList<>();
    for (io.fabric8.kubernetes.api.model.Service s : services) {
      String ip = s.getSpec() == null ? null : s.getSpec().getClusterIP();
      Map<String, String> selector = s.getSpec() == null ? Map.of() : labels(s.getSpec().getSelector());
      if (ip == null || ip.isBlank() || "None".equals(ip) || selector.isEmpty()) {
        continue; // headless or selector-less: nothing for the mesh to route to by VIP (yet)
      }
      List<ServicePort> ports = new ArrayList<>();
      for (var port : s.getSpec().getPorts()) {
        if (port.getProtocol() != null && !"TCP".equals(port.getProtocol())) {
          continue;
        }
        String name = port.getName() == null || port.getName().isBlank() ? null : port.getName();
        AppProtocol protocol = protocol(port.getAppProtocol(), name);
        int target = targetPort(port, s.getMetadata().getNamespace(), selector, running);
        ports.add(new ServicePort(name == null ? protocol.name().toLowerCase(Locale.ROOT) + "-" + port.getPort() : name,
            port.getPort(), target, protocol));
      }
      if (!ports.isEmpty()) {
        meshServices.add(new Service(s.getMetadata().getName(), s.getMetadata().getNamespace(), ip, selector, ports));
      }
    }
    List<HttpRoute> routes = new ArrayList<>();
    for (HTTPRoute r : httpRoutes) {
      routes.addAll(GatewayRoutes.translate(r).routes());
    }
    routes.sort(Comparator.comparing(HttpRoute::namespace).thenComparing(HttpRoute::name)
        .thenComparing(HttpRoute::service));
    workloads.sort(Comparator.comparing(Workload::namespace).thenComparing(Workload::name));
    meshServices.sort(Comparator.comparing(Service::namespace).thenComparing(Service::name));
    meshNodes.sort(Comparator.comparing(MeshNode::name));
    MeshPolicies.Result policies = MeshPolicies.apply(rootNamespace, defaultMtls, workloads, meshServices,
        cluster.trafficPolicies(), cluster.peerAuthentications(), cluster.authorizationPolicies());
    return new Translation(new Mesh(trustDomain, clusterDomain, policies.defaultMtls(), meshNodes,
        policies.workloads(), meshServices, routes, policies.trafficPolicies(), policies.authorizations()),
        policies.verdicts());
  }

  /**
   * Readiness by pod ({@code namespace/name}) as the EndpointSlice controller published it: an address counts
   * as ready unless its {@code conditions.ready} is false (nil means ready, as kube-proxy reads it).
   */
  private static Map<String, Boolean> sliceReadiness(List<EndpointSlice> slices) {
    Map<String, Boolean> ready = new HashMap<>();
    for (EndpointSlice slice : slices) {
      if (slice.getEndpoints() == null) {
        continue;
      }
      for (var e : slice.getEndpoints()) {
        var target = e.getTargetRef();
        if (target == null || !"Pod".equals(target.getKind()) || target.getName() == null) {
          continue;
        }
        String ns = target.getNamespace() != null ? target.getNamespace() : slice.getMetadata().getNamespace();
        boolean r = e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady());
        ready.merge(ns + "/" + target.getName(), r, Boolean::logicalOr);
      }
    }
    return ready;
  }

  /** A pod no EndpointSlice lists: its own Ready condition, ready when it has none (yet). */
  private static boolean podReady(Pod p) {
    if (p.getStatus() == null || p.getStatus().getConditions() == null) {
      return true;
    }
    return p.getStatus().getConditions().stream().filter(c -> "Ready".equals(c.getType()))
        .noneMatch(c -> "False".equals(c.getStatus()));
  }

  private static boolean isServing(Pod p) {
    if (p.getStatus() == null || p.getStatus().getPodIP() == null || p.getStatus().getPodIP().isBlank()) {
      return false;
    }
    if (p.getSpec() != null && Boolean.TRUE.equals(p.getSpec().getHostNetwork())) {
      return false; // shares the node's address: never captured, never an endpoint of its own
    }
    String phase = p.getStatus().getPhase();
    return !"Succeeded".equals(phase) && !"Failed".equals(phase) && p.getMetadata().getDeletionTimestamp() == null;
  }

  /** {@code appProtocol} first (Kubernetes' own field), then the port name's prefix. */
  static AppProtocol protocol(String appProtocol, String portName) {
    if (appProtocol != null) {
      switch (appProtocol.toLowerCase(Locale.ROOT)) {
        case "http" -> {
          return AppProtocol.HTTP;
        }
        case "http2", "kubernetes.io/h2c" -> {
          return AppProtocol.HTTP2;
        }
        case "grpc" -> {
          return AppProtocol.GRPC;
        }
        case "tcp" -> {
          return AppProtocol.TCP;
        }
        default -> { }
      }
    }
    return AppProtocol.fromPortName(portName);
  }

  private static int targetPort(io.fabric8.kubernetes.api.model.ServicePort port, String namespace,
      Map<String, String> selector, List<Pod> pods) {
    var target = port.getTargetPort();
    if (target == null) {
      return port.getPort();
    }
    if (target.getIntVal() != null) {
      return target.getIntVal();
    }
    String name = target.getStrVal();
    for (Pod p : pods) {
      if (!namespace.equals(p.getMetadata().getNamespace())
          || !selector.entrySet().stream().allMatch(e -> e.getValue().equals(labels(p.getMetadata().getLabels()).get(e.getKey())))) {
        continue;
      }
      for (var c : p.getSpec().getContainers()) {
        for (var cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
          if (name.equals(cp.getName())) {
            return cp.getContainerPort();
          }
        }
      }
    }
    return port.getPort();
  }

  private static Map<String, String> labels(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }
}
