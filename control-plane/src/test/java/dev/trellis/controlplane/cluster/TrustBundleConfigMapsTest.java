package dev.trellis.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The trust-bundle ConfigMaps against Fabric8's mock API server in CRUD mode: every request names
 * {@code trellis-ca-root-cert}, the list too (by field selector), which is what lets the chart's RBAC grant
 * get/list/update/delete on that name only.
 */
@EnableKubernetesMockClient(crud = true)
class TrustBundleConfigMapsTest {

  KubernetesMockServer server;
  KubernetesClient client;

  @Test
  void everyRequestNamesTheTrustBundleEvenTheListAndOtherConfigMapsAreNeverTouched() throws Exception {
    for (String ns : List.of("trellis-system", "shop", "gone")) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    }
    // Labelled like ours but another name: not the trust bundle, so neither listed, updated nor deleted.
    client.configMaps().inNamespace("gone").resource(new ConfigMapBuilder().withNewMetadata().withName("lookalike")
        .addToLabels(TrustBundleConfigMaps.MANAGED_BY, "trellis").addToLabels(TrustBundleConfigMaps.COMPONENT,
            "trust-bundle").endMetadata().addToData("root-cert.pem", "old").build()).create();
    var bundles = new TrustBundleConfigMaps(client, "trellis-system");
    drain();

    assertThat(bundles.sync("root-1", Set.of("shop", "gone"))).isEqualTo(3);
    assertThat(bundles.sync("root-2", Set.of("shop"))).as("two updated, one removed").isEqualTo(3);
    List<String> requests = drain();

    assertThat(client.configMaps().inNamespace("shop").withName(TrustBundleConfigMaps.NAME).get().getData())
        .isEqualTo(Map.of(TrustBundleConfigMaps.KEY, "root-2"));
    assertThat(client.configMaps().inNamespace("gone").withName(TrustBundleConfigMaps.NAME).get()).isNull();
    assertThat(client.configMaps().inNamespace("gone").withName("lookalike").get().getData())
        .containsEntry("root-cert.pem", "old");
    assertThat(requests).filteredOn(r -> r.startsWith("GET /api/v1/configmaps?")).hasSize(2)
        .allSatisfy(r -> assertThat(r).contains("fieldSelector=metadata.name=trellis-ca-root-cert"));
    assertThat(requests).filteredOn(r -> !r.startsWith("GET /api/v1/configmaps?") && !r.startsWith("POST "))
        .isNotEmpty().allSatisfy(r -> assertThat(r).matches(
            "(GET|PUT|DELETE) /api/v1/namespaces/[a-z-]+/configmaps/trellis-ca-root-cert"));
  }

  /** The requests the mock server received since the last call, as "METHOD path" with the query decoded. */
  private List<String> drain() throws InterruptedException {
    List<String> seen = new ArrayList<>();
    RecordedRequest r;
    while ((r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
      seen.add(r.getMethod() + " " + URLDecoder.decode(r.getPath(), StandardCharsets.UTF_8));
    }
    return seen;
  }
}
