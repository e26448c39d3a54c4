package dev.trellis.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.HboneServer;
import dev.trellis.proxy.inbound.HttpInspector;
import dev.trellis.proxy.inbound.InboundRecords;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.TestCertificates;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bulk transfers through the HBONE tunnel on loopback (real TLS 1.3, real HTTP/2, the byte relays at the server): the
 * frame size both ends advertise, and tens of MiB arriving byte-exact with the leak detector at paranoid.
 */
class HboneBulkTest {

  static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  static final SpiffeId CLIENT = SpiffeId.forWorkload(TD, "d", "client");
  static final SpiffeId WEB = SpiffeId.forWorkload(TD, "d", "web");
  static final String SERVER_NODE = "127.0.73.1";
  static final String WEB_ADDRESS = "127.0.73.10";

  private final TestPki pki = TestPki.newRoot(TD);
  private final EventLoopGroup group = Transport.newGroup(2, "trellis-proxy");
  private final ScheduledExecutorService certExecutor = Executors.newSingleThreadScheduledExecutor();
  private CertificateManager serverCerts;
  private CertificateManager clientCerts;
  private HboneServer server;
  private Channel echo;

  @BeforeEach
  void start() {
    echo = new ServerBootstrap().group(group).channel(Transport.serverChannel())
        .childHandler(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
          }
        })
        .bind(new InetSocketAddress(WEB_ADDRESS, 0)).syncUninterruptibly().channel();
    serverCerts = TestCertificates.ready(pki, certExecutor, Set.of(WEB));
    clientCerts = TestCertificates.ready(pki, certExecutor, Set.of(CLIENT));
    LocalWorkload web = new LocalWorkload("d/web-0", "d", WEB, List.of(WEB_ADDRESS), true,
        LocalWorkload.MtlsMode.STRICT, Map.of());
    ProxyConfig config = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(), Map.of(WEB_ADDRESS, web));
    HttpInspector none = new HttpInspector() {
      @Override
      public void inspect(Channel d, Channel w, LocalWorkload t, SpiffeId p, String a, int port) {
        d.close();
      }
    };
    server = HboneServer.start(group, new InetSocketAddress(SERVER_NODE, 0), () -> config, serverCerts, TD,
        Set.of(15001, 15006, 15008, 15020), none, new InboundRecords(10), new Refusals(System::nanoTime),
        Clock.systemUTC());
  }

  @AfterEach
  void stop() {
    server.close();
    echo.close().syncUninterruptibly();
    serverCerts.close();
    clientCerts.close();
    certExecutor.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private Http2StreamChannel open() throws Exception {
    EventLoop loop = group.next();
    HboneConnector connector = new HboneConnector(loop, clientCerts, 5000);
    String authority = WEB_ADDRESS + ":" + ((InetSocketAddress) echo.localAddress()).getPort();
    Future<Http2StreamChannel> f = loop.submit(() -> connector.open(CLIENT, WEB, server.address(), authority, null))
        .get().await();
    assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
    return f.getNow();
  }

  @Test
  void bothEndsAdvertiseTheLargerFrameSizeAndTheClientSendsWithTheServers() throws Exception {
    assertThat(HboneFlowControl.settings(0).maxFrameSize()).isEqualTo((long) HboneFlowControl.MAX_FRAME);
    assertThat(HboneFlowControl.settings(100).maxFrameSize()).isEqualTo((long) HboneFlowControl.MAX_FRAME);
    Http2StreamChannel stream = open();
    Http2FrameCodec codec = stream.parent().pipeline().get(Http2FrameCodec.class);
    assertThat(codec.encoder().configuration().frameSizePolicy().maxFrameSize())
        .as("what the server's SETTINGS allowed us to send").isEqualTo(HboneFlowControl.MAX_FRAME);
    assertThat(codec.decoder().localSettings().maxFrameSize())
        .as("what we accept").isEqualTo((long) HboneFlowControl.MAX_FRAME);
    stream.close().syncUninterruptibly();
  }

  /**
   * 24 MiB out in 100 KiB DATA frames, paced by the stream's writability, echoed by the workload behind the server and
   * relayed back: every byte arrives in order, the server sends frames larger than HTTP/2's default 16 KiB, and no
   * buffer leaks on the way (paranoid leak detection).
   */
  @Test
  void tensOfMebibytesCrossBothWaysByteExactInLargeFramesWithoutLeaks() throws Exception {
    int total = 24 * 1024 * 1024;
    int chunk = 100 * 1024;
    byte[] data = new byte[total];
    new Random(20).nextBytes(data);
    Http2StreamChannel stream = open();
    MessageDigest received = MessageDigest.getInstance("SHA-256");
    CompletableFuture<Void> done = new CompletableFuture<>();
    int[] got = {0};
    int[] largestFrame = {0};
    int[] sent = {0};
    Runnable pump = () -> {
      while (sent[0] < total && stream.isWritable()) {
        int n = Math.min(chunk, total - sent[0]);
        stream.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(data, sent[0], n)), stream.voidPromise());
        sent[0] += n;
      }
      stream.flush();
    };
    stream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
          if (msg instanceof Http2DataFrame d) {
            int n = d.content().readableBytes();
            largestFrame[0] = Math.max(largestFrame[0], n);
            byte[] b = new byte[n];
            d.content().readBytes(b);
            received.update(b);
            got[0] += n;
            if (got[0] >= total) {
              done.complete(null);
            }
          }
        } finally {
          ReferenceCountUtil.release(msg);
        }
      }

      @Override
      public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.read();
      }

      @Override
      public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        pump.run();
      }
    });
    stream.eventLoop().execute(() -> {
      stream.read();
      pump.run();
    });
    done.get(60, TimeUnit.SECONDS);
    assertThat(got[0]).isEqualTo(total);
    assertThat(Arrays.equals(received.digest(), MessageDigest.getInstance("SHA-256").digest(data))).isTrue();
    assertThat(largestFrame[0]).as("the server relays in frames larger than 16 KiB").isGreaterThan(16 * 1024);
    stream.close().syncUninterruptibly();
    LeakRecorder.assertNoLeaks();
  }
}
