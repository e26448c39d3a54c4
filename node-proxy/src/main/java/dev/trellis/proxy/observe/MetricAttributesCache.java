package dev.trellis.proxy.observe;

import dev.trellis.proxy.cluster.Host;
import dev.trellis.proxy.state.LocalWorkload;
import io.netty.util.concurrent.FastThreadLocal;
import io.opentelemetry.api.common.Attributes;
import java.util.HashMap;
import java.util.Objects;

/**
 * The request-metric attributes already built on this thread, by what they are made of. Handing the metrics SDK the
 * same {@link Attributes} instance for the same series lets it find the series by identity and a cached hash,
 * instead of building, sorting and hashing a dozen attributes per request. One cache per event-loop thread, so no
 * locking; cleared when it reaches {@link #MAX_ENTRIES} (series that stopped — a replaced workload or endpoint —
 * fall out then).
 */
final class MetricAttributesCache {

  static final int MAX_ENTRIES = 4096;

  private static final FastThreadLocal<MetricAttributesCache> PER_THREAD = new FastThreadLocal<>() {
    @Override
    protected MetricAttributesCache initialValue() {
      return new MetricAttributesCache();
    }
  };

  private final HashMap<Key, Attributes> entries = new HashMap<>();

  static MetricAttributesCache current() {
    return PER_THREAD.get();
  }

  Attributes find(Key key) {
    return entries.get(key);
  }

  void put(Key key, Attributes attributes) {
    if (entries.size() >= MAX_ENTRIES) {
      entries.clear();
    }
    entries.put(key, attributes);
  }

  int size() {
    return entries.size();
  }

  /**
   * What an exchange's metric attributes are made of. The local workload and the upstream host are compared by
   * identity: a config change brings new instances, which start new entries.
   */
  static final class Key {
    private final boolean inbound;
    private final String method;
    private final String protocol;
    private final Integer status;
    private final Integer grpcStatus;
    private final String flag;
    private final String errorType;
    private final LocalWorkload local;
    private final Host host;
    private final String cluster;
    private final String peer;
    private final int hash;

    Key(boolean inbound, String method, String protocol, Integer status, Integer grpcStatus, String flag,
        String errorType, LocalWorkload local, Host host, String cluster, String peer) {
      this.inbound = inbound;
      this.method = method;
      this.protocol = protocol;
      this.status = status;
      this.grpcStatus = grpcStatus;
      this.flag = flag;
      this.errorType = errorType;
      this.local = local;
      this.host = host;
      this.cluster = cluster;
      this.peer = peer;
      int h = Boolean.hashCode(inbound);
      h = 31 * h + Objects.hashCode(method);
      h = 31 * h + Objects.hashCode(protocol);
      h = 31 * h + Objects.hashCode(status);
      h = 31 * h + Objects.hashCode(grpcStatus);
      h = 31 * h + Objects.hashCode(flag);
      h = 31 * h + Objects.hashCode(errorType);
      h = 31 * h + System.identityHashCode(local);
      h = 31 * h + System.identityHashCode(host);
      h = 31 * h + Objects.hashCode(cluster);
      h = 31 * h + Objects.hashCode(peer);
      this.hash = h;
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && hash == k.hash && inbound == k.inbound && local == k.local && host == k.host
          && Objects.equals(method, k.method) && Objects.equals(protocol, k.protocol)
          && Objects.equals(status, k.status) && Objects.equals(grpcStatus, k.grpcStatus)
          && Objects.equals(flag, k.flag) && Objects.equals(errorType, k.errorType)
          && Objects.equals(cluster, k.cluster) && Objects.equals(peer, k.peer);
    }
  }
}
