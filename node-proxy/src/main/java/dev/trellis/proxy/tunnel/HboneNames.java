package dev.trellis.proxy.tunnel;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;

/**
 * The TLS server name a Trellis HBONE client sends so that a node proxy reached at its node address
 * (local mode) knows which workload's certificate to present: {@code <serviceAccount>.<namespace>.id.trellis}.
 * Both parts are DNS labels, so this is a valid SNI host name. In capture mode the connection's
 * destination address (the pod's) decides instead, as for any HBONE peer.
 */
public final class HboneNames {

  static final String SUFFIX = ".id.trellis";
  public static final int HBONE_PORT = 15008;

  private HboneNames() {}

  public static String sni(SpiffeId identity) {
    return identity.serviceAccount().orElse("x") + "." + identity.namespace().orElse("x") + SUFFIX;
  }

  /** The identity named by {@code sni} in {@code trustDomain}, or null if it is not one of ours. */
  public static SpiffeId identity(String sni, TrustDomain trustDomain) {
    if (sni == null || !sni.endsWith(SUFFIX)) {
      return null;
    }
    String[] parts = sni.substring(0, sni.length() - SUFFIX.length()).split("\\.");
    if (parts.length != 2) {
      return null;
    }
    try {
      return SpiffeId.forWorkload(trustDomain, parts[1], parts[0]);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
