package dev.trellis.ca.csr;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.KeyPolicy.KeyKind;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Checks a CSR before anything is signed, in an order that names the first real problem: size, PEM,
 * PKCS#10 structure, key strength, self-signature, then the URI SAN against
 * the trust domain and the requested identity. Pure: no I/O, no clock.
 */
public final class CsrValidator {

  /** Larger CSR PEM text is refused before parsing. */
  public static final int MAX_PEM_BYTES = 64 * 1024;

  private final TrustDomain trustDomain;

  public CsrValidator(TrustDomain trustDomain) {
    this.trustDomain = requireNonNull(trustDomain, "trustDomain");
  }

  /**
   * Parses the {@code identity} field of a request: present, a valid SPIFFE ID, in this CA's trust domain.
   *
   * @throws CaException {@link Reason#INVALID_REQUEST}, {@link Reason#INVALID_SPIFFE_ID} or
   *     {@link Reason#FOREIGN_TRUST_DOMAIN}
   */
  public SpiffeId requestedIdentity(String requestedIdentity) {
    SpiffeId identity = parseIdentity(requestedIdentity, "identity");
    if (!identity.trustDomain().equals(trustDomain)) {
      throw new CaException(Reason.FOREIGN_TRUST_DOMAIN, "identity " + identity + " is in trust domain '"
          + identity.trustDomain() + "', but this CA signs only for '" + trustDomain + "'");
    }
    return identity;
  }

  /**
   * Validates {@code csrPem} as a request for {@code identity} (from {@link #requestedIdentity}).
   *
   * @throws CaException with the reason of the first problem found
   */
  public ValidatedCsr validate(String csrPem, SpiffeId identity) {
    JcaPKCS10CertificationRequest csr = parse(csrPem);
    KeyKind kind = KeyPolicy.check(csr.getSubjectPublicKeyInfo());
    PublicKey key = publicKey(csr);
    CsrSignature.verify(csr, key);
    SpiffeId san = uriSan(csr);
    if (!san.trustDomain().equals(trustDomain)) {
      throw new CaException(Reason.FOREIGN_TRUST_DOMAIN, "CSR URI SAN " + san + " is in trust domain '"
          + san.trustDomain() + "', but this CA signs only for '" + trustDomain + "'");
    }
    if (!san.equals(identity)) {
      throw new CaException(Reason.IDENTITY_MISMATCH, "CSR URI SAN " + san + " differs from the requested identity "
          + identity + "; put the requested identity in the CSR");
    }
    return new ValidatedCsr(identity, key, kind);
  }

  private static JcaPKCS10CertificationRequest parse(String pem) {
    if (pem == null || pem.isBlank()) {
      throw new CaException(Reason.MALFORMED_PEM, "csr_pem is empty (expected: a PEM 'CERTIFICATE REQUEST')");
    }
    // A UTF-16 char encodes to at least one byte: a cheap bound before the exact count.
    if (pem.length() > MAX_PEM_BYTES || pem.getBytes(StandardCharsets.UTF_8).length > MAX_PEM_BYTES) {
      throw new CaException(Reason.PEM_TOO_LARGE, "csr_pem is " + pem.getBytes(StandardCharsets.UTF_8).length
          + " bytes (expected: at most " + MAX_PEM_BYTES + ")");
    }
    List<Pem.Block> blocks;
    try {
      blocks = Pem.decode(pem);
    } catch (MtlsException e) {
      throw new CaException(Reason.MALFORMED_PEM, "csr_pem: " + e.getMessage(), e);
    }
    if (blocks.size() != 1) {
      throw new CaException(Reason.MALFORMED_PEM, "csr_pem holds " + blocks.size()
          + " PEM blocks (expected: exactly one 'CERTIFICATE REQUEST')");
    }
    Pem.Block block = blocks.getFirst();
    if (!block.label().equals("CERTIFICATE REQUEST") && !block.label().equals("NEW CERTIFICATE REQUEST")) {
      throw new CaException(Reason.MALFORMED_PEM, "csr_pem holds a '" + block.label()
          + "' block (expected: 'CERTIFICATE REQUEST')");
    }
    try {
      return new JcaPKCS10CertificationRequest(block.der());
    } catch (IOException | RuntimeException e) {
      throw new CaException(Reason.MALFORMED_CSR, "csr_pem is not a valid PKCS#10 request: " + e.getMessage(), e);
    }
  }

  private static SpiffeId parseIdentity(String id, String field) {
    if (id == null || id.isEmpty()) {
      throw new CaException(Reason.INVALID_REQUEST,
          field + " is empty (expected: the SPIFFE ID to sign, e.g. spiffe://cluster.local/ns/default/sa/web)");
    }
    try {
      return SpiffeId.parse(id);
    } catch (MtlsException e) {
      throw new CaException(Reason.INVALID_SPIFFE_ID, field + ": " + e.getMessage(), e);
    }
  }

  private static PublicKey publicKey(JcaPKCS10CertificationRequest csr) {
    try {
      return csr.getPublicKey();
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new CaException(Reason.MALFORMED_CSR, "CSR public key cannot be decoded: " + e.getMessage(), e);
    }
  }

  private static SpiffeId uriSan(JcaPKCS10CertificationRequest csr) {
    List<String> uris = new ArrayList<>();
    for (var attribute : csr.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)) {
      for (var value : attribute.getAttrValues()) {
        GeneralNames names;
        try {
          names = GeneralNames.fromExtensions(Extensions.getInstance(value), Extension.subjectAlternativeName);
        } catch (RuntimeException e) {
          throw new CaException(Reason.MALFORMED_CSR, "CSR extension request cannot be decoded: " + e.getMessage(), e);
        }
        if (names != null) {
          for (GeneralName name : names.getNames()) {
            if (name.getTagNo() == GeneralName.uniformResourceIdentifier) {
              uris.add(name.getName().toString());
            }
          }
        }
      }
    }
    if (uris.isEmpty()) {
      throw new CaException(Reason.NO_URI_SAN, "CSR has no URI SAN (expected: exactly one, the requested SPIFFE ID)");
    }
    if (uris.size() > 1) {
      throw new CaException(Reason.MULTIPLE_URI_SANS, "CSR has " + uris.size() + " URI SANs " + truncate(uris)
          + " (expected: exactly one, the requested SPIFFE ID)");
    }
    return parseIdentity(uris.getFirst(), "CSR URI SAN");
  }

  private static String truncate(List<String> uris) {
    List<String> shown = uris.size() > 4 ? uris.subList(0, 4) : uris;
    return shown.toString() + (uris.size() > 4 ? " and " + (uris.size() - 4) + " more" : "");
  }
}
