package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.testing.ManualClock;
import dev.trellis.mtls.testing.ManualScheduler;
import dev.trellis.proxy.redirect.FilePodDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Local mode's pods file, re-read on the agent's watch scheduler (manual time: no sleeps). */
class PodsFileWatchTest {

  @TempDir
  Path dir;

  static final String ENROLLED = "{\"namespaces\": {\"demo\": {\"trellis.dev/mesh\": \"enabled\"}}, \"pods\": []}";
  static final String PLAIN = "{\"namespaces\": {\"demo\": {}}, \"pods\": []}";

  @Test
  void aChangedFileIsAnnouncedAtTheNextLookAndAnUnchangedOneIsNot() throws Exception {
    Path file = dir.resolve("pods.json");
    Files.writeString(file, ENROLLED);
    FilePodDirectory pods = FilePodDirectory.load(file);
    int[] changes = {0};
    ManualScheduler scheduler = new ManualScheduler(new ManualClock(Instant.parse("2026-01-01T00:00:00Z")));
    try (PodsFileWatch watch = new PodsFileWatch(pods, () -> changes[0]++).start(scheduler, Duration.ofMillis(500))) {
      scheduler.advance(Duration.ofMillis(500));
      assertThat(changes[0]).isZero();
      Files.writeString(file, PLAIN);
      scheduler.advance(Duration.ofMillis(499));
      assertThat(changes[0]).as("not before the next look").isZero();
      scheduler.advance(Duration.ofMillis(1));
      assertThat(changes[0]).isEqualTo(1);
      Files.writeString(file, "{ broken");
      scheduler.advance(Duration.ofMillis(1000));
      assertThat(changes[0]).as("a bad file changes nothing").isEqualTo(1);
      Files.writeString(file, ENROLLED);
      scheduler.advance(Duration.ofMillis(500));
      assertThat(changes[0]).isEqualTo(2);
    }
  }
}
