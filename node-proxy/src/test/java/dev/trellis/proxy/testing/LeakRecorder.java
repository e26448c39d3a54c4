package dev.trellis.proxy.testing;

import static org.awaitility.Awaitility.await;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Netty's leak detector, made to remember what it reports so tests can fail on a leak instead of
 * only logging it. Installed for this module's tests with
 * {@code -Dio.netty.customResourceLeakDetector} (see the pom) at paranoid level.
 *
 * <p>{@link #assertNoLeaks} makes the detector report now: it drops a canary buffer unreleased, then
 * collects garbage until the canary is reported. Everything leaked before is reported by then.
 */
public final class LeakRecorder<T> extends ResourceLeakDetector<T> {

  private static final String CANARY = "trellis-leak-canary";
  private static final ConcurrentLinkedQueue<String> LEAKS = new ConcurrentLinkedQueue<>();
  private static final java.util.concurrent.atomic.AtomicLong CANARIES = new java.util.concurrent.atomic.AtomicLong();
  private static volatile boolean installed;

  public LeakRecorder(Class<?> resourceType, int samplingInterval) {
    super(resourceType, samplingInterval);
    installed = true;
  }

  @Override
  protected void reportTracedLeak(String resourceType, String records) {
    LEAKS.add(resourceType + records);
    super.reportTracedLeak(resourceType, records);
  }

  @Override
  protected void reportUntracedLeak(String resourceType) {
    LEAKS.add(resourceType + " (untraced)");
    super.reportUntracedLeak(resourceType);
  }

  /** Forces pending leak reports out and fails if any buffer leaked since the last call. */
  public static void assertNoLeaks() {
    if (!installed || ResourceLeakDetector.getLevel() != Level.PARANOID) {
      throw new AssertionError("leak detection is not active: run with -Dio.netty.leakDetection.level=paranoid "
          + "-Dio.netty.customResourceLeakDetector=" + LeakRecorder.class.getName());
    }
    // Netty reports each distinct leak once: every canary carries its own hint so it is reported.
    String canary = CANARY + "-" + CANARIES.incrementAndGet() + ";";
    dropCanary(canary);
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
      System.gc();
      PooledByteBufAllocator.DEFAULT.buffer(1).release(); // tracking a new buffer processes the reference queue
      return LEAKS.stream().anyMatch(l -> l.contains(canary));
    });
    List<String> leaks = new ArrayList<>();
    for (String l; (l = LEAKS.poll()) != null; ) {
      if (!l.contains(CANARY)) {
        leaks.add(l);
      }
    }
    if (!leaks.isEmpty()) {
      throw new AssertionError(leaks.size() + " buffer(s) leaked:\n" + String.join("\n---\n", leaks));
    }
  }

  private static void dropCanary(String hint) {
    ByteBuf canary = PooledByteBufAllocator.DEFAULT.buffer(1);
    canary.touch(hint);
  }
}
