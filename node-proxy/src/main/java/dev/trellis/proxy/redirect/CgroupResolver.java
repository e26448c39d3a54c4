package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds a pod's cgroup v2 directory, where eBPF programs attach (the CNI request does not name it). In a
 * cluster the kubelet names it after the pod's UID ({@code kubepods.slice/…/kubepods-…-pod<uid>.slice} with the
 * systemd driver, dashes as underscores; {@code kubepods/…/pod<uid>} with cgroupfs); in local mode the pods
 * file names it.
 */
@FunctionalInterface
public interface CgroupResolver {

  /** The absolute path of the pod's cgroup directory, if found. */
  Optional<String> find(PodAttachment attachment, Optional<PodDirectory.Pod> pod);

  /** Never finds one (nftables needs none). */
  static CgroupResolver none() {
    return (a, p) -> Optional.empty();
  }

  /** Searches the kubelet's layouts under the cgroup v2 mount for the pod's UID (a few levels deep). */
  static CgroupResolver kubelet(Path cgroupRoot) {
    return (a, p) -> {
      String uid = a.podUid() != null ? a.podUid() : p.map(PodDirectory.Pod::uid).orElse(null);
      if (uid == null || uid.isBlank()) {
        return Optional.empty();
      }
      List<String> names = podDirectoryNames(uid);
      try (Stream<Path> dirs = Files.find(cgroupRoot, 4, (path, attrs) -> attrs.isDirectory()
          && names.stream().anyMatch(n -> path.getFileName() != null && path.getFileName().toString().endsWith(n)))) {
        return dirs.findFirst().map(Path::toString);
      } catch (IOException | UncheckedIOException e) {
        return Optional.empty();
      }
    };
  }

  /** The directory name endings the kubelet uses for a pod UID (cgroupfs and systemd drivers). */
  static List<String> podDirectoryNames(String uid) {
    String u = uid.toLowerCase(Locale.ROOT);
    return List.of("pod" + u, "pod" + u.replace('-', '_') + ".slice");
  }
}
