package dev.trellis.mtls.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.testing.LoopbackMtls;
import dev.trellis.mtls.testing.LoopbackMtls.Outcome;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.verify.ExpectedPeers;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Real TLS 1.3 handshakes on loopback, with BoringSSL and with the JDK provider. */
class MtlsHandshakeTest {

  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;
  private static final SpiffeId SERVER = SpiffeId.forWorkload(TD, "shop", "backend");
  private static final SpiffeId CLIENT = SpiffeId.forWorkload(TD, "shop", "frontend");

  private final TestPki pki = TestPki.newRoot(TD);
  private final Clock clock = Clock.systemUTC();

  @Test
  void boringSslIsAvailableOnThisPlatform() {
    assertThat(OpenSsl.isAvailable()).as("netty-tcnative: %s", OpenSsl.unavailabilityCause()).isTrue();
    assertThat(TlsProvider.AUTO.resolve()).isEqualTo(io.netty.handler.ssl.SslProvider.OPENSSL);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void mutualHandshakeVerifiesBothIdentitiesOverTls13(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    try (LoopbackMtls loop = server(pki.issue("shop", "backend"), options, ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "ping");
      assertThat(o.clientError()).isNull();
      assertThat(o.echoed()).isEqualTo("ping");
      assertThat(o.clientSawServer()).isEqualTo(SERVER);
      assertThat(o.serverSawClient()).isEqualTo(CLIENT);
      assertThat(o.protocol()).isEqualTo("TLSv1.3");
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void intermediateChainsVerify(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    TestPki intermediate = pki.newIntermediate();
    try (LoopbackMtls loop = server(intermediate.issue("shop", "backend"), options, ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(client(intermediate.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "x");
      assertThat(o.ok()).as("%s", o.clientError()).isTrue();
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void negotiatesAlpn(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider).withAlpn("h2");
    try (LoopbackMtls loop = server(pki.issue("shop", "backend"), options, ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "x");
      assertThat(o.alpn()).isEqualTo("h2");
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void serverRejectsExpiredClientCertificate(TlsProvider provider) {
    Instant now = Instant.now();
    assertServerRejectsClient(provider,
        pki.leaf("shop", "frontend").validity(now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))).mint(),
        Reason.EXPIRED);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void clientRejectsNotYetValidServerCertificate(TlsProvider provider) {
    Instant now = Instant.now();
    assertClientRejectsServer(provider,
        pki.leaf("shop", "backend").validity(now.plus(Duration.ofHours(1)), now.plus(Duration.ofDays(1))).mint(),
        Reason.NOT_YET_VALID);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void serverRejectsClientFromAnotherTrustDomain(TlsProvider provider) {
    TestPki foreign = TestPki.newRoot(TrustDomain.of("other.example"));
    assertServerRejectsClient(provider, foreign.leaf("shop", "frontend").mint(), Reason.FOREIGN_TRUST_DOMAIN);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void serverRejectsClientWithoutUriSan(TlsProvider provider) {
    assertServerRejectsClient(provider, pki.leaf().mint(), Reason.NO_URI_SAN);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void serverRejectsClientWithSeveralUriSans(TlsProvider provider) {
    assertServerRejectsClient(provider,
        pki.leaf().uris(CLIENT.toString(), "spiffe://cluster.local/ns/shop/sa/admin").mint(), Reason.MULTIPLE_URI_SANS);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void clientRejectsCaCertificateUsedAsServerLeaf(TlsProvider provider) {
    assertClientRejectsServer(provider, pki.leaf("shop", "backend").ca().mint(), Reason.NOT_A_LEAF);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void clientRejectsServerUnderAnUntrustedRoot(TlsProvider provider) {
    TestPki impostor = TestPki.newRoot(TD);
    assertClientRejectsServer(provider, impostor.leaf("shop", "backend").mint(), Reason.UNTRUSTED_CHAIN);
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void clientRejectsServerWithAnotherValidIdentityAndSendsNothing(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    try (LoopbackMtls loop = server(pki.issue("shop", "payments"), options, ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "secret");
      assertThat(o.ok()).isFalse();
      assertThat(o.clientMtlsError().reason()).isEqualTo(Reason.UNEXPECTED_PEER_IDENTITY);
      assertThat(o.clientMtlsError()).hasMessageContaining(
          "peer identity spiffe://cluster.local/ns/shop/sa/payments is not the expected spiffe://cluster.local/ns/shop/sa/backend");
      assertThat(loop.serverReads()).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void serverRejectsClientIdentityItDoesNotExpect(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    try (LoopbackMtls loop = server(pki.issue("shop", "backend"), options, ExpectedPeers.exactly(CLIENT))) {
      Outcome o = loop.exchange(client(pki.issue("shop", "intruder"), options), ExpectedPeers.exactly(SERVER), "secret");
      assertThat(o.ok()).isFalse();
      assertThat(o.serverMtlsError().reason()).isEqualTo(Reason.UNEXPECTED_PEER_IDENTITY);
      assertThat(loop.serverReads()).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void rotationAppliesToNewHandshakesAndLeavesEstablishedConnectionsAlone(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    RotatingTlsContexts contexts = new RotatingTlsContexts(SERVER, options, clock);
    IssuedSvid first = pki.issue("shop", "backend");
    IssuedSvid second = pki.issue("shop", "backend");
    contexts.onSvidUpdate(first);
    try (LoopbackMtls loop = new LoopbackMtls(ch -> contexts.newServerHandler(ch.alloc()), ExpectedPeers.anyVerified())) {
      Channel established = loop.connectAndKeep(client(pki.issue("shop", "frontend"), options),
          ExpectedPeers.exactly(SERVER), "one");
      assertThat(LoopbackMtls.serverSerial(established)).isEqualTo(first.svid().leaf().getSerialNumber());

      contexts.onSvidUpdate(second);

      Outcome fresh = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "two");
      assertThat(fresh.ok()).isTrue();
      assertThat(fresh.serverSerial()).isEqualTo(second.svid().leaf().getSerialNumber());
      assertThat(LoopbackMtls.exchangeAgain(established, "still here")).isEqualTo("still here");
      established.close().syncUninterruptibly();
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void handshakeInFlightDuringRotationCompletesWithTheSvidItStartedWith(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    RotatingTlsContexts contexts = new RotatingTlsContexts(SERVER, options, clock);
    IssuedSvid first = pki.issue("shop", "backend");
    IssuedSvid second = pki.issue("shop", "backend");
    contexts.onSvidUpdate(first);
    AtomicBoolean rotated = new AtomicBoolean();
    // Rotate right after the first connection's SslHandler exists and before its handshake runs.
    try (LoopbackMtls loop = new LoopbackMtls(ch -> contexts.newServerHandler(ch.alloc()), ExpectedPeers.anyVerified(),
        ch -> {
          if (rotated.compareAndSet(false, true)) {
            contexts.onSvidUpdate(second);
          }
        })) {
      Outcome during = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "a");
      Outcome after = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "b");
      assertThat(during.ok()).isTrue();
      assertThat(during.serverSerial()).isEqualTo(first.svid().leaf().getSerialNumber());
      assertThat(after.serverSerial()).isEqualTo(second.svid().leaf().getSerialNumber());
    }
  }

  @ParameterizedTest
  @EnumSource(value = TlsProvider.class, names = {"BORINGSSL", "JDK"})
  void rootRotationTrustsLeavesOfBothRootsOnceTheBundleHasBoth(TlsProvider provider) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    TestPki next = TestPki.newRoot(TD);
    IssuedSvid serverSvid = pki.issue("shop", "backend");
    IssuedSvid serverWithBoth = new IssuedSvid(serverSvid.svid(), serverSvid.bundle().with(TD, List.of(pki.root(), next.root())));
    try (LoopbackMtls loop = server(serverWithBoth, options, ExpectedPeers.anyVerified())) {
      IssuedSvid clientOfNewRoot = next.leaf("shop", "frontend").issue();
      IssuedSvid clientOfNewRootTrustingBoth = new IssuedSvid(clientOfNewRoot.svid(), serverWithBoth.bundle());
      assertThat(loop.exchange(client(clientOfNewRootTrustingBoth, options), ExpectedPeers.exactly(SERVER), "x").ok()).isTrue();
      assertThat(loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.exactly(SERVER), "y").ok()).isTrue();
    }
  }

  @Test
  void noSvidYetFailsClosedForNewConnections() {
    RotatingTlsContexts contexts = new RotatingTlsContexts(SERVER, TlsOptions.defaults(), clock);
    assertThatThrownBy(() -> contexts.newServerHandler(ByteBufAllocator.DEFAULT))
        .isInstanceOfSatisfying(MtlsException.class, e -> assertThat(e.reason()).isEqualTo(Reason.SVID_UNAVAILABLE))
        .hasMessageContaining("no SVID has been issued for spiffe://cluster.local/ns/shop/sa/backend yet");
    contexts.onSvidUpdate(pki.issue("shop", "backend"));
    assertThat(contexts.serverContext()).isNotNull();
    contexts.onSvidUnavailable(new MtlsException(Reason.SVID_UNAVAILABLE, "expired and not renewed"));
    assertThatThrownBy(() -> contexts.newClientHandler(ByteBufAllocator.DEFAULT)).hasMessage("expired and not renewed");
  }

  @Test
  void contextsIgnoreAnSvidOfAnotherIdentity() {
    RotatingTlsContexts contexts = new RotatingTlsContexts(SERVER, TlsOptions.defaults(), clock);
    contexts.onSvidUpdate(pki.issue("shop", "someone-else"));
    assertThatThrownBy(contexts::serverContext).isInstanceOf(MtlsException.class);
  }

  @Test
  void optionsRejectUnknownProtocols() {
    assertThatThrownBy(() -> TlsOptions.defaults().withProtocols("SSLv3"))
        .hasMessage("protocols: 'SSLv3' (expected: one of [TLSv1.2, TLSv1.3])".replace("[TLSv1.2, TLSv1.3]",
            java.util.Set.of("TLSv1.2", "TLSv1.3").toString()));
  }

  // ---- helpers

  private void assertServerRejectsClient(TlsProvider provider, TestPki.Minted badClient, Reason reason) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    try (LoopbackMtls loop = server(pki.issue("shop", "backend"), options, ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(rawClient(badClient, provider), ExpectedPeers.anyVerified(), "secret");
      assertThat(o.ok()).isFalse();
      assertThat(o.serverMtlsError()).as("server error: %s", o.serverError()).isNotNull();
      assertThat(o.serverMtlsError().reason()).isEqualTo(reason);
      assertThat(loop.serverReads()).isEmpty();
    }
  }

  private void assertClientRejectsServer(TlsProvider provider, TestPki.Minted badServer, Reason reason) {
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    SslContext raw = rawServerContext(badServer, provider);
    try (LoopbackMtls loop = new LoopbackMtls(ch -> raw.newHandler(ch.alloc()), ExpectedPeers.anyVerified())) {
      Outcome o = loop.exchange(client(pki.issue("shop", "frontend"), options), ExpectedPeers.anyVerified(), "secret");
      assertThat(o.ok()).isFalse();
      assertThat(o.clientMtlsError()).as("client error: %s", o.clientError()).isNotNull();
      assertThat(o.clientMtlsError().reason()).isEqualTo(reason);
      assertThat(loop.serverReads()).isEmpty();
    }
  }

  private LoopbackMtls server(IssuedSvid svid, TlsOptions options, ExpectedPeers expects) {
    SslContext ctx = SvidSslContexts.forServer(svid, options, clock);
    return new LoopbackMtls(ch -> ctx.newHandler(ch.alloc()), expects);
  }

  private io.netty.handler.ssl.SslHandler client(IssuedSvid svid, TlsOptions options) {
    return SvidSslContexts.forClient(svid, options, clock).newHandler(ByteBufAllocator.DEFAULT);
  }

  /** A client that presents any certificate and trusts anything: the server alone must catch the problem. */
  private static io.netty.handler.ssl.SslHandler rawClient(TestPki.Minted m, TlsProvider provider) {
    try {
      return SslContextBuilder.forClient().keyManager(m.key(), m.chain().toArray(X509Certificate[]::new))
          .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null)
          .sslProvider(provider.resolve()).protocols("TLSv1.3").build().newHandler(ByteBufAllocator.DEFAULT);
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static SslContext rawServerContext(TestPki.Minted m, TlsProvider provider) {
    try {
      return SslContextBuilder.forServer(m.key(), m.chain().toArray(X509Certificate[]::new))
          .trustManager(InsecureTrustManagerFactory.INSTANCE).clientAuth(ClientAuth.REQUIRE)
          .sslProvider(provider.resolve()).protocols("TLSv1.3").build();
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalStateException(e);
    }
  }
}
