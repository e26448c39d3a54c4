package dev.trellis.ca.client;

import static java.util.Objects.requireNonNull;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Sends {@code authorization: Bearer <token>} on every call, the control plane's one way to
 * authenticate. The token is re-read per call, so a rotated projected token is picked up.
 */
public final class BearerTokenCredentials extends CallCredentials {

  private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Supplier<String> token;

  public BearerTokenCredentials(Supplier<String> token) {
    this.token = requireNonNull(token, "token");
  }

  public static BearerTokenCredentials of(String token) {
    requireNonNull(token, "token");
    return new BearerTokenCredentials(() -> token);
  }

  @Override
  public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token.get());
    applier.apply(headers);
  }
}
