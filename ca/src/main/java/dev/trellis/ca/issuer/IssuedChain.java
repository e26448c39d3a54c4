package dev.trellis.ca.issuer;

import dev.trellis.mtls.svid.TrustBundle;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;

/**
 * What the CA hands back for a CSR.
 *
 * @param chain leaf first, then the signing authority's intermediates; never the root
 * @param bundle every root currently trusted
 * @param grantedTtl the leaf's lifetime from issuance (after capping)
 */
public record IssuedChain(List<X509Certificate> chain, TrustBundle bundle, Duration grantedTtl) {
  public IssuedChain {
    chain = List.copyOf(chain);
  }

  public X509Certificate leaf() {
    return chain.getFirst();
  }
}
