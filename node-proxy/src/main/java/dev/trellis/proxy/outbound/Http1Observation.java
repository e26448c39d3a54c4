package dev.trellis.proxy.outbound;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * HTTP/1.x exchanges on an observed connection ({@link HttpObserverHandler}): an {@link Http1Scanner} each way,
 * pipelined requests matched to responses in order. The request's {@code traceparent} is given the server span's id
 * in place (same length) when its head arrived in one buffer, so the workload's own spans become children of the
 * server span; otherwise they stay children of the caller's client span.
 */
final class Http1Observation implements HttpObserverHandler.Observation {

  private static final int TRACEPARENT_LENGTH = 55;

  private final HttpObserverHandler.Recorder recorder;
  private final ArrayDeque<Observed> pending = new ArrayDeque<>();
  private final Http1Scanner requests;
  private final Http1Scanner responses;
  private Observed writing;
  private boolean interim;

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

  Http1Observation(HttpObserverHandler.Recorder recorder, ByteBufAllocator alloc) {
    this.recorder = recorder;
    this.requests = new Http1Scanner(true, new RequestSide(), alloc);
    this.responses = new Http1Scanner(false, new ResponseSide(), alloc);
  }

  @Override
  public void requestBytes(ByteBuf buf) {
    requests.scan(buf);
  }

  @Override
  public void responseBytes(ByteBuf buf) {
    responses.scan(buf);
  }

  @Override
  public boolean opaque() {
    return requests.opaque() || responses.opaque();
  }

  @Override
  public void closed() {
    responses.close(); // a body delimited by the close is complete now
    for (Observed o : pending) {
      o.telemetry.onError(o.responseStarted ? "response_reset" : "reset");
      end(o, 0);
    }
    pending.clear();
  }

  @Override
  public void release() {
    requests.release();
    responses.release();
  }

  private void end(Observed o, long responseBytes) {
    o.telemetry.end(recorder.target(), recorder.peer(), o.requestBytes, responseBytes);
  }

  private final class RequestSide implements Http1Scanner.Listener {
    @Override
    public Http1Scanner.Framing onHead(Http1Scanner.Head head, ByteBuf buffer) {
      ExchangeTelemetry exchange = ExchangeTelemetry.observed(recorder.telemetry(), head);
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
      recorder.onUnobserved().accept(reason);
    }
  }

  private final class ResponseSide implements Http1Scanner.Listener {
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
        end(o, 0); // the exchange ends with its 101 / 2xx to CONNECT; what follows is not HTTP
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
        end(o, bytes);
      }
    }

    @Override
    public void onOpaque(String reason) {
      if (!reason.equals("switching protocols") && !reason.equals("tunnel established")) {
        recorder.onUnobserved().accept(reason);
      }
    }
  }
}
