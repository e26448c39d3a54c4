package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingBackend;
import dev.trellis.proxy.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.PlatformDependent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A request whose body stops arriving while the proxy waits for it is answered 408 with flag {@code DPE} after the
 * request-body timeout (300 ms here; the client's read timeout is 20 s, the idle timeout an hour) and its HTTP/1.1
 * connection closed; an HTTP/2 caller's stream gets the 408 and its other streams carry on. Once the response has
 * begun, the connection (HTTP/2: the stream) just ends. A body declared absurdly large ({@code Content-Length: 10^15}) is not buffered
 * toward: it gets the same 408.
 */
class RequestBodyTimeoutTest {

  private static final String WEB = "127.0.73.46";
  private static final Duration BODY = Duration.ofMillis(300);

  private final ProxyFixture fx = new ProxyFixture(new HttpLimits(Duration.ofSeconds(5), Duration.ofHours(1))
      .withRequestBodyTimeout(BODY));
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "Content-Length: 10\r\n\r\nabc",
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
  })
  void aStalledRequestBodyIsAnswered408DpeAndTheConnectionClosed(String rest) throws Exception {
    recordingBackend();
    expect408(rest);
  }

  /**
   * The proxy has no request body limit (bodies stream; up to 1 MiB is kept for retries), so an absurd declared size
   * is not refused up front: nothing is allocated toward it, and when the body stalls it gets the same 408. The
   * backend here swallows what it gets and never answers (a backend's own 413 would pass through).
   */
  @Test
  void anAbsurdDeclaredBodyThatStallsIsAnswered408WithoutBufferingTowardIt() throws Exception {
    silentBackend();
    expect408("Content-Length: 1000000000000000\r\n\r\nabc");
  }

  private void expect408(String rest) throws IOException {
    long directBefore = PlatformDependent.usedDirectMemory();
    try (RawHttp c = fx.client()) {
      c.send("POST /upload HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n" + rest);
      RawHttp.Response r = c.read();
      assertThat(r.status()).isEqualTo(408);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("DPE");
      assertThat(r.header("connection")).isEqualTo("close");
      assertThat(c.closed()).as("the connection ends: the rest of the body can never be read").isTrue();
    }
    if (directBefore >= 0) {
      assertThat(PlatformDependent.usedDirectMemory() - directBefore).as("direct memory grown")
          .isLessThan(16L * 1024 * 1024);
    }
  }

  @Test
  void aStalledRequestBodyAfterTheResponseBeganEndsTheConnection() throws Exception {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(WEB));
    fx.workload(WEB);
    pool.submit(() -> {
      try (s; Socket c = s.accept(); InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
        readHead(in);
        out.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        in.transferTo(OutputStream.nullOutputStream());
      }
      return null;
    });
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web"), List.of(mesh(new InetSocketAddress(WEB, s.getLocalPort())))));
    try (RawHttp c = fx.client()) {
      c.send("POST /upload HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\nContent-Length: 10\r\n\r\nabc");
      String all = new String(c.readToEnd(), StandardCharsets.US_ASCII); // returns: the proxy closed
      assertThat(all).startsWith("HTTP/1.1 200 OK").contains("ok").doesNotContain("408", "\r\n0\r\n\r\n");
    }
  }

  @Test
  void anHttp2StreamWithAStalledBodyGets408AndTheOtherStreamsCarryOn() throws Exception {
    recordingBackend();
    try (H2Caller c = fx.h2Client()) {
      CompletableFuture<H2Caller.Response> stalled = c.start("POST", "/upload",
          List.of(Map.entry("content-length", "10")), "abc");
      H2Caller.Response r = stalled.get(10, TimeUnit.SECONDS);
      assertThat(r.status()).isEqualTo(408);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("DPE");
      assertThat(c.send("GET", "/other").status()).as("the connection still serves").isEqualTo(200);
    }
  }

  @Test
  void anHttp2StreamWhoseBodyStallsAfterTheResponseBeganIsResetAndTheOtherStreamsCarryOn() throws Exception {
    EventLoopGroup group = Transport.newGroup(1, "early-answer");
    try {
      Channel server = new ServerBootstrap().group(group).channel(Transport.serverChannel())
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                  new Http2MultiplexHandler(new EarlyAnswer()));
            }
          }).bind(new InetSocketAddress(WEB, 0)).syncUninterruptibly().channel();
      fx.workload(WEB);
      fx.http(List.of(rule("all", "/", to("web"))),
          Map.of(cluster("web"), List.of(mesh((InetSocketAddress) server.localAddress()))));
      try (H2Caller c = fx.h2Client()) {
        // connections (HBONE included) set up first, so the early 200 reaches the caller well within the timeout
        assertThat(c.send("GET", "/warm").status()).isEqualTo(200);
        H2Caller.Response r = c.start("POST", "/upload", List.of(Map.entry("content-length", "10")), "abc")
            .get(10, TimeUnit.SECONDS);
        assertThat(r.status()).as("reset: the 200 had begun, so no 408 can follow").isEqualTo(-1);
        assertThat(c.send("GET", "/other").status()).as("the connection still serves").isEqualTo(200);
      } finally {
        server.close().syncUninterruptibly();
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  /** Answers each stream's headers at once with a 200 and "ok", and ends that response when the request ends. */
  @ChannelHandler.Sharable
  private static final class EarlyAnswer extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2HeadersFrame h) {
          ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
          ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII), false));
        }
        if (msg instanceof Http2StreamFrame f && (f instanceof Http2HeadersFrame h && h.isEndStream()
            || f instanceof Http2DataFrame d && d.isEndStream())) {
          ctx.writeAndFlush(new DefaultHttp2DataFrame(true));
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }
  }

  @Test
  void anHttp2StreamDeclaringAnAbsurdBodyThenStallingGets408() throws Exception {
    silentBackend();
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.start("POST", "/upload", List.of(Map.entry("content-length", "1000000000000000")), "abc")
          .get(10, TimeUnit.SECONDS);
      assertThat(r.status()).isEqualTo(408);
    }
  }

  private void recordingBackend() {
    RecordingBackend web = fx.recordingBackend(WEB);
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web.address()))));
  }

  /** A backend that reads whatever comes (HTTP/1.1 or HTTP/2) and never answers. */
  private void silentBackend() throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(WEB));
    fx.workload(WEB);
    pool.submit(() -> {
      try (s) {
        while (!Thread.currentThread().isInterrupted()) {
          Socket c = s.accept();
          pool.submit(() -> {
            try (c; InputStream in = c.getInputStream()) {
              in.transferTo(OutputStream.nullOutputStream());
            }
            return null;
          });
        }
      }
      return null;
    });
    fx.http(List.of(rule("all", "/", to("web"))),
        Map.of(cluster("web"), List.of(mesh(new InetSocketAddress(WEB, s.getLocalPort())))));
  }

  private static void readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0) {
      head.write(b);
      if (head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
        return;
      }
    }
  }
}
