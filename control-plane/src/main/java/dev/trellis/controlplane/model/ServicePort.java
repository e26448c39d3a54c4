package dev.trellis.controlplane.model;

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
  }
}
