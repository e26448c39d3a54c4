package dev.trellis.xds.server;

import dev.trellis.xds.resource.XdsResource;
import java.util.ArrayList;
import java.util.List;

/** What one response of one type would carry, as decided from a stream's dirty names. */
final class Work {
  final List<XdsResource> upserts = new ArrayList<>();
  /** Names the client has that no longer exist (or are no longer in its interest) and must be removed. */
  final List<String> removals = new ArrayList<>();
  /** Delta: explicitly subscribed names that do not exist. */
  final List<String> notFound = new ArrayList<>();
  /** Deferred removals still waiting for phase B. */
  boolean deferredPending;

  boolean isEmpty() {
    return upserts.isEmpty() && removals.isEmpty() && notFound.isEmpty();
  }
}
