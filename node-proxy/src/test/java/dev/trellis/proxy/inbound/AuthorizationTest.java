package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.http.PathNormalizer;
import dev.trellis.proxy.state.AuthorizationSpec.Action;
import dev.trellis.proxy.state.AuthorizationSpec.Rule;
import dev.trellis.proxy.state.AuthorizationSpec;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AuthorizationTest {

  static final SpiffeId FRONTEND = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/frontend");
  static final SpiffeId BATCH = SpiffeId.parse("spiffe://cluster.local/ns/jobs/sa/batch");
  static final SpiffeId ADMIN = SpiffeId.parse("spiffe://cluster.local/ns/ops/sa/admin");

  static final List<AuthorizationSpec> POLICIES = List.of(
      new AuthorizationSpec("shop/callers", Action.ALLOW, List.of(
          new Rule(Set.of(FRONTEND.toString()), Set.of(), Set.of(8080), Set.of(), List.of()),
          new Rule(Set.of(), Set.of("jobs"), Set.of(8080), Set.of("GET"), List.of("/reports/*")),
          new Rule(Set.of(), Set.of("ops"), Set.of(), Set.of(), List.of()))),
      new AuthorizationSpec("shop/no-deletes", Action.DENY, List.of(
          new Rule(Set.of(), Set.of("jobs"), Set.of(), Set.of("DELETE"), List.of()))));

  private static String outcome(Authorization.Result r) {
    return switch (r) {
      case Authorization.Allow a -> "allow";
      case Authorization.Deny d -> "deny";
      case Authorization.NeedsRequest n -> "request";
    };
  }

  @ParameterizedTest(name = "{0} port {1} {2} {3} -> {4}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      frontend | 8080 | -      | -               | allow
      frontend | 9090 | -      | -               | deny
      admin    | 9090 | -      | -               | allow
      batch    | 8080 | -      | -               | request
      batch    | 8080 | GET    | /reports/daily  | allow
      batch    | 8080 | GET    | /reports        | deny
      batch    | 8080 | POST   | /reports/daily  | deny
      batch    | 8080 | DELETE | /reports/daily  | deny
      batch    | 9090 | -      | -               | request
      plain    | 8080 | -      | -               | deny
      plain    | 8080 | GET    | /reports/daily  | deny
      """)
  void policiesDecideByIdentityNamespacePortMethodAndPath(String who, int port, String method, String path,
      String expected) {
    SpiffeId peer = switch (who) {
      case "frontend" -> FRONTEND;
      case "batch" -> BATCH;
      case "admin" -> ADMIN;
      default -> null;
    };
    assertThat(outcome(Authorization.evaluate(POLICIES, peer, port, method, path))).isEqualTo(expected);
  }

  @Test
  void withoutPoliciesEverythingIsAllowedAndDenyOnlyPoliciesDenyJustTheirMatch() {
    assertThat(Authorization.evaluate(List.of(), null, 80, null, null)).isInstanceOf(Authorization.Allow.class);
    List<AuthorizationSpec> denyOnly = List.of(new AuthorizationSpec("d/deny-batch", Action.DENY,
        List.of(new Rule(Set.of(BATCH.toString()), Set.of(), Set.of(), Set.of(), List.of()))));
    assertThat(Authorization.evaluate(denyOnly, FRONTEND, 80, null, null)).isInstanceOf(Authorization.Allow.class);
    assertThat(Authorization.evaluate(denyOnly, BATCH, 80, null, null)).isInstanceOfSatisfying(Authorization.Deny.class,
        d -> assertThat(d.reason()).isEqualTo("denied by policy d/deny-batch"));
  }

  @Test
  void theDenialSaysWhoWasRefusedWhere() {
    assertThat(Authorization.evaluate(POLICIES, FRONTEND, 9090, null, null)).isInstanceOfSatisfying(
        Authorization.Deny.class, d -> assertThat(d.reason())
            .isEqualTo("no ALLOW policy admits spiffe://cluster.local/ns/shop/sa/frontend on port 9090"));
  }

  @ParameterizedTest
  @CsvSource(nullValues = "-", value = {
      "/a/b,/a/b", "/a//b,/a/b", "/a/./b,/a/b", "/a/../b,/b", "/public/../admin,/admin", "/../../etc,/etc",
      "/a/b/..,/a/", "/a/?x=../y,/a/?x=../y", "/,/", "/a%2Fb,-", "/a%2e%2e/b,/a../b", "/%2e%2e/b,/b", "/a\\\\b,-", "relative,-",
      "http://h/x,-"})
  void pathsAreNormalizedOrRefused(String in, String out) {
    assertThat(PathNormalizer.normalize(in)).isEqualTo(out);
  }
}
