package dev.trellis.mtls.svid;

import static java.util.Objects.requireNonNull;

/** An SVID together with the trust bundle the CA returned with it: everything one mTLS identity needs. */
public record IssuedSvid(X509Svid svid, TrustBundle bundle) {
  public IssuedSvid {
    requireNonNull(svid, "svid");
    requireNonNull(bundle, "bundle");
  }
}
