package dev.trellis.cli.local;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A process {@code trellis up} starts for a workload (the mesh file's optional {@code run:}
 * field). The control plane ignores it: it says how to run a workload on this machine, not what the
 * mesh looks like.
 */
public sealed interface WorkloadRun {

  /** Extra environment for the process, on top of the {@code TRELLIS_WORKLOAD_*} variables. */
  Map<String, String> env();

  /** One of the demo services shipped in the repository ({@code run: {demo: http}}). */
  record Demo(Kind kind, double failRate, Duration latency, Map<String, String> env) implements WorkloadRun {
    public Demo {
      env = Map.copyOf(env);
    }

    /** Which demo service. */
    public enum Kind { HTTP, GRPC }
  }

  /** Any program ({@code run: {command: [...]}}); it must bind {@code $TRELLIS_WORKLOAD_ADDRESS}. */
  record Command(List<String> command, Map<String, String> env) implements WorkloadRun {
    public Command {
      command = List.copyOf(command);
      env = Map.copyOf(env);
    }
  }
}
