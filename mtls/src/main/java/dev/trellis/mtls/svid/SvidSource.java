package dev.trellis.mtls.svid;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.Optional;

/** The current SVID of one identity, kept fresh, with listeners notified of every change. */
public interface SvidSource extends AutoCloseable {

  SpiffeId identity();

  /** The current, unexpired SVID and bundle; empty before the first issuance or after expiry. */
  Optional<IssuedSvid> current();

  /** Adds a listener; if an SVID is current it is delivered to the new listener right away (on the source's executor). */
  void addListener(SvidListener listener);

  void removeListener(SvidListener listener);

  /** Stops renewing; listeners get no more calls. */
  @Override
  void close();
}
