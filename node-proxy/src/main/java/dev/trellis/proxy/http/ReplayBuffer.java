package dev.trellis.proxy.http;

import io.netty.handler.codec.http.HttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;

/**
 * The request body of one {@link HttpExchange}, kept so a retry can send it again, up to a limit (1 MiB, Envoy's
 * default buffer limit). While it is replayable every attempt writes {@link #duplicate duplicates} of the kept
 * chunks; once the body has grown past the limit it only streams: the exchange {@link #dropFirst drops} what was
 * already written and {@link #removeFirst takes} each chunk out as it goes upstream. Owns the chunks it holds;
 * {@link #release} frees them. Confined to the exchange's event loop.
 */
final class ReplayBuffer {

  /** Request bodies up to this size are held for retries (Envoy's default buffer limit). */
  static final int LIMIT_BYTES = 1024 * 1024;

  private final long limit;
  private final List<HttpContent> chunks = new ArrayList<>();
  private long receivedBytes;
  private long heldBytes;
  private boolean replayable = true;

  ReplayBuffer() {
    this(LIMIT_BYTES);
  }

  ReplayBuffer(long limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit: " + limit + " (expected: >= 0)");
    }
    this.limit = limit;
  }

  /**
   * Takes ownership of the next body chunk. Returns true when this chunk took the body past the limit: it stops
   * being replayable (and the caller drops what it already wrote).
   */
  boolean add(HttpContent c) {
    int n = c.content().readableBytes();
    receivedBytes += n;
    heldBytes += n;
    chunks.add(c);
    if (replayable && receivedBytes > limit) {
      replayable = false;
      return true;
    }
    return false;
  }

  /** Whether the whole body so far is kept (a retry can send it again). */
  boolean replayable() {
    return replayable;
  }

  /** Chunks held. */
  int size() {
    return chunks.size();
  }

  /** Body bytes received in all (held or already streamed). */
  long receivedBytes() {
    return receivedBytes;
  }

  /** Whether more of the body may be read before an upstream takes it: fewer bytes held than the limit. */
  boolean hasRoom() {
    return heldBytes < limit;
  }

  /** A retained duplicate of chunk {@code i} for one attempt to write; the buffer keeps the chunk. */
  HttpContent duplicate(int i) {
    return chunks.get(i).retainedDuplicate();
  }

  /** Takes the first chunk out (streaming): the caller owns it. */
  HttpContent removeFirst() {
    HttpContent c = chunks.removeFirst();
    heldBytes -= c.content().readableBytes();
    return c;
  }

  /** Releases the first {@code n} chunks (written upstream already, and no longer needed for a replay). */
  void dropFirst(int n) {
    for (int i = 0; i < n; i++) {
      removeFirst().release();
    }
  }

  /** Releases everything held; idempotent. */
  void release() {
    chunks.forEach(ReferenceCountUtil::release);
    chunks.clear();
    heldBytes = 0;
  }
}
