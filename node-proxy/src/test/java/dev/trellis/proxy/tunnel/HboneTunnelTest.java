package dev.trellis.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.HboneServer;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.transport.Transport;
import dev.trellis.proxy.testing.TestCertificates;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.ssl.SslContext;
import java.util.concurrent.atomic.AtomicInteger;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HBONE tunnel on loopback: real TLS, real HTTP/2, a real workload behind the server. */
class HboneTunnelTest {

  static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  static final SpiffeId CLIENT = SpiffeId.forWorkload(TD, "d", "client");
  static final SpiffeId WEB = SpiffeId.forWorkload(TD, "d", "web");
  static final String SERVER_NODE = "127.0.72.1";
  static final String WEB_ADDRESS = "127.0.72.10";
  static final SpiffeId DB = SpiffeId.forWorkload(TD, "d", "db");
  static final String DB_ADDRESS = "127.0.72.20";
  /** A second workload with web's identity (same service account). */
  static final String WEB_1_ADDRESS = "127.0.72.30";

  private final TestPki pki = TestPki.newRoot(TD);
  private final EventLoopGroup group = Transport.newGroup(2, "trellis-proxy");
  private final ScheduledExecutorService certExecutor = Executors.newSingleThreadScheduledExecutor();
  private CertificateManager serverCerts;
  private CertificateManager clientCerts;
  private HboneServer server;
  private Channel echo;
  private final List<Channel> moreEchoes = new java.util.ArrayList<>();
  private ProxyConfig config;
  private final InboundRecords records = new InboundRecords(100);
  private final Refusals refusals = new Refusals(System::nanoTime);

  private Channel echo(String address) {
    return new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
          }
        })
        .bind(new InetSocketAddress(address, 0)).syncUninterruptibly().channel();
  }

  @BeforeEach
  void start() {
    echo = echo(WEB_ADDRESS);
    serverCerts = TestCertificates.ready(pki, certExecutor, Set.of(WEB, DB));
    clientCerts = TestCertificates.ready(pki, certExecutor, Set.of(CLIENT));
    LocalWorkload web = new LocalWorkload("d/web-0", "d", WEB, List.of(WEB_ADDRESS), true, LocalWorkload.MtlsMode.STRICT,
        Map.of());
    LocalWorkload db = new LocalWorkload("d/db-0", "d", DB, List.of(DB_ADDRESS), true, LocalWorkload.MtlsMode.STRICT,
        Map.of());
    LocalWorkload web1 = new LocalWorkload("d/web-1", "d", WEB, List.of(WEB_1_ADDRESS), true,
        LocalWorkload.MtlsMode.STRICT, Map.of());
    config = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(), Map.of(WEB_ADDRESS, web, DB_ADDRESS, db,
        WEB_1_ADDRESS, web1));
    server = HboneServer.start(group, new InetSocketAddress(SERVER_NODE, 0), () -> config, serverCerts, TD,
        Set.of(15001, 15006, 15008, 15020), new ClosingInspector(), records, refusals, Clock.systemUTC());
  }

  @AfterEach
  void stop() {
    server.close();
    echo.close().syncUninterruptibly();
    moreEchoes.forEach(c -> c.close().syncUninterruptibly());
    serverCerts.close();
    clientCerts.close();
    certExecutor.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private Future<Http2StreamChannel> open(SpiffeId destination, String authority) throws Exception {
    return open(server.address(), destination, authority);
  }

  private Future<Http2StreamChannel> open(InetSocketAddress hbone, SpiffeId destination, String authority)
      throws Exception {
    EventLoop loop = group.next();
    HboneConnector connector = new HboneConnector(loop, clientCerts, 5000);
    return loop.submit(() -> connector.open(CLIENT, destination, hbone, authority, null)).get()
        .await();
  }

  private String authorityOfNewEcho(String address) {
    Channel c = echo(address);
    moreEchoes.add(c);
    return address + ":" + ((InetSocketAddress) c.localAddress()).getPort();
  }

  /**
   * Issue 16, item 7 (local mode): a client that named web by SNI, and so got web's certificate, cannot use that
   * connection to reach db on the same node — 400, though db listens; another workload with web's identity is fine.
   */
  @Test
  void aConnectionThatPresentedWebReachesOnlyWorkloadsWithWebsIdentity() throws Exception {
    Future<Http2StreamChannel> toDb = open(WEB, authorityOfNewEcho(DB_ADDRESS));
    assertThat(toDb.isSuccess()).isFalse();
    assertThat(((HboneConnector.HboneException) toDb.cause()).status()).isEqualTo(400);
    assertThat(records.recent().getLast().reason()).contains("workload d/db-0 has identity " + DB
        + ", but this connection presented " + WEB);
    assertThat(refusals.count(dev.trellis.proxy.refusal.Refusal.Listener.HBONE,
        dev.trellis.proxy.refusal.Refusal.IDENTITY_MISMATCH)).isEqualTo(1);

    Future<Http2StreamChannel> toWeb1 = open(WEB, authorityOfNewEcho(WEB_1_ADDRESS));
    assertThat(toWeb1.isSuccess()).as("%s", toWeb1.cause()).isTrue();
    assertThat(exchange(toWeb1.getNow(), "same identity")).isEqualTo("same identity");
    toWeb1.getNow().close().syncUninterruptibly();

    Future<Http2StreamChannel> toDbAsDb = open(DB, authorityOfNewEcho(DB_ADDRESS));
    assertThat(toDbAsDb.isSuccess()).as("%s", toDbAsDb.cause()).isTrue();
    assertThat(exchange(toDbAsDb.getNow(), "db itself")).isEqualTo("db itself");
    toDbAsDb.getNow().close().syncUninterruptibly();
  }

  /**
   * Capture mode: the connection was dialed at web's pod address, which chose web's certificate whatever the
   * client's SNI; its streams reach web or a workload sharing web's identity, never db.
   */
  @Test
  void atAPodAddressTheDialedWorkloadsIdentityDecidesWhatStreamsReach() throws Exception {
    HboneServer atWeb = HboneServer.start(group, new InetSocketAddress(WEB_ADDRESS, 0), () -> config, serverCerts, TD,
        Set.of(15001, 15006, 15008, 15020), new ClosingInspector(), records, refusals, Clock.systemUTC());
    try {
      Future<Http2StreamChannel> toDb = open(atWeb.address(), WEB, authorityOfNewEcho(DB_ADDRESS));
      assertThat(((HboneConnector.HboneException) toDb.cause()).status()).isEqualTo(400);
      assertThat(records.recent().getLast().reason()).contains("this connection presented " + WEB);

      Future<Http2StreamChannel> toWeb1 = open(atWeb.address(), WEB, authorityOfNewEcho(WEB_1_ADDRESS));
      assertThat(toWeb1.isSuccess()).as("%s", toWeb1.cause()).isTrue();
      assertThat(exchange(toWeb1.getNow(), "pod of the same identity")).isEqualTo("pod of the same identity");
      toWeb1.getNow().close().syncUninterruptibly();

      Future<Http2StreamChannel> asDb = open(atWeb.address(), DB, authorityOfNewEcho(DB_ADDRESS));
      assertThat(asDb.isSuccess()).as("a client expecting db gets web's certificate at web's address").isFalse();
      assertThat(((HboneConnector.HboneException) asDb.cause()).status()).isZero();
    } finally {
      atWeb.close();
    }
  }

  private static String exchange(Http2StreamChannel stream, String message) throws Exception {
    CompletableFuture<String> reply = new CompletableFuture<>();
    stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
          if (msg instanceof Http2DataFrame d) {
            reply.complete(d.content().toString(StandardCharsets.UTF_8));
          }
        } finally {
          ReferenceCountUtil.release(msg);
        }
        ctx.read();
      }
    });
    ByteBuf buf = Unpooled.copiedBuffer(message, StandardCharsets.UTF_8);
    stream.writeAndFlush(new DefaultHttp2DataFrame(buf));
    stream.read();
    return reply.get(10, TimeUnit.SECONDS);
  }

  @Test
  void bytesCrossTheTunnelAndTheServerSeesTheCallersIdentity() throws Exception {
    String authority = WEB_ADDRESS + ":" + ((InetSocketAddress) echo.localAddress()).getPort();
    Future<Http2StreamChannel> f = open(WEB, authority);
    assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
    assertThat(exchange(f.getNow(), "hello through hbone")).isEqualTo("hello through hbone");
    InboundRecords.Entry e = records.recent().getLast();
    assertThat(e.peer()).isEqualTo(CLIENT);
    assertThat(e.status()).isEqualTo(200);
    assertThat(e.workload()).isEqualTo("d/web-0");
    f.getNow().close().syncUninterruptibly();
  }

  @Test
  void aForwardedHeaderOnTheConnectIsRecordedAsTheCallersClaimNotAsWhoCalled() throws Exception {
    String authority = WEB_ADDRESS + ":" + ((InetSocketAddress) echo.localAddress()).getPort();
    EventLoop loop = group.next();
    HboneConnector connector = new HboneConnector(loop, clientCerts, 5000);
    io.netty.handler.codec.http2.Http2Headers forged = new io.netty.handler.codec.http2.DefaultHttp2Headers()
        .add("forwarded", "for=\"6.6.6.6\";by=spiffe://cluster.local/ns/ops/sa/admin");
    Future<Http2StreamChannel> f = loop.submit(() -> connector.open(CLIENT, WEB, server.address(), authority, forged))
        .get().await();
    assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
    InboundRecords.Entry e = records.recent().getLast();
    assertThat(e.peer()).as("who called: the verified certificate").isEqualTo(CLIENT);
    assertThat(e.peerAddress()).as("from where: the connection's own peer").startsWith("127.").isNotEqualTo("6.6.6.6");
    assertThat(e.claimed()).containsEntry("forwarded", "for=\"6.6.6.6\";by=spiffe://cluster.local/ns/ops/sa/admin");
    f.getNow().close().syncUninterruptibly();
  }

  @Test
  void anAuthorityThatIsNotALocalWorkloadIsRefusedWith400() throws Exception {
    Future<Http2StreamChannel> f = open(WEB, "127.0.72.99:80");
    assertThat(f.isSuccess()).isFalse();
    assertThat(((HboneConnector.HboneException) f.cause()).status()).isEqualTo(400);
    assertThat(records.recent().getLast().reason()).contains("no workload with address 127.0.72.99");
  }

  @Test
  void anUnreachableWorkloadPortIs503() throws Exception {
    Future<Http2StreamChannel> f = open(WEB, WEB_ADDRESS + ":1");
    assertThat(((HboneConnector.HboneException) f.cause()).status()).isEqualTo(503);
  }

  @Test
  void aDestinationIdentityTheServerDoesNotHaveFailsTheHandshake() throws Exception {
    Future<Http2StreamChannel> f = open(SpiffeId.forWorkload(TD, "d", "cache"), WEB_ADDRESS + ":80");
    assertThat(f.isSuccess()).isFalse();
    assertThat(((HboneConnector.HboneException) f.cause()).status()).isZero();
    assertThat(f.cause()).hasMessageContaining("HBONE connection to");
  }

  /** Closes what it is given to inspect. */
  /**
   * A CONNECT stream that ends before any answer (a draining peer's GOAWAY or REFUSED_STREAM crossed it: the peer never
   * processed it) is opened again once, since none of the caller's bytes went out; a peer that refuses every stream
   * still fails the open, after that one more try.
   */
  @Test
  void aConnectStreamEndedBeforeAnyAnswerIsOpenedAgainOnceThenFails() throws Exception {
    AtomicInteger connects = new AtomicInteger();
    Channel refusesFirst = refusingPeer(connects, 1);
    try {
      InetSocketAddress at = (InetSocketAddress) refusesFirst.localAddress();
      Future<Http2StreamChannel> f = open(at, WEB, WEB_ADDRESS + ":80");
      assertThat(f.cause()).as("the second CONNECT is answered 200").isNull();
      assertThat(connects).hasValue(2);
      f.getNow().close();
    } finally {
      refusesFirst.close().syncUninterruptibly();
    }
    AtomicInteger always = new AtomicInteger();
    Channel refusesAll = refusingPeer(always, Integer.MAX_VALUE);
    try {
      Future<Http2StreamChannel> f = open((InetSocketAddress) refusesAll.localAddress(), WEB, WEB_ADDRESS + ":80");
      assertThat(f.cause()).hasMessageContaining("closed before a response");
      assertThat(always).as("one CONNECT, then one more").hasValue(1 + HboneConnector.REOPENS);
    } finally {
      refusesAll.close().syncUninterruptibly();
    }
  }

  /** An HBONE peer (web's certificate, h2) that resets its first {@code refusals} CONNECT streams with REFUSED_STREAM. */
  private Channel refusingPeer(AtomicInteger connects, int refusals) throws Exception {
    SslContext tls = serverCerts.contexts(WEB).orElseThrow().serverContext();
    return new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(tls.newHandler(ch.alloc()), Http2FrameCodecBuilder.forServer().build(),
                new ChannelInboundHandlerAdapter() {
                  @Override
                  public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    try {
                      if (msg instanceof Http2HeadersFrame h && "CONNECT".contentEquals(h.headers().method())) {
                        if (connects.incrementAndGet() <= refusals) {
                          ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM).stream(h.stream()));
                        } else {
                          ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false)
                              .stream(h.stream()));
                        }
                      }
                    } finally {
                      ReferenceCountUtil.release(msg);
                    }
                  }
                });
          }
        })
        .bind(new InetSocketAddress(SERVER_NODE, 0)).syncUninterruptibly().channel();
  }

  private static final class ClosingInspector implements dev.trellis.proxy.inbound.HttpInspector {
    @Override
    public void inspect(io.netty.channel.Channel d, io.netty.channel.Channel w,
        dev.trellis.proxy.state.LocalWorkload t, dev.trellis.mtls.identity.SpiffeId p, String a, int port) {
      d.close();
    }
  }
}
