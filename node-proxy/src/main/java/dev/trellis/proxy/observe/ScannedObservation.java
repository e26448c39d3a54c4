package dev.trellis.proxy.observe;

import io.netty.buffer.ByteBuf;

/**
 * What HTTP/1.x and HTTP/2 observations ({@link Http1Observation}, {@link Http2Observation}) share: a
 * {@link ByteScanner} each way, and the life of each {@link Exchange} they follow, from its request head to its end
 * or to a reset. Subclasses match requests to responses, which is where the two protocols differ.
 */
abstract class ScannedObservation implements HttpObserverHandler.Observation {

  final HttpObserverHandler.Recorder recorder;

  ScannedObservation(HttpObserverHandler.Recorder recorder) {
    this.recorder = recorder;
  }

  /** One exchange followed on the connection, between its request head and its end. */
  static final class Exchange {
    final ExchangeTelemetry telemetry;
    final String method;
    long requestBytes;
    long responseBytes;
    boolean responseStarted;

    Exchange(ExchangeTelemetry telemetry, String method) {
      this.telemetry = telemetry;
      this.method = method;
    }

    /** Its (final) response head arrived with {@code status}. */
    void onResponse(int status) {
      responseStarted = true;
      telemetry.onResponse(status, null);
    }
  }

  /** The scanner of the request bytes (on their way to the workload). */
  abstract ByteScanner requests();

  /** The scanner of the response bytes (on their way back). */
  abstract ByteScanner responses();

  @Override
  public final void requestBytes(ByteBuf buf) {
    requests().scan(buf);
  }

  @Override
  public final void responseBytes(ByteBuf buf) {
    responses().scan(buf);
  }

  @Override
  public final boolean opaque() {
    return requests().opaque() || responses().opaque();
  }

  @Override
  public final void release() {
    requests().release();
    responses().release();
  }

  /** Records the exchange as complete. */
  final void end(Exchange e) {
    e.telemetry.end(recorder.target(), recorder.peer(), e.requestBytes, e.responseBytes);
  }

  /** Records the exchange as cut short: {@code response_reset} once its response had begun, else {@code reset}. */
  final void reset(Exchange e) {
    e.telemetry.onError(e.responseStarted ? "response_reset" : "reset");
    end(e);
  }
}
