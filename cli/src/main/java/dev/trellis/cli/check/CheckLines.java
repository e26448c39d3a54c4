package dev.trellis.cli.check;

import java.util.List;
import java.util.Locale;

/** How every {@code trellis check} report prints one finding: status, check, detail; its fix indented below. */
final class CheckLines {

  private CheckLines() {}

  static void add(List<String> out, HostCheck.Status status, String check, String detail, String fix) {
    out.add(String.format("%-8s %-18s %s", status.name().toLowerCase(Locale.ROOT), check, detail));
    if (!fix.isEmpty()) {
      out.add(String.format("%-8s %-18s fix: %s", "", "", fix));
    }
  }
}
