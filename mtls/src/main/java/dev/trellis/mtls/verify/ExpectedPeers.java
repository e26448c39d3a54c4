package dev.trellis.mtls.verify;

import dev.trellis.mtls.identity.SpiffeId;
import java.util.Collections;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Which peer identities one connection accepts, checked after the chain is verified. A client dialing
 * a workload expects that workload's identity; a server usually accepts any verified identity of its
 * trust domain and leaves the decision to authorization.
 */
public sealed interface ExpectedPeers {

  /** Any identity that passed chain verification (the trust domain is already checked there). */
  static ExpectedPeers anyVerified() {
    return AnyVerified.INSTANCE;
  }

  /** Exactly one of {@code ids}. */
  static ExpectedPeers anyOf(Set<SpiffeId> ids) {
    if (ids == null || ids.isEmpty()) {
      throw new IllegalArgumentException("expected peer identities: " + ids + " (expected: at least one)");
    }
    return new OneOf(new TreeSet<>(ids));
  }

  static ExpectedPeers exactly(SpiffeId id) {
    return anyOf(Set.of(id));
  }

  boolean accepts(SpiffeId peer);

  /** Accepts every verified identity. */
  enum AnyVerified implements ExpectedPeers {
    INSTANCE;

    @Override
    public boolean accepts(SpiffeId peer) {
      return true;
    }

    @Override
    public String toString() {
      return "any verified identity";
    }
  }

  /** Accepts the listed identities only. */
  record OneOf(SortedSet<SpiffeId> ids) implements ExpectedPeers {
    public OneOf {
      ids = Collections.unmodifiableSortedSet(new TreeSet<>(ids));
    }

    @Override
    public boolean accepts(SpiffeId peer) {
      return ids.contains(peer);
    }

    @Override
    public String toString() {
      return ids.size() == 1 ? ids.first().toString() : "one of " + ids;
    }
  }
}
