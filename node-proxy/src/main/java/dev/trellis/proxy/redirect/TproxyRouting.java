package dev.trellis.proxy.redirect;

import dev.trellis.proxy.host.HostCommand;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The policy route TPROXY needs: packets the nftables chain marked ({@link NftablesRedirector#MARK})
 * are looked up in a table whose only route delivers everything locally, so they reach the proxy's
 * transparent listener instead of being forwarded. Both families; installing twice or removing what is
 * not there is no error.
 */
public final class TproxyRouting {

  static final int TABLE = NftablesRedirector.MARK;
  static final int PRIORITY = NftablesRedirector.MARK;

  /** Runs {@code ip ARGS}; returns its exit status and output. */
  public interface Ip {
    record Result(int exitCode, String output) {}

    Result run(List<String> args) throws IOException;

    /** The real {@code ip}, optionally inside a network namespace. */
    static Ip command(String netns) {
      return args -> {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(args);
        HostCommand.Result r = Commands.run(netns, cmd, null);
        return new Result(r.exit(), r.output());
      };
    }
  }

  private final Ip ip;

  public TproxyRouting(Ip ip) {
    this.ip = ip;
  }

  public void install() throws IOException {
    for (String family : List.of("-4", "-6")) {
      expect(ip.run(rule(family, "add")), List.of("File exists"));
      expect(ip.run(List.of(family, "route", "replace", "local", family.equals("-4") ? "0.0.0.0/0" : "::/0", "dev",
          "lo", "table", Integer.toString(TABLE))), List.of());
    }
  }

  public void remove() throws IOException {
    for (String family : List.of("-4", "-6")) {
      expect(ip.run(rule(family, "del")), List.of("No such file or directory"));
      // an absent table: "No such file or directory" from older iproute2, "FIB table does not exist" from newer
      expect(ip.run(List.of(family, "route", "flush", "table", Integer.toString(TABLE))),
          List.of("No such file or directory", "FIB table does not exist"));
    }
  }

  private static List<String> rule(String family, String verb) {
    return List.of(family, "rule", verb, "fwmark", "0x" + Integer.toHexString(NftablesRedirector.MARK), "lookup",
        Integer.toString(TABLE), "priority", Integer.toString(PRIORITY));
  }

  /** Success, or a failure whose output says "already so" (one of {@code tolerated}). */
  private static void expect(Ip.Result r, List<String> tolerated) throws IOException {
    if (r.exitCode() != 0 && tolerated.stream().noneMatch(r.output()::contains)) {
      throw new IOException("ip exited with " + r.exitCode() + ": " + r.output());
    }
  }
}
