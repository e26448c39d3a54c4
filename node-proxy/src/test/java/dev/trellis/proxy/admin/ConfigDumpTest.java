package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.identity.CertificateManager;
import dev.trellis.proxy.route.RouteTable;
import dev.trellis.proxy.state.AuthorizationSpec;
import dev.trellis.proxy.state.Cidr;
import dev.trellis.proxy.state.ClusterSpec;
import dev.trellis.proxy.state.EndpointSpec;
import dev.trellis.proxy.state.LocalWorkload;
import dev.trellis.proxy.state.OutboundRule;
import dev.trellis.proxy.state.ProxyConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ConfigDumpTest {

  static final SpiffeId WEB = SpiffeId.parse("spiffe://cluster.local/ns/demo/sa/web");

  @Test
  void theDumpIsJsonWithWhatTheProxyRuns() {
    String routes = "web.demo.svc.cluster.local:80";
    String cluster = "outbound|80||web.demo.svc.cluster.local";
    RouteTable table = new RouteTable(routes, List.of(new RouteTable.VirtualHost("web", Set.of("web", "10.96.0.1"),
        List.of(new RouteTable.Rule("r0", new RouteTable.Match(null, "/api", null,
            List.of(new RouteTable.HeaderMatch("x-canary", null, Pattern.compile("y.*")))),
            new RouteTable.Action(List.of(new RouteTable.WeightedCluster(cluster, 80)), Duration.ofSeconds(5),
                new RouteTable.RetrySpec(Set.of("5xx"), 2, Duration.ofMillis(500), Duration.ofMillis(25),
                    Duration.ofMillis(250), Set.of(503)), null, true))))));
    LocalWorkload w = new LocalWorkload("demo/web-0", "demo", WEB, List.of("10.1.0.5"), true,
        LocalWorkload.MtlsMode.STRICT, Map.of("app", "web"),
        List.of(new AuthorizationSpec("readers", AuthorizationSpec.Action.ALLOW, List.of(new AuthorizationSpec.Rule(
            Set.of("spiffe://cluster.local/ns/demo/sa/client"), Set.of(), Set.of(8080), Set.of("GET"), List.of("/api/*"))))),
        Map.of(8080, "http"));
    ProxyConfig config = new ProxyConfig(7,
        List.of(new OutboundRule(routes, Cidr.of("10.96.0.1", 32), 80, new OutboundRule.Http(routes))),
        Map.of(cluster, new ClusterSpec(cluster, ClusterSpec.LbAlgorithm.LEAST_REQUEST, Duration.ofSeconds(1),
            new ClusterSpec.Breaker(10, 5, 20, 3, 20.0, 3),
            new ClusterSpec.Outlier(5, Duration.ofSeconds(10), Duration.ofSeconds(30), 50),
            ClusterSpec.UpstreamProtocol.HTTP2)),
        Map.of(cluster, List.of(new EndpointSpec("10.1.0.5", 8080, WEB, "node-2", "127.0.2.1", true, "demo/web-0",
            "node-2", 1))),
        Map.of(routes, table), Map.of("10.1.0.5", w));

    JsonObject dump = JsonParser.parseString(ConfigDump.json(config, List.of(new CertificateManager.IdentityStatus(
        WEB, true, Instant.parse("2026-11-23T10:00:00Z"), "0af3")))).getAsJsonObject();

    assertThat(dump.get("version").getAsLong()).isEqualTo(7);
    JsonObject local = dump.getAsJsonArray("localWorkloads").get(0).getAsJsonObject();
    assertThat(local.get("identity").getAsString()).isEqualTo(WEB.toString());
    assertThat(local.get("mtls").getAsString()).isEqualTo("STRICT");
    assertThat(local.getAsJsonObject("portProtocols").get("8080").getAsString()).isEqualTo("http");
    JsonObject rule = local.getAsJsonArray("authorizations").get(0).getAsJsonObject().getAsJsonArray("rules").get(0)
        .getAsJsonObject();
    assertThat(rule.getAsJsonArray("paths").get(0).getAsString()).isEqualTo("/api/*");
    assertThat(dump.getAsJsonArray("identities").get(0).getAsJsonObject().get("notAfter").getAsString())
        .isEqualTo("2026-11-23T10:00:00Z");
    JsonObject out = dump.getAsJsonArray("outbound").get(0).getAsJsonObject();
    assertThat(out.get("destination").getAsString()).isEqualTo("10.96.0.1/32");
    assertThat(out.get("http").getAsString()).isEqualTo(routes);
    JsonObject c = dump.getAsJsonArray("clusters").get(0).getAsJsonObject();
    assertThat(c.get("lb").getAsString()).isEqualTo("LEAST_REQUEST");
    assertThat(c.get("upstreamProtocol").getAsString()).as("what the port declared").isEqualTo("HTTP2");
    assertThat(c.getAsJsonObject("circuitBreaker").get("retryBudgetPercent").getAsDouble()).isEqualTo(20.0);
    assertThat(c.getAsJsonObject("outlierDetection").get("baseEjectionTime").getAsString()).isEqualTo("PT30S");
    assertThat(c.getAsJsonArray("endpoints").get(0).getAsJsonObject().get("identity").getAsString())
        .isEqualTo(WEB.toString());
    JsonObject action = dump.getAsJsonArray("routes").get(0).getAsJsonObject().getAsJsonArray("virtualHosts").get(0)
        .getAsJsonObject().getAsJsonArray("rules").get(0).getAsJsonObject().getAsJsonObject("action");
    assertThat(action.getAsJsonArray("clusters").get(0).getAsJsonObject().get("weight").getAsInt()).isEqualTo(80);
    assertThat(action.getAsJsonObject("retry").get("perTryTimeout").getAsString()).isEqualTo("PT0.5S");
    assertThat(action.get("hashSourceIp").getAsBoolean()).isTrue();
  }
}
