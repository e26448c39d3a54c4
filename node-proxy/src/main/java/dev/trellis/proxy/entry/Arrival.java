package dev.trellis.proxy.entry;

/**
 * How a connection reached an outbound listener, which decides how a passthrough connection may leave (see
 * {@code egress.Via}) and whether the destination limits for captured pods apply.
 */
public enum Arrival {
  /** The client named its destination through the SOCKS5/CONNECT entry (local mode). */
  ENTRY,
  /** A cgroup program of the pod rewrote its connect to the proxy (eBPF redirection). */
  EBPF,
  /** The node's nftables TPROXY rule handed the pod's connection to the transparent listener. */
  TPROXY
}
