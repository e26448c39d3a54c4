package dev.trellis.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostToolsTest {

  @Test
  void aProgramThatIsNotInstalledFailsAtOnceNamingItsPackage() {
    assertThatThrownBy(() -> HostTools.require("trellis-no-such-tool", "trellis-tools"))
        .isInstanceOf(AssertionError.class)
        .hasMessage("trellis-no-such-tool is not installed: apt-get install trellis-tools (or run scripts/setup-host)");
  }

  @Test
  void aProgramIsFoundOnlyAsAnExecutableFileInADirectoryOfThePath(@TempDir Path dir) throws Exception {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path other = Files.createDirectories(dir.resolve("other"));
    Files.writeString(other.resolve("tcpdump"), "not executable");
    assertThat(HostTools.missing("tcpdump", "tcpdump", List.of(bin, other))).contains(
        "tcpdump is not installed: apt-get install tcpdump (or run scripts/setup-host)");

    Files.createDirectories(bin.resolve("bpftool"));
    assertThat(HostTools.missing("bpftool", "bpftool", List.of(bin))).as("a directory is no program").isPresent();

    Path tool = Files.writeString(bin.resolve("tcpdump"), "#!/bin/sh\n");
    Files.setPosixFilePermissions(tool, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertThat(HostTools.missing("tcpdump", "tcpdump", List.of(other, bin))).isEmpty();
  }
}
