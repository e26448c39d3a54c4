package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.util.List;

/**
 * The mechanism that steers a pod's traffic through the node proxy (eBPF by default, nftables where eBPF
 * is unavailable). Calls come from the node agent's one serial thread. {@link #install} is idempotent:
 * installing what is already there changes nothing and adds no duplicate.
 */
public interface Redirector {

  /** A pod to capture: its sandbox, addresses, and the outbound traffic that bypasses the mesh. */
  record Target(String containerId, String netns, String namespace, String pod, List<String> ips,
      Exclusions exclusions) {
    public Target {
      ips = List.copyOf(ips);
      exclusions = exclusions == null ? Exclusions.NONE : exclusions;
    }

    /** A pod without exclusions. */
    public Target(String containerId, String netns, String namespace, String pod, List<String> ips) {
      this(containerId, netns, namespace, pod, ips, Exclusions.NONE);
    }
  }

  void install(Target target) throws IOException;

  /** Removes everything installed for the target; removing what is not there is no error. */
  void remove(Target target) throws IOException;

  /** Whether everything {@link #install} would set up is in place. */
  boolean verify(Target target) throws IOException;

  /** A name for logs and errors ("ebpf", "nftables"). */
  String name();
}
