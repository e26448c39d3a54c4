package dev.trellis.ca.store;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.svid.KeyPairs;
import dev.trellis.mtls.svid.Pem;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXCertPathValidatorResult;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * Loads a user-provided ("plug-in") CA from a directory laid out as Istio's {@code cacerts}:
 *
 * <pre>
 * ca-cert.pem      the certificate that signs workload certificates (an intermediate, or a root)
 * ca-key.pem       its private key (PKCS#8, or the legacy EC/RSA PEM forms)
 * cert-chain.pem   optional: the chain from ca-cert's issuer up to the root (may start with ca-cert)
 * root-cert.pem    the root(s) to trust; several during a root rotation
 * </pre>
 *
 * Every problem is reported with the file it is in. The files are read, never written: the user owns them.
 */
public final class PluggedCaFiles {

  public static final String CA_CERT = "ca-cert.pem";
  public static final String CA_KEY = "ca-key.pem";
  public static final String CERT_CHAIN = "cert-chain.pem";
  public static final String ROOT_CERT = "root-cert.pem";

  private static final int KU_KEY_CERT_SIGN = 5;

  private PluggedCaFiles() {}

  public static CaMaterial load(Path dir, Instant now) {
    X509Certificate caCert = single(certificates(dir, CA_CERT, true), dir.resolve(CA_CERT));
    PrivateKey key = privateKey(dir.resolve(CA_KEY));
    List<X509Certificate> roots = certificates(dir, ROOT_CERT, true);
    List<X509Certificate> chainFile = certificates(dir, CERT_CHAIN, false);

    if (caCert.getBasicConstraints() < 0) {
      throw invalid(dir.resolve(CA_CERT), "is not a CA certificate (basicConstraints CA:true is required to sign)");
    }
    boolean[] ku = caCert.getKeyUsage();
    if (ku != null && !(ku.length > KU_KEY_CERT_SIGN && ku[KU_KEY_CERT_SIGN])) {
      throw invalid(dir.resolve(CA_CERT), "lacks keyUsage keyCertSign, so it may not sign certificates");
    }
    if (!KeyPairs.matches(caCert.getPublicKey(), key)) {
      throw invalid(dir.resolve(CA_KEY), "does not belong to " + CA_CERT + " (" + caCert.getSubjectX500Principal() + ")");
    }
    for (X509Certificate root : roots) {
      if (root.getBasicConstraints() < 0) {
        throw invalid(dir.resolve(ROOT_CERT), "holds '" + root.getSubjectX500Principal() + "', which is not a CA certificate");
      }
    }

    // The path from ca-cert up to (not including) a root, as PKIX wants it.
    List<X509Certificate> path = new ArrayList<>();
    path.add(caCert);
    for (X509Certificate c : chainFile) {
      if (!c.equals(caCert) && !roots.contains(c)) {
        path.add(c);
      }
    }
    X509Certificate root;
    if (roots.contains(caCert)) {
      root = caCert;
      path.clear();
    } else {
      root = validate(dir, path, roots, now);
    }
    List<X509Certificate> chain = new ArrayList<>(path);
    chain.add(root);
    for (X509Certificate c : chain) {
      if (now.isAfter(c.getNotAfter().toInstant())) {
        throw invalid(dir.resolve(c == caCert ? CA_CERT : CERT_CHAIN), "certificate '" + c.getSubjectX500Principal()
            + "' expired at " + c.getNotAfter().toInstant());
      }
    }
    SigningAuthority authority = new SigningAuthority(key, chain);
    List<X509Certificate> extra = roots.stream().filter(r -> !r.equals(root)).toList();
    return new CaMaterial(List.of(authority), authority.id(), extra);
  }

  private static X509Certificate validate(Path dir, List<X509Certificate> path, List<X509Certificate> roots, Instant now) {
    Set<TrustAnchor> anchors = new HashSet<>();
    roots.forEach(r -> anchors.add(new TrustAnchor(r, null)));
    try {
      PKIXParameters params = new PKIXParameters(anchors);
      params.setRevocationEnabled(false);
      params.setDate(Date.from(now));
      var result = (PKIXCertPathValidatorResult) CertPathValidator.getInstance("PKIX")
          .validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
      return result.getTrustAnchor().getTrustedCert();
    } catch (CertPathValidatorException e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "plug-in CA in " + dir + ": " + CA_CERT + " does not chain to a root in "
          + ROOT_CERT + " through " + CERT_CHAIN + ": " + e.getMessage()
          + " (check that cert-chain.pem lists every intermediate between ca-cert.pem and the root)", e);
    } catch (GeneralSecurityException e) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "plug-in CA in " + dir + " cannot be verified: " + e.getMessage(), e);
    }
  }

  private static List<X509Certificate> certificates(Path dir, String name, boolean required) {
    Path file = dir.resolve(name);
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      if (required) {
        throw invalid(file, "is missing; a plug-in CA directory holds " + CA_CERT + ", " + CA_KEY + ", " + ROOT_CERT
            + " and optionally " + CERT_CHAIN);
      }
      return List.of();
    } catch (IOException e) {
      throw invalid(file, "cannot be read: " + e);
    }
    try {
      return Pem.decodeCertificates(text);
    } catch (MtlsException e) {
      throw invalid(file, e.getMessage());
    }
  }

  private static X509Certificate single(List<X509Certificate> certs, Path file) {
    if (certs.size() != 1) {
      throw invalid(file, "holds " + certs.size() + " certificates (expected: exactly one; put intermediates in "
          + CERT_CHAIN + ")");
    }
    return certs.getFirst();
  }

  private static PrivateKey privateKey(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw invalid(file, "is missing");
    } catch (IOException e) {
      throw invalid(file, "cannot be read: " + e);
    }
    try (PEMParser parser = new PEMParser(new StringReader(text))) {
      Object o = parser.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (o instanceof PEMKeyPair pair) {
        return converter.getPrivateKey(pair.getPrivateKeyInfo());
      }
      if (o instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info);
      }
      throw invalid(file, o == null ? "holds no PEM private key"
          : "holds a " + o.getClass().getSimpleName() + ", expected an unencrypted private key");
    } catch (IOException e) {
      throw invalid(file, "is not a readable PEM private key: " + e.getMessage());
    }
  }

  private static CaException invalid(Path file, String problem) {
    return new CaException(Reason.INVALID_CA_MATERIAL, "plug-in CA file " + file + " " + problem);
  }
}
