package dev.trellis.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.demo.grpc.GreeterGrpc;
import dev.trellis.demo.grpc.HelloRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DemoServicesTest {

  private static DemoSettings settings(double failRate) {
    return new DemoSettings("127.0.0.1", List.of(0), "web-v2-0", "v2", failRate, Duration.ZERO);
  }

  @Test
  void httpDemoAnswersWithItsNameVersionAndTraceHeader() throws Exception {
    try (HttpDemo demo = new HttpDemo(settings(0), () -> 0.5).start();
        HttpClient client = HttpClient.newHttpClient()) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.port(0) + "/x"))
          .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("\"workload\":\"web-v2-0\"", "\"version\":\"v2\"", "\"path\":\"/x\"",
          "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"");
    }
  }

  @Test
  void httpDemoFailsTheRequestsItsFailRateSelects() throws Exception {
    try (HttpDemo demo = new HttpDemo(settings(0.3), () -> 0.1).start();
        HttpClient client = HttpClient.newHttpClient()) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.port(0) + "/"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(503);
    }
  }

  @Test
  void grpcGreeterGreetsAndFailsWithUnavailableWhenTold() throws Exception {
    try (GrpcDemo ok = new GrpcDemo(settings(0), () -> 0.5).start();
        GrpcDemo failing = new GrpcDemo(settings(1), () -> 0.5).start()) {
      ManagedChannel a = NettyChannelBuilder.forAddress("127.0.0.1", ok.port(0)).usePlaintext().build();
      ManagedChannel b = NettyChannelBuilder.forAddress("127.0.0.1", failing.port(0)).usePlaintext().build();
      try {
        var reply = GreeterGrpc.newBlockingStub(a).sayHello(HelloRequest.newBuilder().setName("ann").build());
        assertThat(reply.getMessage()).isEqualTo("Hello, ann, from web-v2-0");
        assertThat(reply.getVersion()).isEqualTo("v2");
        assertThatThrownBy(() -> GreeterGrpc.newBlockingStub(b).sayHello(HelloRequest.getDefaultInstance()))
            .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("UNAVAILABLE");
      } finally {
        a.shutdownNow();
        b.shutdownNow();
      }
    }
  }

  @Test
  void settingsNameTheVariableAndTheFix() {
    assertThatThrownBy(() -> DemoSettings.fromEnv(Map.of("TRELLIS_WORKLOAD_PORTS", "8080")))
        .hasMessageContaining("TRELLIS_WORKLOAD_ADDRESS is not set");
    assertThatThrownBy(() -> DemoSettings.fromEnv(Map.of("TRELLIS_WORKLOAD_ADDRESS", "127.0.1.10",
        "TRELLIS_WORKLOAD_PORTS", "8080", "TRELLIS_DEMO_FAIL_RATE", "2"))).hasMessageContaining(
        "TRELLIS_DEMO_FAIL_RATE '2' (expected: a number from 0 to 1)");
    DemoSettings s = DemoSettings.fromEnv(Map.of("TRELLIS_WORKLOAD_ADDRESS", "127.0.1.10",
        "TRELLIS_WORKLOAD_PORTS", "8080,9090", "TRELLIS_DEMO_LATENCY_MS", "250"));
    assertThat(s.ports()).containsExactly(8080, 9090);
    assertThat(s.latency()).isEqualTo(Duration.ofMillis(250));
  }
}
