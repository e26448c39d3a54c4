package dev.trellis.it;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The chaos suite's driver (issue 19, item 4): {@code trellis up --netns} of {@code chaos/mesh.yaml} with paranoid
 * Netty leak detection in every JVM, the clients started in their pods with {@code trellis exec}, the
 * {@link ChaosSchedule} carried out with the CLI ({@code trellis restart ...}) and mesh-file edits, then the figures
 * collected and judged ({@link ChaosReport}). The caller tears the run down ({@code trellis down}) whatever happens.
 */
final class ChaosRun {

  static final String HTTP = "10.96.61.10:8080";
  static final String TCP = "10.96.61.40:9000";
  static final String GRPC = "10.96.61.50:50051";
  static final String PARANOID = "-Dio.netty.leakDetection.level=paranoid";
  private static final Clock CLOCK = Clock.systemUTC();

  /**
   * How long and how much.
   *
   * @param actions the schedule's length: warm-up, the actions spread over what is left but the cool-down; actions
   *     that run late (a node proxy upgrade waits for the old proxy's drain) push the rest back
   * @param maxLoad the longest the clients may run: the driver stops them once the actions and the cool-down are done
   * @param tcpPace how long the TCP transfer is paced to take (it starts with the clients, so the first node-proxy
   *     upgrade, at the end of the warm-up, happens while it runs)
   * @param drainTimeout every node proxy's {@code --drain-timeout}: it must cover the TCP transfer, which holds an old
   *     node proxy until it ends (at paranoid leak detection on 2 shared cores the mesh moved 3.8 MB/s)
   */
  record Settings(Duration actions, Duration warmUp, Duration coolDown, Duration maxLoad, long tcpBytes,
      Duration tcpPace, Duration drainTimeout) {

    /** The CI form: actions over 120 s (they run late on a busy machine), about 4-5 minutes with set-up. */
    static Settings shortForm() {
      return new Settings(Duration.ofSeconds(120), Duration.ofSeconds(15), Duration.ofSeconds(10),
          Duration.ofSeconds(300), 128L << 20, Duration.ofSeconds(30), Duration.ofSeconds(120));
    }

    /** Actions over {@code minutes} ({@code scripts/chaos --minutes N}), with a 1 GiB transfer. */
    static Settings minutes(long minutes) {
      return new Settings(Duration.ofMinutes(minutes), Duration.ofSeconds(60), Duration.ofSeconds(60),
          Duration.ofMinutes(minutes + 15), 1L << 30, Duration.ofSeconds(300), Duration.ofSeconds(900));
    }
  }

  private final Settings settings;
  private final Path state;
  private final Path mesh;
  private final String template;

  ChaosRun(Settings settings, Path state) throws IOException {
    this.settings = settings;
    this.state = state;
    this.mesh = state.resolve("chaos-mesh.yaml");
    try (InputStream in = ChaosRun.class.getResourceAsStream("/chaos/mesh.yaml")) {
      this.template = new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .replace("${JAVA}", javaBinary()).replace("${CLASSPATH}", System.getProperty("java.class.path"));
    }
  }

  /** {@code trellis up --netns}; the caller runs {@link #down} in a finally block. */
  LocalRunIT.Result up() throws Exception {
    Files.createDirectories(state);
    Files.writeString(mesh, mesh(50, 50));
    List<String> command = List.of(LocalRunIT.ROOT.resolve("trellis").toString(), "up", "--netns", "--state-dir",
        state.toString(), "--zipkin", "none", "--drain-timeout", settings.drainTimeout().toSeconds() + "s",
        mesh.toString());
    return run(command, Map.of("TRELLIS_JAVA_OPTS", PARANOID), Duration.ofMinutes(5));
  }

  LocalRunIT.Result down() throws Exception {
    return run(List.of(LocalRunIT.ROOT.resolve("trellis").toString(), "down", "--state-dir", state.toString()),
        Map.of(), Duration.ofMinutes(3));
  }

  /** Runs the load and the schedule; returns what it saw. The mesh must be up. */
  ChaosReport.Run chaos() throws Exception {
    ChaosSchedule schedule = ChaosSchedule.plan(settings.actions(), settings.warmUp(), settings.coolDown(),
        List.of("node-1", "node-2"), 3, 2, 20);
    Path stop = state.resolve("chaos.stop");
    Files.deleteIfExists(stop);
    List<String> common = List.of("seconds=" + settings.maxLoad().toSeconds(), "stopFile=" + stop, "http=" + HTTP);
    Map<String, Process> clients = new LinkedHashMap<>();
    clients.put("chaos/client-1", exec("chaos/client-1", common, "h2load=h2", "grpc=" + GRPC, "tcp=" + TCP,
        "tcpBytes=" + settings.tcpBytes(), "tcpSeconds=" + settings.tcpPace().toSeconds()));
    clients.put("chaos/client-2", exec("chaos/client-2", common, "h2load=h1"));
    for (String pod : clients.keySet()) {
      awaitStarted(pod, clients.get(pod)); // a JVM takes seconds to start on a busy machine: time counts from here
    }
    Instant t0 = CLOCK.instant();
    List<ChaosReport.ActionResult> actions = new ArrayList<>();
    List<ChaosReport.Sample> afterWarmUp;
    List<ChaosReport.Sample> atEnd;
    try (ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor()) {
      // One thread: each action runs at its time, or as soon as the one before it is done.
      ScheduledFuture<List<ChaosReport.Sample>> sampled = timer.schedule(this::samples,
          settings.warmUp().minusSeconds(3).toMillis(), TimeUnit.MILLISECONDS);
      List<ScheduledFuture<ChaosReport.ActionResult>> done = new ArrayList<>();
      for (ChaosSchedule.Action a : schedule.actions()) {
        done.add(timer.schedule(() -> act(a), a.at().toMillis(), TimeUnit.MILLISECONDS));
      }
      afterWarmUp = sampled.get();
      for (ScheduledFuture<ChaosReport.ActionResult> f : done) {
        ChaosReport.ActionResult r = f.get();
        actions.add(r);
        System.out.printf("chaos: %s ran at +%d s: %s in %d ms%s%n", r.action(), Duration.between(t0, r.started())
            .toSeconds(), r.ok() ? "done" : "FAILED", r.tookMillis(), r.detail().isEmpty() ? "" : " — " + r.detail());
      }
      atEnd = timer.schedule(this::samples, settings.coolDown().toMillis(), TimeUnit.MILLISECONDS).get();
    }
    actions = finishUpgrades(actions);
    Files.writeString(stop, "the actions are done\n");
    List<ChaosReport.ClientResult> results = new ArrayList<>();
    for (Map.Entry<String, Process> c : clients.entrySet()) {
      results.add(collect(c.getKey(), c.getValue()));
    }
    long seconds = Duration.between(t0, CLOCK.instant()).toSeconds();
    boolean overlap = upgradeDuringTransfer(results, actions);
    return new ChaosReport.Run(seconds, results, actions, afterWarmUp, atEnd, Map.of(), overlap);
  }

  /** The run with the leak counts of every log in the state folder (after {@code down}: shutdowns log too). */
  ChaosReport.Run withLeaks(ChaosReport.Run run) throws IOException {
    Map<String, Long> leaks = new LinkedHashMap<>();
    try (Stream<Path> files = Files.list(state)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".out")).sorted()
          .toList()) {
        try (Stream<String> lines = Files.lines(f, StandardCharsets.ISO_8859_1)) {
          leaks.put(f.getFileName().toString(), lines.filter(l -> l.contains("LEAK:")).count());
        }
      }
    }
    return new ChaosReport.Run(run.seconds(), run.clients(), run.actions(), run.afterWarmUp(), run.atEnd(), leaks,
        run.upgradeDuringTransfer());
  }

  private ChaosReport.ActionResult act(ChaosSchedule.Action a) {
    Instant started = CLOCK.instant();
    long t = System.nanoTime();
    try {
      String trellis = LocalRunIT.ROOT.resolve("trellis").toString();
      String dir = state.toString();
      Duration limit = settings.drainTimeout().plusSeconds(120);
      LocalRunIT.Result r = switch (a.kind()) {
        case UPGRADE_NODE_PROXY -> startUpgrade(a, List.of(trellis, "restart", a.target(), "--state-dir", dir,
            "--grace", settings.drainTimeout().plusSeconds(30).toSeconds() + "s"), t);
        case KILL_CONTROL_PLANE -> run(List.of(trellis, "restart", "control-plane", "--kill", "--state-dir", dir),
            Map.of(), limit);
        case RESTART_NODE_AGENT -> run(List.of(trellis, "restart", a.target(), "--node-agent", "--state-dir", dir),
            Map.of(), limit);
        case FLIP_SPLIT -> flip(a.target());
      };
      long took = (System.nanoTime() - t) / 1_000_000;
      String tail = r.output().lines().skip(Math.max(0, r.output().lines().count() - 15)).reduce("", (x, y) -> x
          + " | " + y);
      return new ChaosReport.ActionResult(a, started, took, took, r.exit() == 0, r.exit() == 0 ? "" : "exit "
          + r.exit() + tail);
    } catch (Exception e) {
      long took = (System.nanoTime() - t) / 1_000_000;
      return new ChaosReport.ActionResult(a, started, took, took, false, e.toString());
    }
  }

  /**
   * Writes the split {@code weights} ({@code v1/v2}) into the mesh file (the control plane reloads it) and waits until
   * both node proxies' {@code /config_dump} (127.0.0.1:15000 in each node's namespace) have both weights: fails
   * after 15 s.
   */
  private LocalRunIT.Result flip(String weights) throws Exception {
    String[] w = weights.split("/");
    Files.writeString(mesh, mesh(Integer.parseInt(w[0]), Integer.parseInt(w[1])));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    List<String> missing = new ArrayList<>(List.of("node-1", "node-2"));
    while (!missing.isEmpty() && System.nanoTime() < deadline) {
      for (String node : List.copyOf(missing)) {
        String dump = run(List.of("ip", "netns", "exec", "trellis-node-" + node, "curl", "-s", "-m", "2",
            "http://127.0.0.1:15000/config_dump"), Map.of(), Duration.ofSeconds(5)).output().replaceAll("\\s", "");
        if (dump.contains("\"weight\":" + w[0] + "}") && dump.contains("\"weight\":" + w[1] + "}")) {
          missing.remove(node);
        }
      }
      if (!missing.isEmpty()) {
        ChaosClient.paceUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
      }
    }
    return new LocalRunIT.Result(missing.isEmpty() ? 0 : 1, missing.isEmpty() ? "" : "split " + weights
        + " not in the config of " + missing + " within 15 s");
  }

  /** A {@code trellis restart NODE} still running: its old node proxy drains while the next actions go on. */
  private record Upgrade(ChaosSchedule.Action action, Process process, Path out, long startNanos,
      CompletableFuture<Long> exitNanos) {}

  private final Map<ChaosSchedule.Action, Upgrade> upgrades = new LinkedHashMap<>();

  /**
   * Starts {@code trellis restart NODE} and returns once its successor is ready and recorded in run.json (exit 0), or
   * the command failed: the old proxy's drain (which lasts as long as the TCP transfer through it) goes on while the
   * next actions run, as old pods drain while a DaemonSet rolls on. {@link #finishUpgrades} waits for the commands.
   */
  private LocalRunIT.Result startUpgrade(ChaosSchedule.Action a, List<String> command, long startNanos)
      throws Exception {
    Path out = Files.createTempFile(state, "restart-", ".out");
    Process p = new ProcessBuilder(command).directory(LocalRunIT.ROOT.toFile()).redirectErrorStream(true)
        .redirectOutput(out.toFile()).start();
    upgrades.put(a, new Upgrade(a, p, out, startNanos, p.onExit().thenApply(x -> System.nanoTime())));
    Pattern ready = Pattern.compile("new\\s+pid (\\d+)\\s+ready after");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    while (System.nanoTime() < deadline) {
      Matcher m = ready.matcher(Files.readString(out, StandardCharsets.UTF_8));
      if (m.find() && Files.readString(state.resolve("run.json")).contains("\"pid\": " + m.group(1) + ",")) {
        return new LocalRunIT.Result(0, "");
      }
      if (!p.isAlive()) {
        return new LocalRunIT.Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
      }
      ChaosClient.paceUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
    }
    return new LocalRunIT.Result(-1, Files.readString(out, StandardCharsets.UTF_8) + "\n(no successor ready in 150 s)");
  }

  /** Each upgrade's result once its command has ended (the old proxy drained and exited), in action order. */
  private List<ChaosReport.ActionResult> finishUpgrades(List<ChaosReport.ActionResult> results) throws Exception {
    List<ChaosReport.ActionResult> out = new ArrayList<>();
    for (ChaosReport.ActionResult r : results) {
      Upgrade u = upgrades.get(r.action());
      if (u == null || !r.ok()) {
        out.add(r);
        continue;
      }
      boolean ended = u.process().waitFor(settings.drainTimeout().toSeconds() + 120, TimeUnit.SECONDS);
      if (!ended) {
        u.process().destroyForcibly();
      }
      long finished = ((ended ? u.exitNanos().get() : System.nanoTime()) - u.startNanos()) / 1_000_000;
      String output = Files.readString(u.out(), StandardCharsets.UTF_8);
      boolean ok = ended && u.process().exitValue() == 0;
      out.add(new ChaosReport.ActionResult(r.action(), r.started(), r.tookMillis(), finished, ok, ok ? ""
          : (ended ? "exit " + u.process().exitValue() : "still running") + " | " + output.replace('\n', '|')));
      System.out.printf("chaos: %s: old node proxy gone %d ms after the restart began%s%n", r.action(), finished,
          ok ? "" : " — FAILED: " + output);
      Files.deleteIfExists(u.out());
    }
    return out;
  }

  private Process exec(String pod, List<String> common, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(LocalRunIT.ROOT.resolve("trellis").toString(), "exec",
        "--state-dir", state.toString(), pod, "--", javaBinary(), "-Xmx256m", PARANOID, "-cp",
        System.getProperty("java.class.path"), ChaosClient.class.getName()));
    command.addAll(common);
    command.addAll(List.of(args));
    Path out = state.resolve(pod.replace('/', '.') + ".out");
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
  }

  private void awaitStarted(String pod, Process p) throws Exception {
    Path out = state.resolve(pod.replace('/', '.') + ".out");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!Files.readString(out, StandardCharsets.ISO_8859_1).contains(ChaosClient.STARTED)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("the client in " + pod + " did not start its load within 90 s: "
            + Files.readString(out, StandardCharsets.ISO_8859_1));
      }
      ChaosClient.paceUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
    }
  }

  private ChaosReport.ClientResult collect(String pod, Process p) throws Exception {
    boolean ended = p.waitFor(settings.tcpPace().toSeconds() + 120, TimeUnit.SECONDS);
    if (!ended) {
      p.destroyForcibly();
    }
    List<String> lines = Files.readAllLines(state.resolve(pod.replace('/', '.') + ".out"), StandardCharsets.UTF_8);
    JsonObject figures = lines.stream().filter(l -> l.startsWith(ChaosClient.FIGURES)).findFirst()
        .map(l -> JsonParser.parseString(l.substring(ChaosClient.FIGURES.length())).getAsJsonObject()).orElse(null);
    List<String> failures = lines.stream().filter(l -> l.startsWith(ChaosClient.FAILURE))
        .map(l -> l.substring(ChaosClient.FAILURE.length())).toList();
    String tail = String.join(" | ", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    return new ChaosReport.ClientResult(pod, figures, failures, (ended ? "" : "(killed: still running) ") + tail);
  }

  /** RSS and open files of every process in run.json now. */
  List<ChaosReport.Sample> samples() throws IOException {
    List<ChaosReport.Sample> out = new ArrayList<>();
    JsonObject run = JsonParser.parseString(Files.readString(state.resolve("run.json"))).getAsJsonObject();
    for (JsonElement e : run.getAsJsonArray("processes")) {
      JsonObject p = e.getAsJsonObject();
      long pid = p.get("pid").getAsLong();
      String name = p.get("role").getAsString().toLowerCase(Locale.ROOT).replace('_', ' ') + " " + p.get("name").getAsString();
      Path proc = Path.of("/proc", String.valueOf(pid));
      long rss = 0;
      long fds = 0;
      try {
        rss = Files.readAllLines(proc.resolve("status")).stream().filter(l -> l.startsWith("VmRSS:"))
            .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        try (Stream<Path> fd = Files.list(proc.resolve("fd"))) {
          fds = fd.count();
        }
      } catch (IOException gone) {
        continue; // not running: the report says so
      }
      out.add(new ChaosReport.Sample(name, pid, rss, fds));
    }
    return out;
  }

  private static boolean upgradeDuringTransfer(List<ChaosReport.ClientResult> clients,
      List<ChaosReport.ActionResult> actions) {
    for (ChaosReport.ClientResult c : clients) {
      if (c.figures() != null && c.figures().has("tcp")) {
        JsonObject tcp = c.figures().getAsJsonObject("tcp");
        if (tcp.get("started").getAsString().equals("null") || tcp.get("ended").getAsString().equals("null")) {
          return false;
        }
        Instant from = Instant.parse(tcp.get("started").getAsString());
        Instant to = Instant.parse(tcp.get("ended").getAsString());
        return actions.stream().anyMatch(a -> a.action().kind() == ChaosSchedule.Kind.UPGRADE_NODE_PROXY
            && a.started().isAfter(from) && a.started().isBefore(to));
      }
    }
    return false;
  }

  private String mesh(int v1, int v2) {
    return template.replace("${V1_WEIGHT}", String.valueOf(v1)).replace("${V2_WEIGHT}", String.valueOf(v2));
  }

  private static String javaBinary() {
    return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString());
  }

  private static LocalRunIT.Result run(List<String> command, Map<String, String> env, Duration limit)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("trellis-chaos", ".out");
    try {
      ProcessBuilder pb = new ProcessBuilder(command).directory(LocalRunIT.ROOT.toFile()).redirectErrorStream(true)
          .redirectOutput(out.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new LocalRunIT.Result(-1, Files.readString(out) + "\n(killed after " + limit + ")");
      }
      return new LocalRunIT.Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
