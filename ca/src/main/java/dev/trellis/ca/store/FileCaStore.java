package dev.trellis.ca.store;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.svid.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * CA material in a directory (local mode):
 *
 * <pre>
 * &lt;dir&gt;/manifest                        "active &lt;id&gt;" and one "authority &lt;id&gt;" line per authority
 * &lt;dir&gt;/authorities/&lt;id&gt;/chain.pem      signing certificate first, root last
 * &lt;dir&gt;/authorities/&lt;id&gt;/key.pem        PKCS#8, mode 0600
 * </pre>
 *
 * The manifest is the truth: authority directories it does not name (left by a writer that lost a
 * race or crashed) are ignored and cleaned up on the next update. Every file is written under a
 * temporary name and moved into place, so a crash never leaves a torn file; {@link #createIfAbsent}
 * publishes the manifest with a hard link, which fails atomically if another process got there first.
 */
public final class FileCaStore implements CaStore {

  private static final String MANIFEST = "manifest";
  private static final String AUTHORITIES = "authorities";
  private static final String CHAIN = "chain.pem";
  private static final String KEY = "key.pem";

  private final Path dir;

  public FileCaStore(Path dir) {
    this.dir = requireNonNull(dir, "dir").toAbsolutePath();
  }

  @Override
  public String describe() {
    return "directory " + dir;
  }

  @Override
  public Optional<CaMaterial> load() {
    Path manifest = dir.resolve(MANIFEST);
    List<String> lines;
    try {
      lines = Files.readAllLines(manifest, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw failure("cannot read " + manifest, e);
    }
    CaManifest parsed = CaManifest.parse(String.join("\n", lines), manifest.toString());
    List<SigningAuthority> authorities = new ArrayList<>();
    for (String id : parsed.authorities()) {
      authorities.add(readAuthority(dir.resolve(AUTHORITIES).resolve(id)));
    }
    return Optional.of(new CaMaterial(authorities, parsed.active(), List.of()));
  }

  @Override
  public CaMaterial createIfAbsent(CaMaterial material) {
    Optional<CaMaterial> existing = load();
    if (existing.isPresent()) {
      return existing.get();
    }
    try {
      Files.createDirectories(dir);
      for (SigningAuthority a : material.authorities()) {
        writeAuthority(a);
      }
      Path tmp = writeTemp(CaManifest.format(material));
      try {
        Files.createLink(dir.resolve(MANIFEST), tmp);
      } catch (FileAlreadyExistsException lost) {
        // Another writer initialized the CA first: theirs wins; our unreferenced authorities are left for cleanup.
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw failure("cannot initialize CA material in " + dir, e);
    }
    return load().orElseThrow(() -> failure("CA manifest vanished from " + dir + " right after creation", null));
  }

  @Override
  public synchronized void update(CaMaterial material) {
    try {
      Path root = dir.resolve(AUTHORITIES);
      for (SigningAuthority a : material.authorities()) {
        if (!Files.isDirectory(root.resolve(a.id()))) {
          writeAuthority(a);
        }
      }
      move(writeTemp(CaManifest.format(material)), dir.resolve(MANIFEST));
      Set<String> keep = material.authorities().stream().map(SigningAuthority::id).collect(Collectors.toSet());
      try (Stream<Path> entries = Files.list(root)) {
        for (Path d : entries.toList()) {
          if (!keep.contains(d.getFileName().toString())) {
            deleteTree(d);
          }
        }
      }
    } catch (IOException e) {
      throw failure("cannot update CA material in " + dir, e);
    }
  }


  private void writeAuthority(SigningAuthority a) throws IOException {
    Path root = dir.resolve(AUTHORITIES);
    Files.createDirectories(root);
    Path staging = root.resolve("." + a.id() + "-" + UUID.randomUUID());
    Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    try {
      Files.writeString(staging.resolve(CHAIN), Pem.encodeCertificates(a.chain()), StandardCharsets.UTF_8);
      Path key = staging.resolve(KEY);
      Files.createFile(key, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(key, Pem.encodePrivateKey(a.key()), StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
      move(staging, root.resolve(a.id()));
    } catch (IOException | RuntimeException e) {
      deleteTree(staging);
      throw e;
    }
  }

  private SigningAuthority readAuthority(Path d) {
    try {
      List<X509Certificate> chain = Pem.decodeCertificates(Files.readString(d.resolve(CHAIN), StandardCharsets.UTF_8));
      PrivateKey key = Pem.decodePrivateKey(Files.readString(d.resolve(KEY), StandardCharsets.UTF_8));
      return new SigningAuthority(key, chain);
    } catch (IOException e) {
      throw failure("cannot read CA authority in " + d, e);
    } catch (MtlsException e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "CA authority in " + d + " is corrupt: " + e.getMessage()
          + "; restore it from backup or remove the directory " + dir + " to start a new root (every workload "
          + "certificate will then be reissued)", e);
    }
  }

  private Path writeTemp(String content) throws IOException {
    Path tmp = dir.resolve("." + MANIFEST + "-" + UUID.randomUUID());
    Files.writeString(tmp, content, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW);
    return tmp;
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path x : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(x);
      }
    }
  }

  private static CaException failure(String message, Throwable cause) {
    return new CaException(Reason.STORE_FAILURE, message + (cause != null ? ": " + cause : ""), cause);
  }
}
