package dev.trellis.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * One {@code trellis restart} of a given process at a time: two at once would both start a successor (two new node
 * proxies, or a control plane started twice on the same port) and each record its own in the run state. The lock is a
 * file in the state folder ({@code restart-node-1.lock}, {@code restart-node-1.agent.lock}, ...) locked until the new
 * process is ready and recorded (a node proxy upgrade does not keep it while the old proxy drains); the operating
 * system releases it when the process ends, however it ends.
 */
final class RestartLock implements AutoCloseable {

  private final FileChannel channel;
  private final FileLock lock;

  private RestartLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** The lock file of restarts of {@code name} (its node agent's when {@code nodeAgent}). */
  static Path file(Path stateDir, String name, boolean nodeAgent) {
    return stateDir.resolve("restart-" + name + (nodeAgent ? ".agent" : "") + ".lock");
  }

  /**
   * Takes the lock without waiting; empty if another restart of the same process holds it.
   *
   * @throws UncheckedIOException if the file cannot be created or locked at all
   */
  static Optional<RestartLock> tryAcquire(Path file) {
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) {
        channel.close();
        return Optional.empty();
      }
      return Optional.of(new RestartLock(channel, lock));
    } catch (OverlappingFileLockException e) { // held by this very process
      closeQuietly(channel);
      return Optional.empty();
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("cannot lock " + file + ": " + e.getMessage() + "; check that the state folder "
          + "is writable", e);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // nothing held
      }
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
