package dev.trellis.proxy.observe;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.collection.IntObjectHashMap;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.List;

/**
 * HTTP/2 exchanges (gRPC included) on an observed connection ({@link HttpObserverHandler}): an {@link Http2Scanner}
 * each way; a client stream's request headers start an exchange, the server's {@code :status} and any
 * {@code grpc-status} (trailers or a trailers-only response) describe it, and the server's END_STREAM or a reset from
 * either side ends it. Header blocks are HPACK-coded, so the workload receives the {@code traceparent} the source
 * sent: its own spans are children of the caller's client span, siblings of this server span.
 */
final class Http2Observation extends ScannedObservation {

  private static final TextMapGetter<Http2Headers> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Http2Headers carrier) {
      return List.of("traceparent", "tracestate", "baggage");
    }

    @Override
    public String get(Http2Headers carrier, String key) {
      CharSequence v = carrier == null ? null : carrier.get(key);
      return v == null ? null : v.toString();
    }
  };

  /** Open exchanges by stream id. */
  private final IntObjectHashMap<Exchange> streams = new IntObjectHashMap<>();
  private final Http2Scanner requests;
  private final Http2Scanner responses;

  Http2Observation(HttpObserverHandler.Recorder recorder, ByteBufAllocator alloc) {
    super(recorder);
    this.requests = new Http2Scanner(true, new RequestSide(), alloc);
    this.responses = new Http2Scanner(false, new ResponseSide(), alloc);
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
    streams.values().forEach(this::reset);
    streams.clear();
  }

  private void resetStream(int stream) {
    Exchange o = streams.remove(stream);
    if (o != null) {
      reset(o);
    }
  }

  private final class RequestSide implements Http2Scanner.Listener {
    @Override
    public void onHeaders(int stream, Http2Headers headers, boolean endStream) {
      if (streams.containsKey(stream) || headers.method() == null) {
        return; // request trailers, or not a request
      }
      CharSequence path = headers.path();
      CharSequence authority = headers.authority();
      CharSequence contentType = headers.get("content-type");
      String method = headers.method().toString();
      streams.put(stream, new Exchange(ExchangeTelemetry.observed(recorder.telemetry(), "2", method,
          path == null ? "" : path.toString(), authority == null ? null : authority.toString(),
          contentType == null ? null : contentType.toString(), headers, GETTER), method));
    }

    @Override
    public void onData(int stream, int bytes, boolean endStream) {
      Exchange o = streams.get(stream);
      if (o != null) {
        o.requestBytes += bytes;
      }
    }

    @Override
    public void onReset(int stream) {
      resetStream(stream);
    }

    @Override
    public void onOpaque(String reason) {
      recorder.onUnobserved().accept("HTTP/2: " + reason);
    }
  }

  private final class ResponseSide implements Http2Scanner.Listener {
    @Override
    public void onHeaders(int stream, Http2Headers headers, boolean endStream) {
      Exchange o = streams.get(stream);
      if (o == null) {
        return;
      }
      CharSequence status = headers.status();
      if (status != null) {
        int code = parseStatus(status);
        if (code >= 100 && code < 200) {
          return; // interim
        }
        o.onResponse(code);
      }
      o.telemetry.onGrpcStatus(headers.get("grpc-status"));
      if (endStream) {
        streams.remove(stream);
        end(o);
      }
    }

    @Override
    public void onData(int stream, int bytes, boolean endStream) {
      Exchange o = streams.get(stream);
      if (o == null) {
        return;
      }
      o.responseBytes += bytes;
      if (endStream) {
        streams.remove(stream);
        end(o);
      }
    }

    @Override
    public void onReset(int stream) {
      resetStream(stream);
    }

    @Override
    public void onOpaque(String reason) {
      recorder.onUnobserved().accept("HTTP/2: " + reason);
    }
  }

  private static int parseStatus(CharSequence status) {
    try {
      return Integer.parseInt(status.toString());
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
