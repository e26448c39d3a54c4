package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.util.List;

/**
 * First on an entry connection: the first byte tells SOCKS5 (version byte 5) from HTTP CONNECT; the
 * matching handlers take over and this one leaves, handing on what it read.
 */
final class EntryProtocolHandler extends ByteToMessageDecoder {

  private final EntryDispatcher dispatcher;
  private final Refusals refusals;
  private final Refusal.Listener listener;

  EntryProtocolHandler(EntryDispatcher dispatcher, Refusals refusals, Refusal.Listener listener) {
    this.dispatcher = dispatcher;
    this.refusals = refusals;
    this.listener = listener;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (!in.isReadable()) {
      return;
    }
    String name = ctx.name();
    if (in.getByte(in.readerIndex()) == 5) {
      ctx.pipeline().addAfter(name, "socks-encoder", Socks5ServerEncoder.DEFAULT);
      ctx.pipeline().addAfter("socks-encoder", "socks-initial", new Socks5InitialRequestDecoder());
      ctx.pipeline().addAfter("socks-initial", "socks", new SocksEntryHandler(dispatcher, refusals, listener));
    } else {
      ctx.pipeline().addAfter(name, "connect-codec", new HttpServerCodec());
      ctx.pipeline().addAfter("connect-codec", "connect", new ConnectEntryHandler(dispatcher, refusals, listener));
    }
    ctx.pipeline().remove(this);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    EntryErrors.caught(ctx, cause, refusals, listener);
  }
}
