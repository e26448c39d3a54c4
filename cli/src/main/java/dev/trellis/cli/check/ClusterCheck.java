package dev.trellis.cli.check;

import dev.trellis.cli.check.ClusterFacts.Rollout;
import dev.trellis.cli.check.HostCheck.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code trellis check --cluster}: is Trellis installed and usable on the cluster of a kubeconfig? Pure over
 * {@link ClusterFacts}; each finding says what to do when it is not ok.
 */
public final class ClusterCheck {

  /** One check; {@code fix} is empty when there is nothing to do. */
  public record Finding(String check, Status status, String detail, String fix) {}

  /** The findings in a fixed order; ready when none is missing. */
  public record Report(List<Finding> findings) {
    public Report {
      findings = List.copyOf(findings);
    }

    public boolean ready() {
      return findings.stream().noneMatch(f -> f.status() == Status.MISSING);
    }

    public List<String> lines() {
      List<String> out = new ArrayList<>();
      for (Finding f : findings) {
        CheckLines.add(out, f.status(), f.check(), f.detail(), f.fix());
      }
      out.add(ready() ? "cluster: ready" : "cluster: NOT ready; fix the missing items above");
      return out;
    }
  }

  /** The Trellis CRDs the chart installs from its crds/ folder. */
  public static final List<String> TRELLIS_CRDS = List.of("trafficpolicies.mesh.trellis.dev",
      "peerauthentications.mesh.trellis.dev", "authorizationpolicies.mesh.trellis.dev");
  public static final String HTTPROUTE_CRD = "httproutes.gateway.networking.k8s.io";
  public static final List<String> CHECKS = List.of("api server", "kubernetes version", "trellis crds",
      "gateway api", "control plane", "node proxies", "enrolled namespaces");
  private static final Pattern VERSION = Pattern.compile("^v?(\\d+)\\.(\\d+)");

  private ClusterCheck() {}

  public static Report decide(ClusterFacts facts, String namespace) {
    List<Finding> out = new ArrayList<>();
    if (facts.unreachable().isPresent()) {
      out.add(new Finding("api server", Status.MISSING, "cannot use " + facts.server() + ": "
          + facts.unreachable().get(), "check that the API server is up, the kubeconfig's current context is the "
          + "cluster you mean and its credentials are valid (kubectl cluster-info), or pass --kubeconfig FILE"));
      return new Report(out);
    }
    out.add(new Finding("api server", Status.OK, facts.server(), ""));
    out.add(version(facts.version()));
    List<String> absent = TRELLIS_CRDS.stream().filter(c -> !facts.crds().contains(c)).toList();
    out.add(absent.isEmpty() ? new Finding("trellis crds", Status.OK, String.join(", ", TRELLIS_CRDS), "")
        : new Finding("trellis crds", Status.MISSING, "not installed: " + String.join(", ", absent),
            "./trellis install -n " + namespace + " (the chart installs them from crds/)"));
    out.add(facts.crds().contains(HTTPROUTE_CRD) ? new Finding("gateway api", Status.OK, HTTPROUTE_CRD, "")
        : new Finding("gateway api", Status.WARNING, "no HTTPRoute CRD: the control plane runs without routes "
            + "(splitting, retries, timeouts)", "kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/"
            + "releases/download/<version>/standard-install.yaml"));
    out.add(rollout("control plane", "Deployment " + namespace + "/trellis-control-plane", facts.controlPlane(),
        namespace, "kubectl -n " + namespace + " describe deploy/trellis-control-plane"));
    out.add(rollout("node proxies", "DaemonSet " + namespace + "/trellis-node-proxy", facts.nodeProxies(), namespace,
        "kubectl -n " + namespace + " describe ds/trellis-node-proxy; ./trellis check --host on the nodes"));
    out.add(facts.meshNamespaces().isEmpty()
        ? new Finding("enrolled namespaces", Status.WARNING, "no namespace is labeled trellis.dev/mesh=enabled",
            "kubectl label namespace NS trellis.dev/mesh=enabled")
        : new Finding("enrolled namespaces", Status.OK, String.join(", ", facts.meshNamespaces()), ""));
    return new Report(out);
  }

  static Finding version(Optional<String> version) {
    Matcher m = VERSION.matcher(version.orElse(""));
    if (!m.find()) {
      return new Finding("kubernetes version", Status.WARNING, "unknown (" + version.orElse("not reported") + ")",
          "make sure the cluster runs Kubernetes 1.27 or newer");
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    return major > 1 || minor >= 27 ? new Finding("kubernetes version", Status.OK, version.get(), "")
        : new Finding("kubernetes version", Status.MISSING, version.get() + " (the chart needs 1.27 or newer)",
            "upgrade the cluster to Kubernetes 1.27 or newer");
  }

  private static Finding rollout(String check, String what, Optional<Rollout> rollout, String namespace, String look) {
    if (rollout.isEmpty()) {
      return new Finding(check, Status.MISSING, what + " not found", "./trellis install -n " + namespace);
    }
    Rollout r = rollout.get();
    String detail = what + ": " + r.ready() + "/" + r.desired() + " ready";
    if (r.desired() > 0 && r.ready() >= r.desired()) {
      return new Finding(check, Status.OK, detail, "");
    }
    return new Finding(check, r.ready() == 0 ? Status.MISSING : Status.WARNING, detail, look);
  }
}
