package dev.trellis.xds.server;

/**
 * Bounds on what one xDS stream may ask for, so a hostile or broken client cannot make the server
 * hold unbounded memory. A request beyond them closes the stream with a status naming the limit.
 *
 * @param maxNamesPerType subscribed names per resource type
 * @param maxNameLength characters in one resource name
 */
public record AdsLimits(int maxNamesPerType, int maxNameLength) {

  public AdsLimits {
    if (maxNamesPerType < 1) {
      throw new IllegalArgumentException("maxNamesPerType: " + maxNamesPerType + " (expected: >= 1)");
    }
    if (maxNameLength < 1) {
      throw new IllegalArgumentException("maxNameLength: " + maxNameLength + " (expected: >= 1)");
    }
  }

  /** 20,000 names per type, 1,024 characters per name. */
  public static AdsLimits defaults() {
    return new AdsLimits(20_000, 1024);
  }
}
