package dev.trellis.proxy.testing;

import static org.awaitility.Awaitility.await;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.identity.CertificateManager;
import java.time.Clock;
import java.time.Duration;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;

/** Certificate managers for loopback tests: SVIDs issued by a test PKI, ALPN {@code h2}, TLS contexts ready. */
public final class TestCertificates {

  private TestCertificates() {}

  /** A manager tracking {@code ids}, returned once each has its TLS contexts. */
  public static CertificateManager ready(TestPki pki, ScheduledExecutorService executor, Set<SpiffeId> ids) {
    CertificateManager m = new CertificateManager(id -> CompletableFuture.completedFuture(
        pki.leaf(id.namespace().orElseThrow(), id.serviceAccount().orElseThrow()).issue()), executor,
        Clock.systemUTC(), TlsOptions.defaults().withAlpn("h2"),
        Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1), 2, 0, new Random()));
    m.track(ids);
    await().atMost(Duration.ofSeconds(10)).until(() -> ids.stream().allMatch(id -> {
      try {
        m.contexts(id).orElseThrow().serverContext();
        return true;
      } catch (RuntimeException e) {
        return false;
      }
    }));
    return m;
  }
}
