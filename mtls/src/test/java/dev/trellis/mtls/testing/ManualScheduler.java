package dev.trellis.mtls.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A deterministic {@link ScheduledExecutorService} over a {@link ManualClock}: nothing runs until the
 * test calls {@link #runDue()} or {@link #advance(Duration)}, and tasks run on the test's thread in
 * time order. Use it from one thread.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

  private final ManualClock clock;
  private final PriorityQueue<Task<?>> queue = new PriorityQueue<>();
  private long sequence;
  private boolean shutdown;

  public ManualScheduler(ManualClock clock) {
    this.clock = clock;
  }

  public ManualClock clock() {
    return clock;
  }

  /** Runs every task due now, including tasks they submit for now. Returns how many ran. */
  public synchronized int runDue() {
    int ran = 0;
    while (!queue.isEmpty() && !queue.peek().at.isAfter(clock.instant())) {
      Task<?> t = queue.poll();
      if (!t.isCancelled()) {
        t.run();
        ran++;
      }
    }
    return ran;
  }

  /** Moves time forward by {@code d}, running each task when its time comes. */
  public synchronized void advance(Duration d) {
    Instant target = clock.instant().plus(d);
    runDue();
    while (!queue.isEmpty() && !queue.peek().at.isAfter(target)) {
      clock.set(queue.peek().at);
      runDue();
    }
    clock.set(target);
    runDue();
  }

  /** Delays of the pending, uncancelled tasks from now, soonest first. */
  public synchronized List<Duration> pendingDelays() {
    List<Task<?>> tasks = new ArrayList<>(queue);
    tasks.removeIf(Task::isCancelled);
    tasks.sort(null);
    return tasks.stream().map(t -> Duration.between(clock.instant(), t.at)).toList();
  }

  @Override
  public synchronized void execute(Runnable command) {
    enqueue(new Task<>(clock.instant(), sequence++, () -> {
      command.run();
      return null;
    }));
  }

  @Override
  public synchronized ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    return enqueue(new Task<>(at(delay, unit), sequence++, () -> {
      command.run();
      return null;
    }));
  }

  @Override
  public synchronized <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    return enqueue(new Task<>(at(delay, unit), sequence++, callable));
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    throw new UnsupportedOperationException("periodic tasks are not supported by ManualScheduler");
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException("periodic tasks are not supported by ManualScheduler");
  }

  private Instant at(long delay, TimeUnit unit) {
    return clock.instant().plusNanos(unit.toNanos(Math.max(0, delay)));
  }

  private <V> Task<V> enqueue(Task<V> task) {
    if (shutdown) {
      throw new java.util.concurrent.RejectedExecutionException("ManualScheduler is shut down");
    }
    queue.add(task);
    return task;
  }

  @Override
  public synchronized void shutdown() {
    shutdown = true;
  }

  @Override
  public synchronized List<Runnable> shutdownNow() {
    shutdown = true;
    List<Runnable> pending = new ArrayList<>(queue);
    queue.clear();
    return pending;
  }

  @Override
  public synchronized boolean isShutdown() {
    return shutdown;
  }

  @Override
  public synchronized boolean isTerminated() {
    return shutdown;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return true;
  }

  private final class Task<V> implements ScheduledFuture<V>, Runnable {
    final Instant at;
    final long seq;
    final Callable<V> body;
    boolean cancelled;
    boolean done;
    V result;
    Throwable failure;

    Task(Instant at, long seq, Callable<V> body) {
      this.at = at;
      this.seq = seq;
      this.body = body;
    }

    @Override
    public void run() {
      try {
        result = body.call();
      } catch (Throwable t) {
        failure = t;
        throw new AssertionError("task scheduled on ManualScheduler failed", t);
      } finally {
        done = true;
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(Duration.between(clock.instant(), at));
    }

    @Override
    public int compareTo(Delayed o) {
      Task<?> other = (Task<?>) o;
      int c = at.compareTo(other.at);
      return c != 0 ? c : Long.compare(seq, other.seq);
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      synchronized (ManualScheduler.this) {
        if (done) {
          return false;
        }
        cancelled = true;
        return true;
      }
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return done || cancelled;
    }

    @Override
    public V get() throws ExecutionException {
      if (!done) {
        throw new IllegalStateException("task has not run; advance the ManualScheduler first");
      }
      if (failure != null) {
        throw new ExecutionException(failure);
      }
      return result;
    }

    @Override
    public V get(long timeout, TimeUnit unit) throws ExecutionException {
      return get();
    }
  }
}
