package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trellis check --cluster} through a kubeconfig, against Fabric8's mock API server and a closed port. */
@EnableKubernetesMockClient(crud = true)
class CheckClusterCommandTest {

  KubernetesClient client;

  @TempDir
  Path dir;

  private Path kubeconfig(String server) throws Exception {
    Path file = dir.resolve("kubeconfig");
    Files.writeString(file, """
        apiVersion: v1
        kind: Config
        clusters:
          - name: c
            cluster: {server: "%s", insecure-skip-tls-verify: true}
        users:
          - name: me
            user: {token: not-a-real-token}
        contexts:
          - name: c
            context: {cluster: c, user: me, namespace: default}
        current-context: c
        """.formatted(server));
    return file;
  }

  @Test
  void aClusterWithoutTrellisListsWhatIsMissingAndExitsOne() throws Exception {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("demo")
        .addToLabels("trellis.dev/mesh", "enabled").endMetadata().build()).create();
    Path kc = kubeconfig(client.getMasterUrl().toString());

    CliRun r = CliRun.run("check", "--cluster", "--kubeconfig", kc.toString(), "-n", "mesh-system");

    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains("cluster of kubeconfig " + kc + " (--kubeconfig):",
        "ok       api server", "missing  trellis crds       not installed: trafficpolicies.mesh.trellis.dev",
        "Deployment mesh-system/trellis-control-plane not found", "./trellis install -n mesh-system",
        "ok       enrolled namespaces demo", "cluster: NOT ready");
  }

  @Test
  void anUnreachableClusterNamesTheServerAndExitsOne() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    Path kc = kubeconfig("https://127.0.0.1:" + closed);

    CliRun r = CliRun.run("check", "--cluster", "--kubeconfig", kc.toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).contains("missing  api server         cannot use https://127.0.0.1:" + closed)
        .contains("or pass --kubeconfig FILE");
  }

  @Test
  void aMissingKubeconfigIsAnErrorNamingIt() {
    CliRun r = CliRun.run("check", "--cluster", "--kubeconfig", dir.resolve("none").toString());

    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("no kubeconfig at " + dir.resolve("none") + " (--kubeconfig)");
  }
}
