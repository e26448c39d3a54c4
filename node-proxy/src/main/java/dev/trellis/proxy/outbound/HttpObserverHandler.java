package dev.trellis.proxy.outbound;

import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.telemetry.Telemetry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * First in the pipeline of a destination node proxy's connection to a local workload's HTTP/1.1 port, when telemetry
 * observes requests there and no policy needs the full HTTP engine: requests are read from the bytes written to the
 * workload, responses from the bytes it sends back ({@link Http1Scanner} each way, pipelined requests matched to
 * responses in order), and each exchange becomes a SERVER span, a server request-duration sample and an access-log
 * line ({@link ExchangeTelemetry}). The bytes are relayed unchanged but for one: the request's {@code traceparent}
 * is given the server span's id in place (same length) when its head arrived in one buffer, so the workload's own
 * spans become children of the server span; otherwise they stay children of the caller's client span.
 *
 * <p>What it cannot follow (HTTP/2, an upgrade, malformed framing) it stops observing, tells {@code onUnobserved},
 * and removes itself; the connection carries on untouched. Runs on the connection's event loop.
 */
final class HttpObserverHandler extends ChannelDuplexHandler {

  private static final int TRACEPARENT_LENGTH = 55;

  private final Telemetry telemetry;
  private final LocalWorkload target;
  private final String peer;
  private final Consumer<String> onUnobserved;
  private final ArrayDeque<Observed> pending = new ArrayDeque<>();
  private Http1Scanner requests;
  private Http1Scanner responses;
  private Observed writing;
  private boolean interim;
  private boolean done;

  /** One request seen on its way to the workload, waiting for its response. */
  private static final class Observed {
    final ExchangeTelemetry telemetry;
    final String method;
    long requestBytes;
    boolean responseStarted;

    Observed(ExchangeTelemetry telemetry, String method) {
      this.telemetry = telemetry;
      this.method = method;
    }
  }

  /**
   * @param peer the caller's verified identity, empty for a plaintext caller
   * @param onUnobserved told why, when the connection stops being observed
   */
  HttpObserverHandler(Telemetry telemetry, LocalWorkload target, String peer, Consumer<String> onUnobserved) {
    this.telemetry = telemetry;
    this.target = target;
    this.peer = peer;
    this.onUnobserved = onUnobserved;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    requests = new Http1Scanner(true, new RequestSide(), ctx.alloc());
    responses = new Http1Scanner(false, new ResponseSide(ctx), ctx.alloc());
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!done && msg instanceof ByteBuf buf && buf.isReadable()) {
      requests.scan(buf);
      if (requests.opaque()) {
        stop(ctx);
      }
    }
    ctx.write(msg, promise);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!done && msg instanceof ByteBuf buf && buf.isReadable()) {
      responses.scan(buf);
      if (responses.opaque()) {
        stop(ctx);
      }
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (!done) {
      done = true;
      responses.close(); // a body delimited by the close is complete now
      requests.release();
      for (Observed o : pending) {
        o.telemetry.onError(o.responseStarted ? "response_reset" : "reset");
        o.telemetry.end(target, peer, o.requestBytes, 0);
      }
      pending.clear();
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (requests != null) {
      requests.release();
      responses.release();
    }
  }

  private void stop(ChannelHandlerContext ctx) {
    if (done) {
      return;
    }
    done = true;
    pending.clear(); // their ends cannot be seen: no span, no sample (the connection's TCP telemetry remains)
    if (ctx.pipeline().context(this) != null) {
      ctx.pipeline().remove(this);
    }
  }

  private final class RequestSide implements Http1Scanner.Listener {
    @Override
    public Http1Scanner.Framing onHead(Http1Scanner.Head head, ByteBuf buffer) {
      ExchangeTelemetry exchange = ExchangeTelemetry.observed(telemetry, head);
      if (head.traceparentIndex() >= 0 && head.traceparent().length() == TRACEPARENT_LENGTH
          && !buffer.isReadOnly()) {
        String own = exchange.traceparent();
        if (own != null && own.length() == TRACEPARENT_LENGTH) {
          buffer.setCharSequence(head.traceparentIndex(), own, StandardCharsets.US_ASCII);
        }
      }
      writing = new Observed(exchange, head.method());
      pending.addLast(writing);
      return Http1Scanner.Framing.ofRequest(head);
    }

    @Override
    public void onMessageEnd(long bytes) {
      if (writing != null) {
        writing.requestBytes = bytes;
        writing = null;
      }
    }

    @Override
    public void onOpaque(String reason) {
      onUnobserved.accept(reason);
    }
  }

  private final class ResponseSide implements Http1Scanner.Listener {
    private final ChannelHandlerContext ctx;

    ResponseSide(ChannelHandlerContext ctx) {
      this.ctx = ctx;
    }

    @Override
    public Http1Scanner.Framing onHead(Http1Scanner.Head head, ByteBuf buffer) {
      Observed o = pending.peekFirst();
      interim = head.status() >= 100 && head.status() < 200 && head.status() != 101;
      if (o == null) {
        return Http1Scanner.Framing.ofResponse(head, null); // unasked (a 408 before closing): nothing to record
      }
      if (!interim) {
        o.responseStarted = true;
        o.telemetry.onResponse(head.status(), null);
      }
      Http1Scanner.Framing framing = Http1Scanner.Framing.ofResponse(head, o.method);
      if (framing instanceof Http1Scanner.Framing.Opaque) {
        pending.removeFirst();
        o.telemetry.end(target, peer, o.requestBytes, 0); // the exchange ends with its 101 / 2xx to CONNECT
      }
      return framing;
    }

    @Override
    public void onMessageEnd(long bytes) {
      if (interim) {
        interim = false;
        return;
      }
      Observed o = pending.pollFirst();
      if (o != null) {
        o.telemetry.end(target, peer, o.requestBytes, bytes);
      }
    }

    @Override
    public void onOpaque(String reason) {
      if (!reason.equals("switching protocols") && !reason.equals("tunnel established")) {
        onUnobserved.accept(reason);
      }
    }
  }
}
