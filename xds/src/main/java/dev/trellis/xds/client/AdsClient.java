package dev.trellis.xds.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ADS client: typed watchers per resource name (or {@code "*"}), validation that NACKs bad
 * resources with a useful error_detail while accepting the good ones of the same response, the last
 * good resources kept while the control plane is unreachable, and reconnection with exponential
 * backoff and jitter ({@link #RECONNECT_BACKOFF} unless the builder says otherwise). Each reconnect
 * also resets the gRPC channel's own connection backoff: otherwise, after a long outage, that hidden
 * backoff (up to 2 min) fails the new stream at once and the client stays away long after the control
 * plane is back. Incremental (delta) by default; state-of-the-world on request.
 *
 * <p>All state is confined to {@code executor}, which must run one task at a time; gRPC callbacks
 * hop onto it. Watchers are called there.
 */
public final class AdsClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdsClient.class);

  /**
   * 0.5 s doubling to 3 s, ±30 %: a client is back within 3.9 s of a control plane's return (plus its
   * handshake), and a thousand clients retrying every few seconds against a dead one cost it nothing.
   */
  public static final Backoff RECONNECT_BACKOFF =
      Backoff.exponential(Duration.ofMillis(500), Duration.ofSeconds(3), 2.0, 0.3, RandomGenerator.getDefault());

  /** Which ADS variant to speak. */
  public enum Protocol {
    DELTA,
    SOTW
  }

  /** A resource as last accepted: its version (per resource in delta, per response in SotW) and content. */
  record Cached(String version, Message message) {}

  /** Watchers and accepted resources of one type. Executor-confined. */
  static final class TypeWatch {
    final ResourceType type;
    final Map<String, List<ResourceWatcher<Message>>> byName = new HashMap<>();
    final List<ResourceWatcher<Message>> wildcard = new ArrayList<>();
    final Map<String, Cached> cache = new HashMap<>();
    String sotwVersion = "";
    String lastNonce = "";

    TypeWatch(ResourceType type) {
      this.type = type;
    }

    boolean isWildcard() {
      return !wildcard.isEmpty();
    }

    Set<String> names() {
      return new LinkedHashSet<>(byName.keySet());
    }

    boolean empty() {
      return byName.isEmpty() && wildcard.isEmpty();
    }

    List<ResourceWatcher<Message>> watchersOf(String name) {
      List<ResourceWatcher<Message>> ws = new ArrayList<>(wildcard);
      ws.addAll(byName.getOrDefault(name, List.of()));
      return ws;
    }
  }

  final Node node;
  final ScheduledExecutorService executor;
  final Map<ResourceType, TypeWatch> types = new EnumMap<>(ResourceType.class);
  final Map<ResourceType, ResourceValidator> validators;
  /** Types the control plane has answered at least once (across reconnects); read from any thread. */
  private final Set<ResourceType> answered = ConcurrentHashMap.newKeySet();
  private final AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub stub;
  private final Protocol protocol;
  private final Backoff backoff;
  private final Runnable resetChannelBackoff;

  private Transport<?, ?> transport;
  private ScheduledFuture<?> reconnect;
  private int failures;
  private boolean started;
  private boolean closed;

  private AdsClient(Builder b) {
    this.node = b.node;
    this.executor = b.executor;
    this.protocol = b.protocol;
    this.backoff = b.backoff;
    this.validators = b.validators;
    this.resetChannelBackoff = b.channel instanceof ManagedChannel m ? m::resetConnectBackoff : () -> { };
    AggregatedDiscoveryServiceGrpc.AggregatedDiscoveryServiceStub s = AggregatedDiscoveryServiceGrpc.newStub(b.channel);
    this.stub = b.credentials == null ? s : s.withCallCredentials(b.credentials);
  }

  public static Builder builder(Channel channel, Node node, ScheduledExecutorService executor) {
    return new Builder(channel, node, executor);
  }

  /** Connects; watches may be added before or after. */
  public void start() {
    executor.execute(() -> {
      if (!started && !closed) {
        started = true;
        connect();
      }
    });
  }

  /**
   * Watches {@code name} of {@code type}, or every resource of the type with {@code "*"}. If the
   * resource is already known the watcher gets it at once.
   */
  @SuppressWarnings("unchecked")
  public <T extends Message> void watch(ResourceType type, String name, ResourceWatcher<T> watcher) {
    requireNonNull(watcher, "watcher");
    ResourceWatcher<Message> w = (ResourceWatcher<Message>) watcher;
    executor.execute(() -> {
      if (closed) {
        return;
      }
      TypeWatch tw = types.computeIfAbsent(type, TypeWatch::new);
      boolean newInterest;
      if (name.equals("*")) {
        newInterest = !tw.isWildcard();
        tw.wildcard.add(w);
        tw.cache.forEach((n, c) -> w.onChanged(n, c.message()));
      } else {
        newInterest = !tw.byName.containsKey(name);
        tw.byName.computeIfAbsent(name, n -> new ArrayList<>()).add(w);
        Cached c = tw.cache.get(name);
        if (c != null) {
          w.onChanged(name, c.message());
        }
      }
      if (newInterest && transport != null) {
        transport.subscriptionChanged(tw, name, true);
      }
    });
  }

  /** Stops {@code watcher} watching {@code name}; unsubscribes once nobody watches it. */
  public <T extends Message> void cancelWatch(ResourceType type, String name, ResourceWatcher<T> watcher) {
    executor.execute(() -> {
      TypeWatch tw = types.get(type);
      if (tw == null) {
        return;
      }
      boolean lost;
      if (name.equals("*")) {
        tw.wildcard.remove(watcher);
        lost = tw.wildcard.isEmpty();
      } else {
        List<ResourceWatcher<Message>> ws = tw.byName.get(name);
        if (ws == null) {
          return;
        }
        ws.remove(watcher);
        lost = ws.isEmpty();
        if (lost) {
          tw.byName.remove(name);
        }
      }
      if (lost && transport != null) {
        transport.subscriptionChanged(tw, name, false);
      }
    });
  }

  @Override
  public void close() {
    executor.execute(() -> {
      closed = true;
      if (reconnect != null) {
        reconnect.cancel(false);
      }
      if (transport != null) {
        transport.cancel();
        transport = null;
      }
    });
  }

  // ---- connection management (executor)

  private void connect() {
    reconnect = null;
    if (failures > 0) {
      resetChannelBackoff.run();
    }
    transport = protocol == Protocol.DELTA ? new DeltaTransport(this, stub) : new SotwTransport(this, stub);
    transport.open();
    for (TypeWatch tw : types.values()) {
      if (!tw.empty()) {
        transport.subscribeAll(tw);
      }
    }
  }

  /** A response arrived on {@code from}: the connection works. */
  void healthy(Transport<?, ?> from) {
    if (from == transport && failures > 0) {
      log.info("ADS stream to the control plane re-established after {} failed attempt(s)", failures);
      failures = 0;
    }
  }

  /** Records that a response of {@code type} arrived. */
  void answered(ResourceType type) {
    answered.add(type);
  }

  /**
   * Whether the control plane has answered {@code type} at least once: the client's view of it is
   * complete (possibly empty). Thread-safe.
   */
  public boolean hasReceived(ResourceType type) {
    return answered.contains(type);
  }

  /** {@code from} failed: tell watchers, keep the cache, reconnect after a backoff. */
  void failed(Transport<?, ?> from, Status status) {
    if (from != transport || closed) {
      return;
    }
    transport = null;
    failures++;
    long delay = backoff.delay(failures).toMillis();
    if (Backoff.worthAWarning(failures)) {
      log.warn("ADS stream to the control plane failed ({}, attempt {}), reconnecting in {} ms: {}{}", status.getCode(),
          failures, delay, status.getDescription(), failures == Backoff.LOUD_ATTEMPTS
              ? " (from now on every " + Backoff.QUIET_EVERY + "th failure is logged)" : "");
    } else {
      log.debug("ADS stream to the control plane failed ({}, attempt {}), reconnecting in {} ms: {}", status.getCode(),
          failures, delay, status.getDescription());
    }
    for (TypeWatch tw : types.values()) {
      for (ResourceWatcher<Message> w : allWatchers(tw)) {
        w.onAmbientError(status);
      }
    }
    reconnect = executor.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
  }

  private static List<ResourceWatcher<Message>> allWatchers(TypeWatch tw) {
    List<ResourceWatcher<Message>> all = new ArrayList<>(tw.wildcard);
    tw.byName.values().forEach(all::addAll);
    return all;
  }

  /**
   * Applies one decoded resource: validated, then cached and announced if new or changed.
   * Returns the problem (for the NACK) or null.
   */
  String accept(TypeWatch tw, String name, String version, Message message) {
    ResourceValidator v = validators.getOrDefault(tw.type, ResourceValidator.defaults(tw.type));
    String problem = v.problemWith(message);
    if (problem == null && !tw.type.nameOf(message).equals(name)) {
      problem = tw.type.shortName() + " resource '" + name + "' carries the name '" + tw.type.nameOf(message) + "'";
    }
    if (problem != null) {
      for (ResourceWatcher<Message> w : tw.watchersOf(name)) {
        w.onResourceError(name, problem);
      }
      return problem;
    }
    Cached previous = tw.cache.get(name);
    if (previous != null && previous.message().equals(message)) {
      return null;
    }
    tw.cache.put(name, new Cached(version, message));
    for (ResourceWatcher<Message> w : tw.watchersOf(name)) {
      w.onChanged(name, message);
    }
    return null;
  }

  void remove(TypeWatch tw, String name) {
    tw.cache.remove(name);
    for (ResourceWatcher<Message> w : tw.watchersOf(name)) {
      w.onRemoved(name);
    }
  }

  /** Builds an {@link AdsClient}. */
  public static final class Builder {
    private final Channel channel;
    private final Node node;
    private final ScheduledExecutorService executor;
    private Protocol protocol = Protocol.DELTA;
    private CallCredentials credentials;
    private Backoff backoff = RECONNECT_BACKOFF;
    private final Map<ResourceType, ResourceValidator> validators = new EnumMap<>(ResourceType.class);

    Builder(Channel channel, Node node, ScheduledExecutorService executor) {
      this.channel = requireNonNull(channel, "channel");
      this.node = requireNonNull(node, "node");
      this.executor = requireNonNull(executor, "executor");
    }

    public Builder protocol(Protocol p) {
      this.protocol = requireNonNull(p, "protocol");
      return this;
    }

    public Builder callCredentials(CallCredentials c) {
      this.credentials = c;
      return this;
    }

    public Builder backoff(Backoff b) {
      this.backoff = requireNonNull(b, "backoff");
      return this;
    }

    /** Replaces the default validator of {@code type}. */
    public Builder validator(ResourceType type, ResourceValidator v) {
      validators.put(type, requireNonNull(v, "validator"));
      return this;
    }

    public AdsClient build() {
      return new AdsClient(this);
    }
  }
}
