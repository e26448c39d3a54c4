package dev.trellis.controlplane.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import dev.trellis.ca.server.CallerAuthenticator;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Who may read /debug/* on the control plane's admin port, decided without sockets. */
class AdminAccessTest {

  static final String ADMIN = "admin-token-0123456789abcdef";
  static final String NODE1 = "node-1-token-0123456789";

  static final CallerAuthenticator NODES = new CallerAuthenticator() {
    @Override
    public Caller authenticate(String token) {
      return switch (token) {
        case NODE1 -> new Caller("node-1", "node token of node-1");
        case "busy" -> throw new CaException(CaException.Reason.AUTHENTICATION_UNAVAILABLE, "reviews are busy");
        case "flood" -> throw new CaException(CaException.Reason.RATE_LIMITED, "too many token reviews");
        default -> throw new CaException(CaException.Reason.UNAUTHENTICATED, "not a known node token");
      };
    }
  };

  static InetSocketAddress at(String ip) {
    return new InetSocketAddress(ip, 40000);
  }

  record Locality(String peer, String local, boolean sameHost) {}

  @Test
  void aCallerIsOnThisHostWhenItsAddressIsLoopbackOrTheAddressItConnectedTo() {
    List<Locality> table = List.of(
        new Locality("127.0.0.1", "127.0.0.1", true),
        new Locality("127.0.0.2", "127.0.0.1", true),        // all of 127/8 is loopback
        new Locality("::1", "::1", true),
        new Locality("::ffff:127.0.0.1", "0.0.0.0", true),   // an IPv4-mapped loopback peer on a dual-stack socket
        new Locality("10.61.0.254", "10.61.0.254", true),    // 'trellis status' to a control plane on a gateway address
        new Locality("10.61.0.1", "10.61.0.254", false),     // a node namespace
        new Locality("10.0.0.7", "0.0.0.0", false),          // a pod, server bound to the wildcard
        new Locality("0.0.0.0", "0.0.0.0", false),
        new Locality("192.168.1.10", "10.0.0.5", false),
        new Locality("fe80::1", "fe80::2", false),
        new Locality("2001:db8::1", "2001:db8::1", true));
    for (Locality l : table) {
      assertThat(AdminAccess.sameHost(at(l.peer()), at(l.local()))).as("%s -> %s", l.peer(), l.local())
          .isEqualTo(l.sameHost());
    }
    assertThat(AdminAccess.sameHost(null, at("127.0.0.1"))).isFalse();
    assertThat(AdminAccess.sameHost(InetSocketAddress.createUnresolved("localhost", 1), at("127.0.0.1"))).isFalse();
  }

  record Case(boolean local, String authorization, String expected) {}

  @Test
  void decisionsForEachKindOfCaller() {
    List<Case> table = List.of(
        new Case(true, null, "all"),
        new Case(false, null, "401"),
        new Case(false, "", "401"),
        new Case(false, "Basic YWRtaW46YWRtaW4=", "401"),
        new Case(false, "Bearer ", "401"),
        new Case(false, "Bearer " + ADMIN, "all"),
        new Case(false, "bearer " + ADMIN, "all"),
        new Case(false, "Bearer " + ADMIN + "x", "401"),
        new Case(false, "Bearer " + NODE1, "node-1"),
        new Case(true, "Bearer " + NODE1, "node-1"),          // a token says who: even from this host, its view only
        new Case(true, "Bearer wrong-token-000000000", "401"), // a bad token is refused, not ignored
        new Case(false, "Bearer busy", "503"),
        new Case(false, "Bearer flood", "429"));
    AdminAccess access = new AdminAccess(ADMIN, NODES, (peer, local) -> peer.getAddress().isLoopbackAddress());
    for (Case c : table) {
      AdminAccess.Decision d = access.decide(at(c.local() ? "127.0.0.1" : "10.0.0.9"), at("10.0.0.5"), c.authorization());
      String got = switch (d) {
        case AdminAccess.All all -> "all";
        case AdminAccess.OneNode one -> one.node();
        case AdminAccess.Denied denied -> String.valueOf(denied.status());
      };
      assertThat(got).as("%s %s", c.local() ? "local" : "remote", c.authorization()).isEqualTo(c.expected());
    }
  }

  @Test
  void withoutAnAdminTokenNoStringIsTheAdminToken() {
    AdminAccess access = new AdminAccess(null, NODES, (peer, local) -> false);
    assertThat(access.decide(at("10.0.0.9"), at("10.0.0.5"), "Bearer " + ADMIN)).isInstanceOf(AdminAccess.Denied.class);
    AdminAccess.Denied denied = (AdminAccess.Denied) access.decide(at("10.0.0.9"), at("10.0.0.5"), null);
    assertThat(denied.message()).contains("'Authorization: Bearer <token>'").contains("--admin-token-file");
  }
}
