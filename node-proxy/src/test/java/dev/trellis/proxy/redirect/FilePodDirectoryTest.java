package dev.trellis.proxy.redirect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilePodDirectoryTest {

  @TempDir
  Path dir;

  static final String PODS = """
      {"namespaces": {"demo": {"trellis.dev/mesh": "enabled"}},
       "pods": [{"namespace": "demo", "name": "web-0", "uid": "u1", "labels": {"app": "web"},
                 "annotations": {"trellis.dev/exclude-outbound-ports": "5432"}, "cgroup": "/sys/fs/cgroup/x/web-0"},
                {"namespace": "other", "name": "db-0", "hostNetwork": true}]}
      """;

  @Test
  void podsCarryTheirNamespacesLabelsAnnotationsAndCgroup() throws Exception {
    Path file = Files.writeString(dir.resolve("pods.json"), PODS);
    FilePodDirectory d = FilePodDirectory.load(file);
    PodDirectory.Pod web = d.find("demo", "web-0", "u1").orElseThrow();
    assertThat(web.namespaceLabels()).isEqualTo(Map.of("trellis.dev/mesh", "enabled"));
    assertThat(web.labels()).isEqualTo(Map.of("app", "web"));
    assertThat(Exclusions.of(web.annotations()).ports()).containsExactly(5432);
    assertThat(d.find("demo", "web-0", "another-uid")).as("a recreated pod is another pod").isEmpty();
    assertThat(d.find("other", "db-0", null).orElseThrow().hostNetwork()).isTrue();
    assertThat(d.find("other", "db-0", null).orElseThrow().namespaceLabels()).isEmpty();
    PodAttachment a = new PodAttachment("c1", "/n", "eth0", "demo", "web-0", "u1", List.of("10.1.0.7"));
    assertThat(d.find(a, Optional.of(web))).contains("/sys/fs/cgroup/x/web-0");
  }

  @Test
  void aChangedFileIsReportedOnceAndABadOneKeepsTheLastGoodContents() throws Exception {
    Path file = Files.writeString(dir.resolve("pods.json"), PODS);
    FilePodDirectory d = FilePodDirectory.load(file);
    assertThat(d.reload()).isFalse();
    Files.writeString(file, PODS.replace("enabled", "disabled"));
    assertThat(d.reload()).isTrue();
    assertThat(d.find("demo", "web-0", null).orElseThrow().namespaceLabels()).containsEntry("trellis.dev/mesh", "disabled");
    Files.writeString(file, "{\"pods\": [{\"name\": \"x\"}]}");
    assertThatThrownBy(d::reload).hasMessageContaining("pods[0].namespace is required");
    Files.writeString(file, "not json {");
    assertThatThrownBy(d::reload).hasMessageContaining("not a valid pods file");
    assertThat(d.find("demo", "web-0", null)).as("the last good contents stay").isPresent();
  }

  @Test
  void theKubeletsCgroupIsFoundByPodUid() throws Exception {
    Path slice = Files.createDirectories(dir.resolve("kubepods.slice/kubepods-burstable.slice/"
        + "kubepods-burstable-pod1234_abcd.slice/cri-containerd-ffff.scope"));
    Path cgroupfs = Files.createDirectories(dir.resolve("kubepods/besteffort/pod9999-eeee/ctr"));
    CgroupResolver kubelet = CgroupResolver.kubelet(dir);
    assertThat(kubelet.find(new PodAttachment("c", null, null, "d", "p", "1234-ABCD", List.of()), Optional.empty()))
        .contains(slice.getParent().toString());
    assertThat(kubelet.find(new PodAttachment("c", null, null, "d", "p", "9999-eeee", List.of()), Optional.empty()))
        .contains(cgroupfs.getParent().toString());
    assertThat(kubelet.find(new PodAttachment("c", null, null, "d", "p", "0000", List.of()), Optional.empty()))
        .isEmpty();
  }
}
