package dev.trellis.it;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;

/**
 * A client speaking HTTP/2 with prior knowledge (h2c, as {@code curl --http2-prior-knowledge}) over a socket already
 * tunneled through a node proxy's entry ({@link MeshHttpClient#socks}): Netty's HTTP/2 codec on an
 * {@link EmbeddedChannel}, its bytes pumped through the blocking socket. One request at a time.
 */
final class H2cClient implements AutoCloseable {

  /** A response: its headers, body and trailers (null when none); status -1 when the stream was reset. */
  record Response(Http2Headers headers, byte[] body, Http2Headers trailers) {
    int status() {
      return headers == null ? -1 : Integer.parseInt(headers.status().toString());
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final EmbeddedChannel codec = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(),
      new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));

  H2cClient(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  /** Sends one request ({@code body} null: the headers end the stream) and waits for its whole response. */
  Response send(Http2Headers headers, byte[] body) throws IOException {
    CompletableFuture<Response> done = new CompletableFuture<>();
    Http2StreamChannel stream = new Http2StreamChannelBootstrap(codec).handler(new ChannelInboundHandlerAdapter() {
      private Http2Headers head;
      private final ByteArrayOutputStream data = new ByteArrayOutputStream();

      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
          if (msg instanceof Http2HeadersFrame f) {
            if (head == null) {
              head = f.headers();
              if (f.isEndStream()) {
                done.complete(new Response(head, data.toByteArray(), null));
              }
            } else if (f.isEndStream()) {
              done.complete(new Response(head, data.toByteArray(), f.headers()));
            }
          } else if (msg instanceof Http2DataFrame d) {
            data.writeBytes(ByteBufUtil.getBytes(d.content()));
            if (d.isEndStream()) {
              done.complete(new Response(head, data.toByteArray(), null));
            }
          } else if (msg instanceof Http2ResetFrame) {
            done.complete(new Response(null, new byte[0], null));
          }
        } finally {
          ReferenceCountUtil.release(msg);
        }
      }
    }).open().syncUninterruptibly().getNow();
    stream.write(new DefaultHttp2HeadersFrame(headers, body == null));
    if (body != null) {
      stream.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
    }
    stream.flush();
    byte[] buf = new byte[16 * 1024];
    while (!done.isDone()) {
      pump();
      int n = in.read(buf);
      if (n < 0) {
        throw new EOFException("the proxy closed the connection before the response ended");
      }
      codec.writeInbound(Unpooled.copiedBuffer(buf, 0, n));
      codec.runPendingTasks();
    }
    pump();
    return done.join();
  }

  /** Writes what the codec has to send (preface, SETTINGS and their ACKs, requests) to the socket. */
  private void pump() throws IOException {
    codec.flush();
    ByteBuf b;
    while ((b = codec.readOutbound()) != null) {
      try {
        out.write(ByteBufUtil.getBytes(b));
      } finally {
        b.release();
      }
    }
    out.flush();
  }

  @Override
  public void close() throws IOException {
    codec.finishAndReleaseAll();
    socket.close();
  }
}
