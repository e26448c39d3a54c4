package dev.trellis.bench;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.testing.TestPki;
import dev.trellis.mtls.tls.SvidSslContexts;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.mtls.tls.TlsProvider;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One full mutual TLS 1.3 handshake per operation, both ends in memory on the calling thread: the
 * client and server {@link SSLEngine}s exchange records through buffers until both finish, each side
 * verifying the other's X.509-SVID with Trellis's trust manager, then the client checks the server's
 * SPIFFE ID as {@code PeerIdentityHandler} does. No session resumption. One operation therefore costs
 * the CPU of both ends; a server alone does about half of it.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
@State(Scope.Benchmark)
public class MtlsHandshakeBenchmark {

  @Param({"BORINGSSL", "JDK"})
  public TlsProvider provider;

  private SslContext server;
  private SslContext client;
  private SpiffeId serverId;

  @Setup
  public void setUp() {
    TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    TlsOptions options = TlsOptions.defaults().withProvider(provider);
    var serverSvid = pki.issue("bench", "server");
    serverId = serverSvid.svid().id();
    server = SvidSslContexts.forServer(serverSvid, options, Clock.systemUTC());
    client = SvidSslContexts.forClient(pki.issue("bench", "client"), options, Clock.systemUTC());
  }

  /** Buffers per thread: a handshake needs a few KiB each way. */
  @State(Scope.Thread)
  public static class Buffers {
    final ByteBuffer clientToServer = ByteBuffer.allocateDirect(64 * 1024);
    final ByteBuffer serverToClient = ByteBuffer.allocateDirect(64 * 1024);
    final ByteBuffer appIn = ByteBuffer.allocateDirect(64 * 1024);
    final ByteBuffer empty = ByteBuffer.allocateDirect(0);
  }

  @Benchmark
  public SpiffeId handshake(Buffers b) throws Exception {
    SSLEngine c = client.newEngine(ByteBufAllocator.DEFAULT);
    SSLEngine s = server.newEngine(ByteBufAllocator.DEFAULT);
    try {
      b.clientToServer.clear();
      b.serverToClient.clear();
      c.beginHandshake();
      s.beginHandshake();
      for (int round = 0; !(done(c) && done(s)); round++) {
        if (round > 50) {
          throw new SSLException("handshake did not finish: client " + c.getHandshakeStatus() + ", server "
              + s.getHandshakeStatus());
        }
        step(c, b.empty, b.clientToServer, b.serverToClient, b.appIn);
        step(s, b.empty, b.serverToClient, b.clientToServer, b.appIn);
      }
      SpiffeId peer = X509Svid.spiffeIdOf((X509Certificate) c.getSession().getPeerCertificates()[0]);
      if (!peer.equals(serverId)) {
        throw new IllegalStateException("unexpected peer " + peer);
      }
      return peer;
    } finally {
      ReferenceCountUtil.release(c);
      ReferenceCountUtil.release(s);
    }
  }

  private static boolean done(SSLEngine e) {
    HandshakeStatus hs = e.getHandshakeStatus();
    return hs == HandshakeStatus.NOT_HANDSHAKING || hs == HandshakeStatus.FINISHED;
  }

  /** Lets {@code e} write what it wants into {@code out} and read what the peer wrote into {@code in}. */
  private static void step(SSLEngine e, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer app) throws SSLException {
    e.wrap(empty, out);
    runTasks(e);
    in.flip();
    while (in.hasRemaining()) {
      app.clear();
      var r = e.unwrap(in, app);
      runTasks(e);
      if (r.bytesConsumed() == 0) {
        break;
      }
    }
    in.compact();
    e.wrap(empty, out);
    runTasks(e);
  }

  private static void runTasks(SSLEngine e) {
    Runnable task;
    while ((task = e.getDelegatedTask()) != null) {
      task.run();
    }
  }
}
