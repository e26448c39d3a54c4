package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.proxy.testing.LeakRecorder;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ReplayBufferTest {

  private final List<HttpContent> made = new ArrayList<>();

  @AfterEach
  void noLeaks() {
    assertThat(made).allSatisfy(c -> assertThat(c.refCnt()).as("every chunk released").isZero());
    LeakRecorder.assertNoLeaks();
  }

  private HttpContent chunk(String s) {
    HttpContent c = new DefaultHttpContent(PooledByteBufAllocator.DEFAULT.buffer().writeBytes(s.getBytes(StandardCharsets.US_ASCII)));
    made.add(c);
    return c;
  }

  private static String text(HttpContent c) {
    try {
      return c.content().toString(StandardCharsets.US_ASCII);
    } finally {
      c.release();
    }
  }

  /**
   * The buffer is told nothing of the request's declared size and allocates nothing itself: it keeps the chunks it
   * is given, so a request declaring {@code Content-Length: 10^15} that sent 3 bytes holds 3 (the end-to-end 408 is
   * {@code RequestBodyTimeoutTest}).
   */
  @Test
  void itHoldsTheChunksItIsGivenAndAllocatesNothing() {
    ReplayBuffer b = new ReplayBuffer();
    HttpContent c = chunk("abc");
    assertThat(b.add(c)).isFalse();
    assertThat(c.refCnt()).as("kept as given, not copied").isEqualTo(1);
    HttpContent d = b.duplicate(0);
    assertThat(d.content().memoryAddress() == c.content().memoryAddress() || !c.content().hasMemoryAddress())
        .as("a view of the same memory").isTrue();
    assertThat(text(d)).isEqualTo("abc");
    assertThat(b.receivedBytes()).isEqualTo(3);
    assertThat(b.hasRoom()).isTrue();
    b.release();
  }

  @Test
  void aBodyWithinTheLimitIsReplayedWholeByEveryAttempt() {
    ReplayBuffer b = new ReplayBuffer(10);
    assertThat(b.add(chunk("hello"))).isFalse();
    assertThat(b.add(chunk("world"))).as("exactly at the limit is still replayable").isFalse();

    for (int attempt = 0; attempt < 2; attempt++) {
      assertThat(text(b.duplicate(0)) + text(b.duplicate(1))).isEqualTo("helloworld");
    }
    assertThat(b.replayable()).isTrue();
    assertThat(b.size()).isEqualTo(2);
    assertThat(b.receivedBytes()).isEqualTo(10);
    assertThat(b.hasRoom()).isFalse();
    b.release();
    b.release(); // idempotent
    assertThat(b.size()).isZero();
  }

  @Test
  void theChunkThatPassesTheLimitEndsReplayAndChunksThenStreamOut() {
    ReplayBuffer b = new ReplayBuffer(8);
    b.add(chunk("abcde"));
    text(b.duplicate(0)); // the attempt wrote the first chunk
    assertThat(b.add(chunk("fghij"))).as("past the limit: no longer replayable").isTrue();
    assertThat(b.replayable()).isFalse();
    assertThat(b.add(chunk("k"))).as("reported once").isFalse();

    b.dropFirst(1); // what the attempt already wrote
    assertThat(b.size()).isEqualTo(2);
    assertThat(text(b.removeFirst())).isEqualTo("fghij");
    assertThat(b.hasRoom()).isTrue();
    assertThat(text(b.removeFirst())).isEqualTo("k");
    assertThat(b.size()).isZero();
    assertThat(b.receivedBytes()).as("counts what streamed too").isEqualTo(11);
  }

  @Test
  void roomIsWhatIsHeldNotWhatWasReceived() {
    ReplayBuffer b = new ReplayBuffer(4);
    b.add(chunk("abc"));
    assertThat(b.hasRoom()).isTrue();
    b.add(chunk("de"));
    assertThat(b.hasRoom()).isFalse();
    text(b.removeFirst());
    assertThat(b.hasRoom()).isTrue();
    b.release();
  }

  @Test
  void releaseFreesHeldChunksButNotDuplicatesAlreadyHandedOut() {
    ReplayBuffer b = new ReplayBuffer();
    b.add(chunk("x"));
    b.add(new DefaultLastHttpContent(PooledByteBufAllocator.DEFAULT.buffer().writeByte('y')));
    HttpContent written = b.duplicate(1);
    b.release();
    assertThat(written.refCnt()).as("an attempt's write still owns its duplicate").isEqualTo(1);
    assertThat(text(written)).isEqualTo("y");
  }

  @Test
  void theDefaultLimitIsOneMebibyteAndANegativeLimitIsRefused() {
    assertThat(ReplayBuffer.LIMIT_BYTES).isEqualTo(1024 * 1024);
    assertThatThrownBy(() -> new ReplayBuffer(-1)).hasMessage("limit: -1 (expected: >= 0)");
  }
}
