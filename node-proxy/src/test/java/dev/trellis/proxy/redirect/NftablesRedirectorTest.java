package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The nft scripts, against a stand-in for nft that keeps the two sets. */
class NftablesRedirectorTest {

  final List<String> scripts = new ArrayList<>();
  final Set<String> elements = new HashSet<>();

  final NftablesRedirector.Nft fake = script -> {
    scripts.add(script.strip());
    Matcher m = Pattern.compile("(add|delete|get) element inet trellis (\\w+) \\{ (.+) }").matcher(script);
    int status = 0;
    Set<String> after = new HashSet<>(elements); // like nft, a script is one transaction: all or nothing
    while (m.find()) {
      for (String ip : m.group(3).split(", ")) {
        String key = m.group(2) + " " + ip;
        switch (m.group(1)) {
          case "add" -> after.add(key);
          case "delete" -> status |= after.remove(key) ? 0 : 1;
          default -> status |= after.contains(key) ? 0 : 1;
        }
      }
    }
    if (status == 0) {
      elements.clear();
      elements.addAll(after);
    }
    return new NftablesRedirector.Nft.Result(status, status == 0 ? "" : "No such file or directory");
  };
  final NftablesRedirector redirector = new NftablesRedirector(fake, NftablesRedirector.Ports.DEFAULTS);

  static Redirector.Target pod(String... ips) {
    return new Redirector.Target("c1", "/var/run/netns/p", "demo", "web-0", List.of(ips));
  }

  @Test
  void theTableSendsPodTrafficToTheProxyPorts() {
    String base = NftablesRedirector.baseScript(new NftablesRedirector.Ports(15001, 15006, 15008));
    assertThat(base).startsWith("add table inet trellis\n").doesNotContain("delete table").doesNotContain("flush set")
        .contains("flush chain inet trellis prerouting\n")
        .contains("ip saddr @pods4 meta l4proto tcp tproxy ip to 127.0.0.1:15001 meta mark set 0x539 accept")
        .contains("ip daddr @pods4 tcp dport 15008 ct direction original tproxy ip to 127.0.0.1:15008")
        .contains("ip daddr @pods4 meta l4proto tcp ct direction original tproxy ip to 127.0.0.1:15006")
        .contains("ip6 saddr @pods6 meta l4proto tcp tproxy ip6 to [::1]:15001");
    assertThat(base.lines().filter(l -> l.contains("daddr @pods")))
        .as("inbound capture never takes the replies to connections a pod opened").hasSize(4)
        .allMatch(l -> l.contains(" ct direction original tproxy "));
    assertThat(base.indexOf("dport 15008")).as("HBONE before the catch-all inbound rule")
        .isLessThan(base.indexOf("tproxy ip to 127.0.0.1:15006"));
    assertThat(base.indexOf("add set inet trellis pods4")).as("sets are created (kept) before the chain refers to them")
        .isLessThan(base.indexOf("add chain"));
  }

  @Test
  void besideEbpfOnlyInboundTrafficIsCaptured() {
    String base = NftablesRedirector.baseScript(NftablesRedirector.Ports.INBOUND_ONLY);
    assertThat(base).doesNotContain("saddr @pods4 meta l4proto tcp tproxy").doesNotContain(":0 ")
        .contains("ip daddr @pods4 tcp dport 15008 ct direction original tproxy ip to 127.0.0.1:15008")
        .contains("ip daddr @pods4 meta l4proto tcp ct direction original tproxy ip to 127.0.0.1:15006");
  }

  @Test
  void capturingAddsEachAddressToItsFamilysSetAndReleasingRemovesOnlyWhatIsThere() throws IOException {
    redirector.install(pod("10.1.0.7", "fd00::7"));
    assertThat(scripts.getLast()).isEqualTo(
        "add element inet trellis pods4 { 10.1.0.7 }\nadd element inet trellis pods6 { fd00::7 }");
    assertThat(redirector.verify(pod("10.1.0.7", "fd00::7"))).isTrue();
    elements.remove("pods6 fd00::7");
    assertThat(redirector.verify(pod("10.1.0.7", "fd00::7"))).as("one address lost").isFalse();
    redirector.remove(pod("10.1.0.7", "fd00::7"));
    redirector.remove(pod("10.1.0.7", "fd00::7"));
    assertThat(elements).isEmpty();
    assertThat(scripts.stream().filter(s -> s.startsWith("delete")).toList())
        .containsExactly("delete element inet trellis pods4 { 10.1.0.7 }");
  }

  @Test
  void aPodWithoutAddressesOrWithANameForAnAddressIsRefused() {
    assertThatThrownBy(() -> redirector.install(pod())).hasMessage("pod demo/web-0 has no address to capture");
    assertThatThrownBy(() -> redirector.install(pod("web.local"))).hasMessageContaining("not an IP literal");
  }

  @Test
  void exclusionsGoInAndOutWithTheirAddress() throws IOException {
    Redirector.Target t = new Redirector.Target("c1", "/n", "demo", "web-0", List.of("10.1.0.7", "fd00::7"),
        new Exclusions(List.of(5432), List.of("10.96.0.0/16", "fd00:96::/64")));
    redirector.install(t);
    assertThat(scripts.getLast()).isEqualTo("""
        add element inet trellis pods4 { 10.1.0.7 }
        add element inet trellis pods6 { fd00::7 }
        add element inet trellis excluded_ports4 { 10.1.0.7 . 5432 }
        add element inet trellis excluded_cidrs4 { 10.1.0.7 . 10.96.0.0/16 }
        add element inet trellis excluded_ports6 { fd00::7 . 5432 }
        add element inet trellis excluded_cidrs6 { fd00::7 . fd00:96::/64 }""");
    elements.remove("excluded_ports4 10.1.0.7 . 5432"); // changed behind our back
    redirector.remove(t);
    assertThat(elements).isEmpty();
  }
}
