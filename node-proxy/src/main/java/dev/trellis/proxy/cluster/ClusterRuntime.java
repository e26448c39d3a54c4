package dev.trellis.proxy.cluster;

import dev.trellis.proxy.resilience.AttemptResult;
import dev.trellis.proxy.resilience.CircuitBreaker;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster as the data path uses it: its spec, hosts, load balancer, circuit breaker and counters.
 * Updated from xDS on the control thread ({@link #update}); read by every event loop through
 * volatile fields. Hosts keep their identity (and outlier state) across updates that keep their
 * address.
 */
public final class ClusterRuntime {

  private static final Logger log = LoggerFactory.getLogger(ClusterRuntime.class);

  private final String name;
  private volatile ClusterSpec spec;
  private volatile LoadBalancer lb;
  private final CircuitBreaker breaker;
  private final AtomicLong roundRobin = new AtomicLong();
  private final Stats stats = new Stats();

  /** Request and ejection counters, for /clusters and /metrics. */
  public static final class Stats {
    public final AtomicLong requests = new AtomicLong();
    public final AtomicLong retries = new AtomicLong();
    public final AtomicLong retriesOverflowed = new AtomicLong();
    public final AtomicLong connectFailures = new AtomicLong();
    public final AtomicLong timeouts = new AtomicLong();
    public final AtomicLong ejections = new AtomicLong();
    public final AtomicLong responses5xx = new AtomicLong();
  }

  ClusterRuntime(ClusterSpec spec, List<EndpointSpec> endpoints) {
    this.name = spec.name();
    this.spec = spec;
    this.breaker = new CircuitBreaker(() -> this.spec.breaker());
    this.lb = LoadBalancer.of(spec.lb(), endpoints.stream().map(Host::new).toList());
  }

  /** Applies a new spec and endpoint set; rebuilds the load balancer only if hosts, weights or algorithm changed. */
  void update(ClusterSpec newSpec, List<EndpointSpec> endpoints) {
    ClusterSpec old = this.spec;
    this.spec = newSpec;
    LoadBalancer current = lb;
    Map<String, Host> existing = new HashMap<>();
    current.hosts().forEach(h -> existing.put(h.key(), h));
    List<Host> hosts = new ArrayList<>(endpoints.size());
    boolean changed = old.lb() != newSpec.lb() || endpoints.size() != current.hosts().size();
    for (int i = 0; i < endpoints.size(); i++) {
      EndpointSpec e = endpoints.get(i);
      Host h = existing.get(e.hostPort());
      if (h == null) {
        h = new Host(e);
        changed = true;
      } else {
        if (h.endpoint().weight() != e.weight() || current.hosts().get(i) != h) {
          changed = true;
        }
        h.update(e);
      }
      hosts.add(h);
    }
    if (changed) {
      lb = LoadBalancer.of(newSpec.lb(), hosts);
    }
  }

  public String name() {
    return name;
  }

  public ClusterSpec spec() {
    return spec;
  }

  public List<Host> hosts() {
    return lb.hosts();
  }

  public CircuitBreaker breaker() {
    return breaker;
  }

  public Stats stats() {
    return stats;
  }

  /** Picks a host for an attempt; null when the cluster has no endpoints. */
  public Host pick(LoadBalancer.Input in) {
    return lb.pick(in);
  }

  public long nextCount() {
    return roundRobin.getAndIncrement();
  }

  /** Feeds one attempt's result to outlier detection. */
  public void record(Host host, AttemptResult result, long now) {
    ClusterSpec.Outlier policy = spec.outlier();
    if (result.isServerFailure()) {
      stats.responses5xx.incrementAndGet();
    }
    List<Host> hosts = lb.hosts();
    if (host.record(policy, result.isServerFailure(), now, () -> ejectedExcept(hosts, host, now), hosts.size())) {
      stats.ejections.incrementAndGet();
      log.info("cluster {}: endpoint {} ejected for {} s after {} consecutive server failures", name, host.key(),
          (host.outlier().ejectedUntil() - now) / 1_000_000_000L, policy.consecutive5xx());
    }
  }

  private static int ejectedExcept(List<Host> hosts, Host self, long now) {
    int n = 0;
    for (Host h : hosts) {
      if (h != self && h.ejectedAt(now)) {
        n++;
      }
    }
    return n;
  }
}
