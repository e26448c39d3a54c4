package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.telemetry.metrics.PrometheusFamilies;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The metric families the admin ports serve — name, type, label names — as dashboards, alerts and the docs know
 * them (docs/node-proxy-operations.md, docs/telemetry.md, README). Captured from running processes when the admin
 * ports still built their text by hand; since issue 17 they come from the metrics pipeline and must not change.
 */
final class AdminMetricFamilies {

  /**
   * A node proxy's own metrics, with telemetry on or off: always served once it has config and identities (the
   * families of {@link #NODE_PROXY_ON_EVENTS} appear with their first series).
   */
  static final Map<String, Spec> NODE_PROXY = families(
      "trellis_proxy_certificate_expiry_seconds gauge identity",
      "trellis_proxy_certificate_ready gauge identity",
      "trellis_proxy_cluster_breaker_in_use gauge cluster,resource",
      "trellis_proxy_cluster_breaker_limit gauge cluster,resource",
      "trellis_proxy_cluster_breaker_overflows_total counter cluster,resource",
      "trellis_proxy_cluster_connect_failures_total counter cluster",
      "trellis_proxy_cluster_ejections_total counter cluster",
      "trellis_proxy_cluster_endpoints gauge cluster,health",
      "trellis_proxy_cluster_requests_total counter cluster",
      "trellis_proxy_cluster_retries_total counter cluster",
      "trellis_proxy_cluster_retry_overflows_total counter cluster",
      "trellis_proxy_cluster_timeouts_total counter cluster",
      "trellis_proxy_cluster_upstream_5xx_total counter cluster",
      "trellis_proxy_config_info gauge version",
      "trellis_proxy_drain_closed_connections_total counter -",
      "trellis_proxy_hbone_connections gauge -",
      "trellis_proxy_ready gauge -",
      "trellis_proxy_upstream_connections gauge -");

  /** A node proxy's counters by what happened: served from the first inbound answer, refusal, unobserved connection. */
  static final Map<String, Spec> NODE_PROXY_ON_EVENTS = families(
      "trellis_proxy_inbound_requests_total counter status",
      "trellis_proxy_inbound_unobserved_connections_total counter reason",
      "trellis_proxy_refusals_total counter listener,reason");

  /** With telemetry on, beside {@link #NODE_PROXY}: the telemetry's own drop counters, always there. */
  static final Map<String, Spec> TELEMETRY = families(
      "trellis_telemetry_access_log_dropped_total counter -",
      "trellis_telemetry_spans_dropped_total counter -");

  /**
   * With telemetry on, once traffic of their kind has passed (labels: OpenTelemetry's HTTP conventions and the
   * mesh's attributes, pinned by the telemetry module's tests and the dashboards' test; not checked here).
   */
  static final Map<String, Spec> MESH = families(
      "http_client_request_duration_seconds histogram *",
      "http_server_request_duration_seconds histogram *",
      "trellis_tcp_io_bytes_total counter *",
      "trellis_tcp_connections_total counter *");

  /** The control plane, local mode (cluster mode has trellis_leader and trellis_tokenreviews_total instead of reloads). */
  static final Map<String, Spec> CONTROL_PLANE = families(
      "jvm_memory_heap_committed_bytes gauge -",
      "jvm_memory_heap_max_bytes gauge -",
      "jvm_memory_heap_used_bytes gauge -",
      "process_cpu_seconds_total counter -",
      "trellis_ca_certificates_signed_total counter -",
      "trellis_config_reloads_total counter result",
      "trellis_config_resources gauge -",
      "trellis_config_snapshot_version gauge -",
      "trellis_xds_acks_total counter type",
      "trellis_xds_anonymous_streams gauge -",
      "trellis_xds_connected_clients gauge -",
      "trellis_xds_late_nacks_total counter type",
      "trellis_xds_nacks_total counter type",
      "trellis_xds_responses_total counter type");

  /**
   * The control plane after its first config change (the push duration was a summary without quantiles when built
   * by hand; as an OpenTelemetry histogram it keeps _sum and _count).
   */
  static final Map<String, Spec> CONTROL_PLANE_AFTER_A_PUSH = families(
      "trellis_config_last_push_timestamp_seconds gauge -",
      "trellis_config_push_duration_seconds histogram -");

  /** The control plane's counters by what happened: served from the first sign failure or refusal. */
  static final Map<String, Spec> CONTROL_PLANE_ON_EVENTS = families(
      "trellis_ca_sign_failures_total counter reason",
      "trellis_control_plane_refusals_total counter reason,service");

  /** A family's type and its label names; null: any labels. */
  record Spec(String type, Set<String> labels) {}

  private AdminMetricFamilies() {}

  /**
   * {@code text} is well-formed, has every family of {@code required} and nothing but those and {@code optional},
   * each with its type and no label names besides its own.
   */
  @SafeVarargs
  static void assertFamilies(String text, Map<String, Spec> required, Map<String, Spec>... optional) {
    Map<String, PrometheusFamilies.Family> served = PrometheusFamilies.parse(text);
    Map<String, Spec> allowed = new HashMap<>(required);
    Arrays.stream(optional).forEach(allowed::putAll);
    assertThat(served.keySet()).as("families served").containsAll(required.keySet())
        .isSubsetOf(allowed.keySet());
    for (PrometheusFamilies.Family f : served.values()) {
      Spec spec = allowed.get(f.name());
      assertThat(f.type()).as(f.name() + ": type").isEqualTo(spec.type());
      if (spec.labels() != null) {
        assertThat(f.labels()).as(f.name() + ": label names").isSubsetOf(spec.labels());
      }
    }
  }

  /** Lines {@code name type labels}: labels {@code a,b}, {@code -} for none, {@code *} for any. */
  private static Map<String, Spec> families(String... lines) {
    Map<String, Spec> out = new LinkedHashMap<>();
    for (String line : lines) {
      String[] parts = line.split(" ");
      Set<String> labels = switch (parts[2]) {
        case "-" -> Set.of();
        case "*" -> null;
        default -> new TreeSet<>(Arrays.asList(parts[2].split(",")));
      };
      out.put(parts[0], new Spec(parts[1], labels));
    }
    return out;
  }
}
