package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.channel.ChannelHandlerContext;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the entry handlers do with an exception before the connection is handed on: a socket error (the client
 * reset or went away) closes quietly; anything else is one counted, rate-limited refusal. Either way it goes no
 * further, so no client can make the pipeline's tail log a stack trace per connection.
 */
final class EntryErrors {

  private static final Logger log = LoggerFactory.getLogger(EntryErrors.class);

  private EntryErrors() {}

  static void caught(ChannelHandlerContext ctx, Throwable cause, Refusals refusals, Refusal.Listener listener) {
    if (cause instanceof IOException) {
      log.debug("[{}] entry connection from {}: {}", ctx.channel().id(), ctx.channel().remoteAddress(), cause.toString());
    } else {
      refusals.refuse(listener, Refusal.MALFORMED, ctx.channel().remoteAddress(), cause.toString());
    }
    ctx.close();
  }
}
