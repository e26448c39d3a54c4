package dev.trellis.xds.client;

import com.google.protobuf.Message;
import io.grpc.Status;

/**
 * Receives one resource type's updates from an {@link AdsClient}. Called on the client's serial
 * executor, never concurrently; must not block.
 *
 * <p>Four kinds of news are kept apart, as in grpc-java's XdsClient: the resource changed or
 * appeared; it was removed or does not exist; it arrived but is invalid ({@link #onResourceError},
 * the last good version stays in effect); and the control plane is unreachable
 * ({@link #onAmbientError}, everything stays in effect).
 */
public interface ResourceWatcher<T extends Message> {

  void onChanged(String name, T resource);

  void onRemoved(String name);

  /** A new version of {@code name} was rejected; the previous good one (if any) stays in effect. */
  default void onResourceError(String name, String error) {}

  /** The stream to the control plane failed; the client reconnects and keeps the last good config. */
  default void onAmbientError(Status status) {}
}
