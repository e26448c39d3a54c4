package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.http.MethodNormalizer;
import dev.trellis.proxy.http.PathNormalizer;
import dev.trellis.proxy.state.AuthorizationSpec.Action;
import dev.trellis.proxy.state.AuthorizationSpec.Rule;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.PathNormalization.EscapedSlashes;
import dev.trellis.proxy.state.PathNormalization.PathParameters;
import dev.trellis.proxy.state.PathNormalization;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Hostile spellings of a request against deny rules and an allow rule, decided the way the destination decides: the
 * method and path are normalized once ({@link MethodNormalizer}, {@link PathNormalizer}), then authorized
 * ({@link Authorization}) on the normalized form, which is also what the workload receives. Each row says what
 * happens: {@code 400} (refused as malformed), {@code 403} (denied), or {@code fwd METHOD TARGET} (forwarded exactly
 * so). The wiring through the real handlers is pinned by {@code outbound.NormalizedRequestsTest} and
 * {@code outbound.ForwardedPathProperties}.
 */
class HostileRequestTest {

  static final SpiffeId CALLER = SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client");

  /** The reproduction: deny /admin and below, deny DELETE. */
  static final List<AuthorizationSpec> DENY = List.of(
      new AuthorizationSpec("d/no-admin", Action.DENY,
          List.of(new Rule(Set.of(), Set.of(), Set.of(), Set.of(), List.of("/admin", "/admin/*")))),
      new AuthorizationSpec("d/no-delete", Action.DENY,
          List.of(new Rule(Set.of(), Set.of(), Set.of(), Set.of("DELETE"), List.of()))));

  /** An allow-list: GET of /public and below, from namespace d. */
  static final List<AuthorizationSpec> ALLOW = List.of(new AuthorizationSpec("d/public-reads", Action.ALLOW,
      List.of(new Rule(Set.of(), Set.of("d"), Set.of(), Set.of("GET"), List.of("/public", "/public/*")))));

  /** What the destination does with {@code method target} under {@code policies}. */
  static String outcome(String method, String target, List<AuthorizationSpec> policies, PathNormalization options) {
    String m = MethodNormalizer.normalize(method);
    if (m == null) {
      return "400";
    }
    return switch (PathNormalizer.normalize(target, options)) {
      case PathNormalizer.Refused r -> "400";
      case PathNormalizer.Normalized n -> switch (Authorization.evaluate(policies, CALLER, 8080, m, n.path())) {
        case Authorization.Allow a -> "fwd " + m + " " + n.uri();
        case Authorization.Deny d -> "403";
        case Authorization.NeedsRequest x -> throw new AssertionError("a request always decides");
      };
    };
  }

  /** Table text: {@code \t} is a tab, {@code \\} a backslash, {@code <sp>} a space. */
  private static String unescape(String s) {
    return s.replace("<sp>", " ").translateEscapes();
  }

  @ParameterizedTest(name = "{0} {1} -> deny rules: {2}, allow rule: {3}")
  @CsvSource(delimiter = '|', textBlock = """
      GET    | /admin                         | 403                              | 403
      GET    | /%61dmin                       | 403                              | 403
      GET    | /%61%64%6D%69%6E               | 403                              | 403
      GET    | /admi%6E/                      | 403                              | 403
      GET    | /ADMIN                         | fwd GET /ADMIN                   | 403
      GET    | /%41DMIN                       | fwd GET /ADMIN                   | 403
      GET    | /admin/                        | 403                              | 403
      GET    | /admin/x                       | 403                              | 403
      GET    | //admin                        | 403                              | 403
      GET    | ///admin//                     | 403                              | 403
      GET    | /./admin                       | 403                              | 403
      GET    | /x/../admin                    | 403                              | 403
      GET    | /public/../admin               | 403                              | 403
      GET    | /%2e%2e/admin                  | 403                              | 403
      GET    | /%2E/admin                     | 403                              | 403
      GET    | /.%2e/admin                    | 403                              | 403
      GET    | /public/%2e%2e/admin           | 403                              | 403
      GET    | /admin/%2e                     | 403                              | 403
      GET    | /admin/.                       | 403                              | 403
      GET    | /admin/x/..                    | 403                              | 403
      GET    | /admin%2f                      | 400                              | 400
      GET    | /admin%2Fx                     | 400                              | 400
      GET    | /public%2F..%2Fadmin           | 400                              | 400
      GET    | /%2e%2e%2fadmin                | 400                              | 400
      GET    | /admin%5c                      | 400                              | 400
      GET    | /admin%5Cx                     | 400                              | 400
      GET    | /admin\\\\x                    | 400                              | 400
      GET    | /public\\\\..\\\\admin         | 400                              | 400
      GET    | /admin;x                       | 400                              | 400
      GET    | /admin;jsessionid=1            | 400                              | 400
      GET    | /admin/..;/public/a            | 400                              | 400
      GET    | /admin%3bx                     | 400                              | 400
      GET    | /admin%3B                      | 400                              | 400
      GET    | /%00admin                      | 400                              | 400
      GET    | /admin%00                      | 400                              | 400
      GET    | /admin%0d%0aX-Evil:%201        | 400                              | 400
      GET    | /admin%09                      | 400                              | 400
      GET    | /admin%7f                      | 400                              | 400
      GET    | /admin%                        | 400                              | 400
      GET    | /admin%4                       | 400                              | 400
      GET    | /admin%zz                      | 400                              | 400
      GET    | /%u0061dmin                    | 400                              | 400
      GET    | /%c0%af                        | 400                              | 400
      GET    | /%c0%ae%c0%ae/admin            | 400                              | 400
      GET    | /%e0%80%af                     | 400                              | 400
      GET    | /%ed%a0%80                     | 400                              | 400
      GET    | /%f4%90%80%80                  | 400                              | 400
      GET    | /%ff                           | 400                              | 400
      GET    | /%80admin                      | 400                              | 400
      GET    | /%c3                           | 400                              | 400
      GET    | /public/%c3%a9                 | fwd GET /public/%C3%A9           | fwd GET /public/%C3%A9
      GET    | /adm%c4%b1n                    | fwd GET /adm%C4%B1n              | 403
      GET    | /admin?x=/../                  | 403                              | 403
      GET    | /public/a?next=/admin          | fwd GET /public/a?next=/admin    | fwd GET /public/a?next=/admin
      GET    | /public?/../admin              | fwd GET /public?/../admin        | fwd GET /public?/../admin
      GET    | /public/a?x=%2F&y=%00;z        | fwd GET /public/a?x=%2F&y=%00;z  | fwd GET /public/a?x=%2F&y=%00;z
      GET    | /admin#frag                    | 400                              | 400
      GET    | /public/a#/../../admin         | 400                              | 400
      GET    | http://h/admin                 | 400                              | 400
      GET    | //h/admin                      | fwd GET /h/admin                 | 403
      GET    | *                              | 400                              | 400
      GET    | admin                          | 400                              | 400
      GET    | /admin\\tx                     | 400                              | 400
      GET    | /admin<sp>x                    | 400                              | 400
      GET    | /admin<sp>HTTP/1.1             | 400                              | 400
      GET    | /admin%20x                     | fwd GET /admin%20x               | 403
      GET    | /admin..                       | fwd GET /admin..                 | 403
      GET    | '/admin|x'                     | fwd GET /admin%7Cx               | 403
      GET    | /admin%252f                    | fwd GET /admin%252f              | 403
      GET    | /%7Eadmin                      | fwd GET /~admin                  | 403
      GET    | /../../etc/passwd              | fwd GET /etc/passwd              | 403
      GET    | /public/./a                    | fwd GET /public/a                | fwd GET /public/a
      GET    | /public//a                     | fwd GET /public/a                | fwd GET /public/a
      GET    | /public/a/..                   | fwd GET /public/                 | fwd GET /public/
      DELETE | /public/a                      | 403                              | 403
      delete | /public/a                      | 403                              | 403
      DeLeTe | /x                             | 403                              | 403
      get    | /public/a                      | fwd GET /public/a                | fwd GET /public/a
      post   | /public/a                      | fwd POST /public/a               | 403
      GET(   | /public/a                      | 400                              | 400
      GÉT    | /public/a                      | 400                              | 400
      """)
  void hostileSpellingsAreNormalizedOnceThenAuthorizedAndForwardedAsChecked(String method, String target,
      String underDeny, String underAllow) {
    String t = unescape(target);
    assertThat(outcome(method, t, DENY, PathNormalization.DEFAULTS)).as("deny rules").isEqualTo(underDeny);
    assertThat(outcome(method, t, ALLOW, PathNormalization.DEFAULTS)).as("allow rule").isEqualTo(underAllow);
  }

  @ParameterizedTest(name = "{0}/{1}: {2} -> {3}")
  @CsvSource(delimiter = '|', textBlock = """
      REJECT_REQUEST       | STRIP  | /admin;x                | 403
      REJECT_REQUEST       | STRIP  | /admin;jsessionid=1/    | 403
      REJECT_REQUEST       | STRIP  | /;x/admin               | 403
      REJECT_REQUEST       | STRIP  | /admin;/                | 403
      REJECT_REQUEST       | STRIP  | /public;x/a;y           | fwd GET /public/a
      REJECT_REQUEST       | STRIP  | /admin/..;/public/a     | fwd GET /public/a
      REJECT_REQUEST       | STRIP  | /public/a;x?q=;y        | fwd GET /public/a?q=;y
      REJECT_REQUEST       | STRIP  | /admin%3bx              | 400
      REJECT_REQUEST       | STRIP  | /admin%2fx              | 400
      UNESCAPE_AND_FORWARD | REJECT | /admin%2fx              | 403
      UNESCAPE_AND_FORWARD | REJECT | /public%2F..%2Fadmin    | 403
      UNESCAPE_AND_FORWARD | REJECT | /x%5c..%5cadmin         | 403
      UNESCAPE_AND_FORWARD | REJECT | /public%2Fa%5Cb         | fwd GET /public/a/b
      UNESCAPE_AND_FORWARD | REJECT | /admin;x                | 400
      UNESCAPE_AND_FORWARD | REJECT | /admin\\\\x             | 400
      UNESCAPE_AND_FORWARD | STRIP  | /admin;x%2F..%2Fpublic  | 403
      """)
  void theOptionsUnescapeSlashesOrStripParametersForMatchingAndForwardingAlike(EscapedSlashes slashes,
      PathParameters parameters, String target, String expected) {
    PathNormalization options = new PathNormalization(slashes, parameters);
    List<AuthorizationSpec> both = new java.util.ArrayList<>(DENY);
    both.addAll(ALLOW);
    assertThat(outcome("GET", unescape(target), both, options)).isEqualTo(expected);
  }
}
