package dev.trellis.proxy.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the passive HTTP/1.x follower with a client's and a server's byte streams ({@link TwoWayInput}: the first line
 * says where the streams are cut). What it reports — heads, message ends with their sizes, giving up — must not depend
 * on how TCP happened to cut the bytes: each stream is scanned whole and cut, and the two reports must be equal. The
 * scanner never moves or changes the buffers it reads, never throws, and releases what it kept.
 */
class Http1ScannerFuzzTest {

  @FuzzTest
  void streams(byte[] input) {
    TwoWayInput in = TwoWayInput.parse(input);
    List<String> methods = new ArrayList<>();
    List<String> requestsWhole = scan(true, in.client(), new int[0], methods);
    List<String> requestsCut = scan(true, in.client(), in.cuts(), new ArrayList<>());
    assertThat(requestsCut).as("requests cut at %s", java.util.Arrays.toString(in.cuts())).isEqualTo(requestsWhole);
    List<String> responsesWhole = scan(false, in.server(), new int[0], new ArrayList<>(methods));
    List<String> responsesCut = scan(false, in.server(), in.cuts(), new ArrayList<>(methods));
    assertThat(responsesCut).as("responses cut at %s", java.util.Arrays.toString(in.cuts())).isEqualTo(responsesWhole);
  }

  /**
   * Scans {@code bytes} in pieces of the given sizes (in turn; none: whole); returns what the scanner reported. Request
   * methods are appended to {@code methods}; responses answer them in order.
   */
  private static List<String> scan(boolean requests, byte[] bytes, int[] cuts, List<String> methods) {
    TrackingAllocator alloc = new TrackingAllocator();
    Events events = new Events(requests, methods);
    Http1Scanner scanner = new Http1Scanner(requests, events, alloc);
    int k = 0;
    for (int i = 0; i < bytes.length; ) {
      int n = cuts.length == 0 ? bytes.length - i : Math.min(cuts[k++ % cuts.length], bytes.length - i);
      ByteBuf buf = alloc.copyOf(bytes, i, n);
      try {
        int reader = buf.readerIndex();
        int writer = buf.writerIndex();
        scanner.scan(buf);
        assertThat(buf.readerIndex()).isEqualTo(reader);
        assertThat(buf.writerIndex()).isEqualTo(writer);
        for (int j = 0; j < n; j++) {
          assertThat(buf.getByte(j)).isEqualTo(bytes[i + j]);
        }
      } finally {
        buf.release();
      }
      i += n;
    }
    scanner.close();
    alloc.assertAllReleased();
    return events.events;
  }

  /** Records what the scanner reports; frames responses by the methods of the requests they answer. */
  private static final class Events implements Http1Scanner.Listener {
    final List<String> events = new ArrayList<>();
    final boolean requests;
    final List<String> requestMethods;
    final ArrayDeque<String> pending;

    Events(boolean requests, List<String> methods) {
      this.requests = requests;
      this.requestMethods = methods;
      this.pending = new ArrayDeque<>(methods);
    }

    @Override
    public Http1Scanner.Framing onHead(Http1Scanner.Head head, ByteBuf buffer) {
      // Where a traceparent sits depends on the cut by contract; everything else must not.
      events.add("head " + new Http1Scanner.Head(head.method(), head.target(), head.status(), head.host(),
          head.contentType(), head.traceparent(), head.tracestate(), head.baggage(), head.contentLength(),
          head.transferEncoding(), -1));
      if (requests) {
        requestMethods.add(head.method());
        return Http1Scanner.Framing.ofRequest(head);
      }
      boolean interim = head.status() >= 100 && head.status() < 200 && head.status() != 101;
      String method = interim ? pending.peekFirst() : pending.pollFirst();
      return Http1Scanner.Framing.ofResponse(head, method);
    }

    @Override
    public void onMessageEnd(long bytes) {
      events.add("end " + bytes);
    }

    @Override
    public void onOpaque(String reason) {
      events.add("opaque " + reason);
    }
  }
}
