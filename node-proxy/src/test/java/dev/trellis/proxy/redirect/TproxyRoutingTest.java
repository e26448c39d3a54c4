package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TproxyRoutingTest {

  final List<String> calls = new ArrayList<>();

  TproxyRouting routing(int exitCode, String output) {
    return new TproxyRouting(args -> {
      calls.add(String.join(" ", args));
      return new TproxyRouting.Ip.Result(exitCode, output);
    });
  }

  @Test
  void installsARulePerFamilyAndALocalRoute() throws Exception {
    routing(0, "").install();
    assertThat(calls).containsExactly(
        "-4 rule add fwmark 0x539 lookup 1337 priority 1337",
        "-4 route replace local 0.0.0.0/0 dev lo table 1337",
        "-6 rule add fwmark 0x539 lookup 1337 priority 1337",
        "-6 route replace local ::/0 dev lo table 1337");
  }

  @Test
  void whatIsAlreadySoIsNoErrorButOtherFailuresAre() throws Exception {
    routing(2, "RTNETLINK answers: No such file or directory").remove();
    // newer iproute2 reports an absent table so; removing what was never installed is still no error
    new TproxyRouting(args -> new TproxyRouting.Ip.Result(2, args.contains("flush")
        ? "Error: ipv4: FIB table does not exist.\nFlush terminated" : "RTNETLINK answers: No such file or directory"))
        .remove();
    assertThatThrownBy(() -> routing(2, "RTNETLINK answers: Operation not permitted").install())
        .hasMessage("ip exited with 2: RTNETLINK answers: Operation not permitted");
  }
}
