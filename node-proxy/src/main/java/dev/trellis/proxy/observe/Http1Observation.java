package dev.trellis.proxy.observe;

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
final class Http1Observation extends ScannedObservation {

  private static final int TRACEPARENT_LENGTH = 55;

  /** Requests seen on their way to the workload, oldest first, waiting for their responses. */
  private final ArrayDeque<Exchange> pending = new ArrayDeque<>();
  private final Http1Scanner requests;
  private final Http1Scanner responses;
  private Exchange writing;
  private boolean interim;

  Http1Observation(HttpObserverHandler.Recorder recorder, ByteBufAllocator alloc) {
    super(recorder);
    this.requests = new Http1Scanner(true, new RequestSide(), alloc);
    this.responses = new Http1Scanner(false, new ResponseSide(), alloc);
  }

  @Override
  ByteScanner requests() {
    return requests;
  }

  @Override
  ByteScanner responses() {
    return responses;
  }

  @Override
  public void closed() {
    responses.close(); // a body delimited by the close is complete now
    pending.forEach(this::reset);
    pending.clear();
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
      writing = new Exchange(exchange, head.method());
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
      Exchange o = pending.peekFirst();
      interim = head.status() >= 100 && head.status() < 200 && head.status() != 101;
      if (o == null) {
        return Http1Scanner.Framing.ofResponse(head, null); // unasked (a 408 before closing): nothing to record
      }
      if (!interim) {
        o.onResponse(head.status());
      }
      Http1Scanner.Framing framing = Http1Scanner.Framing.ofResponse(head, o.method);
      if (framing instanceof Http1Scanner.Framing.Opaque) {
        pending.removeFirst();
        end(o); // the exchange ends with its 101 / 2xx to CONNECT; what follows is not HTTP
      }
      return framing;
    }

    @Override
    public void onMessageEnd(long bytes) {
      if (interim) {
        interim = false;
        return;
      }
      Exchange o = pending.pollFirst();
      if (o != null) {
        o.responseBytes = bytes;
        end(o);
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
