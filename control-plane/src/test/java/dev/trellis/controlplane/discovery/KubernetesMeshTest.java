package dev.trellis.controlplane.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

public class KubernetesMeshTest {

  public static Namespace namespace(String name, Map<String, String> labels) {
    return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
  }

  public static Pod pod(String ns, String name, String ip, Map<String, String> labels) {
    return new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).withLabels(labels).endMetadata()
        .withNewSpec().withNodeName("node-a").withServiceAccountName("web")
        .addNewContainer().withName("app").addNewPort().withName("grpc").withContainerPort(9091).endPort().endContainer()
        .endSpec()
        .withNewStatus().withPodIP(ip).withPhase("Running").endStatus().build();
  }

  public static Service service(String ns, String name, String clusterIp, Map<String, String> selector) {
    return new ServiceBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
        .withNewSpec().withClusterIP(clusterIp).withSelector(selector)
        .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString(8080)).endPort()
        .addNewPort().withName("api").withPort(9090).withTargetPort(new IntOrString("grpc")).withAppProtocol("kubernetes.io/h2c")
        .endPort()
        .addNewPort().withName("dns").withPort(53).withProtocol("UDP").endPort()
        .endSpec().build();
  }

  public static Node node(String name, String ip) {
    return new NodeBuilder().withNewMetadata().withName(name).endMetadata().withNewStatus()
        .addNewAddress().withType("Hostname").withAddress(name).endAddress()
        .addNewAddress().withType("InternalIP").withAddress(ip).endAddress().endStatus().build();
  }

  static Mesh translate(List<Namespace> ns, List<Pod> pods, List<Service> services) {
    return KubernetesMesh.translate(TrustDomain.CLUSTER_LOCAL, "cluster.local", MtlsMode.PERMISSIVE, ns,
        List.of(node("node-a", "10.0.0.5")), pods, services, List.of());
  }

  @Test
  void podsOfALabeledNamespaceAreInTheMeshUnlessTheyOptOut() {
    Pod hostNetwork = pod("demo", "agent", "10.0.0.5", Map.of());
    hostNetwork.getSpec().setHostNetwork(true);
    Pod done = pod("demo", "job", "10.1.0.9", Map.of());
    done.getStatus().setPhase("Succeeded");
    Pod pending = pod("demo", "pending", null, Map.of());
    Mesh mesh = translate(List.of(namespace("demo", Map.of("trellis.dev/mesh", "enabled")), namespace("legacy", Map.of())),
        List.of(pod("demo", "web-0", "10.1.0.7", Map.of("app", "web")),
            pod("demo", "opt-out", "10.1.0.8", Map.of("trellis.dev/mesh", "disabled")),
            pod("legacy", "old-0", "10.1.0.10", Map.of()), hostNetwork, done, pending),
        List.of());
    assertThat(mesh.workloads()).extracting(Workload::name, Workload::inMesh).containsExactly(
        org.assertj.core.groups.Tuple.tuple("opt-out", false), org.assertj.core.groups.Tuple.tuple("web-0", true),
        org.assertj.core.groups.Tuple.tuple("old-0", false));
    Workload web = mesh.workloads().get(1);
    assertThat(web.address()).isEqualTo("10.1.0.7");
    assertThat(web.node()).isEqualTo("node-a");
    assertThat(web.serviceAccount()).isEqualTo("web");
    assertThat(mesh.nodes()).singleElement().satisfies(n -> assertThat(n.address()).isEqualTo("10.0.0.5"));
  }

  @Test
  void servicesKeepTheirVipSelectorAndTcpPortsWithProtocolsAndResolvedTargetPorts() {
    Mesh mesh = translate(List.of(namespace("demo", Map.of("trellis.dev/mesh", "enabled"))),
        List.of(pod("demo", "web-0", "10.1.0.7", Map.of("app", "web"))),
        List.of(service("demo", "web", "10.96.0.10", Map.of("app", "web")),
            service("demo", "headless", "None", Map.of("app", "web")),
            service("demo", "external", "10.96.0.11", Map.of())));
    assertThat(mesh.services()).singleElement().satisfies(s -> {
      assertThat(s.vip()).isEqualTo("10.96.0.10");
      assertThat(s.selector()).isEqualTo(Map.of("app", "web"));
      assertThat(s.ports()).containsExactly(new ServicePort("http", 80, 8080, AppProtocol.HTTP),
          new ServicePort("api", 9090, 9091, AppProtocol.HTTP2));
    });
  }

  @Test
  void aPodAnEndpointSliceMarksNotReadyKeepsItsIdentityButIsNoEndpoint() {
    Pod ready = pod("demo", "web-0", "10.1.0.7", Map.of("app", "web"));
    Pod starting = pod("demo", "web-1", "10.1.0.8", Map.of("app", "web"));
    Pod unlisted = pod("demo", "web-2", "10.1.0.9", Map.of("app", "web"));
    unlisted.getStatus().setConditions(List.of(new io.fabric8.kubernetes.api.model.PodConditionBuilder()
        .withType("Ready").withStatus("False").build()));
    var slice = new io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder().withNewMetadata()
        .withNamespace("demo").withName("web-abc").endMetadata().withAddressType("IPv4")
        .addNewEndpoint().withAddresses("10.1.0.7").withNewTargetRef().withKind("Pod").withName("web-0").endTargetRef()
        .withNewConditions().withReady(true).endConditions().endEndpoint()
        .addNewEndpoint().withAddresses("10.1.0.8").withNewTargetRef().withKind("Pod").withName("web-1").endTargetRef()
        .withNewConditions().withReady(false).endConditions().endEndpoint()
        .build();
    Mesh mesh = KubernetesMesh.translate(TrustDomain.CLUSTER_LOCAL, "cluster.local", MtlsMode.PERMISSIVE,
        "trellis-system", new KubernetesMesh.ClusterObjects(List.of(namespace("demo", Map.of())),
            List.of(node("node-a", "10.0.0.5")), List.of(ready, starting, unlisted), List.of(), List.of(slice),
            List.of(), List.of(), List.of(), List.of())).mesh();
    assertThat(mesh.workloads()).extracting(w -> w.name() + "=" + w.ready())
        .containsExactly("web-0=true", "web-1=false", "web-2=false");
  }

  @Test
  void appProtocolWinsOverThePortName() {
    assertThat(KubernetesMesh.protocol("grpc", "http")).isEqualTo(AppProtocol.GRPC);
    assertThat(KubernetesMesh.protocol("tcp", "http")).isEqualTo(AppProtocol.TCP);
    assertThat(KubernetesMesh.protocol("example.com/custom", "grpc-web")).isEqualTo(AppProtocol.GRPC);
    assertThat(KubernetesMesh.protocol(null, null)).isEqualTo(AppProtocol.TCP);
  }
}
