package dev.trellis.mtls.svid;

import java.time.Duration;
import java.util.random.RandomGenerator;

/** Delay before retry attempt {@code n} (1-based). */
@FunctionalInterface
public interface Backoff {

  Duration delay(int attempt);

  /**
   * {@code initial * multiplier^(attempt-1)}, capped at {@code max}, then spread by a random factor
   * in {@code [1 - jitter, 1 + jitter]} so that many clients failing together do not retry together.
   */
  static Backoff exponential(Duration initial, Duration max, double multiplier, double jitter, RandomGenerator random) {
    if (initial.isNegative() || initial.isZero()) {
      throw new IllegalArgumentException("initial: " + initial + " (expected: > 0)");
    }
    if (max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("max: " + max + " (expected: >= initial " + initial + ")");
    }
    if (multiplier < 1.0) {
      throw new IllegalArgumentException("multiplier: " + multiplier + " (expected: >= 1.0)");
    }
    if (jitter < 0.0 || jitter >= 1.0) {
      throw new IllegalArgumentException("jitter: " + jitter + " (expected: >= 0.0 and < 1.0)");
    }
    return attempt -> {
      if (attempt < 1) {
        throw new IllegalArgumentException("attempt: " + attempt + " (expected: >= 1)");
      }
      double base = initial.toNanos() * Math.pow(multiplier, Math.min(attempt - 1, 62));
      double capped = Math.min(base, max.toNanos());
      double spread = 1.0 + jitter * (2.0 * random.nextDouble() - 1.0);
      return Duration.ofNanos((long) (capped * spread));
    };
  }

  /** Consecutive failures after the first {@link #LOUD_ATTEMPTS} that {@link #worthAWarning} lets through: every N-th. */
  int QUIET_EVERY = 20;

  /** The first consecutive failures that {@link #worthAWarning} always lets through. */
  int LOUD_ATTEMPTS = 3;

  /**
   * Whether failed attempt {@code attempt} (1-based, consecutive) deserves a WARN line: the first three, then every
   * 20th. A peer that stays away (a control plane restarting, a CA outage) would otherwise log a line per retry, every
   * 0.5-3 s per identity, and bury everything else; with a 3 s cap this is one line a minute.
   */
  static boolean worthAWarning(int attempt) {
    return attempt <= LOUD_ATTEMPTS || attempt % QUIET_EVERY == 0;
  }

  /** 1 s doubling to 2 min, ±20 %. */
  static Backoff defaults() {
    return exponential(Duration.ofSeconds(1), Duration.ofMinutes(2), 2.0, 0.2, RandomGenerator.getDefault());
  }
}
