package dev.trellis.telemetry.accesslog;

import java.time.Instant;

/**
 * One access-log line: a proxied HTTP request, or a TCP connection ({@code method}, {@code path}, {@code status}
 * null). Written as one JSON object per line, null fields left out.
 *
 * @param direction {@code outbound} (source node proxy) or {@code inbound} (destination)
 * @param protocol {@code HTTP/1.1}, {@code HTTP/2}, {@code gRPC} or {@code TCP}
 * @param responseFlags Envoy-style flags ({@code UO}, {@code UH}, {@code URX}, ...), or null
 * @param attempts upstream attempts started (1 without retries), whether or not they got an answer
 */
public record AccessLogEntry(Instant start, long durationMicros, String traceId, String spanId, String direction,
    String protocol, String method, String authority, String path, Integer status, Integer grpcStatus,
    String responseFlags, long bytesReceived, long bytesSent, String upstreamCluster, String upstreamHost,
    int attempts, String sourceWorkload, String sourcePrincipal, String destinationWorkload,
    String destinationService, String destinationPrincipal, boolean mtls, String error) {}
