package dev.trellis.ca.server;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * Local mode's authentication: each node has a secret token (from the mesh file). Tokens are kept
 * only as SHA-256 digests and looked up by digest, so neither the token nor its prefix leaks
 * through timing.
 */
public final class StaticTokenAuthenticator implements CallerAuthenticator {

  /** Shorter tokens are refused at start-up: they could be guessed. */
  public static final int MIN_TOKEN_LENGTH = 16;

  private final Map<String, String> nodeByDigest;

  /**
   * @param tokensByNode node name → its token
   * @throws IllegalArgumentException if a token is shorter than {@link #MIN_TOKEN_LENGTH} or two nodes share one
   */
  public StaticTokenAuthenticator(Map<String, String> tokensByNode) {
    Map<String, String> m = new HashMap<>();
    tokensByNode.forEach((node, token) -> {
      if (node == null || node.isBlank()) {
        throw new IllegalArgumentException("node token: node name is empty");
      }
      if (token == null || token.length() < MIN_TOKEN_LENGTH) {
        throw new IllegalArgumentException("token of node '" + node + "': " + (token == null ? 0 : token.length())
            + " characters (expected: at least " + MIN_TOKEN_LENGTH + "; generate one with 'openssl rand -hex 16')");
      }
      String previous = m.put(digest(token), node);
      if (previous != null) {
        throw new IllegalArgumentException("nodes '" + previous + "' and '" + node + "' share a token; give each node its own");
      }
    });
    this.nodeByDigest = Map.copyOf(m);
  }

  @Override
  public Caller authenticate(String bearerToken) {
    String node = bearerToken == null ? null : nodeByDigest.get(digest(bearerToken));
    if (node == null) {
      throw new CaException(Reason.UNAUTHENTICATED,
          "bearer token is not a known node token; check the node's token in the mesh file");
    }
    return new Caller(node, "node token of " + node);
  }

  private static String digest(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
