package dev.trellis.controlplane;

import java.io.PrintWriter;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The control plane's process: the container image's entry point, and what {@code trellis up} starts. Its one
 * command is {@code control-plane} ({@link ControlPlaneCommand}), so the image takes the same arguments as
 * {@code trellis control-plane}: {@code control-plane --kubernetes ...} (the Helm chart's Deployment).
 */
@Command(name = "trellis-control-plane", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    description = "The Trellis control plane.", subcommands = ControlPlaneCommand.class)
public final class ControlPlaneMain {

  private ControlPlaneMain() {}

  public static void main(String[] args) {
    System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs the command line and returns its exit code; output goes to {@code out}, errors to {@code err}. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    return commandLine(new ControlPlaneMain(), out, err).execute(args);
  }

  /**
   * A command line for {@code command} as every Trellis command runs: output to {@code out}, errors to {@code err}
   * as one line without a stack trace, and library logs quiet unless {@code TRELLIS_LOG_LEVEL} asks for them (the
   * commands print what a person needs).
   */
  public static CommandLine commandLine(Object command, PrintWriter out, PrintWriter err) {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String level = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "error" : level);
    }
    CommandLine cli = new CommandLine(command);
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      commandLine.getErr().println("error: " + describe(e));
      return 1;
    });
    return cli;
  }

  /** One line an operator can act on, without a stack trace. */
  public static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    String message = t.getMessage();
    return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
  }
}
