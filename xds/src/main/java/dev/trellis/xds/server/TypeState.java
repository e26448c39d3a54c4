package dev.trellis.xds.server;

import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** What one stream knows about one resource type. Confined to the stream's serial executor. */
final class TypeState {

  final ResourceType type;
  /** The client has explicitly subscribed to some name ("*" included): legacy wildcard no longer applies. */
  boolean explicit;
  boolean wildcard;
  final Set<String> names = new HashSet<>();
  /** What the client has (or was last sent), by name. */
  Map<String, XdsResource> sent = new HashMap<>();
  /** Names to re-evaluate against the snapshot at the next drain. */
  final Set<String> dirty = new HashSet<>();
  /** Names to send even if the client seems to have the current version (re-subscribed). */
  final Set<String> forced = new HashSet<>();
  /** Delta: subscribed names already reported as non-existent. */
  final Set<String> reportedMissing = new HashSet<>();
  /** Subscription changes since the client last answered a response (see {@link XdsStream#changed}). */
  int unansweredChanges;
  /** SotW full-state type: the subscription changed, so a response is due even if nothing changed. */
  boolean mustRespond;
  /** The nonce and version of the last response of this type. */
  String lastNonce;
  String lastSentVersion = "";

  // For debug output.
  String ackedVersion = "";
  Instant ackedAt;
  String nackedVersion;
  String nackError;
  Instant nackedAt;
  /** The nonce of the client's last ACK of this type. */
  String ackedNonce;
  long acks;
  long nacks;
  long lateNacks;
  ClientStatus.LateNack lastLateNack;
  long responses;

  TypeState(ResourceType type) {
    this.type = type;
  }

  boolean interested(String name) {
    return wildcard || names.contains(name);
  }

  /** Entries kept in this type's collections. */
  int retained() {
    return names.size() + sent.size() + dirty.size() + forced.size() + reportedMissing.size();
  }

  /**
   * Marks the names of a snapshot change that this client cares about: those it subscribed to or holds, and with
   * a wildcard those now in {@code view}. A removed resource the client never got is not kept, so what a stream
   * keeps never grows with the mesh's churn, only with its view.
   */
  void markChanged(Set<String> changed, Map<String, XdsResource> view) {
    if (changed.isEmpty()) {
      return;
    }
    if (wildcard) {
      for (String n : changed) {
        if (view.containsKey(n) || sent.containsKey(n) || names.contains(n)) {
          dirty.add(n);
        }
      }
      return;
    }
    if (changed.size() <= names.size()) {
      for (String n : changed) {
        if (names.contains(n) || sent.containsKey(n)) {
          dirty.add(n);
        }
      }
    } else {
      for (String n : names) {
        if (changed.contains(n)) {
          dirty.add(n);
        }
      }
      for (String n : sent.keySet()) {
        if (changed.contains(n)) {
          dirty.add(n);
        }
      }
    }
  }
}
