package dev.trellis.telemetry.accesslog;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class AccessLogJsonTest {

  static AccessLogEntry request(Integer status, String path) {
    return new AccessLogEntry(Instant.parse("2025-03-04T05:06:07.123456Z"), 1500, "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7", "outbound", "HTTP/1.1", "GET", "reviews:8080", path, status, null, null, 10, 20,
        "outbound|8080||reviews", "10.0.0.7:8080", 1, "productpage", "spiffe://cluster.local/ns/default/sa/pp",
        "reviews-v1", "reviews.default.svc.cluster.local", "spiffe://cluster.local/ns/default/sa/reviews", true, null);
  }

  @Test
  void anEntryIsOneJsonObjectWithCamelCaseFieldsAndNullsLeftOut() {
    assertThat(AccessLogJson.line(request(200, "/reviews/1"))).isEqualTo("{"
        + "\"start\":\"2025-03-04T05:06:07.123456Z\",\"durationMicros\":1500,"
        + "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b7\","
        + "\"direction\":\"outbound\",\"protocol\":\"HTTP/1.1\",\"method\":\"GET\",\"authority\":\"reviews:8080\","
        + "\"path\":\"/reviews/1\",\"status\":200,\"bytesReceived\":10,\"bytesSent\":20,"
        + "\"upstreamCluster\":\"outbound|8080||reviews\",\"upstreamHost\":\"10.0.0.7:8080\",\"attempts\":1,"
        + "\"sourceWorkload\":\"productpage\",\"sourcePrincipal\":\"spiffe://cluster.local/ns/default/sa/pp\","
        + "\"destinationWorkload\":\"reviews-v1\",\"destinationService\":\"reviews.default.svc.cluster.local\","
        + "\"destinationPrincipal\":\"spiffe://cluster.local/ns/default/sa/reviews\",\"mtls\":true}\n");
  }

  @Test
  void aTcpConnectionLeavesMethodPathAndStatusOut() {
    AccessLogEntry tcp = new AccessLogEntry(Instant.EPOCH, 7, null, null, "inbound", "TCP", null, null, null, null,
        null, null, 1, 2, null, null, 1, null, null, null, null, null, false, "connection reset");
    assertThat(AccessLogJson.line(tcp)).isEqualTo("{\"start\":\"1970-01-01T00:00:00Z\",\"durationMicros\":7,"
        + "\"direction\":\"inbound\",\"protocol\":\"TCP\",\"bytesReceived\":1,\"bytesSent\":2,\"attempts\":1,"
        + "\"mtls\":false,\"error\":\"connection reset\"}\n");
  }

  @Test
  void stringsAreEscapedAsJsonRequires() {
    StringBuilder out = new StringBuilder();
    AccessLogJson.quote(out, "a\"b\\c\nd\re\tf\u0001g\u007f");
    assertThat(out).hasToString("\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\u007f\"");
  }

  @Test
  void unicodeIsKeptExceptLineSeparatorsAndLoneSurrogates() {
    StringBuilder out = new StringBuilder();
    AccessLogJson.quote(out, "é☃😀\u2028\u2029\ud800x");
    assertThat(out).hasToString("\"é☃😀\\u2028\\u2029\\ud800x\"");
  }

  @Test
  void aLineHoldsNoRawNewlineWhateverThePath() {
    String line = AccessLogJson.line(request(200, "/a\nb\r\nc"));
    assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
    assertThat(line).contains("\"path\":\"/a\\nb\\r\\nc\"").doesNotContain("\r");
  }
}
