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
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.Pod;
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
 *   <li>HTTPRoutes whose parent is a Service → routes ({@link GatewayRoutes}).
 * </ul>
 */
public final class KubernetesMesh {

  public static final String MESH_LABEL = "trellis.dev/mesh";
  public static final String ENABLED = "enabled";
  public static final String DISABLED = "disabled";

  private KubernetesMesh() {}

  public static Mesh translate(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      List<Namespace> namespaces, List<Node> nodes, List<Pod> pods, List<io.fabric8.kubernetes.api.model.Service> services,
      List<HTTPRoute> httpRoutes) {
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
      workloads.add(new Workload(p.getMetadata().getName(), ns, sa == null || sa.isBlank() ? "default" : sa,
          p.getSpec().getNodeName(), p.getStatus().getPodIP(), podLabels, inMesh, null));
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
    return new Mesh(trustDomain, clusterDomain, defaultMtls, meshNodes, workloads, meshServices, routes, List.of(),
        List.of());
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
        for (var cp : c.getPorts() == null ? List.<io.fabric8.kubernetes.api.model.ContainerPort>of() : c.getPorts()) {
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
