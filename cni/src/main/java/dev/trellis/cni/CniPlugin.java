package dev.trellis.cni;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The CNI plugin's logic, chained after the cluster's own CNI plugin: it never creates interfaces or
 * addresses, it passes the previous result through and makes sure the pod is captured before its
 * containers start. Runs the request against the node agent and returns what to print and the exit
 * status; no I/O of its own besides the agent calls.
 *
 * <p>ADD fails (code 11, "try again later", so the kubelet retries) when the agent cannot be reached
 * for a pod outside the excluded namespaces: a pod must never start uncaptured because the agent was
 * restarting. DEL always succeeds once the request is valid (the runtime must be able to tear down); an
 * unreachable agent cleans up when it reconciles.
 */
public final class CniPlugin {

  /** What the plugin prints on stdout, and its exit status. */
  public record Outcome(int exitCode, String stdout) {}

  private final Function<TrellisCniConfig, AgentChannel> agents;
  private AgentChannel agent;
  private String agentDescription;

  /** The plugin as shipped: it talks to the node agent over the configuration's Unix socket. */
  public static CniPlugin overUnixSocket() {
    return new CniPlugin(c -> new UnixSocketAgentChannel(Path.of(c.agentSocket()), c.agentTimeoutMillis()));
  }

  /** @param agents the node agent client for a configuration (its socket and timeout) */
  CniPlugin(Function<TrellisCniConfig, AgentChannel> agents) {
    this.agents = agents;
  }

  public Outcome run(Map<String, String> env, String stdin) {
    CniRequest request;
    try {
      request = CniRequest.parse(env, stdin);
    } catch (CniError e) {
      return failure(e, CniRequest.NEWEST);
    }
    try {
      return new Outcome(0, handle(request));
    } catch (CniError e) {
      return failure(e, request.cniVersion() != null ? request.cniVersion() : CniRequest.NEWEST);
    }
  }

  private static Outcome failure(CniError e, String version) {
    return new Outcome(1, e.toJson(version).toString());
  }

  private String handle(CniRequest r) {
    TrellisCniConfig config = r.command() == CniRequest.Command.VERSION ? null : TrellisCniConfig.of(r.config());
    if (config != null) {
      agent = agents.apply(config);
      agentDescription = config.agentSocket();
    }
    return switch (r.command()) {
      case VERSION -> version(r);
      case ADD -> add(r, config);
      case DEL -> {
        delete(r);
        yield "";
      }
      case CHECK -> {
        check(r, config);
        yield "";
      }
      case STATUS -> {
        status();
        yield "";
      }
      case GC -> {
        collect(r);
        yield "";
      }
    };
  }

  private static String version(CniRequest r) {
    JsonObject o = new JsonObject();
    o.addProperty("cniVersion", r.cniVersion() != null && CniRequest.SUPPORTED_VERSIONS.contains(r.cniVersion())
        ? r.cniVersion() : CniRequest.NEWEST);
    JsonArray versions = new JsonArray();
    CniRequest.SUPPORTED_VERSIONS.forEach(versions::add);
    o.add("supportedVersions", versions);
    return o.toString();
  }

  private String add(CniRequest r, TrellisCniConfig config) {
    JsonObject prev = r.prevResult();
    if (prev == null) {
      throw new CniError(CniError.INVALID_CONFIG, "no prevResult: trellis-cni must be chained after the cluster's "
          + "CNI plugin", "add it to the end of the 'plugins' list of the node's CNI configuration list");
    }
    AgentChannel.Attachment attachment = attachment(r, prev);
    JsonObject result = prev.deepCopy();
    result.addProperty("cniVersion", r.cniVersion());
    if (attachment.namespace() != null && config.excludeNamespaces().contains(attachment.namespace())) {
      return result.toString();
    }
    try {
      agent.add(attachment);
    } catch (IOException e) {
      throw new CniError(CniError.TRY_AGAIN_LATER, "the Trellis node agent at " + agentDescription
          + " did not answer; the pod must not start uncaptured, retry", "is the trellis node-proxy DaemonSet "
          + "running on this node? " + e.getMessage());
    } catch (AgentChannel.AgentException e) {
      throw new CniError(CniError.AGENT_FAILED, "the Trellis node agent could not set up redirection for pod "
          + attachment.namespace() + "/" + attachment.pod(), e.getMessage());
    }
    return result.toString();
  }

  private void delete(CniRequest r) {
    AgentChannel.Attachment attachment;
    try {
      attachment = attachment(r, r.prevResult());
    } catch (CniError malformedPrevResult) {
      attachment = attachment(r, null); // DEL must succeed: the agent removes the pod by its container ID
    }
    try {
      agent.delete(attachment);
    } catch (IOException | AgentChannel.AgentException e) {
      // DEL must succeed for the runtime to free the pod; the agent removes leftovers when it reconciles.
      System.err.println("trellis-cni: DEL of " + r.containerId() + ": node agent not reached (" + e.getMessage()
          + "); it will clean up when it reconciles");
    }
  }

  private void check(CniRequest r, TrellisCniConfig config) {
    JsonObject prev = r.prevResult();
    if (prev == null) {
      throw new CniError(CniError.INVALID_CONFIG, "no prevResult for CHECK", null);
    }
    AgentChannel.Attachment attachment = attachment(r, prev);
    if (attachment.namespace() != null && config.excludeNamespaces().contains(attachment.namespace())) {
      return;
    }
    AgentChannel.Answer answer;
    try {
      answer = agent.check(attachment);
    } catch (IOException e) {
      throw new CniError(CniError.TRY_AGAIN_LATER, "the Trellis node agent at " + agentDescription + " did not answer",
          e.getMessage());
    } catch (AgentChannel.AgentException e) {
      throw new CniError(CniError.AGENT_FAILED, "the Trellis node agent failed to check the pod", e.getMessage());
    }
    if (answer.state() == AgentChannel.State.MISSING) {
      throw new CniError(CniError.REDIRECTION_MISSING, "redirection for pod " + attachment.namespace() + "/"
          + attachment.pod() + " is not in place", answer.reason());
    }
  }

  private void status() {
    try {
      AgentChannel.Answer a = agent.status();
      if (a.state() != AgentChannel.State.READY) {
        throw new CniError(CniError.NOT_AVAILABLE, "the Trellis node agent is not ready", a.reason());
      }
    } catch (IOException | AgentChannel.AgentException e) {
      throw new CniError(CniError.NOT_AVAILABLE, "the Trellis node agent at " + agentDescription + " did not answer",
          e.getMessage());
    }
  }

  private void collect(CniRequest r) {
    List<String> valid = new ArrayList<>();
    JsonElement attachments = r.config().get("cni.dev/valid-attachments");
    if (attachments != null && attachments.isJsonArray()) {
      for (JsonElement a : attachments.getAsJsonArray()) {
        if (a.isJsonObject() && a.getAsJsonObject().has("containerID")) {
          JsonElement id = a.getAsJsonObject().get("containerID");
          if (!id.isJsonPrimitive()) {
            // Skipping it would let the agent collect that pod's redirection: refuse the whole GC instead. (Found by
            // fuzzing: a list here escaped as IllegalStateException.)
            throw new CniError(CniError.INVALID_CONFIG, "cni.dev/valid-attachments has containerID " + id
                + ", not a string", "nothing was collected");
          }
          valid.add(id.getAsString());
        }
      }
    }
    try {
      agent.collect(valid);
    } catch (IOException e) {
      throw new CniError(CniError.TRY_AGAIN_LATER, "the Trellis node agent at " + agentDescription + " did not answer",
          e.getMessage());
    } catch (AgentChannel.AgentException e) {
      throw new CniError(CniError.AGENT_FAILED, "the Trellis node agent failed to collect garbage", e.getMessage());
    }
  }

  /** The pod as the runtime names it (K8S_* in CNI_ARGS) with the addresses the previous plugin gave it. */
  static AgentChannel.Attachment attachment(CniRequest r, JsonObject prev) {
    List<String> ips = new ArrayList<>();
    if (prev != null && prev.has("ips") && prev.get("ips").isJsonArray()) {
      int i = 0;
      for (JsonElement ip : prev.getAsJsonArray("ips")) {
        if (ip.isJsonObject() && ip.getAsJsonObject().has("address")) {
          JsonElement address = ip.getAsJsonObject().get("address");
          if (!address.isJsonPrimitive()) {
            // (An object or null here escaped as UnsupportedOperationException: seen writing the fuzz target.)
            throw new CniError(CniError.INVALID_CONFIG, "prevResult.ips[" + i + "].address is " + address
                + ", not a string", "expected an address with prefix length, e.g. \"10.1.0.7/24\"");
          }
          String cidr = address.getAsString();
          int slash = cidr.indexOf('/');
          ips.add(slash < 0 ? cidr : cidr.substring(0, slash));
        }
        i++;
      }
    }
    return new AgentChannel.Attachment(r.containerId(), r.netns(), r.ifname(), r.args().get("K8S_POD_NAMESPACE"),
        r.args().get("K8S_POD_NAME"), r.args().get("K8S_POD_UID"), ips);
  }

  /** Namespaces whose pods are never captured by default (the cluster's own system pods). */
  static final Set<String> DEFAULT_EXCLUDED = Set.of("kube-system");
}
