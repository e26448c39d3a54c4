package dev.trellis.cli.install;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code trellis install}/{@code uninstall}: the Helm chart {@code charts/trellis} installed with Helm as a library
 * (helm-java), so no {@code helm} binary is needed. Deciding (which chart, which kubeconfig, what an error means) is
 * kept apart from the Helm calls.
 */
public final class ChartInstall {

  /** What to install: the release name and namespace, values files and {@code --set} pairs in the order given. */
  public record Request(Path chart, String release, String namespace, List<Path> valuesFiles, Map<String, String> sets) {
    public Request {
      valuesFiles = List.copyOf(valuesFiles);
      sets = Collections.unmodifiableMap(new LinkedHashMap<>(sets));
    }
  }

  /** A kubeconfig and how it was chosen ({@code --kubeconfig}, {@code $KUBECONFIG} or the default). */
  public record Kubeconfig(Path path, String source) {}

  /** A failure an operator can act on; the message says what was tried and what to do. */
  public static final class InstallException extends RuntimeException {
    public InstallException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The Kubernetes version {@code --dry-run} renders for (Helm's client-only default is below the chart's minimum). */
  public static final String DRY_RUN_KUBE_VERSION = "1.31.0";

  private ChartInstall() {}

  /**
   * The chart directory: {@code --chart} if given, else {@code $TRELLIS_HOME/charts/trellis} (the launcher sets it),
   * else {@code charts/trellis} in the working directory or above it.
   */
  public static Path findChart(Path option, Map<String, String> env, Path workingDir) {
    if (option != null) {
      if (!isChart(option)) {
        throw new InstallException("--chart " + option + ": no Chart.yaml there (expected the charts/trellis folder "
            + "of a Trellis checkout)", null);
      }
      return option;
    }
    String home = env.get("TRELLIS_HOME");
    if (home != null && !home.isBlank() && isChart(Path.of(home, "charts", "trellis"))) {
      return Path.of(home, "charts", "trellis");
    }
    for (Path dir = workingDir.toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (isChart(dir.resolve("charts/trellis"))) {
        return dir.resolve("charts/trellis");
      }
    }
    throw new InstallException("the chart charts/trellis was not found (TRELLIS_HOME="
        + (home == null ? "unset" : home) + ", nor above " + workingDir.toAbsolutePath() + "); run ./trellis from the "
        + "repository, or pass --chart DIR", null);
  }

  /** {@code --kubeconfig}, else the first entry of {@code $KUBECONFIG}, else {@code ~/.kube/config}. */
  public static Kubeconfig chooseKubeconfig(Path option, Map<String, String> env, Path userHome) {
    if (option != null) {
      return new Kubeconfig(option, "--kubeconfig");
    }
    String fromEnv = env.get("KUBECONFIG");
    if (fromEnv != null && !fromEnv.isBlank()) {
      Optional<String> first = Arrays.stream(fromEnv.split(":")).filter(s -> !s.isBlank()).findFirst();
      if (first.isPresent()) {
        return new Kubeconfig(Path.of(first.get()), "$KUBECONFIG");
      }
    }
    return new Kubeconfig(userHome.resolve(".kube").resolve("config"), "the default");
  }

  /** {@code helm template}: the manifests {@code install} would apply, CRDs included; touches no cluster. */
  public static String render(Request request) {
    TemplateCommand template = new Helm(request.chart()).template().withName(request.release())
        .withNamespace(request.namespace()).withKubeVersion(DRY_RUN_KUBE_VERSION);
    for (Path values : request.valuesFiles()) {
      template = template.withValuesFile(values);
    }
    for (var set : request.sets().entrySet()) {
      template = template.set(set.getKey(), set.getValue());
    }
    String rendered;
    try {
      rendered = template.call();
    } catch (RuntimeException e) {
      throw new InstallException("the chart " + request.chart() + " did not render: " + oneLine(e), e);
    }
    return crds(request.chart()) + rendered;
  }

  /** The chart's {@code crds/} as install applies them first; helm-java's template leaves them out. */
  static String crds(Path chart) {
    Path dir = chart.resolve("crds");
    if (!Files.isDirectory(dir)) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        String text = Files.readString(f);
        out.append("---\n# Source: ").append(chart.getFileName()).append("/crds/").append(f.getFileName()).append('\n')
            .append(text.startsWith("---") ? text.substring(text.indexOf('\n') + 1) : text);
        if (!text.endsWith("\n")) {
          out.append('\n');
        }
      }
    } catch (IOException e) {
      throw new InstallException("cannot read the chart's CRDs in " + dir + ": " + e.getMessage(), e);
    }
    return out.toString();
  }

  /** {@code helm install --create-namespace}; returns Helm's notes on success. */
  public static Release install(Request request, Kubeconfig kubeconfig) {
    requireKubeconfig(kubeconfig);
    InstallCommand install = new Helm(request.chart()).install().withName(request.release())
        .withNamespace(request.namespace()).createNamespace().withKubeConfig(kubeconfig.path());
    for (Path values : request.valuesFiles()) {
      install = install.withValuesFile(values);
    }
    for (var set : request.sets().entrySet()) {
      install = install.set(set.getKey(), set.getValue());
    }
    try {
      return install.call();
    } catch (RuntimeException e) {
      throw new InstallException(explain("install", e, kubeconfig), e);
    }
  }

  /** {@code helm uninstall}; the CRDs stay (Helm never deletes them), as do the custom resources. */
  public static String uninstall(String release, String namespace, Kubeconfig kubeconfig) {
    requireKubeconfig(kubeconfig);
    try {
      return Helm.uninstall(release).withNamespace(namespace).withKubeConfig(kubeconfig.path()).call();
    } catch (RuntimeException e) {
      throw new InstallException(explain("uninstall", e, kubeconfig), e);
    }
  }

  /** What a Helm failure means for the operator: unreachable cluster and missing release get their own advice. */
  static String explain(String action, Throwable e, Kubeconfig kubeconfig) {
    String message = oneLine(e);
    String lower = message.toLowerCase(Locale.ROOT);
    String config = "kubeconfig " + kubeconfig.path() + " (" + kubeconfig.source() + ")";
    if (lower.contains("unreachable") || lower.contains("connection refused") || lower.contains("no such host")
        || lower.contains("i/o timeout") || lower.contains("dial tcp")) {
      return "cannot reach the cluster of " + config + ": " + message + ". Check that its API server is up and "
          + "the current context is the cluster you mean (kubectl --kubeconfig " + kubeconfig.path()
          + " cluster-info), or pass --kubeconfig FILE";
    }
    if (lower.contains("not found") && action.equals("uninstall")) {
      return "nothing to uninstall with " + config + ": " + message + " (see helm list -A for releases)";
    }
    return "helm " + action + " failed with " + config + ": " + message;
  }

  private static void requireKubeconfig(Kubeconfig kubeconfig) {
    if (!Files.isRegularFile(kubeconfig.path())) {
      throw new InstallException("no kubeconfig at " + kubeconfig.path() + " (" + kubeconfig.source() + "); pass "
          + "--kubeconfig FILE or set KUBECONFIG to the cluster's kubeconfig", null);
    }
  }

  private static boolean isChart(Path dir) {
    return Files.isRegularFile(dir.resolve("Chart.yaml"));
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.strip().replaceAll("\\s*\\n\\s*", "; ");
  }
}
