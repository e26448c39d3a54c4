package dev.trellis.ca.csr;

import dev.trellis.ca.csr.KeyPolicy.KeyKind;
import dev.trellis.mtls.identity.SpiffeId;
import java.security.PublicKey;

/** A CSR that passed every check: its signature verifies, its key is acceptable, its one URI SAN is {@code identity}. */
public record ValidatedCsr(SpiffeId identity, PublicKey publicKey, KeyKind keyKind) {}
