package dev.trellis.controlplane.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MeshEgressTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "169.254.169.254,        169.254.169.254/32",
      "' 169.254.169.254/32 ', 169.254.169.254/32",
      "169.254.0.0/16,         169.254.0.0/16",
      "0.0.0.0/0,              0.0.0.0/0",
      "fd00:ec2::254,          fd00:ec2:0:0:0:0:0:254/128",
      "fe80::/10,              fe80:0:0:0:0:0:0:0/10",
  })
  void prefixesAreNormalized(String given, String normal) {
    assertThat(MeshEgress.cidr(given)).isEqualTo(normal);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', textBlock = """
      metadata.google.internal | is not an address prefix
      10.0.0                   | is not an address prefix
      010.0.0.1x               | is not an address prefix
      ''                       | is not an address prefix
      10.0.0.1/33              | prefix length must be 0 to 32
      fd00::1/129              | prefix length must be 0 to 128
      10.0.0.1/x               | prefix length must be 0 to 32
      10.0.0.1/8               | has host bits set (did you mean 10.0.0.0/8?)
      """)
  void whatIsNoPrefixIsRefusedSayingWhatIsExpected(String given, String problem) {
    assertThatThrownBy(() -> MeshEgress.cidr(given)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(problem);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"169.254.169.254/32"})
  void theListIsNormalizedWithoutDuplicates(String one) {
    assertThat(new MeshEgress(List.of(one, "169.254.169.254")).allowCidrs()).containsExactly(one);
  }
}
