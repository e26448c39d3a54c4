package dev.trellis.controlplane.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzes the mesh-file parser (YAML text to the mesh model) with any text: it returns a mesh or throws
 * {@link MeshFileException} listing problems, never another exception — YAML bombs (alias expansion, deep nesting,
 * huge scalars) included, which must be refused with an error, not exhaust the heap or the stack. The seeds are the
 * shipped examples; the committed corpus holds the bombs.
 */
class MeshFileFuzzTest {

  private static final Path EXAMPLES = Path.of("..", "examples");
  private static Path baseDir;
  private static boolean pathsAllowed;

  @BeforeAll
  static void setUp() throws IOException {
    baseDir = Files.createTempDirectory("mesh-fuzz");
  }

  @MethodSource("examples")
  @FuzzTest
  void meshFile(byte[] input) {
    if (!pathsAllowed) {
      // tokenFile and telemetry paths name files of the operator's choosing: reading one is no path traversal here.
      // (Set on the first input: Jazzer's agent is installed only by then.)
      BugDetectors.setFilePathTraversalTarget(() -> null);
      pathsAllowed = true;
    }
    String text = new String(input, StandardCharsets.UTF_8);
    try {
      assertThat(MeshFile.parse(text, "fuzz.yaml", baseDir)).isNotNull();
    } catch (MeshFileException refused) {
      assertThat(refused.problems()).isNotEmpty().allSatisfy(p -> assertThat(p).startsWith("fuzz.yaml"));
    }
  }

  static Stream<byte[]> examples() throws IOException {
    return Stream.of(EXAMPLES.resolve("mesh.yaml"), EXAMPLES.resolve("demo/mesh.yaml"),
        EXAMPLES.resolve("netns/mesh.yaml")).map(p -> {
          try {
            return Files.readAllBytes(p);
          } catch (IOException e) {
            throw new IllegalStateException(p + " is a seed of this fuzz test", e);
          }
        });
  }
}
