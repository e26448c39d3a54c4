package dev.trellis.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * What {@code trellis up} started, kept in {@code <state-dir>/run.json} so that {@code down},
 * {@code status} and {@code config-dump} find it: the mesh file and every process with its pid,
 * log file and admin address.
 */
record RunState(String meshFile, String startedAt, List<Entry> processes, Network network) {

  static final String FILE = "run.json";
  /** Held while a command changes {@link #FILE} ({@link #update}). */
  static final String LOCK = "run.lock";
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  RunState {
    processes = List.copyOf(processes);
  }

  /** A run without network namespaces. */
  RunState(String meshFile, String startedAt, List<Entry> processes) {
    this(meshFile, startedAt, processes, null);
  }

  /** What a process is in the run. */
  enum Role { CONTROL_PLANE, NODE_AGENT, NODE_PROXY, WORKLOAD }

  /**
   * The namespaces of an {@code up --netns} run: the host's gateway address, the nodes and pods, and the commands
   * that remove all of it (run by {@code down} once the processes are gone).
   */
  record Network(String gateway, List<NetnsPlan.NodeNet> nodes, List<NetnsPlan.PodNet> pods,
      List<List<String>> teardown) {}

  /**
   * @param name {@code control-plane}, the node name, or {@code namespace/name} of a workload
   * @param ports the ports it listens on at {@code address}
   * @param admin the admin base URL ({@code http://host:port}), or null for workloads
   * @param processStart when the process started (as the OS reports it), so a reused pid is not taken for it;
   *     null when unknown
   * @param relaunch how to start the same process again ({@code trellis restart}); {@code up} records it for every
   *     process it starts; null in a run started by an older {@code trellis up}
   */
  record Entry(String name, Role role, long pid, String log, String address, List<Integer> ports, String admin,
      String processStart, Relaunch relaunch) {

    /** An entry that cannot be restarted. */
    Entry(String name, Role role, long pid, String log, String address, List<Integer> ports, String admin,
        String processStart) {
      this(name, role, pid, log, address, ports, admin, processStart, null);
    }
  }

  /** A process's command line, environment and working folder, as {@code up} started it. */
  record Relaunch(List<String> command, Map<String, String> env, String workDir) {}

  /** This state with {@code replacement} in the place of the entry of the same role and name. */
  RunState replacing(Entry replacement) {
    List<Entry> out = new ArrayList<>();
    for (Entry e : processes) {
      out.add(e.role() == replacement.role() && e.name().equals(replacement.name()) ? replacement : e);
    }
    return new RunState(meshFile, startedAt, out, network);
  }

  RunState with(Entry entry) {
    List<Entry> more = new ArrayList<>(processes);
    more.add(entry);
    return new RunState(meshFile, startedAt, more, network);
  }

  Optional<Entry> find(Role role, String name) {
    return processes.stream().filter(e -> e.role() == role && e.name().equals(name)).findFirst();
  }

  List<Entry> all(Role role) {
    return processes.stream().filter(e -> e.role() == role).toList();
  }

  /** Writes atomically (a reader never sees half a file). */
  void write(Path stateDir) {
    try {
      Files.createDirectories(stateDir);
      Path tmp = stateDir.resolve(FILE + ".tmp");
      Files.writeString(tmp, GSON.toJson(this) + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, stateDir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the run state to " + stateDir.resolve(FILE) + ": " + e.getMessage()
          + " (check that the folder is writable, or choose another with --state-dir)", e);
    }
  }

  /**
   * Applies {@code change} to the run state as it is on disk now, under a lock ({@code run.lock}, held across
   * processes), and writes the result: two {@code trellis restart}s at once (a chaos driver) each record their new
   * process, instead of the later write dropping the earlier one's.
   *
   * @throws IllegalStateException when there is no run state any more ({@code trellis down} ran meanwhile)
   */
  static RunState update(Path stateDir, UnaryOperator<RunState> change) {
    try {
      Files.createDirectories(stateDir);
      try (FileChannel channel = FileChannel.open(stateDir.resolve(LOCK), StandardOpenOption.CREATE,
          StandardOpenOption.WRITE); FileLock lock = channel.lock()) {
        RunState now = read(stateDir).orElseThrow(() -> new IllegalStateException("the run state "
            + stateDir.resolve(FILE) + " is gone ('trellis down' ran meanwhile?); 'trellis up' starts a new run"));
        RunState next = change.apply(now);
        next.write(stateDir);
        return next;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock the run state " + stateDir.resolve(LOCK) + ": " + e.getMessage()
          + " (check that the folder is writable)", e);
    }
  }

  /** The run state in {@code stateDir}, or empty when there is none. */
  static Optional<RunState> read(Path stateDir) {
    Path file = stateDir.resolve(FILE);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      RunState state = GSON.fromJson(Files.readString(file, StandardCharsets.UTF_8), RunState.class);
      if (state == null || state.processes() == null) {
        throw new IllegalStateException(file + " is empty or not a run state; remove it if no run is up");
      }
      return Optional.of(state);
    } catch (IOException | JsonParseException e) {
      throw new IllegalStateException("cannot read the run state " + file + ": " + e.getMessage()
          + " (remove it if no run is up)", e);
    }
  }

  static void delete(Path stateDir) {
    try {
      Files.deleteIfExists(stateDir.resolve(FILE));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove " + stateDir.resolve(FILE) + ": " + e.getMessage(), e);
    }
  }
}
