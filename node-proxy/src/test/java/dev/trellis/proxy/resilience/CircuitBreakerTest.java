package dev.trellis.proxy.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trellis.proxy.resilience.CircuitBreaker.Resource;
import dev.trellis.proxy.state.ClusterSpec;
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
}
