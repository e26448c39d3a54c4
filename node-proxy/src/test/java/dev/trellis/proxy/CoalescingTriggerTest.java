package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** The node agent's reconciliation after label changes: one pending run for any burst, none lost. */
class CoalescingTriggerTest {

  /** An executor that runs what it was given only when told. */
  static final class Queued implements Executor {
    final Queue<Runnable> tasks = new ArrayDeque<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    void runAll() {
      while (!tasks.isEmpty()) {
        tasks.poll().run();
      }
    }
  }

  int runs;
  final CoalescingTrigger trigger = new CoalescingTrigger(() -> runs++);
  final Queued executor = new Queued();

  @Test
  void aBurstOfChangesRunsTheTaskOnce() {
    trigger.start(executor);
    trigger.request();
    trigger.request();
    trigger.request();
    assertThat(executor.tasks).hasSize(1);
    executor.runAll();
    assertThat(runs).isEqualTo(1);
  }

  @Test
  void changesBeforeTheStartWaitForItAndRunOnce() {
    trigger.request();
    trigger.request();
    assertThat(runs).isZero();
    trigger.start(executor);
    executor.runAll();
    assertThat(runs).isEqualTo(1);
  }

  @Test
  void noChangeNoRun() {
    trigger.start(executor);
    executor.runAll();
    assertThat(runs).isZero();
  }

  @Test
  void aChangeWhileTheTaskRunsAsksForOneMoreRun() {
    CoalescingTrigger[] self = new CoalescingTrigger[1];
    int[] count = {0};
    self[0] = new CoalescingTrigger(() -> {
      count[0]++;
      if (count[0] == 1) {
        self[0].request(); // a label change arrives while the reconciliation reads the directory
      }
    });
    self[0].start(executor);
    self[0].request();
    executor.runAll();
    assertThat(count[0]).isEqualTo(2);
  }

  @Test
  void aChangeAfterARunRunsAgain() {
    trigger.start(executor);
    trigger.request();
    executor.runAll();
    trigger.request();
    executor.runAll();
    assertThat(runs).isEqualTo(2);
  }

  @Test
  void itStartsOnce() {
    trigger.start(executor);
    assertThatThrownBy(() -> trigger.start(executor)).isInstanceOf(IllegalStateException.class);
  }
}
