package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EnrollmentTest {

  @ParameterizedTest(name = "ns={0} pod={1} hostNetwork={2} -> {3}")
  @CsvSource(nullValues = "-", value = {
      "enabled,  -,        false, true,  namespace demo is labeled trellis.dev/mesh=enabled",
      "enabled,  disabled, false, false, pod is labeled trellis.dev/mesh=disabled",
      "enabled,  enabled,  false, true,  namespace demo is labeled trellis.dev/mesh=enabled",
      "-,        enabled,  false, false, namespace demo is not labeled trellis.dev/mesh=enabled",
      "disabled, -,        false, false, namespace demo is not labeled trellis.dev/mesh=enabled",
      "enabled,  -,        true,  false, pod uses the host network"})
  void namespaceLabelEnrollsPodLabelOptsOut(String ns, String pod, boolean hostNetwork, boolean enrolled,
      String reason) {
    Map<String, String> nsLabels = ns == null ? Map.of() : Map.of(Enrollment.LABEL, ns);
    Map<String, String> podLabels = pod == null ? Map.of("app", "web") : Map.of(Enrollment.LABEL, pod);
    assertThat(Enrollment.decide("demo", nsLabels, podLabels, hostNetwork))
        .isEqualTo(new Enrollment.Decision(enrolled, reason));
  }
}
