package dev.trellis.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One run of the {@code trellis} CLI in-process, with what it printed: the CLI tests' common helper. */
record CliRun(int exit, String out, String err) {

  static CliRun run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = TrellisCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new CliRun(exit, out.toString(), err.toString());
  }
}
