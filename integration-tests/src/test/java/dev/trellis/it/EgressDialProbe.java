package dev.trellis.it;

import dev.trellis.proxy.egress.PassthroughDialer;
import dev.trellis.proxy.egress.Via;
import dev.trellis.proxy.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the node proxy's passthrough dialer once, in its own JVM inside a node's namespace (so nothing it dials can
 * leave the machine): dials {@code DESTINATION} as {@code POD} the way {@code VIA} says, sends one HTTP/1.0 request
 * and prints {@code local <address>} and the response, or {@code failed <reason>}.
 *
 * <pre>EgressDialProbe AGENT_STATE_FILE NODE_ADDRESS POD VIA DESTINATION_IP:PORT [N (then times N more dials)]</pre>
 */
public final class EgressDialProbe {

  private EgressDialProbe() {}

  public static void main(String[] args) throws Exception {
    EventLoopGroup loops = Transport.newGroup(1, "probe");
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (PassthroughDialer dialer = PassthroughDialer.capture(InetAddress.ofLiteral(args[1]), Path.of(args[0]),
        scheduler, new dev.trellis.proxy.refusal.Refusals(System::nanoTime))) {
      System.out.println("transport " + Transport.current() + ", pod netns " + dialer.facts().podNetns());
      int colon = args[4].lastIndexOf(':');
      var dialed = dialer.dial(loops.next(), 3000, Via.valueOf(args[3]), InetAddress.ofLiteral(args[2]),
          new InetSocketAddress(args[4].substring(0, colon), Integer.parseInt(args[4].substring(colon + 1))));
      if (!dialed.awaitUninterruptibly(10, TimeUnit.SECONDS) || !dialed.isSuccess()) {
        System.out.println("failed " + (dialed.cause() == null ? "timeout" : dialed.cause().getClass().getSimpleName()
            + ": " + dialed.cause().getMessage()));
        return;
      }
      Channel ch = dialed.getNow();
      System.out.println("local " + ((InetSocketAddress) ch.localAddress()).getAddress().getHostAddress());
      System.out.print(exchange(ch));
      if (args.length > 5) { // a measurement: N more dials one after the other, each closed once connected
        int n = Integer.parseInt(args[5]);
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
          dialer.dial(loops.next(), 3000, Via.valueOf(args[3]), InetAddress.ofLiteral(args[2]),
              new InetSocketAddress(args[4].substring(0, colon), Integer.parseInt(args[4].substring(colon + 1))))
              .get(10, TimeUnit.SECONDS).close().sync();
        }
        System.out.printf("%d dials via %s: %.1f us each%n", n, args[3], (System.nanoTime() - start) / 1e3 / n);
      }
    } finally {
      scheduler.shutdownNow();
      loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /** Sends one HTTP/1.0 request and returns everything read until the server closes. */
  static String exchange(Channel ch) throws Exception {
    CompletableFuture<String> response = new CompletableFuture<>();
    StringBuilder read = new StringBuilder();
    ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf b = (ByteBuf) msg;
        try {
          read.append(b.toString(StandardCharsets.UTF_8));
        } finally {
          b.release();
        }
        ctx.read();
      }

      @Override
      public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent) { // relay connections allow half-closure
          response.complete(read.toString());
          ctx.close();
        }
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) {
        response.complete(read.toString());
      }
    });
    ch.writeAndFlush(Unpooled.copiedBuffer("GET / HTTP/1.0\r\nHost: ext\r\n\r\n", StandardCharsets.US_ASCII));
    ch.read();
    return response.get(10, TimeUnit.SECONDS);
  }
}
