package dev.trellis.cni;

import java.io.IOException;
import java.util.List;

/**
 * The CNI plugin's channel to the node agent on its node: the runtime's ADD, DEL, CHECK, STATUS and GC as requests
 * that each get an answer. The agent decides enrollment from the pod's namespace and labels and installs or removes
 * redirection; the plugin only relays the runtime's request and waits for the answer. An {@link IOException} means
 * the agent could not be reached or did not answer in time; an {@link AgentException} that it answered with an error.
 *
 * <p>The plugin's implementation is {@link UnixSocketAgentChannel} (the wire format is {@link AgentProtocol}); the
 * node agent serves the same requests on its side of the socket.
 */
public interface AgentChannel {

  /** A pod's network attachment, as the runtime describes it. */
  record Attachment(String containerId, String netns, String ifname, String namespace, String pod, String podUid,
      List<String> ips) {
    public Attachment {
      ips = List.copyOf(ips);
    }
  }

  /** What the agent says about a pod (ADD, CHECK) or itself (STATUS). */
  enum State {
    /** The pod is enrolled and its redirection is in place. */
    CAPTURED,
    /** The pod is not enrolled (namespace not labeled, pod opted out): nothing to do. */
    NOT_ENROLLED,
    /** CHECK: the pod is enrolled but its redirection is not (all) in place. */
    MISSING,
    /** STATUS: the agent takes ADDs. */
    READY,
    /** STATUS: the agent cannot take ADDs now (e.g. still starting). */
    NOT_READY
  }

  /** The agent's answer, with its reason in words for logs and errors. */
  record Answer(State state, String reason) {}

  /** The agent answered with an error (as opposed to not answering). */
  final class AgentException extends RuntimeException {
    public AgentException(String message) {
      super(message, null, false, false);
    }
  }

  /** Installs redirection for the pod if it is enrolled; returns once it is in place. */
  Answer add(Attachment attachment) throws IOException;

  /** Removes whatever redirection the pod has; idempotent. */
  void delete(Attachment attachment) throws IOException;

  /** Whether the pod's redirection is as the agent would set it up now. */
  Answer check(Attachment attachment) throws IOException;

  /** Whether the agent can take ADDs now (CNI STATUS). */
  Answer status() throws IOException;

  /** Removes redirection of every attachment not in {@code valid} (CNI GC). */
  void collect(List<String> validContainerIds) throws IOException;
}
