package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against Fabric8's mock API server in CRUD mode: the directory sees pods and namespaces created, relabeled and
 * recreated through the ordinary client, and announces the changes that matter for enrollment.
 *
 * <p>The mock's CRUD mode understands only {@code metadata.*} field selectors ({@code spec.nodeName=…} would match
 * nothing), so the directory's client records the pod selector it asks the API server for and strips it before the
 * mock: the mock then lists every node's pods, and the directory's own node check is what keeps the others out —
 * as it would against a lax API server.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesPodDirectoryTest {

  KubernetesMockServer server;
  /** Creates and edits objects, as users and controllers would. */
  KubernetesClient client;
  /** The node agent's client. */
  KubernetesClient agentClient;
  final Set<String> podSelectors = ConcurrentHashMap.newKeySet();
  KubernetesPodDirectory directory;
  final AtomicInteger changes = new AtomicInteger();

  @TempDir
  Path cgroups;

  @AfterEach
  void stop() {
    if (directory != null) {
      directory.close();
      // The mock server's shutdown waits for open connections: let the watches end before the client goes.
      await().atMost(Duration.ofSeconds(10)).until(() -> !directory.watching());
    }
    if (agentClient != null) {
      agentClient.close();
    }
  }

  static io.fabric8.kubernetes.api.model.Namespace namespace(String name, Map<String, String> labels) {
    return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
  }

  /** Creates the pod; returns the uid the API server gave it. */
  String createPod(String ns, String name, String node, Map<String, String> labels) {
    return client.pods().inNamespace(ns).resource(pod(ns, name, node, labels)).create().getMetadata().getUid();
  }

  static io.fabric8.kubernetes.api.model.Pod pod(String ns, String name, String node, Map<String, String> labels) {
    return new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).withLabels(labels)
        .withAnnotations(Map.of("trellis.dev/exclude-outbound-ports", "5432")).endMetadata()
        .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("app").endContainer().endSpec()
        .build();
  }

  private void start() {
    Interceptor stripNodeSelector = new Interceptor() {
      @Override
      public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
        URI uri = request.uri();
        if (uri.getPath().endsWith("/pods") && uri.getRawQuery() != null) {
          List<String> kept = new ArrayList<>();
          for (String param : uri.getRawQuery().split("&")) {
            if (param.startsWith("fieldSelector=")) {
              podSelectors.add(URLDecoder.decode(param.substring("fieldSelector=".length()), StandardCharsets.UTF_8));
            } else {
              kept.add(param);
            }
          }
          builder.uri(URI.create(uri.toString().replace(uri.getRawQuery(), String.join("&", kept))));
        }
      }
    };
    agentClient = server.createClient(b -> b.withHttpClientBuilderConsumer(
        h -> h.addOrReplaceInterceptor("strip-node-selector", stripNodeSelector)));
    directory = KubernetesPodDirectory.start(agentClient, "node-a", cgroups);
    directory.onChange(changes::incrementAndGet);
    // Both watches open (they start right after the lists): closing while one is still connecting can leave a
    // connection the mock server's shutdown waits for.
    await().atMost(Duration.ofSeconds(10)).until(directory::watchingBoth);
  }

  @Test
  void aPodOfThisNodeIsFoundWithItsLabelsAnnotationsAndItsNamespacesLabels() {
    client.namespaces().resource(namespace("demo", Map.of("trellis.dev/mesh", "enabled"))).create();
    String uid1 = createPod("demo", "web-0", "node-a", Map.of("app", "web"));
    start();

    assertThat(directory.synced()).isTrue();
    assertThat(podSelectors).as("the API server is asked for this node's pods only")
        .containsExactly("spec.nodeName=node-a");
    PodDirectory.Pod web = directory.find("demo", "web-0", uid1).orElseThrow();
    assertThat(web.uid()).isEqualTo(uid1);
    assertThat(web.labels()).isEqualTo(Map.of("app", "web"));
    assertThat(web.namespaceLabels()).isEqualTo(Map.of("trellis.dev/mesh", "enabled"));
    assertThat(Exclusions.of(web.annotations()).ports()).containsExactly(5432);
    assertThat(web.hostNetwork()).isFalse();
    assertThat(Enrollment.decide("demo", web.namespaceLabels(), web.labels(), web.hostNetwork()).enrolled()).isTrue();
    assertThat(directory.find("demo", "web-0", null)).as("no uid from the runtime: found by name").isPresent();
  }

  @Test
  void aNamespaceLabelChangeIsObservedAndAnnounced() {
    client.namespaces().resource(namespace("demo", Map.of())).create();
    String uid1 = createPod("demo", "web-0", "node-a", Map.of());
    start();
    assertThat(directory.find("demo", "web-0", uid1).orElseThrow().namespaceLabels()).isEmpty();
    int before = changes.get();

    client.namespaces().withName("demo").edit(n -> {
      n.getMetadata().getLabels().put("trellis.dev/mesh", "enabled");
      return n;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> directory.find("demo", "web-0", uid1).orElseThrow()
        .namespaceLabels().equals(Map.of("trellis.dev/mesh", "enabled")));
    await().atMost(Duration.ofSeconds(10)).until(() -> changes.get() > before);

    int labeled = changes.get();
    client.pods().inNamespace("demo").withName("web-0").edit(p -> {
      p.getMetadata().getLabels().put("trellis.dev/mesh", "disabled");
      return p;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> directory.find("demo", "web-0", uid1).orElseThrow()
        .labels().containsKey("trellis.dev/mesh"));
    await().atMost(Duration.ofSeconds(10)).until(() -> changes.get() > labeled);
  }

  @Test
  void aPodStatusUpdateIsNotAnnounced() {
    client.namespaces().resource(namespace("demo", Map.of())).create();
    createPod("demo", "web-0", "node-a", Map.of());
    start();
    int before = changes.get();
    client.pods().inNamespace("demo").withName("web-0").edit(p -> {
      p.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").withPodIP("10.1.0.7")
          .build());
      return p;
    });
    // A later relabel on the same watch stream is announced; by then the status update has been handled — and it
    // announced nothing.
    client.pods().inNamespace("demo").withName("web-0").edit(p -> {
      p.getMetadata().getLabels().put("x", "y");
      return p;
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> changes.get() > before
        && directory.find("demo", "web-0", null).orElseThrow().labels().containsKey("x"));
    assertThat(changes.get()).isEqualTo(before + 1);
  }

  @Test
  void aPodOnAnotherNodeIsNotReturned() {
    client.namespaces().resource(namespace("demo", Map.of("trellis.dev/mesh", "enabled"))).create();
    String elsewhere = createPod("demo", "elsewhere-0", "node-b", Map.of());
    createPod("demo", "here-0", "node-a", Map.of());
    start();

    assertThat(directory.find("demo", "here-0", null)).isPresent();
    assertThat(directory.find("demo", "elsewhere-0", null)).isEmpty();
    assertThat(directory.find("demo", "elsewhere-0", elsewhere)).isEmpty();
  }

  @Test
  void aRecreatedPodWithANewUidIsAnotherPod() {
    client.namespaces().resource(namespace("demo", Map.of("trellis.dev/mesh", "enabled"))).create();
    String uidOld = createPod("demo", "db-0", "node-a", Map.of());
    start();
    assertThat(directory.find("demo", "db-0", uidOld)).isPresent();

    client.pods().inNamespace("demo").withName("db-0").delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> directory.find("demo", "db-0", null).isEmpty());
    String uidNew = createPod("demo", "db-0", "node-a", Map.of());
    assertThat(uidNew).isNotEqualTo(uidOld);
    await().atMost(Duration.ofSeconds(10)).until(() -> directory.find("demo", "db-0", uidNew).isPresent());
    assertThat(directory.find("demo", "db-0", uidOld)).as("the old pod's ADD/DEL must not match").isEmpty();
  }

  @Test
  void theCgroupIsTheKubeletsDirectoryForThePodsUid() throws Exception {
    client.namespaces().resource(namespace("demo", Map.of())).create();
    String uid = createPod("demo", "web-0", "node-a", Map.of());
    Path slice = Files.createDirectories(cgroups.resolve("kubepods.slice/kubepods-besteffort.slice/"
        + "kubepods-besteffort-pod" + uid.replace('-', '_') + ".slice"));
    start();
    // The runtime gave no pod UID: the directory's pod has it.
    PodAttachment a = new PodAttachment("c1", "/n", "eth0", "demo", "web-0", null, List.of("10.1.0.7"));
    assertThat(directory.find(a, Optional.empty())).contains(slice.toString());
  }

  @Test
  void anApiServerThatRefusesTheListFailsNamingTheRbacNeeded() {
    server.expect().get().withPath("/api/v1/namespaces?resourceVersion=0").andReturn(403, new io.fabric8.kubernetes.api.model.StatusBuilder()
        .withCode(403).withReason("Forbidden").withMessage("namespaces is forbidden").build()).always();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> KubernetesPodDirectory.start(client, "node-a", null))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("node-a")
        .hasMessageContaining("get/list/watch on pods and namespaces");
  }
}
