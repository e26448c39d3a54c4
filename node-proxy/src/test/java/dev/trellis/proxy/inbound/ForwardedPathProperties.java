package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.Backoff;
import dev.trellis.mtls.tls.TlsOptions;
import dev.trellis.proxy.cluster.Clusters;
import dev.trellis.proxy.http.HttpLimits;
import dev.trellis.proxy.http.MethodNormalizer;
import dev.trellis.proxy.http.PathNormalizer;
import dev.trellis.proxy.http.PathNormalizerProperties;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.inbound.Authorization;
import dev.trellis.proxy.inbound.HttpInspection;
import dev.trellis.proxy.outbound.HboneDialing;
import dev.trellis.proxy.outbound.OutboundServices;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.PathNormalization;
import dev.trellis.proxy.state.ProxyConfig;
import dev.trellis.proxy.testing.LeakRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Issue 16's property through the destination's real handlers ({@link HttpInspection} on {@code EmbeddedChannel}s:
 * the caller's stream and the workload's connection): for any request target and method, if
 * {@code authorize(normalize(p))} allows, the bytes the workload receives are exactly {@code METHOD normalize(p)};
 * otherwise the workload receives nothing and the caller gets 400 (not normalizable) or 403 (denied).
 */
class ForwardedPathProperties {

  static final SpiffeId CALLER = SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client");
  static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web");
  static final List<AuthorizationSpec> DENY = List.of(
      new AuthorizationSpec("d/no-admin", AuthorizationSpec.Action.DENY,
          List.of(new AuthorizationSpec.Rule(Set.of(), Set.of(), Set.of(), Set.of(), List.of("/admin", "/admin/*")))),
      new AuthorizationSpec("d/no-delete", AuthorizationSpec.Action.DENY,
          List.of(new AuthorizationSpec.Rule(Set.of(), Set.of(), Set.of(), Set.of("DELETE"), List.of()))));
  static final LocalWorkload TARGET = new LocalWorkload("d/web-0", "d", WEB, List.of("127.0.0.1"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of(), DENY, Map.of(8080, "http"));

  private static final ScheduledExecutorService EXECUTOR = Executors.newSingleThreadScheduledExecutor();
  private static final CertificateManager CERTIFICATES = new CertificateManager(
      id -> new CompletableFuture<>(), EXECUTOR, Clock.systemUTC(), TlsOptions.defaults(),
      Backoff.exponential(Duration.ofMillis(100), Duration.ofSeconds(1), 2, 0, new Random()));

  @AfterContainer
  static void close() {
    CERTIFICATES.close();
    EXECUTOR.shutdownNow();
    LeakRecorder.assertNoLeaks();
  }

  @Provide
  Arbitrary<String> targets() {
    // A request line cannot carry CR or LF, and whitespace around the target is the request line's, not the target's;
    // every other piece is fair game.
    return PathNormalizerProperties.targets()
        .filter(t -> t.indexOf('\n') < 0 && t.indexOf('\r') < 0 && t.strip().equals(t));
  }

  @Provide
  Arbitrary<String> methods() {
    return Arbitraries.of("GET", "get", "Get", "POST", "DELETE", "delete", "DeLeTe", "PATCH");
  }

  @Provide
  Arbitrary<PathNormalization> options() {
    return PathNormalizerProperties.options();
  }

  /** What the destination's pure functions decide: "fwd METHOD TARGET", "400" or "403". */
  static String decide(String method, String target, PathNormalization options) {
    String m = MethodNormalizer.normalize(method);
    if (m == null) {
      return "400";
    }
    return switch (PathNormalizer.normalize(target, options)) {
      case PathNormalizer.Refused r -> "400";
      case PathNormalizer.Normalized n -> Authorization.evaluate(DENY, CALLER, 8080, m, n.path())
          instanceof Authorization.Allow ? "fwd " + m + " " + n.uri() : "403";
    };
  }

  @Property(tries = 1000)
  void theWorkloadReceivesExactlyTheNormalizedPathThatWasAuthorized(@ForAll("methods") String method,
      @ForAll("targets") String target, @ForAll("options") PathNormalization options) {
    AtomicReference<ProxyConfig> config = new AtomicReference<>(new ProxyConfig(1, List.of(), Map.of(), Map.of(),
        Map.of(), Map.of("127.0.0.1", TARGET), options));
    OutboundServices services = new OutboundServices(config::get, new Clusters(), CERTIFICATES,
        HboneDialing.nodeAddresses(15008), 1000, System::nanoTime, HttpLimits.DEFAULTS);
    HttpInspection inspection = new HttpInspection(services);
    EmbeddedChannel caller = new EmbeddedChannel();
    EmbeddedChannel workload = new EmbeddedChannel();
    try {
      inspection.inspect(caller, workload, TARGET, CALLER, "127.0.0.1", 8080);
      caller.writeInbound(Unpooled.copiedBuffer(method + " " + target + " HTTP/1.1\r\nHost: web\r\n\r\n",
          StandardCharsets.ISO_8859_1));
      String forwarded = drain(workload);
      String expected = decide(method, target, options);
      Statistics.label("outcome").collect(expected.startsWith("fwd") ? "forwarded" : expected)
          .coverage(c -> {
            c.check("forwarded").percentage(p -> p > 15);
            c.check("400").percentage(p -> p > 15);
            c.check("403").percentage(p -> p > 5);
          });
      if (forwarded.isEmpty()) {
        String answer = drain(caller);
        assertThat(answer).as("refused, not forwarded").matches("(?s)HTTP/1\\.1 (400|403) .*");
        if (!expected.startsWith("fwd")) {
          assertThat(answer).startsWith("HTTP/1.1 " + expected + " ");
        } else {
          // The pure decision forwards; only Netty's request-line parser may refuse first (e.g. a space splits it).
          assertThat(target).containsAnyOf(" ", "\t");
          assertThat(answer).startsWith("HTTP/1.1 400 ");
        }
      } else {
        String line = forwarded.substring(0, forwarded.indexOf("\r\n"));
        assertThat("fwd " + line).isEqualTo(expected + " HTTP/1.1");
        assertThat(forwarded).contains("\r\nx-forwarded-client-cert: By=" + WEB + ";URI=" + CALLER + "\r\n");
        workload.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 204 No Content\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(drain(caller)).startsWith("HTTP/1.1 204 ");
      }
    } finally {
      inspection.close();
      caller.finishAndReleaseAll();
      workload.finishAndReleaseAll();
      caller.runPendingTasks();
    }
  }

  /** Everything written out on {@code ch} so far, as text; the buffers are released. */
  private static String drain(EmbeddedChannel ch) {
    ch.runPendingTasks();
    StringBuilder b = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      if (o instanceof ByteBuf buf) {
        b.append(buf.toString(StandardCharsets.ISO_8859_1));
      }
      io.netty.util.ReferenceCountUtil.release(o);
    }
    return b.toString();
  }
}
