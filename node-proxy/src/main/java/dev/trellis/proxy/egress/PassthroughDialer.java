package dev.trellis.proxy.egress;

import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dials passthrough connections the way {@link Via} says, on the downstream's event loop:
 * <ul>
 *   <li>{@link Via#NODE}: an ordinary connection from the node.
 *   <li>{@link Via#POD_ADDRESS}: from the node's namespace, bound to the pod's address with {@code IP_TRANSPARENT}.
 *   <li>{@link Via#POD_NETNS}: one platform thread, {@code trellis-egress-netns}, finds the pod's namespace in the
 *       node agent's state file ({@link PodNamespaces}), enters it ({@code setns}), lets the bootstrap create the
 *       channel there — Netty's epoll channel creates its socket in its constructor, and a socket stays in the
 *       namespace it was created in — and goes back to its own namespace; registration and connect then run on the
 *       event loop as for any channel. The thread does nothing else, so no other socket is ever made in a pod's
 *       namespace. A pod the state file does not name, or a namespace that cannot be entered, fails the connection
 *       (it never falls back to leaving as the node).
 * </ul>
 * It also keeps the node's own addresses current (every {@value #REFRESH_SECONDS} s on the given scheduler) for
 * {@link #facts()}. At start in capture mode it checks once whether it may enter namespaces (CAP_SYS_ADMIN); if not,
 * {@link EgressFacts#podNetns()} is false and the decision uses {@link Via#POD_ADDRESS} instead, which is logged.
 */
public final class PassthroughDialer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PassthroughDialer.class);
  static final int REFRESH_SECONDS = 5;

  private final InetAddress nodeAddress;
  private final PodNamespaces namespaces;
  private final ExecutorService netnsThread;
  private final Refusals refusals;
  private final boolean capture;
  private volatile EgressFacts facts;
  private int selfFd = -1;
  private volatile ScheduledFuture<?> refresh;
  private volatile boolean closed;

  private PassthroughDialer(boolean capture, InetAddress nodeAddress, Path agentState, Refusals refusals) {
    this.capture = capture;
    this.nodeAddress = nodeAddress;
    this.namespaces = agentState == null ? null : new PodNamespaces(agentState);
    this.netnsThread = namespaces == null ? null : Executors.newSingleThreadExecutor(
        Thread.ofPlatform().name("trellis-egress-netns").daemon().factory());
    this.refusals = refusals;
    this.facts = EgressFacts.NONE;
  }

  /** Local mode: every passthrough connection leaves from the node ({@link Via#NODE}). */
  public static PassthroughDialer local(Refusals refusals) {
    return new PassthroughDialer(false, null, null, refusals);
  }

  /**
   * Capture mode.
   *
   * @param nodeAddress the node's configured address (refused as a destination like every interface address)
   * @param agentState the node agent's state file, or null: then eBPF captures leave by {@link Via#POD_ADDRESS}
   * @param scheduler where the node's addresses are refreshed
   * @param refusals where passthrough connections that cannot leave as the pod are counted and logged, rate-limited
   */
  public static PassthroughDialer capture(InetAddress nodeAddress, Path agentState, ScheduledExecutorService scheduler,
      Refusals refusals) {
    PassthroughDialer d = new PassthroughDialer(true, nodeAddress, agentState, refusals);
    boolean podNetns = d.openNetnsThread();
    d.facts = new EgressFacts(d.readNodeAddresses(), podNetns);
    d.scheduleRefresh(scheduler);
    return d;
  }

  private void scheduleRefresh(ScheduledExecutorService scheduler) {
    refresh = scheduler.schedule(() -> {
      refreshNodeAddresses();
      if (!closed) {
        scheduleRefresh(scheduler);
      }
    }, REFRESH_SECONDS, TimeUnit.SECONDS);
  }

  /** The node's facts as of now (a value; replaced when the node's addresses change). */
  public EgressFacts facts() {
    return facts;
  }

  /** Where the node agent's state file is, if pods' namespaces are looked up there. */
  public Path agentState() {
    return namespaces == null ? null : namespaces.stateFile();
  }

  /**
   * Connects to {@code destination} for a relay, on {@code loop}; the future fails with an {@link EgressException}
   * when {@code via} cannot be honoured, or with the connect's own failure.
   *
   * @param source the pod's address (unused for {@link Via#NODE})
   */
  public Future<Channel> dial(EventLoop loop, int connectTimeoutMillis, Via via, InetAddress source,
      InetSocketAddress destination) {
    Promise<Channel> promise = loop.newPromise();
    try {
      dial(loop, connectTimeoutMillis, via, source, destination, promise);
    } catch (RuntimeException e) { // e.g. no epoll transport for IP_TRANSPARENT
      promise.tryFailure(e);
    }
    return promise;
  }

  private void dial(EventLoop loop, int connectTimeoutMillis, Via via, InetAddress source,
      InetSocketAddress destination, Promise<Channel> promise) {
    switch (via) {
      case NODE -> complete(Transport.relayConnection(loop, connectTimeoutMillis).connect(destination), promise);
      case POD_ADDRESS -> complete(Transport.relayConnectionFrom(loop, connectTimeoutMillis, source)
          .connect(destination), promise);
      case POD_NETNS -> {
        if (netnsThread == null) {
          promise.setFailure(new EgressException(EgressException.Reason.NETNS_UNKNOWN, "no node agent state file: "
              + "pods' network namespaces are unknown (give the node proxy --agent-state)", null));
        } else {
          Bootstrap b = Transport.relayConnection(loop, connectTimeoutMillis);
          netnsThread.execute(() -> dialInPodNamespace(b, source, destination, promise));
        }
      }
    }
  }

  private static void complete(ChannelFuture connect, Promise<Channel> promise) {
    connect.addListener(f -> {
      if (f.isSuccess()) {
        if (!promise.trySuccess(connect.channel())) {
          connect.channel().close();
        }
      } else {
        promise.tryFailure(f.cause());
      }
    });
  }

  /** On the netns thread. */
  private void dialInPodNamespace(Bootstrap b, InetAddress source, InetSocketAddress destination,
      Promise<Channel> promise) {
    Netns netns = Netns.get();
    String path;
    try {
      path = namespaces.find(source).orElse(null);
    } catch (IOException | RuntimeException e) {
      fail(promise, new EgressException(EgressException.Reason.STATE_UNREADABLE, "the node agent's state file "
          + namespaces.stateFile() + " cannot be read: " + e.getMessage(), e));
      return;
    }
    if (path == null) {
      fail(promise, new EgressException(EgressException.Reason.NETNS_UNKNOWN, "pod " + source.getHostAddress()
          + " is not a captured pod in the node agent's state file " + namespaces.stateFile()
          + " (is the node agent running with --state-file there?)", null));
      return;
    }
    ChannelFuture connect = null;
    try {
      int fd = netns.open(path);
      try {
        netns.enter(fd, path);
        try {
          connect = b.connect(destination); // the channel, and so its socket, is created here: in the pod's namespace
        } finally {
          netns.enter(selfFd, "of the node proxy");
        }
      } finally {
        netns.close(fd);
      }
    } catch (IOException | RuntimeException e) {
      if (connect != null) {
        connect.channel().close();
      }
      fail(promise, new EgressException(EgressException.Reason.NETNS_FAILED, "pod " + source.getHostAddress() + ": "
          + e.getMessage(), e));
      return;
    }
    complete(connect, promise);
  }

  private void fail(Promise<Channel> promise, EgressException e) {
    refusals.refuse(Refusal.Listener.OUTBOUND, Refusal.POD_NAMESPACE, null, "passthrough cannot leave as the pod: "
        + e.getMessage());
    promise.tryFailure(e);
  }

  /** Opens this thread's own namespace and checks it may enter namespaces at all; false if not (logged). */
  private boolean openNetnsThread() {
    if (netnsThread == null) {
      log.info("passthrough egress of eBPF-captured pods leaves from the node's namespace with the pod's address "
          + "(no --agent-state: pods' network namespaces are unknown)");
      return false;
    }
    try {
      return netnsThread.submit(() -> {
        Netns netns = Netns.get();
        try {
          selfFd = netns.open(Netns.SELF);
          netns.enter(selfFd, "of the node proxy"); // a no-op move that fails the same way a real one would
          log.info("passthrough egress of eBPF-captured pods leaves from inside each pod's network namespace "
              + "(namespaces from {})", namespaces.stateFile());
          return true;
        } catch (IOException | RuntimeException | LinkageError e) {
          log.warn("passthrough egress of eBPF-captured pods leaves from the node's namespace with the pod's address, "
              + "not through the pod's interface: {}", e.getMessage());
          return false;
        }
      }).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException e) {
      log.warn("checking whether pods' namespaces can be entered failed: {}", e.toString());
      return false;
    }
  }

  private void refreshNodeAddresses() {
    try {
      Set<InetAddress> now = readNodeAddresses();
      EgressFacts current = facts;
      if (!now.equals(current.nodeAddresses())) {
        facts = new EgressFacts(now, current.podNetns());
      }
    } catch (RuntimeException e) {
      log.debug("reading the node's addresses: {}", e.toString());
    }
  }

  /** Every address of this namespace's interfaces (scope ids dropped) and the configured node address. */
  private Set<InetAddress> readNodeAddresses() {
    Set<InetAddress> out = new HashSet<>();
    if (nodeAddress != null) {
      out.add(nodeAddress);
    }
    try {
      NetworkInterface.networkInterfaces().flatMap(NetworkInterface::inetAddresses).forEach(a -> {
        try {
          out.add(InetAddress.getByAddress(a.getAddress()));
        } catch (UnknownHostException impossible) {
          // a 4- or 16-byte address is always accepted
        }
      });
    } catch (SocketException e) {
      log.warn("cannot list the node's interfaces ({}); only {} counts as the node's address", e.getMessage(),
          nodeAddress);
    }
    return out;
  }

  /** Whether this dialer serves capture mode (not the local entry). */
  public boolean capture() {
    return capture;
  }

  @Override
  public void close() {
    closed = true;
    var pending = refresh;
    if (pending != null) {
      pending.cancel(false);
    }
    if (netnsThread != null) {
      netnsThread.execute(() -> {
        if (selfFd >= 0) {
          Netns.get().close(selfFd);
        }
      });
      netnsThread.shutdown();
    }
  }
}
