package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.util.List;

/**
 * The mechanism that steers a pod's traffic through the node proxy (eBPF by default, nftables where eBPF
 * is unavailable). Calls come from the node agent's one serial thread. {@link #install} is idempotent:
 * installing what is already there changes nothing and adds no duplicate.
 */
public interface Redirector {

  /**
   * A pod to capture: its sandbox, addresses, the outbound traffic that bypasses the mesh, and its cgroup
   * v2 directory (absolute path; eBPF attaches there; null where unknown, which nftables does not need).
   */
  record Target(String containerId, String netns, String namespace, String pod, List<String> ips,
      Exclusions exclusions, String cgroup) {
    public Target {
      ips = List.copyOf(ips);
      exclusions = exclusions == null ? Exclusions.NONE : exclusions;
    }

    /** A pod whose cgroup is not known. */
    public Target(String containerId, String netns, String namespace, String pod, List<String> ips,
        Exclusions exclusions) {
      this(containerId, netns, namespace, pod, ips, exclusions, null);
    }

    /** The same pod with its cgroup directory. */
    public Target withCgroup(String cgroupDirectory) {
      return new Target(containerId, netns, namespace, pod, ips, exclusions, cgroupDirectory);
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
