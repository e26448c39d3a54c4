package dev.trellis.proxy;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * How long a node proxy took to become ready, from the process's start (as the kernel records it: JVM start-up, class
 * loading and initialization included) through {@code main} to the first moment it was ready (configuration and
 * SVIDs). Logged once at INFO ({@code scripts/bench-startup} reads that line); a pure value, formatted here.
 *
 * @param processStart when the kernel started the process, if the platform says ({@link ProcessHandle.Info})
 * @param mainStart when {@code main} began
 * @param ready when the proxy was first seen ready
 */
record StartupTimes(Optional<Instant> processStart, Instant mainStart, Instant ready) {

  /** The log line's fixed words: {@code scripts/bench-startup} looks for them. */
  static final String READY = "ready after";

  /** This process's figures. */
  static StartupTimes ofThisProcess(Instant mainStart, Instant ready) {
    return new StartupTimes(ProcessHandle.current().info().startInstant(), mainStart, ready);
  }

  /**
   * E.g. {@code ready after 812 ms (process start to main 190 ms, main to ready 622 ms)}. The kernel's start time has
   * the clock tick's resolution (10 ms); a start time after main's (clock adjustments) counts as main's.
   */
  String describe() {
    Duration toMain = processStart.map(p -> Duration.between(p, mainStart)).filter(d -> !d.isNegative())
        .orElse(Duration.ZERO);
    Duration mainToReady = Duration.between(mainStart, ready);
    return processStart.isPresent()
        ? READY + " " + (toMain.toMillis() + mainToReady.toMillis()) + " ms (process start to main " + toMain.toMillis()
            + " ms, main to ready " + mainToReady.toMillis() + " ms)"
        : READY + " " + mainToReady.toMillis() + " ms from main (the process's start time is unknown here)";
  }
}
