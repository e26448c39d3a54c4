package dev.trellis.proxy.cluster;

import dev.trellis.proxy.state.EndpointSpec;
import java.util.List;

/** Load-balancing choices as pure functions of their inputs. */
public final class Picks {

  private Picks() {}

  /** Weighted round robin over endpoints: the {@code counter}-th pick (endpoint weights expand its share). */
  public static EndpointSpec roundRobin(List<EndpointSpec> endpoints, long counter) {
    int total = endpoints.stream().mapToInt(EndpointSpec::weight).sum();
    long slot = Math.floorMod(counter, (long) total);
    for (EndpointSpec e : endpoints) {
      slot -= e.weight();
      if (slot < 0) {
        return e;
      }
    }
    return endpoints.getLast();
  }
}
