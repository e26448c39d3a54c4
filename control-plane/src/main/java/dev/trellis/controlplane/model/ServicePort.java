package dev.trellis.controlplane.model;

import java.util.List;
import java.util.Locale;

/**
 * One port of a service.
 *
 * @param targetPort where the workloads listen
 */
public record ServicePort(String name, int port, int targetPort, AppProtocol protocol) {

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
