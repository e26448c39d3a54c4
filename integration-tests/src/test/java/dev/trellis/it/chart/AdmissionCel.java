package dev.trellis.it.chart;

import dev.cel.common.CelValidationException;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.Map;

/**
 * Evaluates the CEL expressions of a ValidatingAdmissionPolicy with cel-java, on the fields of an admission request
 * the chart's expressions read ({@code request.userInfo.username}, {@code request.resource}, {@code
 * request.namespace}, {@code object.metadata.name}), so a typo or a wrong condition fails here and not as a denied
 * create in a cluster.
 */
final class AdmissionCel {

  private static final CelCompiler COMPILER = CelCompilerFactory.standardCelCompilerBuilder()
      .addVar("request", SimpleType.DYN).addVar("object", SimpleType.DYN).build();
  private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().build();

  private AdmissionCel() {}

  /** A CREATE by {@code user} of the {@code resource} (plural) {@code namespace/name}. */
  record Create(String user, String resource, String namespace, String name) {

    Map<String, Object> variables() {
      String group = resource.equals("leases") ? "coordination.k8s.io" : "";
      return Map.of(
          "request", Map.of("operation", "CREATE", "namespace", namespace, "userInfo", Map.of("username", user),
              "resource", Map.of("group", group, "version", "v1", "resource", resource)),
          "object", Map.of("metadata", Map.of("namespace", namespace, "name", name)));
    }
  }

  static Object eval(String expression, Create request) {
    try {
      return RUNTIME.createProgram(COMPILER.compile(expression).getAst()).eval(request.variables());
    } catch (CelValidationException | CelEvaluationException e) {
      throw new AssertionError("CEL " + expression + ": " + e.getMessage(), e);
    }
  }
}
