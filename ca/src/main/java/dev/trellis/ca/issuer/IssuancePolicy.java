package dev.trellis.ca.issuer;

import java.time.Duration;

/**
 * Lifetimes of issued certificates.
 *
 * @param defaultTtl granted when the request asks for none (24 h)
 * @param maxTtl longer requests are capped to this, not refused (7 days)
 * @param minTtl shorter requests are refused: renewal at half life would loop (1 min)
 * @param backdate notBefore is set this far in the past to absorb clock skew between nodes (1 min)
 */
public record IssuancePolicy(Duration defaultTtl, Duration maxTtl, Duration minTtl, Duration backdate) {

  public IssuancePolicy {
    positive("defaultTtl", defaultTtl);
    positive("maxTtl", maxTtl);
    positive("minTtl", minTtl);
    if (backdate.isNegative()) {
      throw new IllegalArgumentException("backdate: " + backdate + " (expected: >= 0)");
    }
    if (maxTtl.compareTo(defaultTtl) < 0) {
      throw new IllegalArgumentException("maxTtl: " + maxTtl + " (expected: >= defaultTtl " + defaultTtl + ")");
    }
    if (minTtl.compareTo(defaultTtl) > 0) {
      throw new IllegalArgumentException("minTtl: " + minTtl + " (expected: <= defaultTtl " + defaultTtl + ")");
    }
  }

  public static IssuancePolicy defaults() {
    return new IssuancePolicy(Duration.ofHours(24), Duration.ofDays(7), Duration.ofMinutes(1), Duration.ofMinutes(1));
  }

  public IssuancePolicy withMaxTtl(Duration max) {
    return new IssuancePolicy(defaultTtl.compareTo(max) > 0 ? max : defaultTtl, max, minTtl, backdate);
  }

  private static void positive(String name, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
    }
  }
}
