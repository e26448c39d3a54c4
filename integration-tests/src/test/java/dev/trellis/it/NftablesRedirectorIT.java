package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.redirect.NftablesRedirector;
import dev.trellis.proxy.redirect.Redirector;
import dev.trellis.proxy.redirect.TproxyRouting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The nftables redirector against the real kernel, inside a network namespace of the test's own
 * (root; nothing touches the machine's own tables). Rules and set elements are read back with nft.
 */
class NftablesRedirectorIT {

  String netns;
  NftablesRedirector redirector;

  @BeforeEach
  void createNamespace() throws Exception {
    HostTools.require(HostTools.Tool.IP, HostTools.Tool.NFT);
    netns = "trellis-it-nft-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
    run("ip", "netns", "add", netns);
    run("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up");
    redirector = new NftablesRedirector(NftablesRedirector.Nft.command(netns), NftablesRedirector.Ports.DEFAULTS);
  }

  @AfterEach
  void deleteNamespace() throws Exception {
    run("ip", "netns", "del", netns);
  }

  static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
    return out;
  }

  String table() throws Exception {
    return run("ip", "netns", "exec", netns, "nft", "list", "table", "inet", "trellis");
  }

  @Test
  void thePolicyRouteForMarkedPacketsIsInstalledOnceAndRemoved() throws Exception {
    TproxyRouting routing = new TproxyRouting(TproxyRouting.Ip.command(netns));
    routing.install();
    routing.install();
    for (String family : new String[] {"-4", "-6"}) {
      assertThat(run("ip", "netns", "exec", netns, "ip", family, "rule", "show").lines()
          .filter(l -> l.contains("fwmark 0x539 lookup 1337")).count()).as(family).isEqualTo(1);
      assertThat(run("ip", "netns", "exec", netns, "ip", family, "route", "show", "table", "1337"))
          .startsWith("local default dev lo");
    }
    routing.remove();
    routing.remove();
    for (String family : new String[] {"-4", "-6"}) {
      assertThat(run("ip", "netns", "exec", netns, "ip", family, "rule", "show")).doesNotContain("0x539");
    }
  }

  static Redirector.Target pod(String container, String... ips) {
    return new Redirector.Target(container, "/var/run/netns/" + container, "demo", container, List.of(ips));
  }

  @Test
  void podsAreCapturedOnceAndReleasedCompletely() throws Exception {
    redirector.ensureBase();
    redirector.ensureBase(); // again, as after an agent restart: one table, one chain
    assertThat(run("ip", "netns", "exec", netns, "nft", "list", "tables")).isEqualTo("table inet trellis\n");
    assertThat(table().split("tproxy ip to 127.0.0.1:15001", -1)).as("the outbound rule once").hasSize(2);
    assertThat(table()).contains("tproxy ip to 127.0.0.1:15001")
        .contains("tcp dport 15008 ct direction original tproxy ip to 127.0.0.1:15008")
        .as("the kernel kept the original-direction guard of inbound capture")
        .contains("meta l4proto tcp ct direction original tproxy ip to 127.0.0.1:15006");

    redirector.install(pod("a", "10.1.0.7", "fd00::7"));
    redirector.install(pod("a", "10.1.0.7", "fd00::7"));
    redirector.install(pod("b", "10.1.0.8"));
    String table = table();
    assertThat(table).contains("elements = { 10.1.0.7, 10.1.0.8 }").contains("elements = { fd00::7 }");
    redirector.ensureBase(); // an agent restart keeps every captured pod captured (no empty window)
    assertThat(table()).contains("elements = { 10.1.0.7, 10.1.0.8 }").contains("elements = { fd00::7 }");
    assertThat(redirector.verify(pod("a", "10.1.0.7", "fd00::7"))).isTrue();

    run("ip", "netns", "exec", netns, "nft", "delete", "element", "inet", "trellis", "pods6", "{ fd00::7 }");
    assertThat(redirector.verify(pod("a", "10.1.0.7", "fd00::7"))).as("an address flushed behind our back").isFalse();

    redirector.remove(pod("a", "10.1.0.7", "fd00::7"));
    redirector.remove(pod("a", "10.1.0.7", "fd00::7"));
    assertThat(table()).contains("elements = { 10.1.0.8 }").doesNotContain("10.1.0.7");
    redirector.remove(pod("b", "10.1.0.8"));
    assertThat(table()).doesNotContain("elements");

    redirector.removeAll();
    assertThat(run("ip", "netns", "exec", netns, "nft", "list", "tables")).isEmpty();
  }
}
