package dev.trellis.xds.server;

/**
 * Bounds on what xDS clients may make the server hold, so a hostile or broken client cannot exhaust
 * its memory. A request beyond them closes the stream with a status naming the limit, and the stream's
 * state is freed.
 *
 * <p>Per stream and resource type, every collection the server keeps (subscribed names, what the client
 * holds, names waiting to be sent or removed) holds at most the resources of the client's view plus
 * {@code maxNamesPerType} names: subscriptions are capped, and so are the subscription changes a client
 * may make while a response it was sent is unanswered (an ACK or NACK, or nothing left to send, resets
 * that count).
 *
 * @param maxNamesPerType subscribed names per resource type, and subscription changes per type between
 *     two answers, of an authenticated client
 * @param maxNameLength characters in one resource name
 * @param maxStreamsPerConnection ADS streams open at once on one connection
 * @param maxStreamsPerClient ADS streams open at once per authenticated client (per principal)
 * @param maxAnonymousStreams ADS streams open at once of all anonymous clients together
 * @param maxAnonymousNamesPerType {@code maxNamesPerType} for anonymous clients
 */
public record AdsLimits(int maxNamesPerType, int maxNameLength, int maxStreamsPerConnection, int maxStreamsPerClient,
    int maxAnonymousStreams, int maxAnonymousNamesPerType) {

  public AdsLimits {
    positive("maxNamesPerType", maxNamesPerType);
    positive("maxNameLength", maxNameLength);
    positive("maxStreamsPerConnection", maxStreamsPerConnection);
    positive("maxStreamsPerClient", maxStreamsPerClient);
    positive("maxAnonymousStreams", maxAnonymousStreams);
    positive("maxAnonymousNamesPerType", maxAnonymousNamesPerType);
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: >= 1)");
    }
  }

  /**
   * 20,000 names per type and 1,024 characters per name; 16 streams per connection, 8 per authenticated client;
   * anonymous clients: 256 streams in all, 1,000 names per type.
   */
  public static AdsLimits defaults() {
    return new AdsLimits(20_000, 1024, 16, 8, 256, 1_000);
  }

  public AdsLimits withNames(int perType, int length) {
    return new AdsLimits(perType, length, maxStreamsPerConnection, maxStreamsPerClient, maxAnonymousStreams,
        maxAnonymousNamesPerType);
  }

  public AdsLimits withStreams(int perConnection, int perClient, int anonymous) {
    return new AdsLimits(maxNamesPerType, maxNameLength, perConnection, perClient, anonymous, maxAnonymousNamesPerType);
  }

  public AdsLimits withAnonymousNames(int perType) {
    return new AdsLimits(maxNamesPerType, maxNameLength, maxStreamsPerConnection, maxStreamsPerClient,
        maxAnonymousStreams, perType);
  }

  /** The names-per-type bound that applies to {@code scope}. */
  int namesPerType(ClientScope scope) {
    return scope.isAnonymous() ? maxAnonymousNamesPerType : maxNamesPerType;
  }
}
