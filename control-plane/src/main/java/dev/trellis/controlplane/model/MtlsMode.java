package dev.trellis.controlplane.model;

/** How a workload accepts inbound traffic (PeerAuthentication-style). */
public enum MtlsMode {
  /** Only mTLS (HBONE) from mesh workloads. */
  STRICT,
  /** mTLS and plaintext. */
  PERMISSIVE,
  /** Plaintext only. */
  DISABLE
}
