package dev.trellis.mtls.svid;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.TrustDomain;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The roots trusted for each trust domain. During a root rotation a trust domain holds both the old
 * and the new root. Immutable; {@link #with} returns a new bundle.
 */
public final class TrustBundle {

  private final Map<TrustDomain, List<X509Certificate>> roots;

  private TrustBundle(Map<TrustDomain, List<X509Certificate>> roots) {
    this.roots = roots;
  }

  public static TrustBundle empty() {
    return new TrustBundle(Map.of());
  }

  /** A bundle holding {@code roots} for one trust domain. */
  public static TrustBundle of(TrustDomain trustDomain, Collection<X509Certificate> roots) {
    return empty().with(trustDomain, roots);
  }

  /** Parses PEM roots for one trust domain. */
  public static TrustBundle fromPem(TrustDomain trustDomain, String pem) {
    return of(trustDomain, Pem.decodeCertificates(pem));
  }

  /**
   * Returns a bundle in which {@code trustDomain}'s roots are replaced by {@code newRoots} (duplicates
   * removed, order kept).
   *
   * @throws MtlsException {@link Reason#INVALID_SVID} if the list is empty or a root is not a CA certificate
   */
  public TrustBundle with(TrustDomain trustDomain, Collection<X509Certificate> newRoots) {
    requireNonNull(trustDomain, "trustDomain");
    if (newRoots == null || newRoots.isEmpty()) {
      throw new MtlsException(Reason.INVALID_SVID, "trust bundle for '" + trustDomain + "' has no roots");
    }
    List<X509Certificate> unique = new ArrayList<>();
    for (X509Certificate root : newRoots) {
      if (root.getBasicConstraints() < 0) {
        throw new MtlsException(Reason.INVALID_SVID, "trust bundle for '" + trustDomain + "': certificate '"
            + root.getSubjectX500Principal() + "' is not a CA certificate (basicConstraints CA:false or absent)");
      }
      if (unique.stream().noneMatch(r -> sameCertificate(r, root))) {
        unique.add(root);
      }
    }
    Map<TrustDomain, List<X509Certificate>> copy = new TreeMap<>(roots);
    copy.put(trustDomain, List.copyOf(unique));
    return new TrustBundle(Collections.unmodifiableMap(copy));
  }

  /** The roots of {@code trustDomain}; empty if this bundle does not know it. */
  public List<X509Certificate> roots(TrustDomain trustDomain) {
    return roots.getOrDefault(trustDomain, List.of());
  }

  public Collection<TrustDomain> trustDomains() {
    return roots.keySet();
  }

  public String toPem(TrustDomain trustDomain) {
    return Pem.encodeCertificates(roots(trustDomain));
  }

  static boolean sameCertificate(X509Certificate a, X509Certificate b) {
    try {
      return Arrays.equals(a.getEncoded(), b.getEncoded());
    } catch (CertificateEncodingException e) {
      return false;
    }
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof TrustBundle other) || !roots.keySet().equals(other.roots.keySet())) {
      return false;
    }
    for (Map.Entry<TrustDomain, List<X509Certificate>> e : roots.entrySet()) {
      List<X509Certificate> mine = e.getValue();
      List<X509Certificate> theirs = other.roots.get(e.getKey());
      if (mine.size() != theirs.size()) {
        return false;
      }
      for (int i = 0; i < mine.size(); i++) {
        if (!sameCertificate(mine.get(i), theirs.get(i))) {
          return false;
        }
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    return roots.keySet().hashCode() * 31 + roots.values().stream().mapToInt(List::size).sum();
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("TrustBundle{");
    roots.forEach((td, certs) -> b.append(td).append('=').append(certs.size()).append(" root(s) "));
    return b.toString().strip() + "}";
  }
}
