package dev.trellis.controlplane.testing;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;

/**
 * Strings shaped like projected service-account tokens, for tests where a mock API server plays TokenReview: the
 * control plane checks their shape, never their signature. {@link #name} recovers which test token it is.
 */
public final class FakeJwt {

  private FakeJwt() {}

  /** A token named {@code name}, for audience trellis-ca, expiring at {@code exp}. */
  public static String of(String name, Instant exp) {
    return of(name, exp, "[\"trellis-ca\"]");
  }

  public static String of(String name, Instant exp, String audJson) {
    return b64("{\"alg\":\"RS256\",\"kid\":\"test\"}") + "." + b64("{\"sub\":\"" + name + "\",\"aud\":" + audJson
        + ",\"exp\":" + exp.getEpochSecond() + "}") + ".c2lnbmF0dXJl";
  }

  /** A token named {@code name} valid for an hour from now. */
  public static String of(String name) {
    return of(name, Instant.now().plusSeconds(3600));
  }

  /** The name a token was made with, or the token itself if it is not one of ours. */
  public static String name(String token) {
    String[] parts = token.split("\\.");
    if (parts.length != 3) {
      return token;
    }
    try {
      String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
      int i = payload.indexOf("\"sub\":\"");
      return i < 0 ? token : payload.substring(i + 7, payload.indexOf('"', i + 7));
    } catch (IllegalArgumentException e) {
      return token;
    }
  }

  private static String b64(String json) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }
}
