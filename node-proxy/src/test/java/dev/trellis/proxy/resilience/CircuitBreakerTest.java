package dev.trellis.proxy.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.ClusterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {

  @Test
  void slotsUpToTheLimitThenOverflowCounted() {
    CircuitBreaker b = new CircuitBreaker(() -> new ClusterSpec.Breaker(10, 10, 2, 3, -1, 3));
    assertTrue(b.tryAcquire(Resource.REQUESTS));
    assertTrue(b.tryAcquire(Resource.REQUESTS));
    assertFalse(b.tryAcquire(Resource.REQUESTS));
    assertEquals(1, b.overflows(Resource.REQUESTS));
    b.release(Resource.REQUESTS);
    assertTrue(b.tryAcquire(Resource.REQUESTS));
    assertEquals(2, b.used(Resource.REQUESTS));
  }

  @Test
  void limitsFollowConfigChanges() {
    AtomicReference<ClusterSpec.Breaker> limits = new AtomicReference<>(new ClusterSpec.Breaker(1, 1, 1, 1, -1, 3));
    CircuitBreaker b = new CircuitBreaker(limits::get);
    assertTrue(b.tryAcquire(Resource.CONNECTIONS));
    assertFalse(b.tryAcquire(Resource.CONNECTIONS));
    limits.set(new ClusterSpec.Breaker(2, 1, 1, 1, -1, 3));
    assertTrue(b.tryAcquire(Resource.CONNECTIONS));
  }

  @Test
  void retryBudgetScalesWithActiveRequests() {
    ClusterSpec.Breaker budget = new ClusterSpec.Breaker(1024, 1024, 1024, 3, 20.0, 3);
    assertEquals(3, RetryBudget.limit(budget, 0, 0), "min_retry_concurrency when idle");
    assertEquals(20, RetryBudget.limit(budget, 90, 10));
    assertEquals(3, RetryBudget.limit(ClusterSpec.Breaker.DEFAULTS, 1000, 0), "no budget: max_retries");
    CircuitBreaker b = new CircuitBreaker(() -> budget);
    for (int i = 0; i < 20; i++) {
      assertTrue(b.tryAcquire(Resource.REQUESTS));
    }
    assertEquals(4, b.limit(Resource.RETRIES));
  }

  @Test
  void releasingMoreThanAcquiredIsABug() {
    CircuitBreaker b = new CircuitBreaker(() -> ClusterSpec.Breaker.DEFAULTS);
    assertThrows(IllegalStateException.class, () -> b.release(Resource.RETRIES));
    assertEquals(0, b.used(Resource.RETRIES));
  }

  @Test
  void aWaitingRequestTakesASlotWithoutCountingAnOverflowUntilItIsRefused() {
    CircuitBreaker b = new CircuitBreaker(() -> new ClusterSpec.Breaker(1, 1, 1, 1, -1, 3));
    assertTrue(b.tryTake(Resource.CONNECTIONS));
    for (int i = 0; i < 100; i++) {
      assertFalse(b.tryTake(Resource.CONNECTIONS), "re-checking while the slot is held");
    }
    assertEquals(0, b.overflows(Resource.CONNECTIONS));
    b.countOverflow(Resource.CONNECTIONS); // refused in the end
    assertEquals(1, b.overflows(Resource.CONNECTIONS));
    assertEquals(1, b.used(Resource.CONNECTIONS));
    b.release(Resource.CONNECTIONS);
    assertTrue(b.tryTake(Resource.CONNECTIONS));
  }

  /** A holder that records what it was told and asked; {@code idle} says whether it closes an idle connection. */
  private static final class Holder implements CircuitBreaker.SlotHolder {
    final boolean idle;
    int released;
    int asked;
    int closed;

    Holder(boolean idle) {
      this.idle = idle;
    }

    @Override
    public void onSlotReleased() {
      released++;
    }

    @Override
    public void closeIdle(Runnable none) {
      asked++;
      if (idle) {
        closed++;
      } else {
        none.run();
      }
    }
  }

  @Test
  void aReleasedConnectionSlotWakesEveryHolderAndOtherSlotsWakeNone() {
    CircuitBreaker b = new CircuitBreaker(() -> ClusterSpec.Breaker.DEFAULTS);
    Holder x = new Holder(false);
    Holder y = new Holder(false);
    b.join(x);
    b.join(y);
    assertTrue(b.tryAcquire(Resource.CONNECTIONS));
    assertTrue(b.tryAcquire(Resource.PENDING_REQUESTS));
    b.release(Resource.PENDING_REQUESTS);
    assertEquals(0, x.released + y.released);
    b.release(Resource.CONNECTIONS);
    assertEquals(1, x.released);
    assertEquals(1, y.released);
    b.leave(y);
    assertTrue(b.tryAcquire(Resource.CONNECTIONS));
    b.release(Resource.CONNECTIONS);
    assertEquals(2, x.released);
    assertEquals(1, y.released, "left");
  }

  @Test
  void reclaimingAsksTheOtherHoldersInTurnUntilOneClosesAnIdleConnection() {
    CircuitBreaker b = new CircuitBreaker(() -> ClusterSpec.Breaker.DEFAULTS);
    Holder asking = new Holder(true);
    List<Holder> busy = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      busy.add(new Holder(false));
    }
    Holder idle1 = new Holder(true);
    Holder idle2 = new Holder(true);
    b.join(asking);
    busy.forEach(b::join);
    b.join(idle1);
    b.join(idle2);

    b.reclaimIdle(asking);

    assertEquals(0, asking.asked, "never asks itself");
    assertEquals(1, idle1.closed + idle2.closed, "one idle connection closed, not one per holder");
    busy.forEach(h -> assertTrue(h.asked <= 1));

    b.leave(idle1);
    b.leave(idle2);
    List<Integer> before = busy.stream().map(h -> h.asked).toList();
    b.reclaimIdle(asking);
    for (int i = 0; i < busy.size(); i++) {
      assertEquals(before.get(i) + 1, busy.get(i).asked, "every other holder asked once when none has one");
    }
    assertEquals(0, asking.asked);
  }
}
