package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.socksx.SocksMessage;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressDecoder;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The SOCKS5 side of the local-mode entry (no authentication, CONNECT only). The client's source
 * address says which workload calls, as a captured pod's address does; the requested address (a
 * service VIP or a {@code <fqdn>}) is the original destination, handed to the {@link EntryDispatcher}.
 */
final class SocksEntryHandler extends SimpleChannelInboundHandler<SocksMessage> {

  /**
   * Netty's address decoder reads a host name's bytes as Latin-1 and its request converts them with IDN (NFKC), so
   * "sv\u00b9" arrived as "sv1" and 0xFF bytes as punycode (found by fuzzing): the name handed on was not the one sent.
   * Host names are read here as printable ASCII or refused; IDN leaves those unchanged.
   */
  static final Socks5AddressDecoder ASCII_HOST_NAMES = (type, in) -> {
    if (type != Socks5AddressType.DOMAIN) {
      return Socks5AddressDecoder.DEFAULT.decodeAddress(type, in);
    }
    byte[] name = new byte[in.readUnsignedByte()];
    in.readBytes(name);
    for (byte b : name) {
      if (b <= ' ' || b >= 0x7f) {
        throw new DecoderException("SOCKS5 host name is not printable ASCII");
      }
    }
    return new String(name, StandardCharsets.US_ASCII);
  };

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
      if (init.decoderResult().isFailure()) {
        ctx.close(); // Netty hands on a failed greeting as if it offered NO_AUTH
        return;
      }
      if (!init.authMethods().contains(Socks5AuthMethod.NO_AUTH)) {
        refusals.refuse(listener, Refusal.UNSUPPORTED, ctx.channel().remoteAddress(), "SOCKS5 authentication methods "
            + init.authMethods() + " (this entry offers NO_AUTH only)");
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED)).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      ctx.pipeline().replace(Socks5InitialRequestDecoder.class, "socks-command", new Socks5CommandRequestDecoder(ASCII_HOST_NAMES));
      ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.NO_AUTH));
      ctx.read();
      return;
    }
    if (msg instanceof Socks5CommandRequest cmd) {
      if (cmd.decoderResult().isFailure()) {
        // Netty hands on a request it could not decode as a CONNECT to 0.0.0.0:1: never dispatch it.
        fail(ctx, Socks5CommandStatus.FAILURE, cmd);
        return;
      }
      if (cmd.type() != Socks5CommandType.CONNECT) {
        refusals.refuse(listener, Refusal.UNSUPPORTED, ctx.channel().remoteAddress(), "SOCKS5 command " + cmd.type()
            + " (this entry does CONNECT only)");
        fail(ctx, Socks5CommandStatus.COMMAND_UNSUPPORTED, cmd);
        return;
      }
      EntryTarget to = cmd.dstAddrType() == Socks5AddressType.DOMAIN
          ? EntryTarget.ofName(cmd.dstAddr(), cmd.dstPort()) : EntryTarget.ofAddress(cmd.dstAddr(), cmd.dstPort());
      if (to == null) {
        fail(ctx, Socks5CommandStatus.ADDRESS_UNSUPPORTED, cmd);
        return;
      }
      String source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
      EntryDeadlineHandler.disarm(ctx.pipeline());
      dispatcher.dispatch(ctx.channel(), source, to.address(), to.name(), to.port(),
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
