package dev.trellis.xds.server;

import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What {@code /debug/clients} shows for one connected xDS client.
 *
 * @param inFlight the type of the response awaiting an ACK/NACK, or null
 * @param anonymous whether the client has no credentials
 * @param kind the client's {@link ClientKind} label ({@code node-proxy}, {@code envoy}, {@code proxyless})
 * @param notes where this client holds a resource's variant for its kind instead of what others get, and why (e.g.
 *     {@code "CDS outbound|80||web.demo.svc.cluster.local: RING_HASH instead of MAGLEV ..."}); at most
 *     {@value #SHOWN_NOTES}, then a line saying how many more
 */
public record ClientStatus(String streamId, String variant, String clientId, String principal, String node,
    Instant connectedAt, String inFlight, boolean anonymous, String kind, List<String> notes, List<TypeStatus> types) {

  /** One resource type on one stream. */
  public record TypeStatus(String type, boolean wildcard, int subscribedNames, List<String> someNames, int resourcesHeld,
      int retainedEntries, String ackedVersion, Instant ackedAt, long responses, long acks, long nacks,
      String lastNackVersion, String lastNackError, Instant lastNackAt, long lateNacks, LateNack lastLateNack) {}

  /**
   * A NACK that answered no response in flight: it named a nonce the client had already ACKed, or one superseded by
   * a newer response. It changes nothing on the server, but says the client rejected a configuration after all.
   *
   * @param lastAcked whether it named the nonce the client last ACKed for this type (it now rejects what it had
   *     accepted)
   */
  public record LateNack(String nonce, boolean lastAcked, String error, Instant at) {}

  private static final int SHOWN_NAMES = 20;
  static final int SHOWN_NOTES = 20;

  static ClientStatus of(XdsStream<?, ?> s, ResourceType inFlight) {
    List<TypeStatus> types = new ArrayList<>();
    for (TypeState t : s.types.values()) {
      List<String> some = new TreeSet<>(t.names).stream().limit(SHOWN_NAMES).toList();
      types.add(new TypeStatus(t.type.shortName(), t.wildcard, t.names.size(), some, t.sent.size(), t.retained(),
          t.ackedVersion, t.ackedAt, t.responses, t.acks, t.nacks, t.nackedVersion, t.nackError, t.nackedAt, t.lateNacks, t.lastLateNack));
    }
    ClientScope scope = s.scope;
    return new ClientStatus(s.streamId, s.variant(), scope == null ? "" : scope.clientId(),
        scope == null ? "" : scope.principal(), scope == null ? null : scope.node(), s.connectedAt,
        inFlight == null ? null : inFlight.shortName(), scope != null && scope.isAnonymous(), s.kind.label(),
        notes(s), types);
  }

  /** The variants the stream's client holds, with their notes. */
  private static List<String> notes(XdsStream<?, ?> s) {
    Snapshot snapshot = s.snapshot;
    if (snapshot == null) {
      return List.of();
    }
    List<String> notes = new ArrayList<>();
    int more = 0;
    for (TypeState t : s.types.values()) {
      Map<String, Snapshot.Variant> variants = snapshot.variants(t.type, s.kind);
      if (variants.isEmpty()) {
        continue;
      }
      for (String name : new TreeSet<>(t.sent.keySet())) {
        Snapshot.Variant v = variants.get(name);
        if (v == null || !v.resource().version().equals(t.sent.get(name).version())) {
          continue;
        }
        if (notes.size() < SHOWN_NOTES) {
          notes.add(t.type.shortName() + " " + name + ": " + v.note());
        } else {
          more++;
        }
      }
    }
    if (more > 0) {
      notes.add("... and " + more + " more");
    }
    return notes;
  }
}
