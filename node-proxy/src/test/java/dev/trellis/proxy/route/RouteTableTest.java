package dev.trellis.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Which virtual host a request's authority picks: what a client that sends none of the service's names gets. The
 * control plane lists the service's names and {@code *} (RouteTranslation); a table of one virtual host takes any
 * authority even without {@code *}, since the destination address already chose the service.
 */
class RouteTableTest {

  static final Set<String> WEB_NAMES = Set.of("web.demo.svc.cluster.local", "web.demo.svc.cluster.local:80",
      "web.demo.svc", "web.demo.svc:80", "web.demo", "web.demo:80", "10.96.0.10", "10.96.0.10:80");

  static RouteTable.VirtualHost host(String name, Set<String> domains, String cluster) {
    return new RouteTable.VirtualHost(name, domains, List.of(new RouteTable.Rule("default",
        new RouteTable.Match(null, "/", null, List.of()),
        new RouteTable.Action(List.of(new RouteTable.WeightedCluster(cluster, 1)), null, null, null, false))));
  }

  static Set<String> plus(Set<String> names, String more) {
    return Stream.concat(names.stream(), Stream.of(more)).collect(Collectors.toSet());
  }

  static final RouteTable AS_TRANSLATED = new RouteTable("web.demo.svc.cluster.local:80",
      List.of(host("web", plus(WEB_NAMES, "*"), "outbound|80||web.demo.svc.cluster.local")));
  static final RouteTable WITHOUT_WILDCARD = new RouteTable("web.demo.svc.cluster.local:80",
      List.of(host("web", WEB_NAMES, "outbound|80||web.demo.svc.cluster.local")));
  static final RouteTable TWO_HOSTS = new RouteTable("shared",
      List.of(host("web", WEB_NAMES, "outbound|80||web.demo.svc.cluster.local"),
          host("api", Set.of("api.demo.svc.cluster.local"), "outbound|80||api.demo.svc.cluster.local")));

  static Stream<Object[]> cases() {
    String web = "outbound|80||web.demo.svc.cluster.local";
    return Stream.of(
        new Object[] {"a name of the service", AS_TRANSLATED, "web.demo:80", web},
        new Object[] {"an unknown Host", AS_TRANSLATED, "www.example.com", web},
        new Object[] {"a port-forward's localhost:8080", AS_TRANSLATED, "localhost:8080", web},
        new Object[] {"no authority at all (HTTP/1.0)", AS_TRANSLATED, null, web},
        new Object[] {"upper case", AS_TRANSLATED, "WEB.DEMO.SVC.CLUSTER.LOCAL", web},
        new Object[] {"one virtual host without *: still the service's", WITHOUT_WILDCARD, "www.example.com", web},
        new Object[] {"several virtual hosts: the matching one", TWO_HOSTS, "api.demo.svc.cluster.local",
            "outbound|80||api.demo.svc.cluster.local"},
        new Object[] {"several virtual hosts, none matching, no *: 404", TWO_HOSTS, "www.example.com", null});
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void aRequestsAuthorityPicksTheVirtualHost(String name, RouteTable table, String authority, String cluster) {
    RequestRouting.Decision d = RequestRouting.decide(table, authority, "/hello", RouteTable.headers(Map.of()),
        bound -> 0);
    if (cluster == null) {
      assertThat(d).isInstanceOf(RequestRouting.NoRoute.class);
    } else {
      assertThat(d).isInstanceOfSatisfying(RequestRouting.Forward.class, f -> assertThat(f.cluster()).isEqualTo(cluster));
    }
  }
}
