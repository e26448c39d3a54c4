package dev.trellis.controlplane.config;

import static java.util.Objects.requireNonNull;

import dev.trellis.controlplane.model.Mesh;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
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
 * The local-mode config source: a mesh file, reloaded when it changes. A file-system watch on its
 * directory notices edits at once (checked {@value #SETTLE_MILLIS} ms after the last event, so a file
 * being written is not read half-way); the file is also checked every {@code pollInterval} in case
 * the watch misses something (some network and overlay file systems). Each check compares
 * modification time and size first, content only when they moved. A bad edit keeps the last good
 * mesh in effect and is reported (log and {@link #status()}) with every problem; fixing the file
 * applies it.
 */
public final class MeshFileSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MeshFileSource.class);

  /** The outcome of the latest load, for health and debug output. */
  public record Status(Instant lastLoadedAt, long reloads, long failedReloads, List<String> lastProblems) {}

  static final long SETTLE_MILLIS = 25;

  private final Path file;
  private final ScheduledExecutorService scheduler;
  private final Duration pollInterval;
  private final Clock clock;
  private final Consumer<Mesh> onMesh;
  /** What the unchanged parts of the file became in the last parse: an edit reparses only what it touched. */
  private final MeshFileCache parsed = new MeshFileCache();

  private FileTime lastModified;
  private long lastSize = -1;
  private byte[] lastContent;
  private volatile Status status = new Status(null, 0, 0, List.of());
  private ScheduledFuture<?> poller;
  private ScheduledFuture<?> settling;
  private WatchService watcher;

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
    FileTime modified = modifiedTime();
    long size = size();
    byte[] content = read();
    Mesh mesh = parsed.parse(new String(content, StandardCharsets.UTF_8), file.toString(),
        file.toAbsolutePath().getParent());
    remember(content, modified, size);
    status = new Status(clock.instant(), status.reloads(), status.failedReloads(), List.of());
    return mesh;
  }

  /** Starts watching; changes are delivered to {@code onMesh} on the scheduler's thread. */
  public void start() {
    long millis = pollInterval.toMillis();
    poller = scheduler.scheduleWithFixedDelay(this::checkNow, millis, millis, TimeUnit.MILLISECONDS);
    startWatch();
  }

  private void startWatch() {
    Path directory = file.toAbsolutePath().getParent();
    try {
      watcher = directory.getFileSystem().newWatchService();
      directory.register(watcher, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_CREATE);
    } catch (IOException | UnsupportedOperationException e) {
      log.info("no file-system watch on {} ({}); relying on polling every {}", directory, e.getMessage(), pollInterval);
      return;
    }
    Path name = file.getFileName();
    Thread.ofPlatform().daemon().name("trellis-mesh-watch").start(() -> {
      try {
        while (true) {
          WatchKey key = watcher.take();
          boolean ours = key.pollEvents().stream().anyMatch(e -> name.equals(e.context()));
          key.reset();
          if (ours) {
            settle();
          }
        }
      } catch (InterruptedException | ClosedWatchServiceException e) {
        // closed
      }
    });
  }

  private synchronized void settle() {
    if (settling != null) {
      settling.cancel(false);
    }
    settling = scheduler.schedule(this::checkNow, SETTLE_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Checks the file at once and applies it if it changed and is valid. Returns true if a new mesh was applied. */
  public synchronized boolean checkNow() {
    try {
      // Stat before reading: a write that lands after this point shows up as a change next time.
      FileTime modified = modifiedTime();
      long size = size();
      if (modified.equals(lastModified) && size == lastSize) {
        return false;
      }
      byte[] content = read();
      if (Arrays.equals(content, lastContent)) {
        remember(content, modified, size);
        return false;
      }
      Mesh mesh;
      long parseStart = System.nanoTime();
      try {
        mesh = parsed.parse(new String(content, StandardCharsets.UTF_8), file.toString(),
            file.toAbsolutePath().getParent());
      } catch (MeshFileException e) {
        if (!modified.equals(modifiedTime()) || size != size()) {
          settle(); // read while it was being written: look again once the writer is done
          return false;
        }
        remember(content, modified, size);
        status = new Status(status.lastLoadedAt(), status.reloads(), status.failedReloads() + 1, e.problems());
        log.error("mesh file {} changed but is invalid; keeping the last good configuration:\n  {}", file,
            String.join("\n  ", e.problems()));
        return false;
      }
      remember(content, modified, size);
      status = new Status(clock.instant(), status.reloads() + 1, status.failedReloads(), List.of());
      log.info("mesh file {} reloaded (parsed in {} ms)", file, (System.nanoTime() - parseStart) / 1_000_000);
      onMesh.accept(mesh);
      return true;
    } catch (MeshFileException e) {
      status = new Status(status.lastLoadedAt(), status.reloads(), status.failedReloads() + 1, e.problems());
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
      throw new MeshFileException(List.of(MeshFile.unreadable(file, e)));
    }
  }

  private FileTime modifiedTime() throws MeshFileException {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      throw new MeshFileException(List.of(MeshFile.unreadable(file, e)));
    }
  }

  private long size() throws MeshFileException {
    try {
      return Files.size(file);
    } catch (IOException e) {
      throw new MeshFileException(List.of(MeshFile.unreadable(file, e)));
    }
  }

  private void remember(byte[] content, FileTime modified, long size) {
    lastContent = content;
    lastModified = modified;
    lastSize = size;
  }

  @Override
  public void close() {
    if (poller != null) {
      poller.cancel(false);
    }
    if (watcher != null) {
      try {
        watcher.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
