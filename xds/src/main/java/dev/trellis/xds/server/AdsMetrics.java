package dev.trellis.xds.server;

import dev.trellis.xds.resource.ResourceType;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the ADS server: responses pushed, ACKs, NACKs and late NACKs, per type. */
public final class AdsMetrics {

  private final Map<ResourceType, LongAdder> pushes = counters();
  private final Map<ResourceType, LongAdder> acks = counters();
  private final Map<ResourceType, LongAdder> nacks = counters();
  private final Map<ResourceType, LongAdder> lateNacks = counters();

  private static Map<ResourceType, LongAdder> counters() {
    Map<ResourceType, LongAdder> m = new EnumMap<>(ResourceType.class);
    for (ResourceType t : ResourceType.values()) {
      m.put(t, new LongAdder());
    }
    return m;
  }

  void pushed(ResourceType type) {
    pushes.get(type).increment();
  }

  void acked(ResourceType type) {
    acks.get(type).increment();
  }

  void nacked(ResourceType type) {
    nacks.get(type).increment();
  }

  void lateNacked(ResourceType type) {
    lateNacks.get(type).increment();
  }

  public long pushes(ResourceType type) {
    return pushes.get(type).sum();
  }

  public long acks(ResourceType type) {
    return acks.get(type).sum();
  }

  /** NACKs that answered no response in flight (a nonce already ACKed or superseded): counted, otherwise ignored. */
  public long lateNacks(ResourceType type) {
    return lateNacks.get(type).sum();
  }

  public long nacks(ResourceType type) {
    return nacks.get(type).sum();
  }
}
