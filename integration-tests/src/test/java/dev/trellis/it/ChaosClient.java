package dev.trellis.it;

import com.google.gson.GsonBuilder;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
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
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The chaos suite's client, run inside a client pod ({@code trellis exec POD -- java ... ChaosClient ...}) so its
 * connections are captured like a workload's. Arguments {@code key=value}: {@code seconds} (how long the load
 * runs at most), {@code stopFile=PATH} (the load ends as soon as that file exists: the driver creates it once its
 * actions are done), {@code http=VIP:PORT} (two paced HTTP/1.1 loops, see {@link HttpLoop}), {@code h2load=h2|h1} (h2load
 * bursts at the same {@code http} target, see {@link #h2load}), {@code tcp=VIP:PORT}, {@code tcpBytes},
 * {@code tcpSeconds} ({@link ChaosTransfer}), {@code grpc=VIP:PORT} ({@link ChaosGrpcStreams}). At the end it prints
 * one line {@code CHAOS-FIGURES {json}} and one {@code CHAOS-FAILURE ...} line per failure (the first 300), and
 * exits 0 (the driver judges the figures). It prints {@code CHAOS-STARTED} once its load runs.
 */
public final class ChaosClient {

  static final String FIGURES = "CHAOS-FIGURES ";
  static final String FAILURE = "CHAOS-FAILURE ";
  static final String STARTED = "CHAOS-STARTED";
  private static final Clock CLOCK = Clock.systemUTC();
  private static final Pattern REQUESTS = Pattern.compile("requests: (\\d+) total, (\\d+) started, (\\d+) done, "
      + "(\\d+) succeeded, (\\d+) failed, (\\d+) errored, (\\d+) timeout");
  private static final Pattern STATUS = Pattern.compile("status codes: (\\d+) 2xx, (\\d+) 3xx, (\\d+) 4xx, (\\d+) 5xx");

  private ChaosClient() {}

  /** Failures as they happen, with the wall-clock time (the driver lines them up with its actions). */
  static final class Failures {
    private final Queue<String> lines = new ConcurrentLinkedQueue<>();
    private final AtomicLong count = new AtomicLong();

    void add(String kind, String detail) {
      if (count.incrementAndGet() <= 300) {
        lines.add(CLOCK.instant() + " " + kind + " " + detail);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (String arg : args) {
      String[] kv = arg.split("=", 2);
      a.put(kv[0], kv[1]);
    }
    End end = new End(CLOCK.instant().plusSeconds(Long.parseLong(a.get("seconds"))),
        a.containsKey("stopFile") ? Path.of(a.get("stopFile")) : null);
    Failures failures = new Failures();
    Map<String, Object> figures = new LinkedHashMap<>();
    List<Thread> threads = new ArrayList<>();
    List<Runnable> collect = new ArrayList<>();
    if (a.containsKey("http")) {
      InetSocketAddress target = address(a.get("http"));
      for (HttpLoop.Connections c : HttpLoop.Connections.values()) {
        HttpLoop loop = new HttpLoop(target, c, end, failures);
        threads.add(Thread.ofPlatform().name("http-" + c).start(loop));
        collect.add(() -> figures.put("http-" + c.name().toLowerCase(Locale.ROOT), loop.figures()));
      }
    }
    if (a.containsKey("h2load")) {
      Map<String, Long> h2load = new LinkedHashMap<>();
      threads.add(Thread.ofPlatform().name("h2load").start(() -> h2load(a.get("http"), a.get("h2load"), end, h2load,
          failures)));
      collect.add(() -> figures.put("h2load-" + a.get("h2load"), h2load));
    }
    if (a.containsKey("grpc")) {
      ChaosGrpcStreams grpc = new ChaosGrpcStreams(a.get("grpc"), end, failures);
      threads.add(Thread.ofPlatform().name("grpc").start(grpc));
      collect.add(() -> figures.put("grpc", grpc.figures()));
    }
    if (a.containsKey("tcp")) {
      ChaosTransfer tcp = new ChaosTransfer(address(a.get("tcp")), Long.parseLong(a.get("tcpBytes")),
          Duration.ofSeconds(Long.parseLong(a.get("tcpSeconds"))), failures);
      threads.add(Thread.ofPlatform().name("tcp").start(tcp));
      collect.add(() -> figures.put("tcp", tcp.figures()));
    }
    System.out.println(STARTED + " " + CLOCK.instant());
    System.out.flush();
    for (Thread t : threads) {
      t.join();
    }
    collect.forEach(Runnable::run);
    figures.put("failures", failures.count.get());
    System.out.println(FIGURES + new GsonBuilder().disableHtmlEscaping().create().toJson(figures));
    failures.lines.forEach(l -> System.out.println(FAILURE + l));
    System.out.flush();
    System.exit(0);
  }

  /** When the load ends: at a time, or once the driver's stop file exists (checked every 100 ms). */
  static final class End {
    private final Instant latest;
    private volatile boolean stopped;

    End(Instant latest, Path stopFile) {
      this.latest = latest;
      if (stopFile != null) {
        Thread.ofPlatform().daemon().name("stop-file").start(() -> {
          while (!Files.exists(stopFile)) {
            paceUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
          }
          stopped = true;
        });
      }
    }

    boolean reached() {
      return stopped || !CLOCK.instant().isBefore(latest);
    }
  }

  static InetSocketAddress address(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  /** Parks until {@code deadlineNanos} (System.nanoTime): pacing a client, not waiting for a condition. */
  static void paceUntil(long deadlineNanos) {
    for (long left = deadlineNanos - System.nanoTime(); left > 0; left = deadlineNanos - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }

  /**
   * h2load for volume: a burst of 40 requests on 2 new connections (HTTP/2 prior knowledge with 4 streams each, or
   * HTTP/1.1 one at a time) every second. Bursts, not one long {@code -D} run: h2load 1.52 in duration mode does not
   * reconnect after a {@code Connection: close} (the client just stops, counting nothing as failed), which would
   * hide a drain's effect instead of measuring it; with {@code -n} it reconnects. A request h2load counts as not
   * 2xx (failed, errored, timed out, or another status) is a failure.
   */
  static void h2load(String target, String protocol, End end, Map<String, Long> figures, Failures failures) {
    List<String> command = new ArrayList<>(List.of("h2load", "-n", "40", "-c", "2", "-m", protocol.equals("h1") ? "1"
        : "4", "-N", "15s"));
    if (protocol.equals("h1")) {
      command.add("--h1");
    }
    command.add("http://" + target + "/");
    for (String k : List.of("bursts", "requests", "2xx", "failed", "errored", "timeout", "not2xx")) {
      figures.put(k, 0L);
    }
    long next = System.nanoTime();
    while (!end.reached()) {
      paceUntil(next);
      next = Math.max(next + TimeUnit.SECONDS.toNanos(1), System.nanoTime());
      String out;
      try {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
      } catch (IOException e) {
        failures.add("h2load-" + protocol, "could not run h2load: " + e);
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      Matcher r = REQUESTS.matcher(out);
      Matcher s = STATUS.matcher(out);
      figures.merge("bursts", 1L, Long::sum);
      if (!r.find() || !s.find()) {
        figures.merge("not2xx", 40L, Long::sum);
        failures.add("h2load-" + protocol, "no summary: " + out.replace('\n', ' '));
        continue;
      }
      long total = Long.parseLong(r.group(1));
      long ok = Long.parseLong(s.group(1));
      figures.merge("requests", total, Long::sum);
      figures.merge("2xx", ok, Long::sum);
      figures.merge("failed", Long.parseLong(r.group(5)), Long::sum);
      figures.merge("errored", Long.parseLong(r.group(6)), Long::sum);
      figures.merge("timeout", Long.parseLong(r.group(7)), Long::sum);
      figures.merge("not2xx", total - ok, Long::sum);
      if (ok != total) {
        failures.add("h2load-" + protocol, r.group() + "; " + s.group());
      }
    }
  }

  /**
   * A paced HTTP/1.1 client (one GET every 20 ms) as a correct application would be: {@link Connections#KEEP_ALIVE}
   * reuses its connection until a response says {@code Connection: close} (what a draining proxy answers), and
   * retries a GET once on a new connection when a reused one turns out closed before any byte of the response (the
   * idle-close race RFC 9112 section 9.3.1 allows retrying; counted as {@code staleRetries}, not as a failure);
   * {@link Connections#NEW_PER_REQUEST} opens a connection per request. Anything but a 200 is a failure; a 504 with
   * response flag UT is also counted on its own ({@code ut504}).
   */
  static final class HttpLoop implements Runnable {

    enum Connections { KEEP_ALIVE, NEW_PER_REQUEST }

    private final InetSocketAddress target;
    private final Connections connections;
    private final End end;
    private final Failures failures;
    private long sent;
    private long ok;
    private long failed;
    private long ut504;
    private long staleRetries;
    private long longestPauseNanos;

    HttpLoop(InetSocketAddress target, Connections connections, End end, Failures failures) {
      this.target = target;
      this.connections = connections;
      this.end = end;
      this.failures = failures;
    }

    @Override
    public void run() {
      Conn conn = null;
      long lastOk = System.nanoTime();
      long next = System.nanoTime();
      String kind = "http-" + connections.name().toLowerCase(Locale.ROOT);
      while (!end.reached()) {
        paceUntil(next);
        next = Math.max(next + TimeUnit.MILLISECONDS.toNanos(20), System.nanoTime());
        sent++;
        try {
          if (conn == null) {
            conn = new Conn(target);
          }
          Response r;
          try {
            r = conn.get(connections == Connections.NEW_PER_REQUEST);
          } catch (StaleConnection e) {
            staleRetries++;
            conn.close();
            conn = new Conn(target);
            r = conn.get(connections == Connections.NEW_PER_REQUEST);
          }
          if (r.status == 200) {
            ok++;
            long now = System.nanoTime();
            longestPauseNanos = Math.max(longestPauseNanos, now - lastOk);
            lastOk = now;
          } else {
            failed++;
            if (r.status == 504 && r.flags.contains("UT")) {
              ut504++;
            }
            failures.add(kind, "status " + r.status + " flags " + r.flags + " " + r.body);
          }
          if (r.close || connections == Connections.NEW_PER_REQUEST) {
            conn.close();
            conn = null;
          }
        } catch (IOException e) {
          failed++;
          failures.add(kind, e.toString());
          if (conn != null) {
            conn.close();
            conn = null;
          }
        }
      }
      if (conn != null) {
        conn.close();
      }
    }

    Map<String, Long> figures() {
      Map<String, Long> f = new LinkedHashMap<>();
      f.put("sent", sent);
      f.put("ok", ok);
      f.put("failed", failed);
      f.put("ut504", ut504);
      f.put("staleRetries", staleRetries);
      f.put("longestPauseMs", TimeUnit.NANOSECONDS.toMillis(longestPauseNanos));
      return f;
    }
  }

  record Response(int status, String flags, boolean close, String body) {}

  /** A reused connection that was closed before the response's first byte: the request can be sent again. */
  static final class StaleConnection extends IOException {
    StaleConnection(String message) {
      super(message);
    }
  }

  /** One HTTP/1.1 connection; responses must carry Content-Length (the demo service's and the proxy's do). */
  static final class Conn {
    private final Socket socket;
    private final InputStream in;
    private int used;

    Conn(InetSocketAddress target) throws IOException {
      socket = new Socket();
      try {
        socket.connect(target, 5000);
        socket.setSoTimeout(20_000);
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream());
      } catch (IOException e) {
        socket.close();
        throw new IOException("connect " + target + ": " + e, e);
      }
    }

    Response get(boolean closeAfter) throws IOException {
      boolean reused = used++ > 0;
      socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: chaos\r\n" + (closeAfter ? "Connection: close\r\n" : "")
          + "\r\n").getBytes(StandardCharsets.US_ASCII));
      int first;
      try {
        first = in.read();
      } catch (IOException e) {
        if (reused) {
          throw new StaleConnection("reused connection failed before the response: " + e);
        }
        throw e;
      }
      if (first < 0) {
        if (reused) {
          throw new StaleConnection("reused connection closed before the response");
        }
        throw new IOException("connection closed before the response");
      }
      String status = (char) first + line();
      if (!status.startsWith("HTTP/1.1 ")) {
        throw new IOException("not an HTTP/1.1 status line: " + status);
      }
      String flags = "";
      String connection = "";
      long length = -1;
      for (String l = line(); !l.isEmpty(); l = line()) {
        int colon = l.indexOf(':');
        String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = l.substring(colon + 1).trim();
        switch (name) {
          case "content-length" -> length = Long.parseLong(value);
          case "x-trellis-response-flags" -> flags = value;
          case "connection" -> connection = value.toLowerCase(Locale.ROOT);
          default -> { }
        }
      }
      if (length < 0) {
        throw new IOException("response without content-length: " + status);
      }
      byte[] body = in.readNBytes((int) length);
      if (body.length != length) {
        throw new IOException("response cut after " + body.length + " of " + length + " body bytes");
      }
      int code = Integer.parseInt(status.substring(9, 12));
      return new Response(code, flags, connection.equals("close"), code == 200 ? ""
          : new String(body, StandardCharsets.UTF_8).replace('\n', ' '));
    }

    private String line() throws IOException {
      return MeshHttpClient.line(in);
    }

    void close() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing a connection that failed
      }
    }
  }
}
