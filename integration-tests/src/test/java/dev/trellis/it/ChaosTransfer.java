package dev.trellis.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * A byte-exact TCP transfer through the mesh: {@code bytes} deterministic bytes (seeded) to an echo service, paced
 * to take about {@code pace} (so that it overlaps the node proxy upgrades the driver schedules), everything read
 * back on the same connection, SHA-256 of what was sent and of what came back compared. One connection: a raw TCP
 * stream survives an upgrade only if it ends within the old proxy's drain timeout.
 */
final class ChaosTransfer implements Runnable {

  static final long SEED = 19_004L;
  private static final int CHUNK = 64 * 1024;
  private final InetSocketAddress target;
  private final long bytes;
  private final Duration pace;
  private final ChaosClient.Failures failures;
  private final Clock clock = Clock.systemUTC();
  private volatile long sent;
  private volatile long received;
  private volatile String sentSha = "";
  private volatile String receivedSha = "";
  private volatile String error = "";
  private volatile Instant started;
  private volatile Instant ended;
  private volatile long longestReadPauseNanos;

  ChaosTransfer(InetSocketAddress target, long bytes, Duration pace, ChaosClient.Failures failures) {
    this.target = target;
    this.bytes = bytes;
    this.pace = pace;
    this.failures = failures;
  }

  @Override
  public void run() {
    started = clock.instant();
    try (Socket s = new Socket()) {
      s.connect(target, 5000);
      s.setSoTimeout(60_000);
      Thread writer = Thread.ofPlatform().name("tcp-writer").start(() -> write(s));
      read(s.getInputStream());
      writer.join();
    } catch (IOException e) {
      error = error.isEmpty() ? e.toString() : error;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      error = "interrupted";
    }
    ended = clock.instant();
    if (!error.isEmpty() || received != bytes || !sentSha.equals(receivedSha)) {
      failures.add("tcp", "sent " + sent + " of " + bytes + " bytes, received " + received + ", sha256 sent "
          + sentSha + " received " + receivedSha + (error.isEmpty() ? "" : ", " + error));
    }
  }

  private void write(Socket s) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      SplittableRandom random = new SplittableRandom(SEED);
      OutputStream out = s.getOutputStream();
      byte[] chunk = new byte[CHUNK];
      long start = System.nanoTime();
      double nanosPerByte = (double) pace.toNanos() / bytes;
      while (sent < bytes) {
        int n = (int) Math.min(CHUNK, bytes - sent);
        for (int i = 0; i < n; i += 8) {
          long r = random.nextLong();
          for (int j = 0; j < 8 && i + j < n; j++) {
            chunk[i + j] = (byte) (r >>> (8 * j));
          }
        }
        sha.update(chunk, 0, n);
        out.write(chunk, 0, n);
        sent += n;
        ChaosClient.paceUntil(start + (long) (sent * nanosPerByte));
      }
      sentSha = HexFormat.of().formatHex(sha.digest());
      s.shutdownOutput();
    } catch (IOException | NoSuchAlgorithmException e) {
      error = "writing after " + sent + " bytes: " + e;
    }
  }

  private void read(InputStream in) throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buffer = new byte[CHUNK];
    long last = System.nanoTime();
    try {
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        long now = System.nanoTime();
        longestReadPauseNanos = Math.max(longestReadPauseNanos, now - last);
        last = now;
        sha.update(buffer, 0, n);
        received += n;
      }
    } catch (IOException e) {
      throw new IOException("reading after " + received + " bytes: " + e, e);
    } finally {
      receivedSha = HexFormat.of().formatHex(sha.digest());
    }
  }

  Map<String, Object> figures() {
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("bytes", bytes);
    f.put("sent", sent);
    f.put("received", received);
    f.put("sentSha256", sentSha);
    f.put("receivedSha256", receivedSha);
    f.put("exact", error.isEmpty() && received == bytes && sent == bytes && sentSha.equals(receivedSha));
    f.put("error", error);
    f.put("started", String.valueOf(started));
    f.put("ended", String.valueOf(ended));
    f.put("longestReadPauseMs", TimeUnit.NANOSECONDS.toMillis(longestReadPauseNanos));
    return f;
  }
}
