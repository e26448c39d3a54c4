package dev.trellis.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The I/O of local runs: starting detached processes with their output in a log file, probing
 * readiness, fetching admin pages (loopback only, never through a proxy) and stopping processes.
 */
final class LocalProcesses {

  private static final Duration POLL = Duration.ofMillis(200);
  private final Clock clock;
  private final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
      .connectTimeout(Duration.ofSeconds(2)).build();

  LocalProcesses(Clock clock) {
    this.clock = clock;
  }

  /** Starts the process detached from this one: stdin empty, stdout and stderr to its log (truncated). */
  ProcessHandle start(LaunchPlan.Launch launch) {
    try {
      Files.createDirectories(launch.log().getParent());
      if (launch.secretFile() != null) {
        Files.deleteIfExists(launch.secretFile());
        Files.createFile(launch.secretFile(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(launch.secretFile(), launch.secret() + "\n", StandardCharsets.UTF_8);
      }
      ProcessBuilder pb = new ProcessBuilder(launch.command()).directory(launch.workDir().toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
          .redirectOutput(launch.log().toFile()).redirectErrorStream(true);
      pb.environment().putAll(launch.env());
      return pb.start().toHandle();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + launch.name() + " (" + launch.command().getFirst() + "): "
          + e.getMessage() + "; check that the program exists and is executable", e);
    }
  }

  /**
   * Waits until every readiness check of {@code launch} passes, the process exits, or the timeout.
   *
   * @return empty when ready, else why not
   */
  Optional<String> awaitReady(LaunchPlan.Launch launch, ProcessHandle process, Duration timeout) {
    Instant deadline = clock.instant().plus(timeout);
    while (true) {
      if (!process.isAlive()) {
        return Optional.of(launch.name() + " exited before it was ready");
      }
      if (launch.ready().stream().allMatch(probe -> passes(probe, launch))) {
        return Optional.empty();
      }
      if (clock.instant().isAfter(deadline)) {
        return Optional.of(launch.name() + " was not ready within " + timeout.toSeconds() + "s (waited for "
            + String.join(", ", launch.ready()) + ")");
      }
      pause();
    }
  }

  /**
   * Whether a readiness probe passes: {@code log:TEXT} when the process's log has that text, {@code file:PATH} when
   * that file exists and is not empty (a node proxy's {@code --ready-file}), {@code netns:NS:host:port}
   * when the port accepts a connection inside network namespace NS, otherwise as {@link #answers}.
   */
  boolean passes(String probe, LaunchPlan.Launch launch) {
    if (probe.startsWith(LaunchPlan.LOG_PROBE)) {
      String text = probe.substring(LaunchPlan.LOG_PROBE.length());
      try {
        return Files.exists(launch.log()) && Files.readString(launch.log(), StandardCharsets.UTF_8).contains(text);
      } catch (IOException | UncheckedIOException e) {
        return false;
      }
    }
    if (probe.startsWith(LaunchPlan.FILE_PROBE)) {
      Path file = Path.of(probe.substring(LaunchPlan.FILE_PROBE.length()));
      try {
        return Files.exists(file) && !Files.readString(file, StandardCharsets.UTF_8).isBlank();
      } catch (IOException | UncheckedIOException e) {
        return false;
      }
    }
    if (probe.startsWith(LaunchPlan.NETNS_PROBE)) {
      String[] f = probe.substring(LaunchPlan.NETNS_PROBE.length()).split(":");
      // bash's /dev/tcp connects from inside the namespace; exit 0 once something listens.
      return HostCommands.run(List.of("nsenter", "--net=/var/run/netns/" + f[0], "bash", "-c",
          ": > /dev/tcp/" + f[1] + "/" + f[2]), Map.of(), "", Duration.ofSeconds(5)).ok();
    }
    return answers(probe);
  }

  /** Whether an {@code http://} URL answers 200, or a {@code host:port} accepts a connection. */
  boolean answers(String probe) {
    if (probe.startsWith("http://")) {
      return fetch(probe).isPresent();
    }
    int colon = probe.lastIndexOf(':');
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(probe.substring(0, colon), Integer.parseInt(probe.substring(colon + 1))), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The body of a 200 answer, or empty when there is none (not listening, other status, timeout). A URL of the form
   * {@code netns:NAMESPACE:http://host:port/path} is fetched from inside that network namespace (bash's /dev/tcp
   * under nsenter: a loopback-only admin port of a node namespace).
   */
  Optional<String> fetch(String url) {
    if (url.startsWith(LaunchPlan.NETNS_PROBE)) {
      return fetchInNetns(url);
    }
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? Optional.of(r.body()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static Optional<String> fetchInNetns(String url) {
    String rest = url.substring(LaunchPlan.NETNS_PROBE.length());
    int colon = rest.indexOf(':');
    if (colon < 0) {
      return Optional.empty();
    }
    URI target = URI.create(rest.substring(colon + 1));
    HostCommands.Result r = HostCommands.run(List.of("nsenter", "--net=/var/run/netns/" + rest.substring(0, colon),
        "bash", "-c", "exec 3<>/dev/tcp/$0/$1 && printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$2\" \"$0\" >&3 "
            + "&& cat <&3", target.getHost(), String.valueOf(target.getPort()), target.getRawPath()),
        Map.of(), "", Duration.ofSeconds(5));
    return r.ok() ? okBody(r.output()) : Optional.empty();
  }

  /** The body of a raw HTTP response whose status is 200, else empty. */
  static Optional<String> okBody(String response) {
    int end = response.indexOf("\r\n\r\n");
    int skip = 4;
    if (end < 0) {
      end = response.indexOf("\n\n");
      skip = 2;
    }
    String[] status = response.lines().findFirst().orElse("").split(" ");
    if (end < 0 || status.length < 2 || !status[0].startsWith("HTTP/") || !status[1].equals("200")) {
      return Optional.empty();
    }
    return Optional.of(response.substring(end + skip));
  }

  /** SIGTERM to each, then SIGKILL to those still alive after {@code grace}; returns once all are gone. */
  void stop(List<ProcessHandle> processes, Duration grace) {
    processes.forEach(ProcessHandle::destroy);
    Instant deadline = clock.instant().plus(grace);
    while (processes.stream().anyMatch(ProcessHandle::isAlive) && !clock.instant().isAfter(deadline)) {
      pause();
    }
    kill(processes);
  }

  /** SIGKILL to each still alive (no SIGTERM first: a crash); returns once all are gone, or after 10 s. */
  void kill(List<ProcessHandle> processes) {
    processes.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    Instant killDeadline = clock.instant().plus(Duration.ofSeconds(10));
    while (processes.stream().anyMatch(ProcessHandle::isAlive) && !clock.instant().isAfter(killDeadline)) {
      pause();
    }
  }

  /** The entry's process if it is alive and still the one we started (same start time, when known). */
  static Optional<ProcessHandle> find(RunState.Entry entry) {
    return ProcessHandle.of(entry.pid()).filter(ProcessHandle::isAlive).filter(p -> entry.processStart() == null
        || p.info().startInstant().map(i -> i.toString().equals(entry.processStart())).orElse(true));
  }

  /** What {@link #find} compares: the process's start time as the OS reports it, or null. */
  static String startOf(ProcessHandle p) {
    return p.info().startInstant().map(Object::toString).orElse(null);
  }

  /** The last {@code n} lines of a log file (empty if it cannot be read). */
  static List<String> tail(Path log, int n) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return lines.subList(Math.max(0, lines.size() - n), lines.size());
    } catch (IOException | UncheckedIOException e) {
      return List.of();
    }
  }

  private static void pause() {
    try {
      Thread.sleep(POLL);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
