package dev.trellis.telemetry.metrics;

import io.opentelemetry.api.common.Attributes;
import java.util.function.LongSupplier;

enum NoopMeshMetrics implements MeshMetrics {
  INSTANCE;

  @Override
  public void clientRequest(Attributes attributes, long durationNanos) {}

  @Override
  public void serverRequest(Attributes attributes, long durationNanos) {}

  @Override
  public void tcpBytes(Attributes attributes, boolean transmit, long bytes) {}

  @Override
  public void tcpConnection(Attributes attributes, ConnectionEvent event) {}

  @Override
  public void gauge(String name, String description, String unit, LongSupplier value) {}

  @Override
  public void observedCounter(String name, String description, String unit, LongSupplier value) {}
}
