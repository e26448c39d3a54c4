package dev.trellis.controlplane.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code trellis} command. Run through the {@code ./trellis} launcher at the repository root,
 * which finds a JDK 25 and builds on first use.
 */
@Command(name = "trellis", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    description = "Trellis, a sidecar-free service mesh: local tools.",
    subcommands = {ControlPlaneCommand.class, UpCommand.class, DownCommand.class, StatusCommand.class, ExecCommand.class,
        ConfigDumpCommand.class, CheckCommand.class, InstallCommands.Install.class, InstallCommands.Uninstall.class,
        DemoCommand.class, CaCommand.class})
public final class TrellisCli {

  private TrellisCli() {}

  public static void main(String[] args) {
    System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs the command line and returns its exit code; output goes to {@code out}, errors to {@code err}. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    // Library logs stay quiet unless asked for: the commands print what a person needs.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      String level = System.getenv("TRELLIS_LOG_LEVEL");
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level == null || level.isBlank() ? "error" : level);
    }
    CommandLine cli = new CommandLine(new TrellisCli());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      commandLine.getErr().println("error: " + describe(e));
      return 1;
    });
    return cli.execute(args);
  }

  /** One line an operator can act on, without a stack trace. */
  static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    String message = t.getMessage();
    return message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
  }
}
