package dev.trellis.proxy.observe;

import io.netty.buffer.ByteBuf;

/**
 * Follows one direction of an observed connection ({@link Http1Scanner}, {@link Http2Scanner}): reads the bytes
 * without consuming or changing them (except an HTTP/1.1 {@code traceparent} rewritten in place) and tells its
 * listener what it recognizes. Runs on the connection's event loop.
 */
interface ByteScanner {

  /** Reads the buffer's readable bytes; its indexes are left as they were. */
  void scan(ByteBuf buf);

  /** Whether it gave up following the bytes (it has told its listener why). */
  boolean opaque();

  /** Releases what it keeps between buffers; once. */
  void release();
}
