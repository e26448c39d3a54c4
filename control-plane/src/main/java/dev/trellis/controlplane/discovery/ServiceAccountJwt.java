package dev.trellis.controlplane.discovery;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Base64;

/**
 * The shape of a projected service-account token, checked locally before anything is asked of the API server:
 * a JWT (three base64url parts), a header naming an algorithm, a payload with a numeric {@code exp} in the future
 * and {@value TokenReviewAuthenticator#AUDIENCE} among its audiences. Nothing here is trusted — the signature is
 * not checked, the API server's TokenReview does that — it only refuses what the API server would refuse anyway,
 * at no cost, and reads {@code exp} to bound how long a review's answer is kept.
 */
final class ServiceAccountJwt {

  /** Longer strings are refused without parsing (Kubernetes tokens are 1–2 KiB). */
  static final int MAX_LENGTH = 8 * 1024;

  private ServiceAccountJwt() {}

  /** A token of the right shape: its claimed expiry. */
  record Shape(Instant expiry) {}

  /** Why a string is not a token worth reviewing; the message says so to the caller. */
  static final class NotAToken extends Exception {
    NotAToken(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * @throws NotAToken if {@code token} cannot be a valid projected token with audience {@code audience} at {@code now}
   */
  static Shape check(String token, String audience, Instant now) throws NotAToken {
    if (token.length() > MAX_LENGTH) {
      throw new NotAToken("the bearer token has " + token.length() + " characters, more than a service-account token "
          + "(at most " + MAX_LENGTH + ")");
    }
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty()) {
      throw new NotAToken("the bearer token is not a JWT (expected: header.payload.signature); node proxies send "
          + "their projected service-account token");
    }
    JsonObject header = json(parts[0], "header");
    JsonElement alg = header.get("alg");
    if (alg == null || !alg.isJsonPrimitive() || alg.getAsString().isEmpty() || alg.getAsString().equalsIgnoreCase("none")) {
      throw new NotAToken("the bearer token's header names no signing algorithm");
    }
    JsonObject payload = json(parts[1], "payload");
    JsonElement exp = payload.get("exp");
    if (exp == null || !exp.isJsonPrimitive() || !exp.getAsJsonPrimitive().isNumber()) {
      throw new NotAToken("the bearer token has no expiry (exp); use the kubelet's projected service-account token, "
          + "not a long-lived secret token");
    }
    Instant expiry;
    try {
      expiry = Instant.ofEpochSecond(exp.getAsJsonPrimitive().getAsLong());
    } catch (NumberFormatException | DateTimeException e) {
      throw new NotAToken("the bearer token's exp is not a time");
    }
    if (!expiry.isAfter(now)) {
      throw new NotAToken("the bearer token expired at " + expiry);
    }
    if (!hasAudience(payload.get("aud"), audience)) {
      throw new NotAToken("the bearer token is not meant for " + audience + " (its aud claim lacks it); project the "
          + "token with audience " + audience);
    }
    return new Shape(expiry);
  }

  private static boolean hasAudience(JsonElement aud, String audience) {
    if (aud == null) {
      return false;
    }
    if (aud.isJsonPrimitive()) {
      return aud.getAsString().equals(audience);
    }
    if (aud.isJsonArray()) {
      for (JsonElement e : aud.getAsJsonArray()) {
        if (e.isJsonPrimitive() && e.getAsString().equals(audience)) {
          return true;
        }
      }
    }
    return false;
  }

  private static JsonObject json(String part, String what) throws NotAToken {
    try {
      JsonElement e = JsonParser.parseString(new String(Base64.getUrlDecoder().decode(part), StandardCharsets.UTF_8));
      if (!e.isJsonObject()) {
        throw new NotAToken("the bearer token's " + what + " is not a JSON object");
      }
      return e.getAsJsonObject();
    } catch (IllegalArgumentException | JsonParseException e) {
      throw new NotAToken("the bearer token's " + what + " is not base64url-encoded JSON");
    } catch (StackOverflowError e) {
      throw new NotAToken("the bearer token's " + what + " is nested too deeply");
    }
  }
}
