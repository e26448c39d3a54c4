package dev.trellis.cli;

import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Writes an SVID as files: chain, key (owner-only), bundle. */
final class SvidFiles {

  static final String CHAIN = "svid.pem";
  static final String KEY = "key.pem";
  static final String BUNDLE = "bundle.pem";

  private SvidFiles() {}

  static void write(Path dir, X509Svid svid, TrustBundle bundle, TrustDomain trustDomain) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(CHAIN), svid.chainPem(), StandardCharsets.UTF_8);
    Path key = dir.resolve(KEY);
    Files.deleteIfExists(key);
    Files.createFile(key, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(key, svid.privateKeyPem(), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(BUNDLE), bundle.toPem(trustDomain), StandardCharsets.UTF_8);
  }
}
