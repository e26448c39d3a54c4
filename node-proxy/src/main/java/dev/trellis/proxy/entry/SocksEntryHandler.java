package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.socksx.SocksMessage;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The SOCKS5 side of the local-mode entry (no authentication, CONNECT only). The client's source
 * address says which workload calls, as a captured pod's address will; the requested address (a
 * service VIP or a {@code <fqdn>}) is the original destination, handed to the {@link EntryDispatcher}.
 */
final class SocksEntryHandler extends SimpleChannelInboundHandler<SocksMessage> {

  private final EntryDispatcher dispatcher;
  private final Refusals refusals;
  private final Refusal.Listener listener;

  SocksEntryHandler(EntryDispatcher dispatcher, Refusals refusals, Refusal.Listener listener) {
    this.dispatcher = dispatcher;
    this.refusals = refusals;
    this.listener = listener;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, SocksMessage msg) {
    if (msg.decoderResult().isFailure()) {
      // Netty's SOCKS5 decoders hand on a placeholder request (NO_AUTH; CONNECT 0.0.0.0:1) marked as failed.
      refusals.refuse(listener, Refusal.MALFORMED, ctx.channel().remoteAddress(), "SOCKS5 "
          + (msg instanceof Socks5InitialRequest ? "greeting" : "request") + ": " + msg.decoderResult().cause());
      ctx.close();
      return;
    }
    if (msg instanceof Socks5InitialRequest init) {
      if (!init.authMethods().contains(Socks5AuthMethod.NO_AUTH)) {
        refusals.refuse(listener, Refusal.UNSUPPORTED, ctx.channel().remoteAddress(), "SOCKS5 authentication methods "
            + init.authMethods() + " (this entry offers NO_AUTH only)");
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED)).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      ctx.pipeline().replace(Socks5InitialRequestDecoder.class, "socks-command", new Socks5CommandRequestDecoder());
      ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.NO_AUTH));
      ctx.read();
      return;
    }
    if (msg instanceof Socks5CommandRequest cmd) {
      if (cmd.type() != Socks5CommandType.CONNECT) {
        refusals.refuse(listener, Refusal.UNSUPPORTED, ctx.channel().remoteAddress(), "SOCKS5 command " + cmd.type()
            + " (this entry does CONNECT only)");
        fail(ctx, Socks5CommandStatus.COMMAND_UNSUPPORTED, cmd);
        return;
      }
      InetAddress destination = null;
      String name = null;
      if (cmd.dstAddrType() == Socks5AddressType.DOMAIN) {
        name = cmd.dstAddr();
      } else {
        destination = InetAddress.ofLiteral(cmd.dstAddr());
      }
      String source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
      dispatcher.dispatch(ctx.channel(), source, destination, name, cmd.dstPort(),
          new EntryDispatcher.EntryReply() {
            @Override
            public ChannelFuture accept() {
              ChannelFuture f = ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS,
                  cmd.dstAddrType(), cmd.dstAddr(), cmd.dstPort()));
              // From here on the connection carries the client's bytes: SOCKS handlers leave the pipeline.
              ctx.pipeline().remove(Socks5ServerEncoder.class);
              ctx.pipeline().remove("socks-command");
              ctx.pipeline().remove(SocksEntryHandler.this);
              return f;
            }

            @Override
            public void reject(EntryDispatcher.Refusal why) {
              fail(ctx, switch (why) {
                case FORBIDDEN -> Socks5CommandStatus.FORBIDDEN;
                case UNREACHABLE -> Socks5CommandStatus.HOST_UNREACHABLE;
                case OVERFLOW -> Socks5CommandStatus.FAILURE;
              }, cmd);
            }
          });
      return;
    }
    ctx.close();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    EntryErrors.caught(ctx, cause, refusals, listener);
  }

  private static void fail(ChannelHandlerContext ctx, Socks5CommandStatus status, Socks5CommandRequest cmd) {
    ctx.writeAndFlush(new DefaultSocks5CommandResponse(status, cmd.dstAddrType())).addListener(ChannelFutureListener.CLOSE);
  }
}
