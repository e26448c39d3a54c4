package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenFileTest {

  @TempDir
  Path dir;

  @Test
  void aRotatedTokenIsSentAndAnUnreadableFileKeepsTheLastOne() throws Exception {
    Path file = Files.writeString(dir.resolve("token"), "first\n");
    Files.setLastModifiedTime(file, FileTime.fromMillis(1_000_000));
    TokenFile token = new TokenFile(file, "first");
    assertThat(token.get()).isEqualTo("first");

    // The kubelet writes the new token into place; its modification time changes.
    Files.writeString(file, "second\n");
    Files.setLastModifiedTime(file, FileTime.fromMillis(2_000_000));
    assertThat(token.get()).isEqualTo("second");

    Files.writeString(file, "");
    Files.setLastModifiedTime(file, FileTime.fromMillis(3_000_000));
    assertThat(token.get()).as("an empty file mid-write is not a token").isEqualTo("second");

    Files.delete(file);
    assertThat(token.get()).isEqualTo("second");
  }
}
