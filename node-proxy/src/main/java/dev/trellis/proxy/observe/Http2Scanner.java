package dev.trellis.proxy.observe;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * Follows one direction of an HTTP/2 connection passively (the client's, after its connection preface, or the
 * server's): reads frame headers, skips DATA payloads by their length, and decodes every header block — HEADERS,
 * CONTINUATION and PUSH_PROMISE, so that the direction's HPACK table stays in step — reporting per stream what
 * telemetry needs. Nothing is copied but frame headers and header blocks; the relayed bytes are not changed.
 *
 * <p>What it cannot follow (a preface that is not HTTP/2's, a header block over {@link #MAX_HEADER_BLOCK} bytes,
 * HPACK it cannot decode) makes it {@linkplain Listener#onOpaque opaque}. Not thread-safe: one per direction, on the
 * connection's event loop.
 */
final class Http2Scanner implements ByteScanner {

  static final int MAX_HEADER_BLOCK = 256 * 1024;

  private static final int DATA = 0x0;
  private static final int HEADERS = 0x1;
  private static final int RST_STREAM = 0x3;
  private static final int PUSH_PROMISE = 0x5;
  private static final int CONTINUATION = 0x9;
  private static final int END_STREAM = 0x1;
  private static final int END_HEADERS = 0x4;
  private static final int PADDED = 0x8;
  private static final int PRIORITY = 0x20;

  interface Listener {
    /** A complete header block (request or response headers, or trailers) on {@code stream}. */
    void onHeaders(int stream, Http2Headers headers, boolean endStream);

    /** A DATA frame of {@code bytes} (padding included) on {@code stream}. */
    void onData(int stream, int bytes, boolean endStream);

    /** RST_STREAM on {@code stream}. */
    void onReset(int stream);

    /** The scanner stopped following the connection. */
    void onOpaque(String reason);
  }

  private enum State { PREFACE, FRAME_HEADER, PAYLOAD, OPAQUE }

  private final Listener listener;
  private final ByteBufAllocator alloc;
  private final DefaultHttp2HeadersDecoder decoder;
  private final byte[] header = new byte[9];
  private State state;
  private int prefaceSeen;
  private int headerFilled;
  private int length;
  private int type;
  private int flags;
  private int stream;
  private int remaining;
  private ByteBuf payload; // the current HEADERS / CONTINUATION / PUSH_PROMISE payload
  private ByteBuf block; // a header block continued over CONTINUATION frames
  private int blockStream;
  private boolean blockEndStream;
  private boolean blockIsPromise;

  /** @param client whether this is the client's direction (it starts with the connection preface) */
  Http2Scanner(boolean client, Listener listener, ByteBufAllocator alloc) {
    this.listener = listener;
    this.alloc = alloc;
    this.state = client ? State.PREFACE : State.FRAME_HEADER;
    // Validation is the endpoints' business; the table and list limits only bound what a passive reader accepts.
    this.decoder = new DefaultHttp2HeadersDecoder(false, 1024 * 1024);
    try {
      decoder.maxHeaderTableSize(1024 * 1024);
    } catch (Http2Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean opaque() {
    return state == State.OPAQUE;
  }

  /** Follows {@code buf}'s readable bytes; does not move its indexes. */
  @Override
  public void scan(ByteBuf buf) {
    int i = buf.readerIndex();
    int end = buf.writerIndex();
    while (i < end && state != State.OPAQUE) {
      i = switch (state) {
        case PREFACE -> preface(buf, i, end);
        case FRAME_HEADER -> frameHeader(buf, i, end);
        case PAYLOAD -> payload(buf, i, end);
        case OPAQUE -> end;
      };
    }
  }

  @Override
  public void release() {
    if (payload != null) {
      payload.release();
      payload = null;
    }
    if (block != null) {
      block.release();
      block = null;
    }
  }

  private int preface(ByteBuf buf, int i, int end) {
    ByteBuf expected = Http2CodecUtil.connectionPrefaceBuf();
    try {
      int n = Math.min(end - i, expected.readableBytes() - prefaceSeen);
      if (!buf.slice(i, n).equals(expected.slice(prefaceSeen, n))) {
        opaque("not an HTTP/2 connection preface");
        return end;
      }
      prefaceSeen += n;
      if (prefaceSeen == expected.readableBytes()) {
        state = State.FRAME_HEADER;
      }
      return i + n;
    } finally {
      expected.release();
    }
  }

  private int frameHeader(ByteBuf buf, int i, int end) {
    int n = Math.min(end - i, 9 - headerFilled);
    buf.getBytes(i, header, headerFilled, n);
    headerFilled += n;
    if (headerFilled < 9) {
      return i + n;
    }
    headerFilled = 0;
    length = (header[0] & 0xff) << 16 | (header[1] & 0xff) << 8 | header[2] & 0xff;
    type = header[3] & 0xff;
    flags = header[4] & 0xff;
    stream = ((header[5] & 0x7f) << 24) | (header[6] & 0xff) << 16 | (header[7] & 0xff) << 8 | header[8] & 0xff;
    remaining = length;
    if (block != null && type != CONTINUATION) {
      // RFC 9113 §6.10: nothing but CONTINUATION may follow a header block without END_HEADERS. (Found by fuzzing: a
      // second HEADERS here replaced the open block and leaked its buffer.)
      opaque("header block interrupted by a frame of type " + type);
      return end;
    }
    if (type == HEADERS || type == CONTINUATION || type == PUSH_PROMISE) {
      if (length + (block == null ? 0 : block.readableBytes()) > MAX_HEADER_BLOCK) {
        opaque("header block over " + MAX_HEADER_BLOCK + " bytes");
        return end;
      }
      payload = alloc.heapBuffer(Math.max(length, 1));
    }
    state = State.PAYLOAD;
    if (length == 0) {
      frameEnd();
    }
    return i + n;
  }

  private int payload(ByteBuf buf, int i, int end) {
    int n = Math.min(end - i, remaining);
    if (payload != null) {
      payload.writeBytes(buf, i, n);
    }
    remaining -= n;
    if (remaining == 0) {
      frameEnd();
    }
    return i + n;
  }

  private void frameEnd() {
    state = State.FRAME_HEADER;
    switch (type) {
      case DATA -> listener.onData(stream, length, (flags & END_STREAM) != 0);
      case RST_STREAM -> listener.onReset(stream);
      case HEADERS, PUSH_PROMISE -> startBlock();
      case CONTINUATION -> continueBlock();
      default -> { } // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY, unknown: nothing telemetry needs
    }
  }

  private void startBlock() {
    ByteBuf p = payload;
    payload = null;
    try {
      int pad = 0;
      if ((flags & PADDED) != 0) {
        if (!p.isReadable()) {
          opaque("malformed padded frame");
          return;
        }
        pad = p.readUnsignedByte();
      }
      int skip = type == PUSH_PROMISE ? 4 : (flags & PRIORITY) != 0 ? 5 : 0;
      if (p.readableBytes() < skip + pad) {
        opaque("malformed header frame");
        return;
      }
      p.skipBytes(skip);
      p.writerIndex(p.writerIndex() - pad);
      blockStream = stream;
      blockEndStream = type == HEADERS && (flags & END_STREAM) != 0;
      blockIsPromise = type == PUSH_PROMISE;
      block = alloc.heapBuffer(p.readableBytes());
      block.writeBytes(p);
    } finally {
      p.release();
    }
    if ((flags & END_HEADERS) != 0) {
      decodeBlock();
    }
  }

  private void continueBlock() {
    ByteBuf p = payload;
    payload = null;
    try {
      if (block == null || stream != blockStream) {
        opaque("CONTINUATION without a header block");
        return;
      }
      block.writeBytes(p);
    } finally {
      p.release();
    }
    if ((flags & END_HEADERS) != 0) {
      decodeBlock();
    }
  }

  private void decodeBlock() {
    ByteBuf b = block;
    block = null;
    Http2Headers headers;
    try {
      headers = decoder.decodeHeaders(blockStream, b);
    } catch (Http2Exception | RuntimeException e) {
      opaque("header block not decodable: " + e.getMessage());
      return;
    } finally {
      b.release();
    }
    if (!blockIsPromise) {
      listener.onHeaders(blockStream, headers, blockEndStream);
    }
  }

  private void opaque(String reason) {
    state = State.OPAQUE;
    release();
    listener.onOpaque(reason);
  }
}
