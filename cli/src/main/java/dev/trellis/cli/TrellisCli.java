package dev.trellis.cli;

import dev.trellis.controlplane.ControlPlaneCommand;
import dev.trellis.controlplane.ControlPlaneMain;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

/**
 * The {@code trellis} command. Run through the {@code ./trellis} launcher at the repository root,
 * which finds a JDK 25 and builds on first use. {@code trellis control-plane} is the control plane's own command
 * ({@link ControlPlaneCommand}, what its container image runs through {@link ControlPlaneMain}).
 */
@Command(name = "trellis", mixinStandardHelpOptions = true, version = "trellis 0.1.0-SNAPSHOT",
    description = "Trellis, a sidecar-free service mesh: local tools.",
    subcommands = {ControlPlaneCommand.class, UpCommand.class, DownCommand.class, RestartCommand.class, StatusCommand.class, ExecCommand.class,
        ConfigDumpCommand.class, CheckCommand.class, InstallCommands.Install.class, InstallCommands.Uninstall.class,
        DemoCommand.class, CaCommand.class})
public final class TrellisCli {

  private TrellisCli() {}

  public static void main(String[] args) {
    System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs the command line and returns its exit code; output goes to {@code out}, errors to {@code err}. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    return ControlPlaneMain.commandLine(new TrellisCli(), out, err).execute(args);
  }

  /** One line an operator can act on, without a stack trace. */
  static String describe(Throwable e) {
    return ControlPlaneMain.describe(e);
  }
}
