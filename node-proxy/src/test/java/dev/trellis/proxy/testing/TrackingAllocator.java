package dev.trellis.proxy.testing;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * An allocator that remembers every buffer it hands out, for fuzz targets: {@link #assertAllReleased} fails at once,
 * on the input that leaked, instead of when the garbage collector gets round to it ({@link LeakRecorder} still
 * catches buffers allocated elsewhere). Give it to a channel with {@code channel.config().setAllocator(..)} and
 * allocate the input buffers from it too. Not thread-safe: one per test, on the test's thread.
 */
public final class TrackingAllocator extends AbstractByteBufAllocator {

  private final List<ByteBuf> allocated = new ArrayList<>();

  public TrackingAllocator() {
    super(false);
  }

  @Override
  protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
    ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
    allocated.add(b);
    return b;
  }

  @Override
  protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
    ByteBuf b = new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
    allocated.add(b);
    return b;
  }

  @Override
  public boolean isDirectBufferPooled() {
    return false;
  }

  /** A heap buffer holding {@code bytes}. */
  public ByteBuf copyOf(byte[] bytes, int from, int length) {
    return heapBuffer(length).writeBytes(bytes, from, length);
  }

  /** Fails if a buffer allocated since the last call is still referenced; forgets them either way. */
  public void assertAllReleased() {
    List<ByteBuf> live = allocated.stream().filter(b -> b.refCnt() > 0).toList();
    int total = allocated.size();
    allocated.clear();
    if (!live.isEmpty()) {
      ByteBuf first = live.getFirst();
      throw new AssertionError(live.size() + " of " + total + " buffers not released; the first holds "
          + first.capacity() + " bytes: " + ByteBufUtil.hexDump(first, 0, Math.min(first.capacity(), 64)));
    }
  }
}
