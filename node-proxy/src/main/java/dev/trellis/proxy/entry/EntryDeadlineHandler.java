package dev.trellis.proxy.entry;

import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * First in an entry connection's pipeline, before {@link EntryProtocolHandler}: the client has {@link #DEFAULT} to
 * finish its SOCKS5 or HTTP CONNECT handshake (to name where it goes). A client that sends part of a greeting, or
 * nothing, and then holds the connection open is closed and counted ({@link Refusal#HANDSHAKE_TIMEOUT}), so idle or
 * trickling clients cannot pile up connections. The entry handlers {@link #disarm} it as they hand the target to the
 * dispatcher: from there on, connecting upstream has its own timeouts, and a tunnel may idle as long as its peers do.
 */
final class EntryDeadlineHandler extends ChannelInboundHandlerAdapter {

  /** How long a client may take to complete the entry handshake. */
  static final Duration DEFAULT = Duration.ofSeconds(15);

  static final String NAME = "entry-deadline";

  private final Duration deadline;
  private final Refusals refusals;
  private final Refusal.Listener listener;
  private ScheduledFuture<?> timer;

  EntryDeadlineHandler(Duration deadline, Refusals refusals, Refusal.Listener listener) {
    this.deadline = deadline;
    this.refusals = refusals;
    this.listener = listener;
  }

  /** The handshake is complete: the deadline no longer applies. Safe to call when it is already gone. */
  static void disarm(ChannelPipeline pipeline) {
    if (pipeline.get(NAME) != null) {
      pipeline.remove(NAME);
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    timer = ctx.executor().schedule(() -> {
      if (ctx.channel().isActive()) {
        refusals.refuse(listener, Refusal.HANDSHAKE_TIMEOUT, ctx.channel().remoteAddress(), "the SOCKS5 or HTTP "
            + "CONNECT handshake was not complete within " + deadline.toMillis() + " ms");
        ctx.close();
      }
    }, deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    timer.cancel(false);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    timer.cancel(false);
    ctx.fireChannelInactive();
  }
}
