package dev.trellis.it;

import dev.trellis.proxy.entry.CaptureServer;
import dev.trellis.proxy.transport.Transport;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Run inside a "node" network namespace by {@link TproxyCaptureIT}: a transparent capture listener
 * (the node proxy's, with the epoll transport) that answers every connection with where it was
 * originally going and who sent it, then closes. Prints "listening" once ready; exits when stdin ends.
 */
public final class TransparentProbe {

  public static void main(String[] args) throws Exception {
    EventLoopGroup group = Transport.newGroup(1, "probe");
    try (CaptureServer server = CaptureServer.startTransparent(group,
        new InetSocketAddress(args[0], Integer.parseInt(args[1])), (downstream, source, destination, name, port, reply) ->
            reply.accept().addListener(f -> downstream.writeAndFlush(Unpooled.copiedBuffer("orig="
                + destination.getHostAddress() + ":" + port + " from=" + source + "\n", StandardCharsets.UTF_8))
                .addListener(ChannelFutureListener.CLOSE)))) {
      System.out.println("listening on " + server.address() + " with " + Transport.current());
      System.out.flush();
      System.in.transferTo(java.io.OutputStream.nullOutputStream());
    } finally {
      group.shutdownGracefully();
    }
  }
}
