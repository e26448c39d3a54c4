package dev.trellis.controlplane.config;

import static java.util.Objects.requireNonNull;

import dev.trellis.controlplane.model.Mesh;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local-mode config source: a mesh file, reloaded when it changes. The file is checked every
 * {@code pollInterval} (modification time and size first, content only when they moved), which also
 * catches editors that replace files by renaming. A bad edit keeps the last good mesh in effect and
 * is reported (log and {@link #status()}) with every problem; fixing the file applies it.
 */
public final class MeshFileSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MeshFileSource.class);

  /** The outcome of the latest load, for health and debug output. */
  public record Status(Instant lastLoadedAt, long reloads, long failedReloads, List<String> lastProblems) {}

  private final Path file;
  private final ScheduledExecutorService scheduler;
  private final Duration pollInterval;
  private final Clock clock;
  private final Consumer<Mesh> onMesh;

  private FileTime lastModified;
  private long lastSize = -1;
  private byte[] lastContent;
  private volatile Status status = new Status(null, 0, 0, List.of());
  private ScheduledFuture<?> poller;

  public MeshFileSource(Path file, ScheduledExecutorService scheduler, Duration pollInterval, Clock clock,
      Consumer<Mesh> onMesh) {
    this.file = requireNonNull(file, "file");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.pollInterval = requireNonNull(pollInterval, "pollInterval");
    this.clock = requireNonNull(clock, "clock");
    this.onMesh = requireNonNull(onMesh, "onMesh");
  }

  /** Loads the file once; a start-up with a bad file fails with every problem listed. */
  public synchronized Mesh load() throws MeshFileException {
    byte[] content = read();
    Mesh mesh = MeshFile.parse(new String(content, java.nio.charset.StandardCharsets.UTF_8), file.toString(),
        file.toAbsolutePath().getParent());
    remember(content);
    status = new Status(clock.instant(), status.reloads(), status.failedReloads(), List.of());
    return mesh;
  }

  /** Starts watching; changes are delivered to {@code onMesh} on the scheduler's thread. */
  public void start() {
    long millis = pollInterval.toMillis();
    poller = scheduler.scheduleWithFixedDelay(this::checkNow, millis, millis, TimeUnit.MILLISECONDS);
  }

  /** Checks the file at once and applies it if it changed and is valid. Returns true if a new mesh was applied. */
  public synchronized boolean checkNow() {
    try {
      FileTime modified = Files.getLastModifiedTime(file);
      long size = Files.size(file);
      if (modified.equals(lastModified) && size == lastSize) {
        return false;
      }
      byte[] content = read();
      if (Arrays.equals(content, lastContent)) {
        lastModified = modified;
        lastSize = size;
        return false;
      }
      Mesh mesh;
      try {
        mesh = MeshFile.parse(new String(content, java.nio.charset.StandardCharsets.UTF_8), file.toString(),
            file.toAbsolutePath().getParent());
      } catch (MeshFileException e) {
        remember(content);
        status = new Status(status.lastLoadedAt(), status.reloads(), status.failedReloads() + 1, e.problems());
        log.error("mesh file {} changed but is invalid; keeping the last good configuration:\n  {}", file,
            String.join("\n  ", e.problems()));
        return false;
      }
      remember(content);
      status = new Status(clock.instant(), status.reloads() + 1, status.failedReloads(), List.of());
      log.info("mesh file {} reloaded", file);
      onMesh.accept(mesh);
      return true;
    } catch (IOException | MeshFileException e) {
      status = new Status(status.lastLoadedAt(), status.reloads(), status.failedReloads() + 1,
          List.of(file + ": cannot be read: " + e.getMessage()));
      log.error("cannot read mesh file {}; keeping the last good configuration: {}", file, e.getMessage());
      return false;
    } catch (RuntimeException e) {
      log.error("applying mesh file {} failed; keeping the last good configuration", file, e);
      return false;
    }
  }

  public Status status() {
    return status;
  }

  public Optional<List<String>> lastProblems() {
    return status.lastProblems().isEmpty() ? Optional.empty() : Optional.of(status.lastProblems());
  }

  private byte[] read() throws MeshFileException {
    try {
      if (Files.size(file) > MeshFile.MAX_BYTES) {
        throw new MeshFileException(List.of(file + ": larger than " + MeshFile.MAX_BYTES / (1024 * 1024) + " MiB"));
      }
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new MeshFileException(List.of(file + ": cannot be read: " + e));
    }
  }

  private void remember(byte[] content) {
    lastContent = content;
    try {
      lastModified = Files.getLastModifiedTime(file);
      lastSize = Files.size(file);
    } catch (IOException e) {
      lastModified = null;
      lastSize = -1;
    }
  }

  @Override
  public void close() {
    if (poller != null) {
      poller.cancel(false);
    }
  }
}
