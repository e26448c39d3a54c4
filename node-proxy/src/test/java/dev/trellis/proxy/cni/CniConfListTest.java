package dev.trellis.proxy.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The CNI configuration edits, table-style, no files. */
class CniConfListTest {

  static final String SOCK = "/var/run/trellis/cni.sock";
  static final String TRELLIS = "{\"type\": \"trellis-cni\", \"agentSocket\": \"" + SOCK + "\"}";
  static final String CALICO = "{\"type\": \"calico\", \"ipam\": {\"type\": \"calico-ipam\"}, \"mtu\": 1450}";
  static final String PORTMAP = "{\"type\": \"portmap\", \"snat\": true, \"capabilities\": {\"portMappings\": true}}";

  static String list(String... plugins) {
    return "{\"name\": \"k8s-pod-network\", \"cniVersion\": \"1.0.0\", \"disableCheck\": false, \"plugins\": ["
        + String.join(", ", plugins) + "]}";
  }

  static Stream<Arguments> chaining() {
    return Stream.of(
        Arguments.of("appended last, everything else kept", list(CALICO, PORTMAP), list(CALICO, PORTMAP, TRELLIS)),
        Arguments.of("already last with this socket: nothing to write", list(CALICO, TRELLIS), null),
        Arguments.of("an older entry (other socket) is replaced",
            list(CALICO, "{\"type\": \"trellis-cni\", \"agentSocket\": \"/old.sock\"}"), list(CALICO, TRELLIS)),
        Arguments.of("an entry not last is moved last", list(TRELLIS, CALICO, PORTMAP), list(CALICO, PORTMAP, TRELLIS)),
        Arguments.of("two entries become one", list(CALICO, TRELLIS, PORTMAP, TRELLIS), list(CALICO, PORTMAP, TRELLIS)),
        Arguments.of("an empty list gets us alone", list(), list(TRELLIS)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("chaining")
  void chainingPutsTrellisLastOnce(String what, String before, String after) {
    Optional<String> result = CniConfList.chain(before, SOCK);
    if (after == null) {
      assertThat(result).as(what).isEmpty();
    } else {
      assertThat(JsonParser.parseString(result.orElseThrow())).as(what).isEqualTo(JsonParser.parseString(after));
    }
  }

  @Test
  void chainingKeepsFieldOrderAndNumberSpelling() {
    String before = "{\"cniVersion\": \"0.3.1\", \"name\": \"x\", \"plugins\": [{\"type\": \"flannel\", "
        + "\"delegate\": {\"hairpinMode\": true, \"mtu\": 1.50e3}}], \"zz\": 1}";
    String after = CniConfList.chain(before, SOCK).orElseThrow();
    assertThat(after.indexOf("cniVersion")).isLessThan(after.indexOf("\"name\""));
    assertThat(after.indexOf("\"plugins\"")).isLessThan(after.indexOf("\"zz\""));
    assertThat(after).contains("1.50e3");
  }

  static Stream<Arguments> unchaining() {
    return Stream.of(
        Arguments.of("our entry removed", list(CALICO, PORTMAP, TRELLIS), list(CALICO, PORTMAP)),
        Arguments.of("every entry removed, any socket",
            list(TRELLIS, CALICO, "{\"type\": \"trellis-cni\", \"agentSocket\": \"/old.sock\"}"), list(CALICO)),
        Arguments.of("nothing of ours: nothing to write", list(CALICO, PORTMAP), null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unchaining")
  void unchainingRemovesOnlyTrellis(String what, String before, String after) {
    Optional<String> result = CniConfList.unchain(before);
    if (after == null) {
      assertThat(result).as(what).isEmpty();
    } else {
      assertThat(JsonParser.parseString(result.orElseThrow())).as(what).isEqualTo(JsonParser.parseString(after));
    }
  }

  @Test
  void aSinglePluginConfBecomesTheListTheRuntimeWouldMake() {
    String conf = "{\"cniVersion\": \"0.4.0\", \"name\": \"bridge-net\", \"type\": \"bridge\", \"bridge\": \"cni0\"}";
    String list = CniConfList.toList(conf);
    assertThat(JsonParser.parseString(list)).isEqualTo(JsonParser.parseString(
        "{\"cniVersion\": \"0.4.0\", \"name\": \"bridge-net\", \"plugins\": [" + conf + "]}"));
    assertThat(JsonParser.parseString(CniConfList.chain(list, SOCK).orElseThrow())).isEqualTo(JsonParser.parseString(
        "{\"cniVersion\": \"0.4.0\", \"name\": \"bridge-net\", \"plugins\": [" + conf + ", " + TRELLIS + "]}"));
  }

  static Stream<Arguments> refused() {
    return Stream.of(
        Arguments.of("", "not a JSON object"),
        Arguments.of("{\"plugins\": [", "not valid JSON"),
        Arguments.of("[]", "not a JSON object"),
        Arguments.of("{\"name\": \"x\", \"type\": \"bridge\"}", "no \"plugins\" array"),
        Arguments.of("{\"plugins\": {}}", "no \"plugins\" array"));
  }

  @ParameterizedTest
  @MethodSource("refused")
  void whatIsNotAListIsRefusedSayingWhy(String text, String message) {
    assertThatThrownBy(() -> CniConfList.chain(text, SOCK)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void theRuntimesFileIsTheFirstCniFileByName() {
    assertThat(CniConfList.pick(List.of("20-b.conflist", "10-calico.conflist", "99-loopback.conf")))
        .contains("10-calico.conflist");
    assertThat(CniConfList.pick(List.of("20-b.conflist", "05-bridge.conf"))).contains("05-bridge.conf");
    assertThat(CniConfList.pick(List.of("README", ".10-x.conflist.trellis-tmp", "calico-kubeconfig"))).isEmpty();
    assertThat(CniConfList.pick(List.of("00-x.json", "10-y.conflist"))).contains("00-x.json");
  }
}
