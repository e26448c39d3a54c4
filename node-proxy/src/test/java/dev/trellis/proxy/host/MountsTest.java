package dev.trellis.proxy.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MountsTest {

  static final String UNIFIED = """
      sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
      cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
      bpf /sys/fs/bpf bpf rw,nosuid,nodev,noexec,relatime,mode=700 0 0
      """;
  static final String HYBRID = """
      tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
      cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
      cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
      """;
  static final String NONE = """
      proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
      cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0
      garbage
      """;

  static Stream<Arguments> cgroup2() {
    return Stream.of(
        Arguments.of("cgroup v2 only", UNIFIED, Optional.of(Path.of("/sys/fs/cgroup"))),
        Arguments.of("hybrid layout", HYBRID, Optional.of(Path.of("/sys/fs/cgroup/unified"))),
        Arguments.of("cgroup v1 only, and a line that is not a mount", NONE, Optional.empty()),
        Arguments.of("nothing readable", "", Optional.empty()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void cgroup2(String layout, String procMounts, Optional<Path> expected) {
    assertThat(Mounts.parse(procMounts).cgroup2()).isEqualTo(expected);
  }

  @Test
  void aPathIsCoveredByAMountOfTheTypeAboveIt() {
    Mounts m = Mounts.parse(UNIFIED);
    assertThat(m.covers(Mounts.BPF, Path.of("/sys/fs/bpf/trellis/node-1"))).isTrue();
    assertThat(m.covers(Mounts.BPF, Path.of("/sys/fs/bpf"))).isTrue();
    assertThat(m.covers(Mounts.BPF, Path.of("/sys/fs/bpfx/pins"))).as("a prefix of the name is not a parent").isFalse();
    assertThat(Mounts.parse(HYBRID).covers(Mounts.BPF, Path.of("/sys/fs/bpf/x"))).isFalse();
  }

  @Test
  void escapedSpacesInMountPointsAreRead() {
    Mounts m = Mounts.parse("bpf /run/my\\040pins bpf rw 0 0\n");
    assertThat(m.points(Mounts.BPF)).containsExactly(Path.of("/run/my pins"));
    assertThat(m.all()).containsExactly(new Mounts.Mount("bpf", Path.of("/run/my pins"), "bpf"));
  }

  @Test
  void thisMachinesMountsAreRead() {
    assertThat(Mounts.fetch().points("proc")).as("/proc/mounts lists /proc").contains(Path.of("/proc"));
  }
}
