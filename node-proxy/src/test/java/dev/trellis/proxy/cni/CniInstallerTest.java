package dev.trellis.proxy.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Installing, chaining and removing the plugin, with temporary directories standing in for the host's. */
class CniInstallerTest {

  static final String SOCK = "/var/run/trellis/cni.sock";
  static final String CALICO_LIST = "{\"name\": \"k8s-pod-network\", \"cniVersion\": \"1.0.0\", \"plugins\": "
      + "[{\"type\": \"calico\", \"mtu\": 1450}, {\"type\": \"portmap\", \"snat\": true}]}";

  @TempDir
  Path root;
  Path bin;
  Path conf;
  Path plugin;
  Path jdk;
  CniInstaller installer;
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @BeforeEach
  void layout() throws IOException {
    bin = Files.createDirectories(root.resolve("host/opt/cni/bin"));
    conf = Files.createDirectories(root.resolve("host/etc/cni/net.d"));
    plugin = root.resolve("opt/trellis/cni");
    Files.createDirectories(plugin.resolve("trellis-cni.d/lib"));
    Files.writeString(plugin.resolve("trellis-cni"), "#!/bin/sh\nexec java ...\n");
    Files.writeString(plugin.resolve("trellis-cni.d/lib/trellis-cni.jar"), "jar 1");
    Files.writeString(plugin.resolve("trellis-cni.d/lib/gson-2.14.0.jar"), "gson");
    Files.writeString(plugin.resolve("trellis-cni.d/trellis-cni.aot"), "aot");
    jdk = root.resolve("jdk");
    Files.createDirectories(jdk.resolve("bin"));
    Files.createDirectories(jdk.resolve("legal/java.base"));
    Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\n");
    Files.setPosixFilePermissions(jdk.resolve("bin/java"), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"25\"\n");
    Files.createSymbolicLink(jdk.resolve("legal/java.base/LICENSE"), Path.of("../../release"));
    installer = new CniInstaller(new CniInstaller.Dirs(bin, conf, plugin), SOCK, jdk);
  }

  @AfterEach
  void stop() {
    installer.close();
    scheduler.shutdownNow();
  }

  @Test
  void thePluginAndTheJdkAreCopiedIntoTheBinDirectory() throws Exception {
    installer.installPlugin();

    assertThat(bin.resolve("trellis-cni")).hasContent("#!/bin/sh\nexec java ...");
    assertThat(Files.getPosixFilePermissions(bin.resolve("trellis-cni")))
        .isEqualTo(PosixFilePermissions.fromString("rwxr-xr-x"));
    assertThat(bin.resolve("trellis-cni.d/lib/trellis-cni.jar")).hasContent("jar 1");
    assertThat(bin.resolve("trellis-cni.d/lib/gson-2.14.0.jar")).hasContent("gson");
    assertThat(bin.resolve("trellis-cni.d/trellis-cni.aot")).hasContent("aot");
    Path java = bin.resolve("trellis-cni.d/java");
    assertThat(Files.isSymbolicLink(java)).as("a copy: the host cannot see the container's files").isFalse();
    assertThat(Files.isExecutable(java.resolve("bin/java"))).isTrue();
    assertThat(java.resolve("legal/java.base/LICENSE")).hasContent("JAVA_VERSION=\"25\"");
    assertThat(Files.readSymbolicLink(java.resolve("legal/java.base/LICENSE"))).isEqualTo(Path.of("../../release"));
  }

  @Test
  void anIdenticalCopyIsLeftAloneAndAChangedOneReplaced() throws Exception {
    installer.installPlugin();
    Path copiedJava = bin.resolve("trellis-cni.d/java/bin/java");
    Path copiedJar = bin.resolve("trellis-cni.d/lib/trellis-cni.jar");
    FileTime marked = FileTime.fromMillis(1_000_000);
    Files.setLastModifiedTime(copiedJava, marked);
    Files.setLastModifiedTime(copiedJar, marked);

    installer.installPlugin();
    assertThat(Files.getLastModifiedTime(copiedJava)).as("same JDK: not copied again").isEqualTo(marked);
    assertThat(Files.getLastModifiedTime(copiedJar)).as("same jar: not copied again").isEqualTo(marked);

    Files.writeString(plugin.resolve("trellis-cni.d/lib/trellis-cni.jar"), "jar 2");
    Files.delete(plugin.resolve("trellis-cni.d/lib/gson-2.14.0.jar"));
    Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"25.0.1\"\n");
    installer.installPlugin();
    assertThat(copiedJar).hasContent("jar 2");
    assertThat(bin.resolve("trellis-cni.d/lib/gson-2.14.0.jar")).as("an older version's jar goes").doesNotExist();
    assertThat(bin.resolve("trellis-cni.d/java/release")).hasContent("JAVA_VERSION=\"25.0.1\"");
    try (Stream<Path> leftovers = Files.list(bin.resolve("trellis-cni.d"))) {
      assertThat(leftovers.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
    }
  }

  @Test
  void aPluginDirectoryWithoutThePackagedPluginIsRefusedNamingTheFlag() throws Exception {
    Path empty = Files.createDirectories(root.resolve("empty"));
    CniInstaller bad = new CniInstaller(new CniInstaller.Dirs(bin, conf, empty), SOCK, jdk);
    assertThatThrownBy(bad::installPlugin).isInstanceOf(IOException.class)
        .hasMessageContaining("--cni-plugin-dir " + empty).hasMessageContaining("scripts/package-cni");
  }

  @Test
  void theFirstConflistGetsTheEntryOnceAndOthersAreLeftAlone() throws Exception {
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO_LIST);
    Files.writeString(conf.resolve("20-other.conflist"), CALICO_LIST);
    Files.writeString(conf.resolve("calico-kubeconfig"), "not json");

    assertThat(installer.ensureChained()).contains(conf.resolve("10-calico.conflist"));
    String once = Files.readString(conf.resolve("10-calico.conflist"));
    assertThat(JsonParser.parseString(once)).isEqualTo(JsonParser.parseString(
        "{\"name\": \"k8s-pod-network\", \"cniVersion\": \"1.0.0\", \"plugins\": [{\"type\": \"calico\", \"mtu\": 1450},"
            + " {\"type\": \"portmap\", \"snat\": true}, {\"type\": \"trellis-cni\", \"agentSocket\": \"" + SOCK
            + "\"}]}"));
    FileTime written = Files.getLastModifiedTime(conf.resolve("10-calico.conflist"));
    Files.setLastModifiedTime(conf.resolve("10-calico.conflist"), FileTime.fromMillis(1_000_000));

    assertThat(installer.ensureChained()).contains(conf.resolve("10-calico.conflist"));
    assertThat(Files.readString(conf.resolve("10-calico.conflist"))).as("idempotent").isEqualTo(once);
    assertThat(Files.getLastModifiedTime(conf.resolve("10-calico.conflist"))).as("not even rewritten")
        .isEqualTo(FileTime.fromMillis(1_000_000)).isNotEqualTo(written);
    assertThat(conf.resolve("20-other.conflist")).hasContent(CALICO_LIST);
    try (Stream<Path> files = Files.list(conf)) {
      assertThat(files.map(p -> p.getFileName().toString())).as("no temporary file left")
          .containsExactlyInAnyOrder("10-calico.conflist", "20-other.conflist", "calico-kubeconfig");
    }
  }

  @Test
  void aSinglePluginConfIsConvertedIntoAConflist() throws Exception {
    String bridge = "{\"cniVersion\": \"0.4.0\", \"name\": \"bridge\", \"type\": \"bridge\", \"bridge\": \"cni0\"}";
    Files.writeString(conf.resolve("05-bridge.conf"), bridge);

    assertThat(installer.ensureChained()).contains(conf.resolve("05-bridge.conflist"));
    assertThat(conf.resolve("05-bridge.conf")).as("the runtime would load it first").doesNotExist();
    assertThat(JsonParser.parseString(Files.readString(conf.resolve("05-bridge.conflist")))).isEqualTo(
        JsonParser.parseString("{\"cniVersion\": \"0.4.0\", \"name\": \"bridge\", \"plugins\": [" + bridge
            + ", {\"type\": \"trellis-cni\", \"agentSocket\": \"" + SOCK + "\"}]}"));
  }

  @Test
  void withoutAConfigurationItWaitsAndChainsTheOneThatAppears() throws Exception {
    assertThat(installer.ensureChained()).isEmpty();
    installer.start(scheduler, Duration.ofMillis(20));

    Files.writeString(conf.resolve("10-flannel.conflist"), CALICO_LIST);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> CniConfList.chained(Files.readString(conf.resolve("10-flannel.conflist"))));

    // The cluster's CNI daemon restarts and rewrites its list without us: chained again.
    Files.writeString(conf.resolve("10-flannel.conflist"), CALICO_LIST);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> CniConfList.chained(Files.readString(conf.resolve("10-flannel.conflist"))));
  }

  @Test
  void uninstallRemovesTheEntryAndThePluginFiles() throws Exception {
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO_LIST);
    installer.installPlugin();
    installer.ensureChained();

    installer.uninstall();

    assertThat(JsonParser.parseString(Files.readString(conf.resolve("10-calico.conflist"))))
        .isEqualTo(JsonParser.parseString(CALICO_LIST));
    assertThat(bin.resolve("trellis-cni")).doesNotExist();
    assertThat(bin.resolve("trellis-cni.d")).doesNotExist();
    installer.uninstall(); // idempotent
  }

  @Test
  void afterUninstallTheKeeperNeverChainsAgain() throws Exception {
    Files.writeString(conf.resolve("10-calico.conflist"), CALICO_LIST);
    installer.start(scheduler, Duration.ofMillis(5));
    await().atMost(Duration.ofSeconds(10))
        .until(() -> CniConfList.chained(Files.readString(conf.resolve("10-calico.conflist"))));

    installer.uninstall();
    // Whatever check was running has finished once a task queued after it on the same thread has run.
    scheduler.submit(() -> { }).get();
    assertThat(CniConfList.chained(Files.readString(conf.resolve("10-calico.conflist")))).isFalse();
  }
}
