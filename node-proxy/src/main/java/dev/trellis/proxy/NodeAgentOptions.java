package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.cni.CniInstaller;
import dev.trellis.proxy.redirect.Redirection;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How a node agent runs ({@code trellis node-agent}, docs/node-agent.md).
 *
 * @param pods where pods and namespace labels come from
 * @param socket the Unix socket the CNI plugin calls
 * @param redirection the mechanism (eBPF, nftables, or auto), the node proxy's address for eBPF, the bpffs pins
 * @param stateFile the pods the agent knows, so a restarted agent takes them back
 * @param cni where to install and chain the CNI plugin, if the agent does that (in a cluster)
 * @param self the agent's own pod ({@code POD_NAMESPACE}, {@code POD_NAME}), if Kubernetes runs it: then a stop
 *     that is not an uninstall keeps the CNI plugin
 */
public record NodeAgentOptions(PodSource pods, Path socket, Redirection.Settings redirection, Path stateFile,
    Optional<CniInstaller.Dirs> cni, Optional<OwnPod> self) {

  /** Where the agent learns about the node's pods. */
  public sealed interface PodSource {
    /** The API server: this node's pods (informers, field selector {@code spec.nodeName}) and the namespaces. */
    record Kubernetes(String node) implements PodSource {
      public Kubernetes {
        requireNonNull(node, "node");
      }
    }

    /** Local mode: a JSON file of this node's pods and the namespaces' labels, re-read when it changes. */
    record File(Path file) implements PodSource {
      public File {
        requireNonNull(file, "file");
      }
    }
  }

  /** The agent's own pod in a cluster. */
  public record OwnPod(String namespace, String name) {}

  public NodeAgentOptions {
    requireNonNull(pods, "pods");
    requireNonNull(socket, "socket");
    requireNonNull(redirection, "redirection");
    requireNonNull(stateFile, "stateFile");
    requireNonNull(cni, "cni");
    requireNonNull(self, "self");
  }
}
