package dev.trellis.proxy.flags;

import java.io.PrintWriter;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;

/**
 * Runs the node-proxy module's commands the way the {@code trellis} CLI runs its own: picocli parses, an unknown or
 * malformed flag is refused naming it with the usage and exit code 2, {@code --help} prints the usage, and a failure
 * while running prints one line ("error: ...") and exits 1.
 */
public final class CommandLines {

  private CommandLines() {}

  /** Parses {@code args} into {@code command} and runs it; returns the exit code. */
  public static int execute(Object command, PrintWriter out, PrintWriter err, String... args) {
    // A flag given twice: the last one counts, as with the hand-written parsers these replaced.
    CommandLine cli = new CommandLine(command).setOverwrittenOptionsAllowed(true);
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      commandLine.getErr().println("error: " + describe(e));
      return 1;
    });
    return cli.execute(args);
  }

  /** Logs at {@code TRELLIS_LOG_LEVEL}, else {@code level}, unless the JVM was told otherwise. */
  public static void defaultLogLevel(String level) {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String asked = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", asked == null || asked.isBlank() ? level : asked);
    }
  }

  /** One line an operator can act on, without a stack trace. */
  static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    String message = t.getMessage();
    return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
  }
}
