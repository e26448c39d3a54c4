package dev.trellis.cli;

import dev.trellis.ca.client.BearerTokenCredentials;
import dev.trellis.ca.client.CaClient;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.server.BearerAuthInterceptor;
import dev.trellis.ca.server.CertificateService;
import dev.trellis.ca.server.NodeAuthorizer;
import dev.trellis.ca.server.StaticTokenAuthenticator;
import dev.trellis.ca.server.StaticWorkloadDirectory;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.tls.SvidSslContexts;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.mtls.tls.TlsProvider;
import dev.trellis.mtls.verify.ExpectedPeers;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code trellis demo}: the identity layer end to end on this machine, with an embedded default
 * mesh (two nodes, three workloads). Every step is real: the CA serves gRPC on loopback, a "node"
 * authenticates with its token and obtains SVIDs with keys it generated, node authorization refuses
 * another node's workload, and two workloads complete a TLS 1.3 mutual handshake.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = {
    "Run the identity layer end to end on 127.0.0.1 with a built-in mesh:",
    "  node-1 runs shop/frontend and shop/backend; node-2 runs shop/payments.",
    "Starts the CA service, obtains SVIDs as node-1, shows node authorization and mTLS between workloads.",
    "SVIDs are written to <state-dir>/svids/; the CA root persists in <state-dir>/ca."})
final class DemoCommand implements Callable<Integer> {

  @Mixin CaOptions ca;
  @Spec CommandSpec spec;

  @Option(names = "--port", defaultValue = "0",
      description = "Port of the CA service on 127.0.0.1; 0 picks a free one (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--tls-provider", defaultValue = "AUTO",
      description = "TLS implementation for the mTLS step: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
  TlsProvider provider;

  private PrintWriter out;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    Clock clock = Clock.systemUTC();
    TrustDomain td = ca.trustDomain();
    SpiffeId frontend = SpiffeId.forWorkload(td, "shop", "frontend");
    SpiffeId backend = SpiffeId.forWorkload(td, "shop", "backend");
    SpiffeId payments = SpiffeId.forWorkload(td, "shop", "payments");

    boolean existed = ca.pluggedCa == null && new FileCaStore(ca.caDir()).load().isPresent();
    CertificateAuthority authority = ca.open(clock);
    step(1, (ca.pluggedCa != null ? "loaded plug-in CA" : existed ? "loaded the root CA" : "created a root CA")
        + " for trust domain " + td);
    detail(Describe.authority(authority.activeAuthority(), authority.activeAuthority().id()));
    detail("stored in " + ca.describeSource());

    String node1Token = newToken();
    String node2Token = newToken();
    Server server = startCa(authority, Map.of("node-1", node1Token, "node-2", node2Token),
        Map.of("node-1", Set.of(frontend, backend), "node-2", Set.of(payments)));
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
    try {
      step(2, "CA service listening on 127.0.0.1:" + server.getPort() + " (gRPC trellis.ca.v1.CertificateService, "
          + "plaintext as in local mode; callers authenticate with 'authorization: Bearer <node token>')");

      CaClient node1 = new CaClient(channel, BearerTokenCredentials.of(node1Token), Duration.ZERO, Duration.ofSeconds(10), clock);
      step(3, "node-1 generated keys, sent CSRs and received SVIDs for its workloads");
      IssuedSvid frontendSvid = obtain(node1, frontend);
      IssuedSvid backendSvid = obtain(node1, backend);

      step(4, "node authorization: node-1 asks for " + payments + ", which runs on node-2");
      try {
        obtain(node1, payments);
        return fail("the CA signed another node's identity; node authorization is broken");
      } catch (StatusRuntimeException e) {
        detail("refused as expected: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription());
      }

      TlsOptions options = TlsOptions.defaults().withProvider(provider);
      step(5, "mTLS: " + frontend + " -> " + backend + " over TLS 1.3 with " + provider.displayName());
      MtlsProbe.Result ok = MtlsProbe.exchange(SvidSslContexts.forServer(backendSvid, options, clock),
          ExpectedPeers.exactly(frontend), SvidSslContexts.forClient(frontendSvid, options, clock),
          ExpectedPeers.exactly(backend), "hello from frontend");
      if (ok.error() != null) {
        return fail("mTLS round trip failed: " + TrellisCli.describe(ok.error()));
      }
      detail("negotiated " + ok.protocol() + " " + ok.cipher());
      detail("client verified the server as " + ok.clientSawServer());
      detail("server verified the client as " + ok.serverSawClient());
      detail("echoed: \"" + ok.echoed() + "\"");

      step(6, "a client that expects " + payments + " at backend's address refuses to talk");
      MtlsProbe.Result refused = MtlsProbe.exchange(SvidSslContexts.forServer(backendSvid, options, clock),
          ExpectedPeers.anyVerified(), SvidSslContexts.forClient(frontendSvid, options, clock),
          ExpectedPeers.exactly(payments), "must not be sent");
      if (refused.error() == null) {
        return fail("the client accepted an unexpected peer identity");
      }
      detail("refused as expected: " + reasonOf(refused.error()));

      out.println();
      out.println("Done. Next:");
      out.println("  openssl x509 -noout -text -in " + svidDir(frontend).resolve(SvidFiles.CHAIN)
          + "   # inspect an SVID");
      out.println("  ./trellis ca show                  # the CA and its trust bundle");
      out.println("  ./trellis ca rotate stage          # begin a root rotation");
      return 0;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private Server startCa(CertificateAuthority authority, Map<String, String> tokens, Map<String, Set<SpiffeId>> workloads)
      throws IOException {
    try {
      return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
          .maxInboundMessageSize(256 * 1024)
          .addService(ServerInterceptors.intercept(
              new CertificateService(authority, new NodeAuthorizer(new StaticWorkloadDirectory(workloads))),
              new BearerAuthInterceptor(new StaticTokenAuthenticator(tokens))))
          .build().start();
    } catch (IOException e) {
      if (e.getCause() instanceof BindException || e instanceof BindException) {
        throw new IOException("port " + port + " on 127.0.0.1 is in use; pass --port 0 to pick a free one", e);
      }
      throw e;
    }
  }

  private IssuedSvid obtain(CaClient node, SpiffeId id) throws Exception {
    IssuedSvid issued;
    try {
      issued = node.fetchSvid(id).toCompletableFuture().get(15, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw e;
    }
    Path dir = svidDir(id);
    SvidFiles.write(dir, issued.svid(), issued.bundle(), id.trustDomain());
    detail(id + "  " + Describe.certificate(issued.svid().leaf()));
    detail("  -> " + dir + "/{" + SvidFiles.CHAIN + "," + SvidFiles.KEY + "," + SvidFiles.BUNDLE + "}");
    return issued;
  }

  private Path svidDir(SpiffeId id) {
    return ca.stateDir.resolve("svids").resolve(id.namespace().orElse("x") + "." + id.serviceAccount().orElse("x"));
  }

  private static String reasonOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof MtlsException m) {
        return m.reason() + ": " + m.getMessage();
      }
    }
    return TrellisCli.describe(t);
  }

  private static String newToken() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private void step(int n, String text) {
    out.println("[" + n + "] " + text);
  }

  private void detail(String text) {
    out.println("    " + text);
  }

  private int fail(String why) {
    spec.commandLine().getErr().println("demo FAILED: " + why);
    return 1;
  }
}
