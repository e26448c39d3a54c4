package dev.trellis.proxy.redirect;

import java.util.List;

/**
 * A pod's network attachment as the runtime reported it to the node agent (through the CNI plugin): the container,
 * its network namespace and interface, the pod's namespace, name and UID ({@code CNI_ARGS}), and the addresses the
 * cluster's CNI plugin gave it. Fields the runtime did not send are null; addresses none.
 */
public record PodAttachment(String containerId, String netns, String ifname, String namespace, String pod,
    String podUid, List<String> ips) {
  public PodAttachment {
    ips = List.copyOf(ips);
  }
}
