package dev.trellis.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a demo service is told by its environment (set by {@code trellis up}): where to listen, who
 * it is, and how badly to behave.
 *
 * @param address the workload's address to bind ({@code TRELLIS_WORKLOAD_ADDRESS})
 * @param ports the ports to listen on ({@code TRELLIS_WORKLOAD_PORTS}, comma-separated)
 * @param name the workload name it answers with ({@code TRELLIS_WORKLOAD_NAME})
 * @param version its version label ({@code TRELLIS_WORKLOAD_VERSION}, may be empty)
 * @param failRate fraction of requests answered 503 ({@code TRELLIS_DEMO_FAIL_RATE}, 0..1)
 * @param latency added before each answer ({@code TRELLIS_DEMO_LATENCY_MS})
 */
record DemoSettings(String address, List<Integer> ports, String name, String version, double failRate,
    Duration latency) {

  static DemoSettings fromEnv(Map<String, String> env) {
    String address = require(env, "TRELLIS_WORKLOAD_ADDRESS");
    List<Integer> ports = new ArrayList<>();
    for (String p : require(env, "TRELLIS_WORKLOAD_PORTS").split(",")) {
      ports.add(number(p.strip(), "TRELLIS_WORKLOAD_PORTS"));
    }
    double failRate;
    String rate = env.getOrDefault("TRELLIS_DEMO_FAIL_RATE", "0");
    try {
      failRate = Double.parseDouble(rate);
    } catch (NumberFormatException e) {
      failRate = -1;
    }
    if (!(failRate >= 0 && failRate <= 1)) {
      throw new IllegalArgumentException("TRELLIS_DEMO_FAIL_RATE '" + rate + "' (expected: a number from 0 to 1)");
    }
    int latencyMs = number(env.getOrDefault("TRELLIS_DEMO_LATENCY_MS", "0"), "TRELLIS_DEMO_LATENCY_MS");
    return new DemoSettings(address, List.copyOf(ports), env.getOrDefault("TRELLIS_WORKLOAD_NAME", "demo"),
        env.getOrDefault("TRELLIS_WORKLOAD_VERSION", ""), failRate, Duration.ofMillis(latencyMs));
  }

  private static String require(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException(name + " is not set (expected: set by 'trellis up', e.g. " + name + "="
          + (name.endsWith("PORTS") ? "8080" : "127.0.1.10") + ")");
    }
    return v;
  }

  private static int number(String v, String name) {
    try {
      int n = Integer.parseInt(v);
      if (n >= 0 && n <= 65535 * 1000) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(name + " '" + v + "' (expected: a whole number >= 0)");
  }
}
