package dev.trellis.mtls.verify;

import dev.trellis.mtls.identity.SpiffeId;

/** Fired down the pipeline by {@link PeerIdentityHandler} once the peer's identity is accepted. */
public record PeerVerifiedEvent(SpiffeId peer) {}
