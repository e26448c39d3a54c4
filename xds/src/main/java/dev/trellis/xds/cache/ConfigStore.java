package dev.trellis.xds.cache;

import static java.util.Objects.requireNonNull;

import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the snapshot being served and tells every {@link SnapshotWatcher} (one per xDS stream) what
 * changed. Publishing an identical snapshot notifies nobody, so a config source may publish freely.
 */
public final class ConfigStore {

  private static final Logger log = LoggerFactory.getLogger(ConfigStore.class);

  /** Receives each published snapshot with its diff; must not block (hand the work to its own executor). */
  @FunctionalInterface
  public interface SnapshotWatcher {
    void onSnapshot(Snapshot snapshot, SnapshotDiff diff);
  }

  private final Set<SnapshotWatcher> watchers = new CopyOnWriteArraySet<>();
  private volatile Snapshot current = Snapshot.empty();
  private long nextVersion = 1;

  public Snapshot current() {
    return current;
  }

  /**
   * Makes {@code next} the served snapshot. Returns the diff from the previous one (empty if nothing
   * changed, in which case nothing is published).
   */
  public synchronized SnapshotDiff publish(Snapshot next) {
    requireNonNull(next, "next");
    Snapshot previous = current;
    SnapshotDiff diff = next.diffFrom(previous);
    if (diff.isEmpty() && previous.version() != 0) {
      return diff;
    }
    Snapshot versioned = next.withVersion(nextVersion++);
    current = versioned;
    log.debug("published snapshot {} ({} resources)", versioned.version(), versioned.size());
    for (SnapshotWatcher w : watchers) {
      try {
        w.onSnapshot(versioned, diff);
      } catch (RuntimeException e) {
        log.error("snapshot watcher {} failed", w, e);
      }
    }
    return diff;
  }

  /** Registers {@code watcher} and returns the current snapshot, atomically with respect to publications. */
  public synchronized Snapshot watch(SnapshotWatcher watcher) {
    watchers.add(watcher);
    return current;
  }

  public void unwatch(SnapshotWatcher watcher) {
    watchers.remove(watcher);
  }

  public int watcherCount() {
    return watchers.size();
  }
}
