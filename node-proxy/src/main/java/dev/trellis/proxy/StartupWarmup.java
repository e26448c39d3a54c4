package dev.trellis.proxy;

import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mesh.v1.Workload;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.netty.handler.ssl.OpenSsl;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work every node proxy start does on its way to ready, begun at {@code main} on two threads of its own so that it
 * overlaps the rest of the start instead of adding to it: building the Envoy API's protobuf descriptors (hundreds of
 * generated files, ~0.4-0.9 s on a cold JVM), and loading BoringSSL and Bouncy Castle's CSR path (~0.6-1.5 s). Without
 * it each comes in turn: the descriptors when the xDS client starts, the CSR classes once the configuration names the
 * local identities, BoringSSL when the first SVID arrives.
 *
 * <p>The proxy waits for each part before it first needs it ({@link #awaitXds}, {@link #awaitCrypto}), so no class is
 * initialized from two threads at once (protobuf's generated classes and their extensions are not safe to race). A
 * failure here only logs at DEBUG: the same code runs again on the real path, where its error is reported.
 */
final class StartupWarmup {

  private static final Logger log = LoggerFactory.getLogger(StartupWarmup.class);

  /** A warm-up that did nothing: a proxy started from tests or embedded. */
  static final StartupWarmup NONE = new StartupWarmup(CompletableFuture.completedFuture(null),
      CompletableFuture.completedFuture(null));

  private final CompletableFuture<Void> xds;
  private final CompletableFuture<Void> crypto;

  private StartupWarmup(CompletableFuture<Void> xds, CompletableFuture<Void> crypto) {
    this.xds = xds;
    this.crypto = crypto;
  }

  /** Starts both parts, each on a daemon thread of its own. */
  static StartupWarmup start() {
    return new StartupWarmup(run("trellis-warmup-xds", StartupWarmup::xds),
        run("trellis-warmup-crypto", StartupWarmup::crypto));
  }

  /** Before the xDS client starts. */
  void awaitXds() {
    xds.join();
  }

  /** Before the first key, CSR or TLS context. */
  void awaitCrypto() {
    crypto.join();
  }

  private static void xds() {
    Node.getDescriptor();
    DiscoveryRequest.getDescriptor();
    Listener.getDescriptor();
    Cluster.getDescriptor();
    ClusterLoadAssignment.getDescriptor();
    RouteConfiguration.getDescriptor();
    Secret.getDescriptor();
    Workload.getDescriptor();
    HttpConnectionManager.getDescriptor();
    TcpProxy.getDescriptor();
  }

  private static void crypto() {
    OpenSsl.isAvailable();
    CsrBuilder.csrPem(SpiffeId.parse("spiffe://warmup.invalid/ns/warmup/sa/warmup"), CsrBuilder.newKeyPair());
  }

  /** Runs {@code work} on a daemon thread named {@code name}; completes when it ends, normally or not. */
  static CompletableFuture<Void> run(String name, Runnable work) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread.ofPlatform().name(name).daemon().start(() -> {
      try {
        work.run();
      } catch (RuntimeException e) {
        log.debug("{} failed (the real start reports its own error): {}", name, e.toString());
      } finally {
        done.complete(null);
      }
    });
    return done;
  }
}
