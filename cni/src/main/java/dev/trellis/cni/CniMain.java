package dev.trellis.cni;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The {@code trellis-cni} executable's entry point: reads the network configuration from stdin and the
 * {@code CNI_*} environment, prints the result (or the error object) on stdout, logs to stderr, and
 * exits with 0 or 1 as the CNI spec asks.
 */
public final class CniMain {

  private CniMain() {}

  public static void main(String[] args) throws IOException {
    String stdin = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
    CniPlugin plugin = CniPlugin.overUnixSocket();
    CniPlugin.Outcome o = plugin.run(System.getenv(), stdin);
    System.out.print(o.stdout());
    System.out.flush();
    System.exit(o.exitCode());
  }
}
