package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.resolver.JsonScalarResolver;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;

/**
 * The hand-written name and address checks accept exactly what the regular expressions they replace accept, and the
 * mesh file's YAML schema finds null exactly where the JSON schema does.
 */
class NamesTest {

  static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  static final List<String> EDGES = List.of("", "a", "-", "a-", "-a", "a-b", "A", "web-0", "svc-12-3", "a_b", "a.b",
      "é", "a".repeat(63), "a".repeat(64), "a" + "-".repeat(61) + "b", "0", "9z", "1.2.3.4", "10.96.0.10",
      "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1234.1.1.1", "1.2.3.4a", "٣.1.1.1", "255.255.255.255",
      "fd00::1", "a b", " a", "a\n");

  @Test
  void labelsAndDottedQuadsAreCheckedAsTheRegularExpressionsDid() {
    List<String> inputs = new ArrayList<>(EDGES);
    Random random = new Random(20);
    String alphabet = "az09-.A_:é٣ ";
    for (int i = 0; i < 50_000; i++) {
      StringBuilder b = new StringBuilder();
      int n = random.nextInt(i % 10 == 0 ? 70 : 16);
      for (int k = 0; k < n; k++) {
        b.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      inputs.add(b.toString());
    }
    for (String s : inputs) {
      assertThat(Names.isLabel(s)).as("label '%s'", s).isEqualTo(DNS_LABEL.matcher(s).matches());
      assertThat(Names.isDottedQuad(s)).as("dotted quad '%s'", s).isEqualTo(IPV4.matcher(s).matches());
    }
  }

  @Test
  void onlyEmptyAndNullPlainScalarsAreNullAsInTheJsonSchema() {
    ScalarResolver resolver = NullOnlySchema.INSTANCE.getScalarResolver();
    ScalarResolver json = new JsonScalarResolver();
    for (String s : List.of("", "null", "Null", "NULL", "~", " ", "nul", "nulls", "10", "true", "1.5", "x")) {
      assertThat(resolver.resolve(s, true).getValue().endsWith(":null")).as("plain '%s'", s)
          .isEqualTo(json.resolve(s, true).getValue().endsWith(":null"));
      assertThat(resolver.resolve(s, false).getValue()).as("quoted '%s'", s).endsWith(":str");
    }
  }
}
