package dev.trellis.it.chart;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Grafana dashboards of the chart read for {@link HelmChartTest}: their queries and which metric and label
 * names those mention. Not a PromQL parser: a scanner good enough for the queries a dashboard holds (selectors,
 * aggregations with {@code by}, functions, ranges, arithmetic, Grafana {@code $variables}), pinned by its own test.
 */
final class Dashboards {

  /** The mesh's metrics as exported to Prometheus (OpenTelemetry semantic-convention names; telemetry module). */
  static final Set<String> MESH_METRICS = Set.of(
      "http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_sum",
      "http_server_request_duration_seconds_count",
      "http_client_request_duration_seconds_bucket", "http_client_request_duration_seconds_sum",
      "http_client_request_duration_seconds_count",
      "trellis_tcp_io_bytes_total", "trellis_tcp_connections_total");

  /** Their labels ({@code le}: the histogram buckets'). */
  static final Set<String> MESH_LABELS = Set.of("le", "http_request_method", "http_response_status_code",
      "trellis_destination_service", "trellis_destination_workload", "trellis_destination_namespace",
      "trellis_source_workload", "trellis_source_namespace", "trellis_response_flags", "network_io_direction",
      "trellis_connection_event");

  private static final Pattern LABEL_VALUES = Pattern.compile("^label_values\\((?:(.*),)?\\s*(\\w+)\\s*\\)$",
      Pattern.DOTALL);
  private static final Pattern NAME_MATCHER = Pattern.compile("__name__\\s*=~?\\s*\"([^\"]*)\"");
  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"");
  private static final Pattern SELECTOR = Pattern.compile("\\{([^}]*)}");
  private static final Pattern MATCHER_LABEL = Pattern.compile("(\\w+)\\s*(?:=~|!~|!=|=)");
  private static final Pattern GROUPING = Pattern.compile(
      "\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\(([^)]*)\\)");
  private static final Pattern RANGE = Pattern.compile("\\[[^]]*]");
  private static final Pattern FUNCTION = Pattern.compile("\\b[a-zA-Z_]\\w*\\s*\\(");
  private static final Pattern VARIABLE = Pattern.compile("\\$\\{[^}]*}|\\$\\w+");
  private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.])[a-zA-Z_:][\\w:]*");
  private static final Pattern LEGEND_LABEL = Pattern.compile("\\{\\{\\s*(\\w+)\\s*}}");
  private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "inf", "nan");

  private Dashboards() {}

  /** Metric and label names one query mentions: a panel's PromQL or a variable's {@code label_values(..)}. */
  record Names(Set<String> metrics, Set<String> labels) {}

  static Names names(String query) {
    Set<String> metrics = new TreeSet<>();
    Set<String> labels = new TreeSet<>();
    String expr = query.strip();
    Matcher labelValues = LABEL_VALUES.matcher(expr);
    if (labelValues.matches()) {
      labels.add(labelValues.group(2));
      expr = labelValues.group(1) == null ? "" : labelValues.group(1);
    }
    Matcher names = NAME_MATCHER.matcher(expr);
    while (names.find()) {
      metrics.addAll(List.of(names.group(1).split("\\|")));
    }
    expr = STRING.matcher(expr).replaceAll("\"\"");
    Matcher selector = SELECTOR.matcher(expr);
    while (selector.find()) {
      Matcher label = MATCHER_LABEL.matcher(selector.group(1));
      while (label.find()) {
        if (!label.group(1).equals("__name__")) {
          labels.add(label.group(1));
        }
      }
    }
    expr = SELECTOR.matcher(expr).replaceAll(" ");
    Matcher grouping = GROUPING.matcher(expr);
    while (grouping.find()) {
      for (String label : grouping.group(1).split(",")) {
        if (!label.isBlank()) {
          labels.add(label.strip());
        }
      }
    }
    expr = GROUPING.matcher(expr).replaceAll(" ");
    expr = RANGE.matcher(expr).replaceAll(" ");
    expr = VARIABLE.matcher(expr).replaceAll(" ");
    expr = FUNCTION.matcher(expr).replaceAll("(");
    Matcher identifier = IDENTIFIER.matcher(expr);
    while (identifier.find()) {
      if (!KEYWORDS.contains(identifier.group().toLowerCase())) {
        metrics.add(identifier.group());
      }
    }
    return new Names(metrics, labels);
  }

  /** The labels a legend shows ({@code {{label}}}). */
  static Set<String> legendLabels(String legendFormat) {
    Set<String> labels = new TreeSet<>();
    Matcher m = LEGEND_LABEL.matcher(legendFormat);
    while (m.find()) {
      labels.add(m.group(1));
    }
    return labels;
  }

  /** Every panel, rows' nested panels included. */
  static List<JsonNode> panels(JsonNode dashboard) {
    List<JsonNode> panels = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      panels.add(panel);
      panel.path("panels").forEach(panels::add);
    }
    return panels;
  }

  /** A variable's query: a string, or the object newer Grafana versions write. */
  static String variableQuery(JsonNode variable) {
    JsonNode query = variable.path("query");
    return query.isTextual() ? query.asText() : query.path("query").asText();
  }
}
