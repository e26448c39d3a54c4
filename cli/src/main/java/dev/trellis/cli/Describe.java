package dev.trellis.cli;

import dev.trellis.ca.store.SigningAuthority;
import java.security.cert.X509Certificate;

/** Human-readable one-liners for certificates. */
final class Describe {

  private Describe() {}

  static String certificate(X509Certificate c) {
    return "serial " + c.getSerialNumber().toString(16) + ", valid " + c.getNotBefore().toInstant() + " .. "
        + c.getNotAfter().toInstant();
  }

  static String authority(SigningAuthority a, String activeId) {
    return a.id() + (a.id().equals(activeId) ? " (active)" : " (trusted, not signing)") + "  "
        + a.certificate().getSubjectX500Principal().getName() + ", expires " + a.certificate().getNotAfter().toInstant();
  }
}
