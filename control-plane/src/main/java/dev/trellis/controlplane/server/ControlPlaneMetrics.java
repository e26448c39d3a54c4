package dev.trellis.controlplane.server;

import com.sun.management.OperatingSystemMXBean;
import dev.trellis.ca.server.CertificateService;
import dev.trellis.controlplane.admin.AdminView;
import dev.trellis.controlplane.config.MeshFileSource;
import dev.trellis.telemetry.metrics.MetricsPipeline;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.server.AdsServer;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.Meter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongBiFunction;
import java.util.function.ToLongFunction;

/**
 * The control plane's metrics (xDS clients and responses, config snapshot and pushes, mesh-file reloads, the CA,
 * refusals, leadership, CPU and heap) as OpenTelemetry instruments in its {@link MetricsPipeline}: counters and
 * gauges read from the control plane's parts at each scrape, and the push-duration histogram recorded at each push.
 * The Prometheus names are the ones the admin port always served (README, docs/kubernetes.md): the counter
 * {@code trellis.xds.acks} is {@code trellis_xds_acks_total}, the gauge {@code jvm.memory.heap.used} in bytes is
 * {@code jvm_memory_heap_used_bytes}.
 */
final class ControlPlaneMetrics {

  /** Seconds: translating and publishing a change takes milliseconds for small meshes, seconds for huge ones. */
  static final List<Double> PUSH_BUCKETS = List.of(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
      5.0, 10.0);
  private static final AttributeKey<String> TYPE = AttributeKey.stringKey("type");
  private static final AttributeKey<String> RESULT = AttributeKey.stringKey("result");
  private static final AttributeKey<String> REASON = AttributeKey.stringKey("reason");
  private static final AttributeKey<String> SERVICE = AttributeKey.stringKey("service");
  private static final Attributes APPLIED = Attributes.of(RESULT, "applied");
  private static final Attributes REJECTED = Attributes.of(RESULT, "rejected");

  private final DoubleHistogram pushDuration;

  /** Registers the instruments; the callbacks read {@code cp} when the pipeline collects. */
  ControlPlaneMetrics(MetricsPipeline pipeline, ControlPlane cp) {
    Meter meter = pipeline.meter();
    meter.gaugeBuilder("trellis.xds.connected_clients").ofLongs().setUnit("{stream}")
        .setDescription("Connected xDS streams.")
        .buildWithCallback(m -> {
          AdsServer ads = cp.ads();
          if (ads != null) {
            m.record(ads.registry().size());
          }
        });
    meter.gaugeBuilder("trellis.config.snapshot_version").ofLongs()
        .setDescription("Version of the snapshot being served.")
        .buildWithCallback(m -> m.record(cp.store().current().version()));
    meter.gaugeBuilder("trellis.config.resources").ofLongs().setUnit("{resource}")
        .setDescription("Resources in the served snapshot.")
        .buildWithCallback(m -> m.record(cp.store().current().size()));
    meter.gaugeBuilder("trellis.config.last_push_timestamp").setUnit("s")
        .setDescription("When the latest config change was published (Unix time).")
        .buildWithCallback(m -> {
          Instant published = cp.lastPublished();
          if (published != null) {
            m.record(published.toEpochMilli() / 1000.0);
          }
        });
    meter.counterBuilder("trellis.config.reloads").setUnit("{reload}")
        .setDescription("Mesh file reloads by result.")
        .buildWithCallback(m -> {
          MeshFileSource.Status s = cp.meshStatus();
          if (s != null) {
            m.record(s.reloads(), APPLIED);
            m.record(s.failedReloads(), REJECTED);
          }
        });
    meter.gaugeBuilder("trellis.leader").ofLongs()
        .setDescription("1 if this replica holds the control-plane Lease (writes status).")
        .buildWithCallback(m -> {
          AdminView.ClusterStatus c = cp.clusterStatus();
          if (c != null) {
            m.record(c.leader() ? 1 : 0);
          }
        });
    if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
      meter.counterBuilder("process.cpu").ofDoubles().setUnit("s")
          .setDescription("CPU time of the control-plane process.")
          .buildWithCallback(m -> m.record(os.getProcessCpuTime() / 1e9));
    }
    heap(meter, "used", "Heap in use.", MemoryUsage::getUsed);
    heap(meter, "committed", "Heap committed by the JVM.", MemoryUsage::getCommitted);
    heap(meter, "max", "Maximum heap (-Xmx).", MemoryUsage::getMax);
    pushDuration = meter.histogramBuilder("trellis.config.push.duration").setUnit("s")
        .setDescription("Translating and publishing a config change.")
        .setExplicitBucketBoundariesAdvice(PUSH_BUCKETS)
        .build();
    meter.counterBuilder("trellis.ca.certificates_signed").setUnit("{certificate}")
        .setDescription("Workload certificates signed.")
        .buildWithCallback(m -> {
          CertificateService certificates = cp.certificates();
          if (certificates != null) {
            m.record(certificates.signed());
          }
        });
    meter.counterBuilder("trellis.ca.sign_failures").setUnit("{request}")
        .setDescription("Sign requests refused or failed, by reason.")
        .buildWithCallback(m -> {
          CertificateService certificates = cp.certificates();
          if (certificates != null) {
            certificates.failed().forEach((reason, n) ->
                m.record(n, Attributes.of(REASON, reason.name().toLowerCase(Locale.ROOT))));
          }
        });
    xdsCounter(meter, cp, "responses", "xDS responses pushed, by type.", (ads, t) -> ads.metrics().pushes(t));
    xdsCounter(meter, cp, "acks", "xDS ACKs received, by type.", (ads, t) -> ads.metrics().acks(t));
    xdsCounter(meter, cp, "nacks", "xDS NACKs received, by type.", (ads, t) -> ads.metrics().nacks(t));
    xdsCounter(meter, cp, "late_nacks", "xDS NACKs of a response already answered or superseded, by type.",
        (ads, t) -> ads.metrics().lateNacks(t));
    meter.gaugeBuilder("trellis.xds.anonymous_streams").ofLongs().setUnit("{stream}")
        .setDescription("Open xDS streams of clients without a token.")
        .buildWithCallback(m -> {
          AdsServer ads = cp.ads();
          if (ads != null) {
            m.record(ads.anonymousStreams());
          }
        });
    meter.counterBuilder("trellis.control_plane.refusals").setUnit("{request}")
        .setDescription("Requests refused (bad or missing token, limits, malformed), by service and reason.")
        .buildWithCallback(m -> cp.refusals().counts().forEach((k, n) ->
            m.record(n, Attributes.of(SERVICE, k.service(), REASON, k.reason()))));
    meter.counterBuilder("trellis.tokenreviews").setUnit("{request}")
        .setDescription("TokenReviews sent to the API server (answers are cached).")
        .buildWithCallback(m -> {
          long reviews = cp.tokenReviews();
          if (reviews >= 0) {
            m.record(reviews);
          }
        });
  }

  /** A config change was translated and published in {@code nanos}. */
  void pushed(long nanos) {
    pushDuration.record(nanos / 1e9);
  }

  private static void heap(Meter meter, String name, String description, ToLongFunction<MemoryUsage> value) {
    meter.gaugeBuilder("jvm.memory.heap." + name).ofLongs().setUnit("By").setDescription(description)
        .buildWithCallback(m -> m.record(value.applyAsLong(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage())));
  }

  private static void xdsCounter(Meter meter, ControlPlane cp, String name, String description,
      ToLongBiFunction<AdsServer, ResourceType> value) {
    meter.counterBuilder("trellis.xds." + name).setUnit("{message}").setDescription(description)
        .buildWithCallback(m -> {
          AdsServer ads = cp.ads();
          if (ads != null) {
            for (ResourceType t : ResourceType.values()) {
              m.record(value.applyAsLong(ads, t), Attributes.of(TYPE, t.shortName()));
            }
          }
        });
  }
}
