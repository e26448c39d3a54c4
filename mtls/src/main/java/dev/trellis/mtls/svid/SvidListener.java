package dev.trellis.mtls.svid;

import dev.trellis.mtls.MtlsException;
import java.time.Instant;

/**
 * Receives the state of one identity's SVID. Called on the source's serial executor, never
 * concurrently, so implementations need no locks but must not block.
 *
 * <p>A renewal failure while the current SVID is still valid is transient ({@link #onRenewalFailed});
 * only when the SVID expires without a replacement does the identity become unusable
 * ({@link #onSvidUnavailable}): connections for it must then fail closed.
 */
public interface SvidListener {

  /** A new SVID (first issuance or rotation). */
  void onSvidUpdate(IssuedSvid update);

  /** No valid SVID any more: it expired and renewal has not succeeded. Renewal keeps being retried. */
  default void onSvidUnavailable(MtlsException reason) {}

  /** A renewal attempt failed; the next one is at {@code nextAttempt}. */
  default void onRenewalFailed(Throwable error, Instant nextAttempt) {}
}
