package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.LogCapture;
import dev.trellis.proxy.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Unauthenticated input to the HBONE port costs the node proxy one counter increment per attempt and at most one
 * log line per kind of refusal per window — never a stack trace. Reproduces issue 16's report (one ClientHello
 * without SNI wrote 184–196 lines of stack traces) on a real socket, with the log backend's output captured.
 */
class HboneRefusalsTest {

  static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  static final SpiffeId WEB = SpiffeId.forWorkload(TD, "d", "web");
  static final String NODE = "127.0.74.1";
  static final String WEB_ADDRESS = "127.0.74.10";
  static final int ATTEMPTS = 100;

  private final TestPki pki = TestPki.newRoot(TD);
  private final EventLoopGroup group = Transport.newGroup(2, "trellis-proxy");
  private final ScheduledExecutorService certExecutor = Executors.newSingleThreadScheduledExecutor();
  /** Frozen: every attempt falls in one rate-limiting window. */
  private final AtomicLong ticker = new AtomicLong(1_000_000_000L);
  private final Refusals refusals = new Refusals(ticker::get);
  private CertificateManager certificates;
  private HboneServer server;

  @BeforeEach
  void certificates() {
    certificates = new CertificateManager(id -> CompletableFuture.completedFuture(
        pki.leaf(id.namespace().orElseThrow(), id.serviceAccount().orElseThrow()).issue()), certExecutor,
        Clock.systemUTC(), TlsOptions.defaults().withAlpn("h2"),
        Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1), 2, 0, new Random()));
    certificates.track(Set.of(WEB));
    await().atMost(Duration.ofSeconds(10)).until(() -> certificates.status().values().stream()
        .allMatch(CertificateManager.IdentityStatus::ready) && certificates.status().size() == 1);
  }

  private InetSocketAddress start(String listen) {
    LocalWorkload web = new LocalWorkload("d/web-0", "d", WEB, List.of(WEB_ADDRESS), true,
        LocalWorkload.MtlsMode.STRICT, Map.of());
    ProxyConfig config = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(), Map.of(WEB_ADDRESS, web));
    server = HboneServer.start(group, new InetSocketAddress(listen, 0), () -> config, certificates, TD,
        Set.of(15001, 15006, 15008, 15020), null, new InboundRecords(10), refusals, Clock.systemUTC());
    return server.address();
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    certificates.close();
    certExecutor.shutdownNow();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    LeakRecorder.assertNoLeaks();
  }

  @Test
  void hostileFirstBytesAtTheNodeAddressAreCountedAndLoggedOncePerReasonWithoutStackTraces() throws Exception {
    InetSocketAddress hbone = start(NODE);
    try (LogCapture logs = LogCapture.start()) {
      attempts(Refusal.NO_SNI, () -> clientHello(hbone, null));
      attempts(Refusal.UNKNOWN_SNI, () -> clientHello(hbone, "evil.example.com"));
      attempts(Refusal.UNKNOWN_SNI, () -> clientHello(hbone, "db.d.id.trellis")); // well-formed, not on this node
      attempts(Refusal.NOT_TLS, () -> raw(hbone, "GET / HTTP/1.1\r\nHost: web\r\n\r\n".getBytes(StandardCharsets.UTF_8)));
      attempts(Refusal.NOT_TLS, () -> raw(hbone, garbage()));

      assertThat(refusals.counts()).isEqualTo(Map.of("hbone", Map.of("no_sni", 100L, "unknown_sni", 200L,
          "not_tls", 200L)));
      assertQuiet(logs.lines(), Refusal.NO_SNI, Refusal.UNKNOWN_SNI, Refusal.NOT_TLS);
    }
  }

  @Test
  void atAWorkloadAddressTheDialedWorkloadsCertificateIsPresentedAndFailedHandshakesAreQuietToo() throws Exception {
    InetSocketAddress hbone = start(WEB_ADDRESS); // capture mode: the pod's address picks the certificate
    try (LogCapture logs = LogCapture.start()) {
      attempts(Refusal.TLS_HANDSHAKE, () -> clientHello(hbone, null)); // no client certificate: mTLS refuses
      attempts(Refusal.NOT_TLS, () -> raw(hbone, garbage()));

      assertThat(refusals.counts()).isEqualTo(Map.of("hbone", Map.of("tls_handshake", 100L, "not_tls", 100L)));
      assertQuiet(logs.lines(), Refusal.TLS_HANDSHAKE, Refusal.NOT_TLS);
    }
  }

  /** One line per reason, naming it; nothing else — no stack frame, no exception, no Netty warning. */
  private static void assertQuiet(List<String> lines, Refusal... reasons) {
    assertThat(lines).as("what the log backend wrote").hasSize(reasons.length);
    for (Refusal r : reasons) {
      assertThat(lines).as("lines for %s", r).filteredOn(l -> l.contains("[hbone] refused") && l.contains(": "
          + r.label() + ": ")).hasSize(1);
    }
    assertThat(lines).noneMatch(l -> l.startsWith("\tat ") || l.contains("Exception:") && !l.contains("refused"));
  }

  @FunctionalInterface
  interface Attempt {
    void run() throws Exception;
  }

  private void attempts(Refusal reason, Attempt attempt) throws Exception {
    long before = refusals.count(Refusal.Listener.HBONE, reason);
    for (int i = 0; i < ATTEMPTS; i++) {
      attempt.run();
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(refusals.count(Refusal.Listener.HBONE, reason) - before).isEqualTo(ATTEMPTS));
  }

  /** A TLS 1.3 ClientHello with that server name (none when null) and no client certificate; waits for the end. */
  private static void clientHello(InetSocketAddress to, String sni) throws Exception {
    SSLContext ctx = SSLContext.getInstance("TLSv1.3");
    ctx.init(null, new TrustManager[] {new TrustingEverything()}, null);
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
      s.connect(to, 2000);
      s.setSoTimeout(5000);
      SSLParameters p = s.getSSLParameters();
      p.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
      p.setApplicationProtocols(new String[] {"h2"});
      s.setSSLParameters(p);
      try {
        s.startHandshake();
        s.getInputStream().read(); // TLS 1.3: the server's verdict on the client certificate comes after
      } catch (IOException expected) {
        // refused, as it must be
      }
    }
  }

  /** Writes {@code bytes} and reads until the server closes. */
  private static void raw(InetSocketAddress to, byte[] bytes) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(to, 2000);
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      out.write(bytes);
      out.flush();
      InputStream in = s.getInputStream();
      try {
        while (in.read() >= 0) {
          // drain
        }
      } catch (IOException closed) {
        // reset by the server: closed all the same
      }
    }
  }

  private static byte[] garbage() {
    byte[] b = new byte[64];
    new Random(16).nextBytes(b);
    b[0] = 0x17; // application data: a TLS record type, so it is the rest of the record that is wrong
    b[1] = (byte) 0xee; // no SSL/TLS version
    return b;
  }

  private static final class TrustingEverything implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
