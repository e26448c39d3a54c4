package dev.trellis.proxy;

import java.util.concurrent.Executor;

/**
 * Runs a task on an executor after changes, one run standing for any number of changes: a change while a run is
 * pending adds nothing, a change after the pending run started asks for one more. Changes that come before
 * {@link #start} wait for it (the node agent takes label changes from the moment it watches, but reconciles on the
 * server's thread only once the server runs). Thread-safe: changes come from informer and watch threads.
 */
final class CoalescingTrigger {

  private final Runnable task;
  private Executor executor;
  private boolean pending;

  CoalescingTrigger(Runnable task) {
    this.task = task;
  }

  /** A change: runs the task once more, unless a run is already pending. */
  synchronized void request() {
    if (pending) {
      return;
    }
    pending = true;
    if (executor != null) {
      executor.execute(this::runPending);
    }
  }

  /** From now on runs go to {@code executor}; a change that came before runs at once. */
  synchronized void start(Executor executor) {
    if (this.executor != null) {
      throw new IllegalStateException("started already");
    }
    this.executor = executor;
    if (pending) {
      executor.execute(this::runPending);
    }
  }

  private void runPending() {
    synchronized (this) {
      pending = false; // a change from here on asks for another run: this one may not see it
    }
    task.run();
  }
}
