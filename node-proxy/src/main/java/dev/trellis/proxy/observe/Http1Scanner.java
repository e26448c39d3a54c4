package dev.trellis.proxy.observe;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * Follows one direction of an HTTP/1.x connection passively: finds each message's head (request or status line and
 * the few header fields telemetry needs), then skips its body by its framing (length, chunked, until close), without
 * copying or changing bytes — it reads the buffers the relay forwards anyway. What a message's body framing is
 * depends on the other direction (a response to HEAD has none), so the {@link Listener} decides it per head.
 *
 * <p>Anything it cannot follow (a head over {@link #MAX_HEAD_BYTES}, malformed framing, an upgrade) makes it
 * {@linkplain Listener#onOpaque opaque}: it stops looking, and the bytes still flow unchanged. Not thread-safe: one
 * scanner per direction, driven from the connection's event loop.
 */
final class Http1Scanner implements ByteScanner {

  static final int MAX_HEAD_BYTES = 64 * 1024;

  /** Heads found within this many bytes of a buffer's start take the fast path (one copy, array search). */
  static final int FAST_WINDOW = 4096;

  /** How a message's body is delimited, decided per head. */
  sealed interface Framing {
    Framing NONE = new Length(0);
    Framing CHUNKED = new Chunked();
    Framing UNTIL_CLOSE = new UntilClose();

    /** Exactly {@code bytes} of body follow the head. */
    record Length(long bytes) implements Framing {}

    /** Chunks, then a zero chunk and trailers. */
    record Chunked() implements Framing {}

    /** The body runs to the end of the connection (a response without length). */
    record UntilClose() implements Framing {}

    /** Not HTTP/1 messages any more after this head (101 Switching Protocols, a 2xx to CONNECT). */
    record Opaque(String reason) implements Framing {}

    /**
     * A request's body framing (RFC 9112 §6.3): chunked if the last transfer coding is chunked, else Content-Length,
     * else none; a transfer coding that is not chunked cannot be delimited.
     */
    static Framing ofRequest(Head head) {
      if (head.transferEncoding() != null) {
        return head.chunked() ? CHUNKED : new Opaque("request transfer-encoding without chunked");
      }
      return head.contentLength() > 0 ? new Length(head.contentLength()) : NONE;
    }

    /** A response's body framing, given the method of the request it answers. */
    static Framing ofResponse(Head head, String requestMethod) {
      int status = head.status();
      if (status == 101) {
        return new Opaque("switching protocols");
      }
      if ("CONNECT".equals(requestMethod) && status >= 200 && status < 300) {
        return new Opaque("tunnel established");
      }
      if ("HEAD".equals(requestMethod) || status < 200 || status == 204 || status == 304) {
        return NONE;
      }
      if (head.transferEncoding() != null) {
        return head.chunked() ? CHUNKED : UNTIL_CLOSE;
      }
      return head.contentLength() >= 0 ? new Length(head.contentLength()) : UNTIL_CLOSE;
    }
  }

  /**
   * A message head: for requests {@code method} and {@code target}, for responses {@code status}; the header fields
   * telemetry reads (null when absent). {@code contentLength} is -1 when absent. {@code traceparentIndex} is where
   * the traceparent value starts in the buffer passed to {@link #scan} when the whole head was in it, else -1.
   */
  record Head(String method, String target, int status, String host, String contentType, String traceparent,
      String tracestate, String baggage, long contentLength, String transferEncoding, int traceparentIndex) {

    boolean chunked() {
      if (transferEncoding == null) {
        return false;
      }
      int comma = transferEncoding.lastIndexOf(',');
      return transferEncoding.substring(comma + 1).trim().equalsIgnoreCase("chunked");
    }
  }

  interface Listener {
    /** A head was read; returns how the body that follows is framed. */
    Framing onHead(Head head, ByteBuf buffer);

    /** The message whose head came last is complete: {@code bytes} counts head and body. */
    void onMessageEnd(long bytes);

    /** The scanner stopped following the connection. */
    void onOpaque(String reason);
  }

  private enum State { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, OPAQUE }

  private final boolean requests;
  private final Listener listener;
  private final ByteBufAllocator alloc;
  private State state = State.HEAD;
  private ByteBuf partial; // a head (or chunk-size / trailer line) split across buffers
  private byte[] scratch = new byte[FAST_WINDOW]; // the current head, parsed from an array rather than byte by byte from a buffer
  private long remaining;
  private boolean chunkCr; // the CR after a chunk's data was seen, its LF not yet
  private long messageBytes;
  private boolean ended;

  Http1Scanner(boolean requests, Listener listener, ByteBufAllocator alloc) {
    this.requests = requests;
    this.listener = listener;
    this.alloc = alloc;
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
      int from = i;
      i = switch (state) {
        case HEAD -> head(buf, i, end);
        case BODY, CHUNK_DATA -> skip(buf, i, end);
        case CHUNK_END -> chunkEnd(buf, i);
        case CHUNK_SIZE, TRAILERS -> line(buf, i, end);
        case UNTIL_CLOSE -> end;
        case OPAQUE -> end;
      };
      messageBytes += i - from;
      if (ended) {
        ended = false;
        long bytes = messageBytes;
        messageBytes = 0;
        listener.onMessageEnd(bytes);
      }
    }
  }

  /** The connection ended: a body running until close is complete; anything else unfinished is not. */
  void close() {
    if (state == State.UNTIL_CLOSE) {
      state = State.HEAD;
      listener.onMessageEnd(messageBytes);
    }
    release();
  }

  @Override
  public void release() {
    if (partial != null) {
      partial.release();
      partial = null;
    }
  }

  private int head(ByteBuf buf, int i, int end) {
    byte first = buf.getByte(i);
    if (partial == null && (first == '\r' || first == '\n')) {
      return i + 1; // stray line breaks between messages are allowed (RFC 9112 §2.2)
    }
    if (partial == null) {
      // The common case, a whole head at the start of a buffer: one bulk copy, then search and parse the array.
      int n = Math.min(end - i, FAST_WINDOW);
      buf.getBytes(i, scratch, 0, n);
      int stop = headEnd(scratch, n);
      if (stop > 0) {
        return parsed(HeadParser.parse(scratch, stop, requests, i), buf, i + stop, stop, end);
      }
      if (n == end - i) {
        keepPartial(buf, i, end);
        return end;
      }
    }
    int stop = headEnd(buf, i, end);
    if (stop < 0) {
      keepPartial(buf, i, end);
      return end;
    }
    if ((partial == null ? 0 : partial.readableBytes()) + stop - i > MAX_HEAD_BYTES) {
      opaque((requests ? "request" : "response") + " head over " + MAX_HEAD_BYTES + " bytes");
      return end;
    }
    int length;
    int inPlaceOffset = -1; // where the head starts in buf, when all of it is there
    if (partial == null) {
      length = stop - i;
      inPlaceOffset = i;
      scratch = scratch.length >= length ? scratch : new byte[Math.max(length, 2 * scratch.length)];
      buf.getBytes(i, scratch, 0, length);
    } else {
      partial.writeBytes(buf, i, stop - i);
      length = partial.readableBytes();
      scratch = scratch.length >= length ? scratch : new byte[Math.max(length, 2 * scratch.length)];
      partial.getBytes(partial.readerIndex(), scratch, 0, length);
      release();
    }
    return parsed(HeadParser.parse(scratch, length, requests, inPlaceOffset), buf, stop, length, end);
  }

  /** Goes on after a head was parsed (null: malformed) that ends at {@code stop} in {@code buf}. */
  private int parsed(Head head, ByteBuf buf, int stop, int length, int end) {
    if (head == null) {
      boolean h2 = length >= 8 && new String(scratch, 0, 8, StandardCharsets.US_ASCII).equals("PRI * HT");
      opaque(h2 ? "HTTP/2 (prior knowledge)" : "malformed " + (requests ? "request" : "response") + " head");
      return end;
    }
    Framing framing = listener.onHead(head, buf);
    switch (framing) {
      case Framing.Length l when l.bytes() == 0 -> finish();
      case Framing.Length l -> {
        state = State.BODY;
        remaining = l.bytes();
      }
      case Framing.Chunked c -> state = State.CHUNK_SIZE;
      case Framing.UntilClose u -> state = State.UNTIL_CLOSE;
      case Framing.Opaque o -> opaque(o.reason());
    }
    return stop;
  }

  /** The message ends where the current step stops (each step returns exactly that index). */
  private void finish() {
    state = State.HEAD;
    ended = true;
  }

  /** Where a head that starts at index 0 of {@code b} ends, after its blank line; -1 if not in the first {@code n}. */
  private static int headEnd(byte[] b, int n) {
    for (int k = 1; k < n; k++) {
      if (b[k] == '\n' && (b[k - 1] == '\n' || k >= 2 && b[k - 1] == '\r' && b[k - 2] == '\n')) {
        return k + 1;
      }
    }
    return -1;
  }

  /** Where the head that starts at {@code i} (or continues {@link #partial}) ends, after its blank line; -1 if not here. */
  private int headEnd(ByteBuf buf, int i, int end) {
    for (int lf = buf.indexOf(i, end, (byte) '\n'); lf >= 0; lf = buf.indexOf(lf + 1, end, (byte) '\n')) {
      int before = byteBefore(buf, i, lf - 1);
      if (before == '\n' || before == '\r' && byteBefore(buf, i, lf - 2) == '\n') {
        return lf + 1;
      }
    }
    return -1;
  }

  /** The byte at {@code k} of {@code buf}, or before {@code i} the byte that far back in {@link #partial}; -1 if none. */
  private int byteBefore(ByteBuf buf, int i, int k) {
    if (k >= i) {
      return buf.getByte(k);
    }
    int back = i - k;
    return partial != null && partial.readableBytes() >= back ? partial.getByte(partial.writerIndex() - back) : -1;
  }

  private void keepPartial(ByteBuf buf, int i, int end) {
    int have = partial == null ? 0 : partial.readableBytes();
    if (have + end - i > MAX_HEAD_BYTES) {
      opaque((requests ? "request" : "response") + " head over " + MAX_HEAD_BYTES + " bytes");
      return;
    }
    if (partial == null) {
      partial = alloc.heapBuffer(Math.max(256, end - i));
    }
    partial.writeBytes(buf, i, end - i);
  }

  private int skip(ByteBuf buf, int i, int end) {
    int n = (int) Math.min(remaining, end - i);
    remaining -= n;
    if (remaining == 0) {
      if (state == State.BODY) {
        finish();
      } else {
        state = State.CHUNK_END;
        chunkCr = false;
      }
    }
    return i + n;
  }

  /**
   * The line break after a chunk's data: CRLF or a bare LF, nothing else. Read a byte at a time so that where the
   * buffers are cut cannot matter (it did: a cut before "x\r\n" was refused, the same bytes in one buffer accepted).
   */
  private int chunkEnd(ByteBuf buf, int i) {
    byte b = buf.getByte(i);
    if (b == '\n') {
      state = State.CHUNK_SIZE;
    } else if (b == '\r' && !chunkCr) {
      chunkCr = true;
    } else {
      opaque("chunk data not followed by CRLF");
    }
    return i + 1;
  }

  /** Chunk-size lines and trailer lines: each ends at LF. */
  private int line(ByteBuf buf, int i, int end) {
    int lf = buf.indexOf(i, end, (byte) '\n');
    if (lf < 0) {
      keepPartial(buf, i, end);
      return end;
    }
    int next = lf + 1;
    switch (state) {
      case CHUNK_SIZE -> {
        long size = chunkSize(buf, i, lf);
        release();
        if (size < 0) {
          opaque("malformed chunk size");
        } else if (size == 0) {
          state = State.TRAILERS;
        } else {
          remaining = size;
          state = State.CHUNK_DATA;
        }
      }
      case TRAILERS -> {
        boolean blank = blankLine(buf, i, lf);
        release();
        if (blank) {
          finish();
        }
      }
      default -> throw new IllegalStateException(state.name());
    }
    return next;
  }

  /** Whether the line ending at {@code lf} (its start possibly kept in {@link #partial}) is empty but for a CR. */
  private boolean blankLine(ByteBuf buf, int i, int lf) {
    int kept = partial == null ? 0 : partial.readableBytes();
    int length = kept + lf - i;
    if (length == 0) {
      return true;
    }
    byte last = lf > i ? buf.getByte(lf - 1) : partial.getByte(partial.writerIndex() - 1);
    return length == 1 && last == '\r';
  }

  private long chunkSize(ByteBuf buf, int i, int lf) {
    String line;
    if (partial != null) {
      partial.writeBytes(buf, i, lf - i);
      line = partial.toString(StandardCharsets.US_ASCII);
    } else {
      line = buf.toString(i, lf - i, StandardCharsets.US_ASCII);
    }
    int semi = line.indexOf(';');
    String hex = (semi < 0 ? line : line.substring(0, semi)).trim();
    if (hex.isEmpty() || hex.length() > 15) {
      return -1;
    }
    try {
      return Long.parseLong(hex, 16);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private void opaque(String reason) {
    state = State.OPAQUE;
    release();
    listener.onOpaque(reason);
  }
}
