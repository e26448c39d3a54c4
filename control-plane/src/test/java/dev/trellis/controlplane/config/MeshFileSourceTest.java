package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.controlplane.model.Mesh;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MeshFileSourceTest {

  private static final String MESH = """
      nodes: [{name: n, address: 127.0.1.1, token: token-0123456789abcdef}]
      services: [{name: web, namespace: d, ports: [{name: http, port: %d}]}]
      """;

  @TempDir
  Path dir;

  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final List<Mesh> applied = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  private MeshFileSource source(Path file, Duration poll) {
    return new MeshFileSource(file, scheduler, poll, Clock.systemUTC(), applied::add);
  }

  private static int port(Mesh m) {
    return m.services().getFirst().ports().getFirst().port();
  }

  @Test
  void anEditIsNoticedThroughTheFileSystemWatchWithoutWaitingForThePoll() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, MESH.formatted(80));
    try (MeshFileSource source = source(file, Duration.ofHours(1))) {
      assertThat(port(source.load())).isEqualTo(80);
      source.start();
      Files.writeString(file, MESH.formatted(81));
      await().atMost(Duration.ofSeconds(10)).until(() -> !applied.isEmpty());
      assertThat(port(applied.getLast())).isEqualTo(81);
    }
  }

  @Test
  void aBadEditIsReportedAndTheNextGoodOneApplies() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, MESH.formatted(80));
    try (MeshFileSource source = source(file, Duration.ofHours(1))) {
      source.load();
      Files.writeString(file, MESH.formatted(0));
      assertThat(source.checkNow()).isFalse();
      assertThat(source.status().failedReloads()).isEqualTo(1);
      assertThat(source.status().lastProblems()).singleElement().satisfies(p -> assertThat(p)
          .contains("mesh.yaml:2:").contains("ports[0].port: 0 is out of range"));
      assertThat(applied).isEmpty();
      assertThat(source.checkNow()).as("unchanged file: nothing to do").isFalse();

      Files.writeString(file, MESH.formatted(82));
      assertThat(source.checkNow()).isTrue();
      assertThat(port(applied.getLast())).isEqualTo(82);
      assertThat(source.status().lastProblems()).isEmpty();
      assertThat(source.status().reloads()).isEqualTo(1);
    }
  }

  @Test
  void aDeletedFileKeepsTheLastGoodMesh() throws Exception {
    Path file = dir.resolve("mesh.yaml");
    Files.writeString(file, MESH.formatted(80));
    try (MeshFileSource source = source(file, Duration.ofHours(1))) {
      source.load();
      Files.delete(file);
      assertThat(source.checkNow()).isFalse();
      assertThat(source.status().lastProblems()).singleElement().satisfies(p -> assertThat(p).contains("cannot be read"));
      assertThat(applied).isEmpty();
    }
  }
}
