package dev.trellis.proxy.http;

import static dev.trellis.proxy.testing.ProxyFixture.cluster;
import static dev.trellis.proxy.testing.ProxyFixture.mesh;
import static dev.trellis.proxy.testing.ProxyFixture.rule;
import static dev.trellis.proxy.testing.ProxyFixture.to;
import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.testing.H2Caller;
import dev.trellis.proxy.testing.ProxyFixture;
import dev.trellis.proxy.testing.RawHttp;
import dev.trellis.proxy.testing.RecordingBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A backend whose response header section is over the proxy's limits (by default Envoy's: 60 KiB, 100 headers) is
 * answered 502 with flag {@code UPE}, never a truncated or made-up response, and that upstream connection (HTTP/1.1)
 * or stream (HTTP/2) is closed; a head just inside the limits passes. Both caller protocols; an HTTP/2 caller's
 * upstream speaks HTTP/2 too.
 */
class UpstreamResponseLimitsTest {

  private static final String BACKEND = "127.0.73.44";

  private final ProxyFixture fx = new ProxyFixture();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
  /** What the raw backend learned of each connection after its answer: "closed" when the proxy closed it. */
  private final BlockingQueue<String> afterAnswer = new LinkedBlockingQueue<>();

  @AfterEach
  void close() {
    fx.close();
    pool.shutdownNow();
  }

  @Test
  void aResponseHeaderSectionOf300KibIsAnswered502UpeAndItsConnectionClosed() throws Exception {
    rawBackend(head(3, 100 * 1024)); // 300 KiB in three headers
    expect502FromRawBackend();
  }

  @Test
  void aResponseWith101HeadersIsAnswered502UpeAndItsConnectionClosed() throws Exception {
    rawBackend(head(101, 10));
    expect502FromRawBackend();
  }

  @Test
  void aResponseWithinTheLimitsPasses() throws Exception {
    rawBackend(head(98, 500)); // 98 headers + content-length + x-last = 100 headers, about 50 KiB
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).isEqualTo("ok");
      assertThat(r.header("x-last")).as("the whole head passed").isEqualTo("end");
    }
  }

  @Test
  void anHttp2ResponseWith101HeadersIsAnswered502Upe() throws Exception {
    h2Backend(101, 10);
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).isEqualTo(502);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UPE");
      assertThat(r.body()).startsWith("upstream sent a malformed response: ").contains("headers, more than 100 (--max-response-headers)");
    }
  }

  /** 62 KiB: the stream is refused; 300 KiB: the whole connection (the codec's go-away threshold is 75 KiB). */
  @ParameterizedTest
  @ValueSource(ints = {31, 150})
  void anHttp2ResponseHeaderSectionOver60KibIsAnswered502Upe(int kib) throws Exception {
    h2Backend(2, kib * 1024);
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).isEqualTo(502);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UPE");
      assertThat(r.body()).startsWith("upstream sent a malformed response: ");
    }
  }

  @Test
  void anHttp2ResponseWithinTheLimitsPasses() throws Exception {
    h2Backend(40, 100); // small enough for the caller's own 8 KiB header list limit
    try (H2Caller c = fx.h2Client()) {
      H2Caller.Response r = c.send("GET", "/");
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("ok");
    }
  }

  private void expect502FromRawBackend() throws Exception {
    try (RawHttp c = fx.client()) {
      RawHttp.Response r = c.get("/");
      assertThat(r.status()).as("never the upstream's 200, cut or whole").isEqualTo(502);
      assertThat(r.header("x-trellis-response-flags")).isEqualTo("UPE");
      assertThat(r.text()).startsWith("upstream sent a malformed response: ").doesNotContain("ok");
    }
    assertThat(afterAnswer.poll(10, TimeUnit.SECONDS)).as("the upstream connection").isEqualTo("closed");
  }

  /** A 200 "ok" head with {@code count} headers {@code x-h<i>} of {@code size} bytes each, then content-length. */
  private static String head(int count, int size) {
    StringBuilder b = new StringBuilder("HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < count; i++) {
      b.append("x-h").append(i).append(": ").append("v".repeat(size)).append("\r\n");
    }
    return b.append("x-last: end\r\nContent-Length: 2\r\n\r\nok").toString();
  }

  private void h2Backend(int count, int size) {
    RecordingBackend b = fx.recordingBackend(BACKEND);
    b.answerHeaders = h -> {
      for (int i = 0; i < count; i++) {
        h.add("x-h" + i, "v".repeat(size));
      }
    };
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(b.address()))));
  }

  /** A backend on {@link #BACKEND} that answers every request head with {@code raw}, then watches the connection. */
  private void rawBackend(String raw) throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getByName(BACKEND));
    fx.workload(BACKEND);
    pool.submit(() -> {
      try (s) {
        while (!Thread.currentThread().isInterrupted()) {
          Socket c = s.accept();
          pool.submit(() -> serve(c, raw));
        }
      }
      return null;
    });
    InetSocketAddress web = new InetSocketAddress(BACKEND, s.getLocalPort());
    fx.http(List.of(rule("all", "/", to("web"))), Map.of(cluster("web"), List.of(mesh(web))));
  }

  private Void serve(Socket c, String raw) throws IOException {
    try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
      while (RawHttp.readRequestHead(in)) {
        out.write(raw.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        c.setSoTimeout(10_000);
        if (!RawHttp.readRequestHead(in)) {
          afterAnswer.add("closed");
          return null;
        }
        afterAnswer.add("reused");
      }
    }
    return null;
  }

}
