package dev.trellis.proxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Captures what the logging backend writes while it is open. The tests' SLF4J binding is slf4j-simple, which
 * writes every line to whatever {@code System.err} is at the time of the call (its default {@code logFile}); so
 * this swaps {@code System.err} for a stream that keeps a copy and still passes the output on. Netty logs through
 * SLF4J too, so its own warnings (an exception reaching the tail of a pipeline) are captured as well.
 */
public final class LogCapture implements AutoCloseable {

  private final PrintStream original = System.err;
  private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

  private LogCapture() {
    OutputStream tee = new OutputStream() {
      @Override
      public void write(int b) {
        synchronized (copy) {
          copy.write(b);
        }
        original.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        synchronized (copy) {
          copy.write(b, off, len);
        }
        original.write(b, off, len);
      }
    };
    System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
  }

  public static LogCapture start() {
    return new LogCapture();
  }

  /** Every line written so far. */
  public List<String> lines() {
    String text;
    synchronized (copy) {
      text = copy.toString(StandardCharsets.UTF_8);
    }
    return text.isEmpty() ? List.of() : Arrays.asList(text.split("\n"));
  }

  @Override
  public void close() {
    System.err.flush();
    System.setErr(original);
  }
}
