package dev.trellis.proxy.admin;

import dev.trellis.proxy.http.PathNormalizer;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The node proxy's two admin ports, served by one event loop of their own ({@code trellis-proxy-admin}):
 * <ul>
 *   <li>health and metrics (15020, on the node address, open to the node: the kubelet's probe, Prometheus):
 *       {@code /healthz/ready} and {@code /metrics} (Prometheus text format);</li>
 *   <li>debug (15000, loopback only, as Envoy's admin in Istio): the same two, plus what must not leak to whoever
 *       reaches the node — {@code /config_dump} (workloads, identities, policies, endpoints, as JSON),
 *       {@code /clusters} (endpoints, health, ejections, breaker counters) and {@code /connections} (recent inbound
 *       requests with the caller's identity).</li>
 * </ul>
 * On the health port the debug paths answer 404 naming the debug address. Plain text, one fact per line.
 */
public final class ProxyAdminServer implements AutoCloseable {

  /** What the health port serves; everything else is on the debug port only. */
  static final Set<String> HEALTH_PATHS = Set.of("/healthz/ready", "/metrics");
  /** The paths of the debug port. */
  static final Set<String> DEBUG_PATHS = Set.of("/healthz/ready", "/metrics", "/config_dump", "/clusters",
      "/connections");

  /** One admin answer. */
  record Page(int status, String body, String contentType) {
    static Page text(int status, String body) {
      return new Page(status, body, "text/plain; charset=utf-8");
    }
  }

  private final Channel health;
  private final Channel debug;
  private final EventLoopGroup group;

  private ProxyAdminServer(Channel health, Channel debug, EventLoopGroup group) {
    this.health = health;
    this.debug = debug;
    this.group = group;
  }

  /**
   * Where the debug port listens: the node address itself when it is a loopback address (local mode: each node
   * proxy on its own 127.0.N.1, so several share a machine with the default port), else the loopback address of
   * its family. Never an address another host can reach.
   */
  public static String debugBindAddress(String nodeAddress) {
    InetAddress a;
    try {
      a = InetAddress.ofLiteral(nodeAddress);
    } catch (IllegalArgumentException | NullPointerException e) {
      return "127.0.0.1";
    }
    if (a.isLoopbackAddress()) {
      return a.getHostAddress();
    }
    return a instanceof Inet6Address ? "::1" : "127.0.0.1";
  }

  /**
   * @param healthAddress health and metrics, open to the node (15020 on the node address)
   * @param debugAddress every page, loopback only (see {@link #debugBindAddress})
   * @param view what the pages show, read at each request
   * @param ticker nanoseconds, the clock the data path's outlier detection uses (ejection times)
   */
  public static ProxyAdminServer start(InetSocketAddress healthAddress, InetSocketAddress debugAddress, AdminView view,
      LongSupplier ticker) throws IOException {
    if (!debugAddress.getAddress().isLoopbackAddress()) {
      throw new IllegalArgumentException("debug admin address " + debugAddress + " is not a loopback address: "
          + "/config_dump and /connections show every workload and caller on the node");
    }
    Map<String, Supplier<Page>> pages = new LinkedHashMap<>();
    pages.put("/healthz/ready", () -> view.ready() ? Page.text(200, "ready\n")
        : view.draining() ? Page.text(503, "not ready: draining (stopping); new connections go elsewhere\n")
        : Page.text(503, "not ready: waiting for config from the control plane or SVIDs of local workloads\n"));
    pages.put("/metrics", () -> new Page(200, view.metricsText(), "text/plain; version=0.0.4; charset=utf-8"));
    pages.put("/config_dump", () -> new Page(200, ConfigDump.json(view.config(), view.identities()),
        "application/json; charset=utf-8"));
    pages.put("/clusters", () -> Page.text(200, AdminViews.clusters(view.clusters(), ticker.getAsLong())));
    pages.put("/connections", () -> Page.text(200, connections(view.recentInbound())));
    return start(healthAddress, debugAddress, pages);
  }

  /**
   * Serves {@code pages}: those in {@link #HEALTH_PATHS} on both ports, the rest on the debug port only. Both ports
   * are {@link Transport#listener} listeners (so {@code SO_REUSEPORT}: a new node proxy binds them beside the old one
   * during an upgrade) on one event loop of their own, never one of the data path's: a page is computed there.
   */
  static ProxyAdminServer start(InetSocketAddress healthAddress, InetSocketAddress debugAddress,
      Map<String, Supplier<Page>> pages) throws IOException {
    EventLoopGroup group = Transport.newGroup(1, "trellis-proxy-admin");
    Channel health = null;
    try {
      Map<String, Supplier<Page>> debugPages = Map.copyOf(pages);
      Channel debug = bind(group, debugAddress, "node proxy debug admin, --debug-admin-port", debugPages::get);
      String debugUrl = "http://" + hostPort((InetSocketAddress) debug.localAddress());
      health = bind(group, healthAddress, "node proxy health and metrics", path -> {
        if (HEALTH_PATHS.contains(path) && pages.containsKey(path)) {
          return pages.get(path);
        }
        return () -> Page.text(404, DEBUG_PATHS.contains(path)
            ? path + " is on the debug admin port, which listens on loopback only: on the node, curl " + debugUrl
                + path + "\n"
            : "not found; this port serves " + String.join(", ", HEALTH_PATHS.stream().sorted().toList()) + "\n");
      });
      return new ProxyAdminServer(health, debug, group);
    } catch (IOException | RuntimeException e) {
      if (health != null) {
        health.close();
      }
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
  }

  private static Channel bind(EventLoopGroup group, InetSocketAddress address, String what,
      Function<String, Supplier<Page>> route) throws IOException {
    ChannelFuture bound = Transport.listener(new ServerBootstrap(), group)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8192), new PageHandler(route));
          }
        }).bind(address).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      Throwable cause = bound.cause();
      throw new IOException("cannot listen on " + hostPort(address) + " (" + what + "): " + (cause instanceof BindException
          ? "the port is in use by a listener without SO_REUSEPORT (another program)" : cause.getMessage()), cause);
    }
    return bound.channel();
  }

  /** Answers each request with the page of its path (404 when none), on the admin event loop. */
  private static final class PageHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final Function<String, Supplier<Page>> route;

    PageHandler(Function<String, Supplier<Page>> route) {
      this.route = route;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      String path = new QueryStringDecoder(request.uri()).path();
      Supplier<Page> supplier = route.apply(path);
      Page page = supplier == null ? Page.text(404, "not found: " + path + "\n") : supplier.get();
      byte[] bytes = page.body().getBytes(StandardCharsets.UTF_8);
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
          HttpResponseStatus.valueOf(page.status()), Unpooled.wrappedBuffer(bytes));
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, page.contentType())
          .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      HttpUtil.setKeepAlive(response, keepAlive);
      ChannelFuture written = ctx.writeAndFlush(response);
      if (!keepAlive) {
        written.addListener(ChannelFutureListener.CLOSE);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // a client that went away; nothing to tell it
    }
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  static String connections(List<InboundRecords.Entry> recent) {
    StringBuilder b = new StringBuilder();
    for (InboundRecords.Entry e : recent) {
      b.append(e.at()).append(' ').append(e.status()).append(' ').append(e.peer() == null ? "plaintext" : e.peer()).append(" -> ").append(e.authority())
          .append(e.workload() == null ? "" : " (" + e.workload() + ")").append(" from ").append(e.peerAddress())
          .append(e.reason() == null ? "" : ": " + e.reason());
      String forwarded = e.claimed().get("forwarded");
      if (forwarded != null) { // the caller's word, shown as such and escaped: it is not verified
        b.append(" [caller claims forwarded: ").append(PathNormalizer.show(forwarded)).append(']');
      }
      b.append('\n');
    }
    return b.toString();
  }

  /** The health and metrics port. */
  public int port() {
    return ((InetSocketAddress) health.localAddress()).getPort();
  }

  /** Where the debug port listens (loopback). */
  public InetSocketAddress debugAddress() {
    return (InetSocketAddress) debug.localAddress();
  }

  @Override
  public void close() {
    health.close().awaitUninterruptibly();
    debug.close().awaitUninterruptibly();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
  }
}
