package dev.trellis.proxy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's bearer token from {@code --token-file}, read again whenever the file changes: the kubelet rewrites a
 * projected service-account token well before it expires (the DaemonSet's lasts an hour), and a token read once at
 * start would be refused from then on. A file that cannot be read keeps the last token (and says so once).
 * Thread-safe.
 */
final class TokenFile implements Supplier<String> {

  private static final Logger log = LoggerFactory.getLogger(TokenFile.class);

  private final Path file;
  private String token;
  private FileTime readAt;
  private boolean failing;

  /** @param initial the token already read from {@code file} at start */
  TokenFile(Path file, String initial) {
    this.file = Objects.requireNonNull(file, "file");
    this.token = Objects.requireNonNull(initial, "initial");
    try {
      this.readAt = Files.getLastModifiedTime(file);
    } catch (IOException e) {
      this.readAt = null;
    }
  }

  @Override
  public synchronized String get() {
    try {
      FileTime modified = Files.getLastModifiedTime(file);
      if (!modified.equals(readAt)) {
        String fresh = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (!fresh.isEmpty()) {
          token = fresh;
          readAt = modified;
        }
      }
      failing = false;
    } catch (IOException e) {
      if (!failing) {
        log.warn("--token-file {}: cannot be read ({}); the last token read is sent", file, e.toString());
        failing = true;
      }
    }
    return token;
  }
}
