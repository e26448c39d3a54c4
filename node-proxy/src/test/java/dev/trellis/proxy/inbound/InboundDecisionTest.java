package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.ProxyConfig;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class InboundDecisionTest {

  static final SpiffeId PEER = SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client");
  static final AuthorizationSpec DENY_8443 = new AuthorizationSpec("d/admins-only", AuthorizationSpec.Action.DENY,
      List.of(new AuthorizationSpec.Rule(Set.of(), Set.of(), Set.of(8443), Set.of(), List.of())));
  static final AuthorizationSpec NO_DELETE = new AuthorizationSpec("d/no-delete", AuthorizationSpec.Action.DENY,
      List.of(new AuthorizationSpec.Rule(Set.of(), Set.of(), Set.of(), Set.of("DELETE"), List.of())));
  static final LocalWorkload WEB = new LocalWorkload("d/web-0", "d", SpiffeId.parse("spiffe://cluster.local/ns/d/sa/web"),
      List.of("127.0.2.10"), true, LocalWorkload.MtlsMode.STRICT, Map.of(), List.of(DENY_8443, NO_DELETE),
      Map.of(8080, "http", 5432, "tcp"));
  static final LocalWorkload OPEN = new LocalWorkload("d/open-0", "d", SpiffeId.parse("spiffe://cluster.local/ns/d/sa/open"),
      List.of("127.0.2.20"), true, LocalWorkload.MtlsMode.PERMISSIVE, Map.of());
  /** Another workload with web's identity (the same service account). */
  static final LocalWorkload WEB_1 = new LocalWorkload("d/web-1", "d", WEB.identity(), List.of("127.0.2.11"), true,
      LocalWorkload.MtlsMode.STRICT, Map.of());
  static final ProxyConfig CONFIG = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(),
      Map.of("127.0.2.10", WEB, "127.0.2.11", WEB_1, "127.0.2.20", OPEN));
  static final Set<Integer> OWN = Set.of(15001, 15006, 15008, 15020);

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource(delimiter = '|', textBlock = """
      CONNECT | 127.0.2.10:8080  | forward | 127.0.2.10:8080                                       |
      GET     | 127.0.2.10:8080  | 400     | method GET is not accepted                            | NOT_CONNECT
      CONNECT | web:8080         | 400     | authority 'web:8080' is not <ip>:<port>               | BAD_AUTHORITY
      CONNECT | 127.0.2.10       | 400     | is not <ip>:<port>                                    | BAD_AUTHORITY
      CONNECT | 127.0.2.10:0     | 400     | is not <ip>:<port>                                    | BAD_AUTHORITY
      CONNECT | 127.0.2.10:99999 | 400     | is not <ip>:<port>                                    | BAD_AUTHORITY
      CONNECT | 127.0.2.12:8080  | 400     | no workload with address 127.0.2.12 runs on this node | NO_WORKLOAD
      CONNECT | 127.0.2.20:8080  | 400     | workload d/open-0 has identity spiffe://cluster.local/ns/d/sa/open, but this connection presented spiffe://cluster.local/ns/d/sa/web | IDENTITY_MISMATCH
      CONNECT | 127.0.2.10:15008 | 400     | port 15008 belongs to the node proxy itself           | PROXY_PORT
      CONNECT | 127.0.2.10:15020 | 400     | port 15020 belongs to the node proxy itself           | PROXY_PORT
      CONNECT | 127.0.2.10:8443  | 401     | denied by policy d/admins-only                        | DENIED
      CONNECT | 127.0.2.10:5432  | 401     | port 5432 is not declared as an HTTP port             | DENIED
      """)
  void checksHappenInTheHboneOrder(String method, String authority, String outcome, String detail, Refusal refusal) {
    // The connection presented web's certificate (SNI web.d.id.trellis, or dialed at web's address).
    InboundDecision d = InboundDecision.decide(method, authority, PEER, WEB.identity(), CONFIG, OWN);
    if (outcome.equals("forward")) {
      assertThat(d).isInstanceOfSatisfying(InboundDecision.Forward.class, f -> {
        assertThat(f.address() + ":" + f.port()).isEqualTo(detail);
        assertThat(f.target()).isEqualTo(WEB);
        assertThat(f.inspection()).as("a DENY rule on a method needs each request checked")
            .isEqualTo(InboundDecision.Inspection.HTTP);
      });
    } else {
      assertThat(d).isInstanceOfSatisfying(InboundDecision.Reject.class, r -> {
        assertThat(r.status()).isEqualTo(Integer.parseInt(outcome));
        assertThat(r.reason()).contains(detail);
        assertThat(r.refusal()).isEqualTo(refusal);
      });
    }
  }

  /**
   * Issue 16, item 7: the certificate a connection presented is the identity the caller verified, so a stream on it
   * reaches only workloads with that identity — the dialed one, or another with the same service account.
   */
  @ParameterizedTest(name = "presented {0}, CONNECT {1} -> {2}")
  @CsvSource(delimiter = '|', textBlock = """
      web    | 127.0.2.10:8080 | forward
      web    | 127.0.2.11:8080 | forward
      open   | 127.0.2.20:9000 | forward
      web    | 127.0.2.20:9000 | 400
      open   | 127.0.2.10:8080 | 400
      open   | 127.0.2.11:8080 | 400
      db     | 127.0.2.10:8080 | 400
      none   | 127.0.2.10:8080 | 400
      none   | 127.0.2.20:9000 | 400
      """)
  void aStreamReachesOnlyWorkloadsWithThePresentedIdentity(String presented, String authority, String outcome) {
    SpiffeId id = presented.equals("none") ? null : SpiffeId.parse("spiffe://cluster.local/ns/d/sa/" + presented);
    InboundDecision d = InboundDecision.decide("CONNECT", authority, PEER, id, CONFIG, OWN);
    if (outcome.equals("forward")) {
      assertThat(d).isInstanceOfSatisfying(InboundDecision.Forward.class,
          f -> assertThat(f.target().identity()).isEqualTo(id));
    } else {
      assertThat(d).isInstanceOfSatisfying(InboundDecision.Reject.class, r -> {
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.refusal()).isEqualTo(Refusal.IDENTITY_MISMATCH);
        assertThat(r.reason()).contains("this connection presented " + (id == null ? "no identity" : id));
      });
    }
  }

  @Test
  void aPortNotDeclaredHttpIsRelayedWhole() {
    assertThat(InboundDecision.decide("CONNECT", "127.0.2.20:9000", PEER, OPEN.identity(), CONFIG, OWN))
        .isEqualTo(new InboundDecision.Forward(OPEN, "127.0.2.20", 9000, InboundDecision.Inspection.NONE));
  }

  @Test
  void everyHttpPortIsInspectedEvenWhenNoPolicyNamesMethodsOrPaths() {
    LocalWorkload plain = new LocalWorkload("d/api-0", "d", SpiffeId.parse("spiffe://cluster.local/ns/d/sa/api"),
        List.of("127.0.2.30"), true, LocalWorkload.MtlsMode.PERMISSIVE, Map.of(), List.of(),
        Map.of(8080, "http", 9090, "grpc", 8081, "http2", 5432, "tcp"));
    ProxyConfig config = new ProxyConfig(1, List.of(), Map.of(), Map.of(), Map.of(), Map.of("127.0.2.30", plain));
    for (int port : new int[] {8080, 9090, 8081}) {
      assertThat(InboundDecision.decide("CONNECT", "127.0.2.30:" + port, PEER, plain.identity(), config, OWN))
          .as("port %d: identity headers are set per request", port)
          .isEqualTo(new InboundDecision.Forward(plain, "127.0.2.30", port, InboundDecision.Inspection.HTTP));
      assertThat(InboundDecision.plaintext("127.0.2.30", port, config, OWN))
          .isEqualTo(new InboundDecision.Forward(plain, "127.0.2.30", port, InboundDecision.Inspection.HTTP));
    }
    assertThat(InboundDecision.decide("CONNECT", "127.0.2.30:5432", PEER, plain.identity(), config, OWN))
        .isEqualTo(new InboundDecision.Forward(plain, "127.0.2.30", 5432, InboundDecision.Inspection.NONE));
  }

  @Test
  void plaintextIsRefusedByStrictWorkloadsAndAuthorizedWithoutIdentityElsewhere() {
    assertThat(InboundDecision.plaintext("127.0.2.10", 8080, CONFIG, OWN)).isInstanceOfSatisfying(
        InboundDecision.Reject.class, r -> {
          assertThat(r.status()).isEqualTo(403);
          assertThat(r.refusal()).isEqualTo(Refusal.STRICT_MTLS);
          assertThat(r.reason()).contains("accepts only mTLS (mode STRICT)");
        });
    assertThat(InboundDecision.plaintext("127.0.2.20", 9000, CONFIG, OWN))
        .isEqualTo(new InboundDecision.Forward(OPEN, "127.0.2.20", 9000, InboundDecision.Inspection.NONE));
    assertThat(InboundDecision.plaintext("127.0.2.99", 9000, CONFIG, OWN)).isInstanceOf(InboundDecision.Reject.class);
  }

  @ParameterizedTest
  @CsvSource({"[::1]:80,0:0:0:0:0:0:0:1,80", "[fd00::10]:8080,fd00:0:0:0:0:0:0:10,8080", "10.0.0.1:443,10.0.0.1,443"})
  void authoritiesParseIpv4AndBracketedIpv6(String authority, String host, int port) {
    InboundDecision.HostPort hp = InboundDecision.HostPort.parse(authority);
    assertThat(hp.host()).isEqualTo(host);
    assertThat(hp.port()).isEqualTo(port);
  }
}
