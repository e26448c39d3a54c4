package dev.trellis.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
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
   * Checks {@code ready} every {@code every} on {@code scheduler} and, once it holds, writes {@code pid} and a newline
   * to {@code file} (atomically: a reader never sees half of it) and stops checking.
   *
   * @return completes with the file once written, or exceptionally if it cannot be written
   */
  static CompletableFuture<Path> writeWhenReady(Path file, long pid, BooleanSupplier ready,
      ScheduledExecutorService scheduler, Duration every) {
    CompletableFuture<Path> written = new CompletableFuture<>();
    ScheduledFuture<?>[] task = new ScheduledFuture<?>[1];
    task[0] = scheduler.scheduleWithFixedDelay(() -> {
      if (written.isDone() || !ready.getAsBoolean()) {
        return;
      }
      try {
        write(file, pid);
        written.complete(file);
      } catch (UncheckedIOException e) {
        written.completeExceptionally(e);
      }
    }, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    written.whenComplete((f, e) -> task[0].cancel(false));
    return written;
  }

  private static void write(Path file, long pid) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = dir.resolve(file.getFileName() + ".tmp");
      Files.writeString(tmp, pid + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("--ready-file " + file + ": cannot write it (" + e.getMessage() + "); check that "
          + "its folder exists and is writable", e);
    }
  }
}
