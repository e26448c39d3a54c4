package dev.trellis.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * {@code --ready-file}: the node proxy writes its pid to a file the first time it is ready (what {@code /healthz/ready}
 * answers). During an upgrade two node proxies of one node share the admin port ({@code SO_REUSEPORT}), so a probe of
 * {@code /healthz/ready} may reach either; this file is a readiness signal of this process alone ({@code trellis
 * restart} waits for it; in a cluster an exec probe can read it from the pod's own file system).
 */
final class ReadyFile {

  private ReadyFile() {}

  /**
   * Checks {@code ready} every {@code every} on {@code scheduler} and, once it holds, stops checking.
   *
   * @return completes with the {@code clock}'s time of the check that saw it ready
   */
  static CompletableFuture<Instant> firstReady(BooleanSupplier ready, Clock clock, ScheduledExecutorService scheduler,
      Duration every) {
    CompletableFuture<Instant> seen = new CompletableFuture<>();
    ScheduledFuture<?>[] task = new ScheduledFuture<?>[1];
    task[0] = scheduler.scheduleWithFixedDelay(() -> {
      if (!seen.isDone() && ready.getAsBoolean()) {
        seen.complete(clock.instant());
      }
    }, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    seen.whenComplete((at, e) -> task[0].cancel(false));
    return seen;
  }

  /** Writes {@code pid} and a newline to {@code file} atomically; throws {@link UncheckedIOException} naming the flag. */
  static Path write(Path file, long pid) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = dir.resolve(file.getFileName() + ".tmp");
      Files.writeString(tmp, pid + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("--ready-file " + file + ": cannot write it (" + e.getMessage() + "); check that "
          + "its folder exists and is writable", e);
    }
  }
}
