package dev.trellis.controlplane.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.controlplane.config.MeshFile;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.mtls.identity.SpiffeId;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Which identities run on which node, across reloads that reuse the identities of the last one. */
class MeshStateTest {

  private static Mesh mesh(String trustDomain, String serviceAccount, String node, String inMesh) throws Exception {
    return MeshFile.parse("""
        trustDomain: %s
        nodes:
          - {name: node-1, address: 127.0.1.1, token: node-1-token-0123456789}
          - {name: node-2, address: 127.0.2.1, token: node-2-token-0123456789}
        workloads:
          - {name: web-0, namespace: demo, serviceAccount: %s, node: %s, address: 127.0.73.10, inMesh: %s}
          - {name: web-1, namespace: demo, serviceAccount: web, node: node-1, address: 127.0.73.11}
        """.formatted(trustDomain, serviceAccount, node, inMesh), "mesh.yaml", Path.of("."));
  }

  private static SpiffeId id(String trustDomain, String serviceAccount) {
    return SpiffeId.parse("spiffe://" + trustDomain + "/ns/demo/sa/" + serviceAccount);
  }

  @Test
  void eachReloadSaysWhichIdentitiesRunOnWhichNode() throws Exception {
    MeshState state = new MeshState(mesh("cluster.local", "web", "node-2", "true"), null);
    assertThat(state.runsOn(id("cluster.local", "web"), "node-1")).isTrue();
    assertThat(state.runsOn(id("cluster.local", "web"), "node-2")).isTrue();

    state.update(mesh("cluster.local", "api", "node-2", "true"));
    assertThat(state.runsOn(id("cluster.local", "api"), "node-2")).as("a new service account").isTrue();
    assertThat(state.runsOn(id("cluster.local", "web"), "node-2")).as("the old one left node-2").isFalse();
    assertThat(state.runsOn(id("cluster.local", "web"), "node-1")).isTrue();

    state.update(mesh("cluster.local", "api", "node-2", "false"));
    assertThat(state.runsOn(id("cluster.local", "api"), "node-2")).as("outside the mesh: no identity").isFalse();

    state.update(mesh("example.org", "web", "node-2", "true"));
    assertThat(state.runsOn(id("example.org", "web"), "node-2")).as("identities of the new trust domain").isTrue();
    assertThat(state.runsOn(id("cluster.local", "web"), "node-1")).isFalse();
  }
}
