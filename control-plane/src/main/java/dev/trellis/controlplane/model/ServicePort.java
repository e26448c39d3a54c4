package dev.trellis.controlplane.model;

import java.util.Objects;

import java.util.List;
import java.util.Locale;

/**
 * One port of a service.
 *
 * @param targetPort where the workloads listen
 */
public record ServicePort(String name, int port, int targetPort, AppProtocol protocol) {

  // equals and hashCode written out: a record's generated ones run through method handles, which the control plane's
  // C1-only JIT does not inline, and translation cache keys hash and compare these for every workload on each change.

  @Override
  public boolean equals(Object o) {
    return this == o || o instanceof ServicePort p && port == p.port && targetPort == p.targetPort
        && protocol == p.protocol && Objects.equals(name, p.name);
  }

  @Override
  public int hashCode() {
    return ((Objects.hashCode(name) * 31 + port) * 31 + targetPort) * 31 + Objects.hashCode(protocol);
  }

  /** The application protocol of a port; decides L7 (HTTP routing) or L4 (TCP proxy) handling. */
  public enum AppProtocol {
    HTTP,
    HTTP2,
    GRPC,
    TCP;

    public boolean isHttp() {
      return this != TCP;
    }

    /** As Istio does: a port named grpc, http, http2 (or prefixed "grpc-" etc.) has that protocol; others are TCP. */
    public static AppProtocol fromPortName(String name) {
      if (name == null) {
        return TCP;
      }
      for (AppProtocol p : List.of(GRPC, HTTP2, HTTP)) {
        String n = p.name().toLowerCase(Locale.ROOT);
        if (name.equals(n) || name.startsWith(n + "-")) {
          return p;
        }
      }
      return TCP;
    }
  }
}
