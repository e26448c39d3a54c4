package dev.trellis.proxy.inbound;

import dev.trellis.proxy.entry.EntryDispatcher;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.tunnel.SocketRelayHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import java.net.InetAddress;
import java.time.Clock;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Plaintext traffic to a local workload (the inbound port, 15006: PERMISSIVE mode's other half).
 * STRICT workloads refuse it; otherwise the caller is authorized as one without identity
 * ({@link InboundDecision#plaintext}) and the bytes are relayed, or inspected per HTTP request when the port is
 * declared HTTP (the caller has no verified identity: a {@code x-forwarded-client-cert} it sends is removed).
 */
public final class PlaintextInbound implements EntryDispatcher {

  /** The listener its refusals are counted under ({@code EntryDispatcher.Refusal} is the entry's answer, apart). */
  private static final dev.trellis.proxy.refusal.Refusal.Listener INBOUND =
      dev.trellis.proxy.refusal.Refusal.Listener.INBOUND;

  private final Supplier<ProxyConfig> config;
  private final Set<Integer> ownPorts;
  private final HttpInspector inspector;
  private final InboundRecords records;
  private final Refusals refusals;
  private final Clock clock;
  private final int connectTimeoutMillis;

  public PlaintextInbound(Supplier<ProxyConfig> config, Set<Integer> ownPorts, HttpInspector inspector,
      InboundRecords records, Refusals refusals, Clock clock, int connectTimeoutMillis) {
    this.config = config;
    this.ownPorts = ownPorts;
    this.inspector = inspector;
    this.records = records;
    this.refusals = refusals;
    this.clock = clock;
    this.connectTimeoutMillis = connectTimeoutMillis;
  }

  /** The caller's address as the connection shows it (never what it claims). */
  static String address(java.net.SocketAddress a) {
    return a instanceof java.net.InetSocketAddress i && i.getAddress() != null ? i.getAddress().getHostAddress()
        : String.valueOf(a);
  }

  @Override
  public void dispatch(Channel downstream, String source, InetAddress destination, String name, int port, EntryReply reply) {
    String authority = (destination != null ? destination.getHostAddress() : name) + ":" + port;
    String from = address(downstream.remoteAddress());
    if (destination == null) {
      String reason = "the inbound port takes a workload address, not a name";
      records.add(new InboundRecords.Entry(clock.instant(), null, from, authority, null, 400, reason));
      refusals.refuse(INBOUND, dev.trellis.proxy.refusal.Refusal.BAD_AUTHORITY, source, authority + ": " + reason);
      reply.reject(Refusal.UNREACHABLE);
      return;
    }
    switch (InboundDecision.plaintext(destination.getHostAddress(), port, config.get(), ownPorts)) {
      case InboundDecision.Reject r -> {
        records.add(new InboundRecords.Entry(clock.instant(), null, from, authority, null, r.status(), r.reason()));
        refusals.refuse(INBOUND, r.refusal(), source, authority + " -> " + r.status() + ": " + r.reason());
        reply.reject(r.status() == 401 || r.status() == 403 ? Refusal.FORBIDDEN : Refusal.UNREACHABLE);
      }
      case InboundDecision.Forward f -> Transport.relayConnection(downstream.eventLoop(), connectTimeoutMillis)
          .connect(f.address(), f.port())
          .addListener((ChannelFuture cf) -> {
            if (!cf.isSuccess()) {
              records.add(new InboundRecords.Entry(clock.instant(), null, from, authority, f.target().name(), 503,
                  "connecting to " + authority + " failed: " + cf.cause().getMessage()));
              reply.reject(Refusal.UNREACHABLE);
              return;
            }
            Channel workload = cf.channel();
            records.add(new InboundRecords.Entry(clock.instant(), null, from, authority, f.target().name(), 200, null));
            reply.accept().addListener(x -> {
              if (inspector.inspects(f)) {
                inspector.inspect(downstream, workload, f.target(), null, f.address(), f.port());
                return;
              }
              downstream.pipeline().addLast("relay", new SocketRelayHandler(workload));
              workload.pipeline().addLast("relay", new SocketRelayHandler(downstream));
              downstream.read();
              workload.read();
            });
          });
    }
  }
}
