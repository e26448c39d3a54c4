package dev.trellis.mtls.svid;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.concurrent.CompletionStage;

/**
 * Obtains a fresh SVID for an identity, e.g. by generating a key, sending a CSR to the CA and
 * waiting for the chain. May do I/O; must not block the caller.
 */
@FunctionalInterface
public interface SvidFetcher {
  CompletionStage<IssuedSvid> fetchSvid(SpiffeId identity);
}
