package dev.trellis.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cni.AgentChannel.AgentException;
import dev.trellis.cni.AgentChannel.Answer;
import dev.trellis.cni.AgentChannel.Attachment;
import dev.trellis.cni.AgentChannel.State;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Both ends of the wire format: what the plugin writes, the agent reads, and back. */
class AgentProtocolTest {

  static final Attachment POD = new Attachment("c1", "/var/run/netns/p", "eth0", "demo", "web-0", "u-1",
      List.of("10.1.0.7", "fd00::7"));

  @Test
  void everyPodRequestReadsBackAsSent() {
    for (AgentProtocol.Op op : List.of(AgentProtocol.Op.ADD, AgentProtocol.Op.DEL, AgentProtocol.Op.CHECK)) {
      assertThat(AgentProtocol.parseRequest(AgentProtocol.request(op, POD)))
          .isEqualTo(new AgentProtocol.Request(op, POD, List.of()));
    }
    assertThat(AgentProtocol.parseRequest(AgentProtocol.status()))
        .isEqualTo(new AgentProtocol.Request(AgentProtocol.Op.STATUS, null, List.of()));
    assertThat(AgentProtocol.parseRequest(AgentProtocol.collect(List.of("c1", "c2"))))
        .isEqualTo(new AgentProtocol.Request(AgentProtocol.Op.GC, null, List.of("c1", "c2")));
  }

  @Test
  void theRequestLineKeepsItsFieldNames() {
    assertThat(AgentProtocol.request(AgentProtocol.Op.ADD, POD)).isEqualTo("{\"containerId\":\"c1\","
        + "\"netns\":\"/var/run/netns/p\",\"ifname\":\"eth0\",\"namespace\":\"demo\",\"pod\":\"web-0\",\"podUid\":\"u-1\","
        + "\"ips\":[\"10.1.0.7\",\"fd00::7\"],\"op\":\"add\"}");
  }

  @Test
  void badRequestsAreRefusedNamingTheProblem() {
    assertThatThrownBy(() -> AgentProtocol.parseRequest("{\"op\": \"fly\"}"))
        .hasMessage("unknown op 'fly' (expected add, del, check, status or gc)");
    assertThatThrownBy(() -> AgentProtocol.parseRequest("not json")).hasMessageStartingWith("not a JSON request");
    assertThatThrownBy(() -> AgentProtocol.parseRequest("{\"op\": \"add\", \"ips\": [{}]}"))
        .hasMessageStartingWith("malformed add request");
  }

  @Test
  void answersAndErrorsReadBack() {
    for (State s : State.values()) {
      assertThat(AgentProtocol.parseAnswer(AgentProtocol.answer(new Answer(s, "because"))))
          .isEqualTo(new Answer(s, "because"));
    }
    assertThat(AgentProtocol.parseAnswer(AgentProtocol.answer(new Answer(State.READY, null))))
        .isEqualTo(new Answer(State.READY, null));
    assertThatThrownBy(() -> AgentProtocol.parseAnswer(AgentProtocol.error("bpf map full")))
        .isInstanceOf(AgentException.class).hasMessage("bpf map full");
    assertThatThrownBy(() -> AgentProtocol.parseAnswer("{\"state\": \"ASLEEP\"}"))
        .isInstanceOf(AgentException.class).hasMessageContaining("unknown state");
  }
}
