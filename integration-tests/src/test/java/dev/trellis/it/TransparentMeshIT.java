package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.cni.CniPlugin;
import dev.trellis.controlplane.ControlPlaneMain;
import dev.trellis.proxy.NodeAgentMain;
import dev.trellis.proxy.NodeProxyMain;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The whole transparent path, for real (root): two "nodes" and five "pods" ({@link NamespaceCluster}), the
 * control plane in node 1's namespace, and on each node its node agent (redirection chosen by the subclass)
 * and its node proxy in capture mode, all separate processes; every pod is attached through the CNI plugin
 * exactly as a runtime would. Unmodified curl and a plain gRPC client in the client pod call service VIPs
 * that exist nowhere and get answers from pods on the other node through both proxies; the tests then
 * check what crosses the wire, who the destination saw, STRICT refusing a pod outside the mesh, opt-out,
 * passthrough to a host outside the mesh leaving with the pod's address (and never to link-local or node addresses
 * unless the mesh file allows them), restarts of the agent and the proxy, and un-enrollment removing everything.
 * Methods run in order on one cluster (building it takes a while).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class TransparentMeshIT {

  static final String TOKEN_1 = "it-capture-node-1-token-01";
  static final String TOKEN_2 = "it-capture-node-2-token-02";

  NamespaceCluster cluster;
  NamespaceCluster.Pod client;
  NamespaceCluster.Pod optOut;
  NamespaceCluster.Pod legacy;
  NamespaceCluster.Pod localWeb;
  NamespaceCluster.Pod webV1;
  NamespaceCluster.Pod webV2;
  String link;
  /** A host outside the mesh beside node 1: a server at 10.13.0.2 and a "metadata server" at 169.254.169.254. */
  String ext;

  /** The node agent's {@code --redirect} mode. */
  abstract String redirectMode();

  /** Whether everything the agent installs for {@code pod} is in the kernel (set elements, programs, pins). */
  abstract boolean redirectionPresent(NamespaceCluster.Pod pod) throws Exception;

  /** Whether anything installed for {@code pod} is left in the kernel. */
  abstract boolean anythingPresent(NamespaceCluster.Pod pod) throws Exception;

  /** Whether anything of Trellis's redirection is left on {@code node} (after uninstall). */
  abstract boolean anythingLeft(String node) throws Exception;

  String pinsOf(String node) {
    return "/sys/fs/bpf/trellis-it-" + cluster.id + "-" + node;
  }

  static String mesh() {
    return """
        mtls: {mode: strict}
        nodes:
          - {name: node-1, address: 10.10.0.1, token: %s}
          - {name: node-2, address: 10.10.0.2, token: %s}
        workloads:
          - {name: client, namespace: demo, serviceAccount: client, node: node-1, address: 10.11.1.2, labels: {app: client}}
          - {name: opt-out, namespace: demo, serviceAccount: client, node: node-1, address: 10.11.2.2, inMesh: false, labels: {trellis.dev/mesh: disabled}}
          - {name: legacy, namespace: legacy, node: node-1, address: 10.11.3.2, inMesh: false}
          - {name: local-web, namespace: demo, serviceAccount: local, node: node-1, address: 10.11.4.2, labels: {app: local}}
          - {name: web-v1, namespace: demo, serviceAccount: web, node: node-2, address: 10.12.1.2, labels: {app: web, version: v1}}
          - {name: web-v2, namespace: demo, serviceAccount: web, node: node-2, address: 10.12.2.2, labels: {app: web, version: v2}}
        services:
          - {name: web, namespace: demo, vip: 10.96.0.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
          - {name: web-v1, namespace: demo, selector: {app: web, version: v1}, ports: [{name: http, port: 80, targetPort: 8080}]}
          - {name: web-v2, namespace: demo, selector: {app: web, version: v2}, ports: [{name: http, port: 80, targetPort: 8080}]}
          - {name: greeter, namespace: demo, vip: 10.96.0.11, selector: {app: web}, ports: [{name: grpc, port: 9090}]}
          - {name: local, namespace: demo, vip: 10.96.0.12, selector: {app: local}, ports: [{name: http, port: 80, targetPort: 8080}]}
        routes:
          - name: web-split
            namespace: demo
            service: web
            rules:
              - backends: [{service: web-v1, weight: 50}, {service: web-v2, weight: 50}]
                retry: {attempts: 3, on: [5xx], backoff: {base: 5ms, max: 20ms}}
        """.formatted(TOKEN_1, TOKEN_2);
  }

  /** The agent's pods file for a node: namespace labels and that node's pods with their cgroups. */
  String podsFile(String demoLabel, NamespaceCluster.Pod... pods) {
    StringBuilder b = new StringBuilder("{\"namespaces\": {\"demo\": {\"trellis.dev/mesh\": \"" + demoLabel
        + "\"}, \"legacy\": {}}, \"pods\": [");
    for (int i = 0; i < pods.length; i++) {
      NamespaceCluster.Pod p = pods[i];
      String ns = p == legacy ? "legacy" : "demo";
      String labels = p == optOut ? "{\"trellis.dev/mesh\": \"disabled\"}" : "{}";
      String annotations = p == client ? "{\"trellis.dev/exclude-outbound-ports\": \"9999\","
          + " \"trellis.dev/exclude-outbound-cidrs\": \"10.97.0.0/16\"}" : "{}";
      b.append(i == 0 ? "" : ", ").append("{\"namespace\": \"").append(ns).append("\", \"name\": \"").append(p.name())
          .append("\", \"uid\": \"uid-").append(p.name()).append("\", \"labels\": ").append(labels)
          .append(", \"annotations\": ").append(annotations)
          .append(", \"cgroup\": \"").append(p.cgroup()).append("\"}");
    }
    return b.append("]}").toString();
  }

  @BeforeAll
  void buildCluster() throws Exception {
    HostTools.require(HostTools.Tool.CURL, HostTools.Tool.NFT);
    cluster = new NamespaceCluster();
    cluster.node("n1");
    cluster.node("n2");
    link = cluster.link("n1", "10.10.0.1", "n2", "10.10.0.2");
    cluster.route("n1", "10.12.0.0/16", "10.10.0.2");
    cluster.route("n2", "10.11.0.0/16", "10.10.0.1");
    client = cluster.pod("n1", "client", "10.11.1.2", "10.11.1.1");
    optOut = cluster.pod("n1", "opt-out", "10.11.2.2", "10.11.2.1");
    legacy = cluster.pod("n1", "legacy", "10.11.3.2", "10.11.3.1");
    localWeb = cluster.pod("n1", "local-web", "10.11.4.2", "10.11.4.1");
    webV1 = cluster.pod("n2", "web-v1", "10.12.1.2", "10.12.1.1");
    webV2 = cluster.pod("n2", "web-v2", "10.12.2.2", "10.12.2.1");
    ext = cluster.host("n1", "ext", "10.13.0.2", "10.13.0.1", "169.254.169.254");

    Path dir = cluster.dir;
    Files.writeString(dir.resolve("mesh.yaml"), mesh());
    Files.writeString(dir.resolve("n1.token"), TOKEN_1);
    Files.writeString(dir.resolve("n2.token"), TOKEN_2);
    Files.writeString(dir.resolve("n1-pods.json"), podsFile("enabled", client, optOut, legacy, localWeb));
    Files.writeString(dir.resolve("n2-pods.json"), podsFile("enabled", webV1, webV2));

    cluster.start("control-plane", cluster.netns("n1"), null, NamespaceCluster.java(ControlPlaneMain.class, "control-plane",
        "--mesh", dir.resolve("mesh.yaml").toString(), "--state-dir", dir.resolve("cp").toString(),
        "--bind", "10.10.0.1"));
    for (String n : List.of("n1", "n2")) {
      startAgent(n);
      startProxy(n);
    }
    cluster.start("web-v1", webV1.netns(), webV1.cgroup(), NamespaceCluster.java(PodServer.class, "web-v1",
        "10.12.1.2", "8080", "9090", "0"));
    cluster.start("web-v2", webV2.netns(), webV2.cgroup(), NamespaceCluster.java(PodServer.class, "web-v2",
        "10.12.2.2", "8080", "9090", "2"));
    cluster.start("local-web", localWeb.netns(), localWeb.cgroup(), NamespaceCluster.java(PodServer.class, "local-web",
        "10.11.4.2", "8080", "9090", "0"));
    cluster.start("ext", ext, null, NamespaceCluster.java(PeerServer.class, "10.13.0.2:8080", "10.13.0.2:9999",
        "169.254.169.254:80"));
    // A service of node 1 itself, on every address of the node (its pods' gateways too).
    cluster.start("n1-host", cluster.netns("n1"), null, NamespaceCluster.java(PeerServer.class, "0.0.0.0:18080"));
    await().atMost(Duration.ofSeconds(60)).until(() -> cluster.log("n1-agent").contains("node agent up")
        && cluster.log("n2-agent").contains("node agent up"));

    // The runtime attaches each pod: ADD through the CNI plugin, answered once redirection is in place.
    for (NamespaceCluster.Pod p : List.of(client, optOut, legacy, localWeb, webV1, webV2)) {
      CniPlugin.Outcome o = cni("ADD", p);
      assertThat(o.exitCode()).as("ADD %s: %s", p.name(), o.stdout()).isZero();
    }
    await().atMost(Duration.ofSeconds(90)).until(() -> ready("n1", "10.10.0.1") && ready("n2", "10.10.0.2")
        && cluster.log("web-v1").contains("ready") && cluster.log("web-v2").contains("ready")
        && cluster.log("local-web").contains("ready") && cluster.log("ext").contains("ready")
        && cluster.log("n1-host").contains("ready"));
  }

  void startAgent(String node) throws Exception {
    String address = node.equals("n1") ? "10.10.0.1" : "10.10.0.2";
    cluster.start(node + "-agent", cluster.netns(node), null, NamespaceCluster.java(NodeAgentMain.class,
        "--pods", cluster.dir.resolve(node + "-pods.json").toString(),
        "--socket", cluster.dir.resolve(node + ".sock").toString(), "--redirect", redirectMode(),
        "--proxy-address", address, "--state-file", cluster.dir.resolve(node + "-agent-state.json").toString(),
        "--ebpf-pins", pinsOf(node)));
  }

  void startProxy(String node) throws Exception {
    String address = node.equals("n1") ? "10.10.0.1" : "10.10.0.2";
    List<String> args = new ArrayList<>(List.of("--node", node.equals("n1") ? "node-1" : "node-2", "--address", address,
        "--token-file", cluster.dir.resolve(node + ".token").toString(), "--control-plane", "10.10.0.1:15010",
        "--capture", "transparent", "--agent-state", cluster.dir.resolve(node + "-agent-state.json").toString()));
    if (redirectMode().equals("ebpf")) {
      args.addAll(List.of("--ebpf-pins", pinsOf(node)));
    }
    cluster.start(node + "-proxy", cluster.netns(node), null, NamespaceCluster.java(NodeProxyMain.class,
        args.toArray(String[]::new)));
  }

  boolean ready(String node, String address) throws Exception {
    return curlFromNode(node, "http://" + address + ":15020/healthz/ready").exitCode() == 0;
  }

  NamespaceCluster.Result curlFromNode(String node, String url) throws Exception {
    return cluster.exec(cluster.netns(node), null, 5, "curl", "-sf", "-m", "3", url);
  }

  CniPlugin.Outcome cni(String command, NamespaceCluster.Pod p) {
    String socket = cluster.dir.resolve(p.node() + ".sock").toString();
    String ns = p == legacy ? "legacy" : "demo";
    String prev = "{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": \"eth0\", \"sandbox\": \"/var/run/netns/"
        + p.netns() + "\"}], \"ips\": [{\"address\": \"" + p.ip() + "/24\", \"interface\": 0}]}";
    String config = "{\"cniVersion\": \"1.0.0\", \"name\": \"k8s\", \"type\": \"trellis-cni\", \"agentSocket\": \""
        + socket + "\", \"agentTimeoutMillis\": 20000, \"prevResult\": " + prev + "}";
    Map<String, String> env = Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", "ctr-" + p.name(),
        "CNI_NETNS", "/var/run/netns/" + p.netns(), "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin",
        "CNI_ARGS", "K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + p.name() + ";K8S_POD_UID=uid-" + p.name());
    return CniPlugin.overUnixSocket().run(env, config);
  }

  NamespaceCluster.Result curl(NamespaceCluster.Pod from, String url) throws Exception {
    return cluster.exec(from, 10, "curl", "-s", "-S", "-m", "5", "-w", " %{http_code}", url);
  }

  @AfterAll
  void tearDown() throws Exception {
    if (cluster == null) {
      return;
    }
    try {
      for (String n : List.of("n1", "n2")) {
        cluster.stop(n + "-agent");
        NamespaceCluster.Result r = cluster.exec(cluster.netns(n), null, 60, NamespaceCluster.java(NodeAgentMain.class,
            "uninstall", "--redirect", redirectMode(), "--ebpf-pins", pinsOf(n)).toArray(String[]::new));
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(anythingLeft(n)).as("redirection left on %s after uninstall", n).isFalse();
      }
    } finally {
      cluster.close();
    }
  }

  @Test
  @Order(1)
  void curlInACapturedPodReachesTheServiceThroughBothProxiesWithSplitAndRetriesAndOnlyTlsOnTheWire() throws Exception {
    HostTools.require(HostTools.Tool.TCPDUMP);
    Path pcap = cluster.dir.resolve("link.pcap");
    cluster.start("tcpdump", cluster.netns("n1"), null, List.of("tcpdump", "-i", link, "-U", "-s", "0", "-w",
        pcap.toString(), "tcp"));
    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.log("tcpdump").contains("listening on"));

    List<String> bodies = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      NamespaceCluster.Result r = curl(client, "http://10.96.0.10/hello");
      assertThat(r.output()).as("curl #%d exit %d", i, r.exitCode()).endsWith(" 200");
      bodies.add(r.output().strip());
    }
    assertThat(bodies).as("the 50/50 split reached both versions").anyMatch(b -> b.startsWith("web-v1"))
        .anyMatch(b -> b.startsWith("web-v2"));
    assertThat(bodies).as("web-v2 fails every 2nd request; retries hide it").noneMatch(b -> b.contains("flaky"));
    assertThat(cluster.log("web-v2")).as("web-v2 did answer 503s (the retries had something to hide)")
        .contains("503 for request");

    NamespaceCluster.Result grpc = cluster.exec(client, 60, NamespaceCluster.java(GrpcCall.class, "10.96.0.11:9090", "10")
        .toArray(String[]::new));
    assertThat(grpc.exitCode()).as(grpc.output()).isZero();
    assertThat(grpc.output()).contains("ok web-v");

    cluster.stop("tcpdump");
    WireCapture wire = WireCapture.read(pcap);
    assertThat(wire.payloadPorts()).as("TCP ports carrying payload on the node link").contains(15008)
        .allMatch(p -> p == 15008 || p == 15010);
    assertThat(wire.firstPayloadsTo(15008)).as("every tunnel opens with a TLS handshake record").isNotEmpty()
        .allMatch(b -> b.length > 2 && b[0] == 0x16 && b[1] == 0x03);
    for (String plain : List.of("web-v1", "web-v2", "GET /hello", "HTTP/1.1", "hello pod")) {
      assertThat(wire.contains(plain)).as("plaintext '%s' on the wire", plain).isFalse();
    }
  }

  @Test
  @Order(2)
  void theDestinationSeesTheCallersIdentity() throws Exception {
    NamespaceCluster.Result r = curlFromNode("n2", "http://127.0.0.1:15000/connections");
    assertThat(r.output()).contains("spiffe://cluster.local/ns/demo/sa/client -> 10.12.");
    assertThat(curlFromNode("n2", "http://10.10.0.2:15020/connections").exitCode())
        .as("the callers are on the loopback-only debug port, not on the node address").isNotZero();
  }

  @Test
  @Order(2)
  void aPodOnTheSameNodeIsReachedThroughThisProxysOwnHboneServer() throws Exception {
    NamespaceCluster.Result r = curl(client, "http://10.96.0.12/");
    assertThat(r.output()).isEqualTo("local-web\n 200");
    assertThat(curlFromNode("n1", "http://127.0.0.1:15000/connections").output())
        .contains("200 spiffe://cluster.local/ns/demo/sa/client -> 10.11.4.2:8080");
  }

  @Test
  @Order(2)
  void aMeshPodDialedByItsOwnAddressIsReachedOverMtlsAsTheCallerNeverInPlaintext() throws Exception {
    // Not a service VIP: the pod's address, as headless services hand out. Passed through, the same-node STRICT pod
    // would be reached in plaintext from the node's namespace, where no capture sees it.
    long before = count(curlFromNode("n1", "http://127.0.0.1:15000/connections").output(),
        "200 spiffe://cluster.local/ns/demo/sa/client -> 10.11.4.2:8080");
    assertThat(curl(client, "http://10.11.4.2:8080/").output()).as("same node").isEqualTo("local-web\n 200");
    assertThat(count(curlFromNode("n1", "http://127.0.0.1:15000/connections").output(),
        "200 spiffe://cluster.local/ns/demo/sa/client -> 10.11.4.2:8080")).isEqualTo(before + 1);
    assertThat(curl(client, "http://10.12.1.2:8080/").output()).as("other node").isEqualTo("web-v1\n 200");
    assertThat(curlFromNode("n2", "http://127.0.0.1:15000/connections").output())
        .contains("200 spiffe://cluster.local/ns/demo/sa/client -> 10.12.1.2:8080");
  }

  private static long count(String text, String line) {
    return text.lines().filter(l -> l.contains(line)).count();
  }

  @Test
  @Order(2)
  void passthroughToAHostOutsideTheMeshLeavesWithThePodsAddressAndTheExchangeCompletes() throws Exception {
    assertThat(curl(client, "http://10.13.0.2:8080/").output()).isEqualTo("peer 10.11.1.2\n 200");
    assertThat(cluster.log("ext")).contains("peer 10.11.1.2 -> 10.13.0.2:8080")
        .as("never as a node").doesNotContain("peer 10.10.").doesNotContain("peer 10.13.0.1");
  }

  @Test
  @Order(2)
  void aCapturedPodMayNotReachLinkLocalAddressesOrItsNodeByDefault() throws Exception {
    // Both are there: the node itself reaches them.
    assertThat(curlFromNode("n1", "http://169.254.169.254/").output()).isEqualTo("peer 10.13.0.1\n");
    assertThat(curlFromNode("n1", "http://10.11.1.1:18080/").output()).isEqualTo("peer 10.11.1.1\n");
    int ext = cluster.log("ext").length();
    int host = cluster.log("n1-host").length();
    assertThat(curl(client, "http://169.254.169.254/").output()).doesNotContain("peer 10.").doesNotEndWith(" 200");
    assertThat(curl(client, "http://10.11.1.1:18080/").output()).as("its gateway is an address of the node")
        .doesNotContain("peer 10.").doesNotEndWith(" 200");
    assertThat(cluster.log("ext").substring(ext)).isEmpty();
    assertThat(cluster.log("n1-host").substring(host)).isEmpty();
    assertThat(cluster.log("n1-proxy"))
        .contains("[outbound] refused 10.11.1.2 -> 169.254.169.254:80: link_local: destination 169.254.169.254 is link-local")
        .contains("[outbound] refused 10.11.1.2 -> 10.11.1.1:18080: node_address: destination 10.11.1.1 is an address of this node");
  }

  @Test
  @Order(3)
  void theMeshFilesEgressAllowListLetsCapturedPodsReachTheMetadataServerAsThemselves() throws Exception {
    Path mesh = cluster.dir.resolve("mesh.yaml");
    Files.writeString(mesh, mesh() + "egress: {allowCidrs: [169.254.169.254/32]}\n");
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
        .until(() -> curl(client, "http://169.254.169.254/").output().equals("peer 10.11.1.2\n 200"));
    assertThat(cluster.log("ext")).contains("peer 10.11.1.2 -> 169.254.169.254:80");
    Files.writeString(mesh, mesh());
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
        .until(() -> !curl(client, "http://169.254.169.254/").output().endsWith(" 200"));
  }

  @Test
  @Order(3)
  void anExcludedPortsExchangeCompletesBecauseInboundCaptureLeavesRepliesToThePodAlone() throws Exception {
    // Excluded: not redirected, so the pod's own socket. The reply is addressed to the pod, like inbound traffic,
    // and must not be handed to the inbound listener (which would answer it with a reset).
    assertThat(curl(client, "http://10.13.0.2:9999/").output()).isEqualTo("peer 10.11.1.2\n 200");
  }

  @Test
  @Order(3)
  void strictRefusesAPodOutsideTheMeshAndOptedOutOrLegacyPodsAreNotCaptured() throws Exception {
    NamespaceCluster.Result direct = curl(legacy, "http://10.12.1.2:8080/");
    assertThat(direct.output()).as("legacy pod straight to a STRICT pod").doesNotContain("web-v1").doesNotEndWith(" 200");
    assertThat(curlFromNode("n2", "http://127.0.0.1:15000/connections").output()).contains("plaintext -> 10.12.1.2:8080");
    for (NamespaceCluster.Pod p : List.of(optOut, legacy)) {
      NamespaceCluster.Result vip = curl(p, "http://10.96.0.10/");
      assertThat(vip.output()).as("%s is not captured: the VIP exists nowhere", p.name()).doesNotEndWith(" 200")
          .containsAnyOf("Network is unreachable", "No route to host", "Couldn't connect", "Failed to connect");
    }
    assertThat(anythingPresent(optOut)).isFalse();
    assertThat(anythingPresent(legacy)).isFalse();
    assertThat(redirectionPresent(client)).isTrue();
  }

  @Test
  @Order(3)
  void excludedPortsAndCidrsAndLoopbackBypassTheProxy() throws Exception {
    // curl's exit 7 is "could not connect": the connection went where the pod sent it, which no route
    // reaches (or nothing listens on, for loopback). A redirected one connects (to the proxy) and then
    // gets no answer from a destination that exists nowhere.
    assertThat(curl(client, "http://10.96.0.10:9999/").exitCode()).as("annotation-excluded port").isEqualTo(7);
    assertThat(curl(client, "http://10.97.0.1/").exitCode()).as("annotation-excluded CIDR").isEqualTo(7);
    assertThat(curl(client, "http://127.0.0.1:9/").exitCode()).as("loopback").isEqualTo(7);
    assertThat(curl(client, "http://" + client.ip() + ":9/").exitCode()).as("the pod's own address").isEqualTo(7);
    NamespaceCluster.Result captured = curl(client, "http://10.96.0.10:81/");
    assertThat(captured.exitCode()).as("a port that is not excluded is redirected: %s", captured.output())
        .isNotEqualTo(7).isNotZero();
  }

  @Test
  @Order(4)
  void restartingTheNodeAgentKeepsTrafficFlowingAndCapturesNothingTwice() throws Exception {
    // A gRPC client keeps calling on one connection across the restart: established flows are untouched.
    Process calls = cluster.start("grpc-across-restart", client.netns(), client.cgroup(),
        NamespaceCluster.java(GrpcCall.class, "10.96.0.11:9090", "30", "200"));
    await().atMost(Duration.ofSeconds(30)).until(() -> cluster.log("grpc-across-restart").contains("ok web-v"));
    cluster.stop("n1-agent");
    assertThat(curl(client, "http://10.96.0.10/").output()).as("agent down: redirection stays").endsWith(" 200");
    assertThat(curl(client, "http://10.13.0.2:8080/").output()).as("agent down: passthrough as the pod")
        .isEqualTo("peer 10.11.1.2\n 200");
    startAgent("n1");
    await().atMost(Duration.ofSeconds(60)).until(() -> cluster.log("n1-agent").split("node agent up").length > 2);
    assertThat(curl(client, "http://10.96.0.10/").output()).endsWith(" 200");
    assertThat(curl(client, "http://10.13.0.2:8080/").output()).isEqualTo("peer 10.11.1.2\n 200");
    assertThat(calls.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(calls.exitValue()).as(cluster.log("grpc-across-restart")).isZero();
    assertThat(cluster.log("grpc-across-restart").lines().filter(l -> l.startsWith("ok ")).count()).isEqualTo(30);
    assertThat(cni("CHECK", client).exitCode()).as("CHECK after the restart").isZero();
    assertThat(redirectionPresent(client)).isTrue();
  }

  @Test
  @Order(5)
  void restartingTheNodeProxyLeavesNothingBlackHoled() throws Exception {
    cluster.stop("n1-proxy");
    startProxy("n1");
    await().atMost(Duration.ofSeconds(60)).until(() -> ready("n1", "10.10.0.1"));
    for (int i = 0; i < 5; i++) {
      assertThat(curl(client, "http://10.96.0.10/").output()).endsWith(" 200");
    }
    assertThat(curl(client, "http://10.13.0.2:8080/").output()).as("passthrough as the pod after a proxy restart")
        .isEqualTo("peer 10.11.1.2\n 200");
  }

  @Test
  @Order(6)
  void unEnrollingTheNamespaceReleasesItsRunningPodsAndLabelingItAgainCapturesThem() throws Exception {
    Files.writeString(cluster.dir.resolve("n1-pods.json"), podsFile("disabled", client, optOut, legacy, localWeb));
    await().atMost(Duration.ofSeconds(20)).until(() -> !anythingPresent(client) && !anythingPresent(localWeb));
    assertThat(curl(client, "http://10.96.0.10/").output()).as("released: nothing steers the VIP any more")
        .doesNotEndWith(" 200");
    Files.writeString(cluster.dir.resolve("n1-pods.json"), podsFile("enabled", client, optOut, legacy, localWeb));
    await().atMost(Duration.ofSeconds(20)).until(() -> redirectionPresent(client));
    assertThat(curl(client, "http://10.96.0.10/").output()).as("a running pod enrolled by its label").endsWith(" 200");
  }

  @Test
  @Order(7)
  void deleteRemovesEverythingInstalledForThePod() throws Exception {
    for (NamespaceCluster.Pod p : List.of(client, localWeb, webV1, webV2)) {
      assertThat(redirectionPresent(p)).as("%s before DEL", p.name()).isTrue();
      assertThat(cni("DEL", p).exitCode()).isZero();
      assertThat(anythingPresent(p)).as("%s after DEL", p.name()).isFalse();
    }
    assertThat(curl(client, "http://10.96.0.10/").output()).doesNotEndWith(" 200");
  }
}
