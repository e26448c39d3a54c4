package dev.trellis.proxy.observe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.testing.LeakRecorder;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the destination's passive observer ({@link HttpObserverHandler} with {@link Http1Observation}) with HTTP/1.x
 * exchanges in {@link TwoWayInput}'s form; what must hold for any bytes is {@link ObservedConnection}'s contract.
 */
class Http1ObserverFuzzTest {

  @FuzzTest
  void exchange(byte[] input) {
    ObservedConnection.run(TwoWayInput.parse(input));
  }

  @AfterAll
  static void noLeaks() {
    LeakRecorder.assertNoLeaks();
  }
}
