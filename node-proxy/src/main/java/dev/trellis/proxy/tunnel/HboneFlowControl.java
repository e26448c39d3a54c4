package dev.trellis.proxy.tunnel;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Settings;

/**
 * HTTP/2 flow-control windows of HBONE connections, both ends. HTTP/2's defaults (64 KiB per stream
 * and per connection) make a tunnel stall on every round trip under load: with many streams on one
 * connection the shared 64 KiB connection window fills, frames queue in the sender's flow controller
 * and small writes pile up there. Larger windows (as ztunnel uses) keep data moving while still
 * bounding what an authenticated peer can make us buffer: {@link #STREAM_WINDOW} per stream,
 * {@link #CONNECTION_WINDOW} per connection. Frames up to {@link #MAX_FRAME}.
 */
public final class HboneFlowControl {

  public static final int STREAM_WINDOW = 1024 * 1024;
  public static final int CONNECTION_WINDOW = 16 * 1024 * 1024;

  /**
   * The largest frame each end accepts (SETTINGS_MAX_FRAME_SIZE; HTTP/2's default and minimum is 16 KiB), and so the
   * largest the peer sends. A relay's read from a socket (up to 64 KiB) leaves as one DATA frame instead of one per
   * 16 KiB. The TLS handler encrypts 16 KiB records and copies a record's pieces into one buffer when it has several:
   * with 16 KiB frames that was every record (a 9-byte frame header and its payload), now it is a frame's first
   * record; the others are encrypted straight from the read buffer. An authenticated peer can make a connection buffer
   * one frame of this size while it arrives.
   */
  public static final int MAX_FRAME = 256 * 1024;

  private HboneFlowControl() {}

  /**
   * Settings for an HBONE endpoint's codec: the stream window and the frame size, plus {@code maxConcurrentStreams} if
   * > 0.
   */
  public static Http2Settings settings(int maxConcurrentStreams) {
    Http2Settings s = Http2Settings.defaultSettings().initialWindowSize(STREAM_WINDOW).maxFrameSize(MAX_FRAME);
    if (maxConcurrentStreams > 0) {
      s.maxConcurrentStreams(maxConcurrentStreams);
    }
    return s;
  }

  /** Grows the connection window (SETTINGS cannot): a WINDOW_UPDATE on stream 0. Call once the codec is in place. */
  public static void widenConnectionWindow(ChannelHandlerContext ctx, Http2FrameCodec codec) {
    try {
      codec.connection().local().flowController().incrementWindowSize(codec.connection().connectionStream(),
          CONNECTION_WINDOW - Http2CodecUtil.DEFAULT_WINDOW_SIZE);
      ctx.flush();
    } catch (Http2Exception e) {
      throw new IllegalStateException("cannot widen the HBONE connection window: " + e.getMessage(), e);
    }
  }
}
