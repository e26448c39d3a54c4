package dev.trellis.controlplane.translate;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import java.time.Duration;
import java.util.Map;

/** Small builders shared by the translators. */
final class Protos {

  private Protos() {}

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  /** "Get it over ADS, v3". */
  static ConfigSource ads() {
    return ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance())
        .setResourceApiVersion(ApiVersion.V3).build();
  }

  /** {@code filter_metadata["trellis"]} holding {@code fields} as strings (booleans stay booleans). */
  static Metadata metadata(Map<String, Object> fields) {
    Struct.Builder s = Struct.newBuilder();
    fields.forEach((k, v) -> s.putFields(k, v instanceof Boolean b ? Value.newBuilder().setBoolValue(b).build()
        : Value.newBuilder().setStringValue(String.valueOf(v)).build()));
    return Metadata.newBuilder().putFilterMetadata(XdsNames.METADATA, s.build()).build();
  }
}
