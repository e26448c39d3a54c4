package dev.trellis.xds.resource;

import static java.util.Objects.requireNonNull;

import com.google.common.hash.Hashing;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import java.io.ByteArrayOutputStream;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.io.IOException;

/**
 * One named, versioned resource as it goes on the wire. The version is a hash of the resource's
 * deterministic serialization, so it changes exactly when the content does and is the same on every
 * control-plane replica and across restarts.
 *
 * @param body null only for a placeholder standing for a version a reconnecting delta client says it has
 */
public record XdsResource(ResourceType type, String name, String version, Any body, Resource deltaForm) {

  public XdsResource {
    requireNonNull(type, "type");
    requireNonNull(name, "name");
    requireNonNull(version, "version");
  }

  private XdsResource(ResourceType type, String name, String version, Any body) {
    this(type, name, version, body, body == null ? null : deltaResource(name, version, body));
  }

  /**
   * The delta-xDS wrapper, built once and shared by every stream: its strings are pre-encoded so
   * serializing it for the n-th client copies bytes instead of encoding text again.
   */
  private static Resource deltaResource(String name, String version, Any body) {
    Resource r = Resource.newBuilder().setName(name).setVersion(version).setResource(body).build();
    r.getNameBytes();
    r.getVersionBytes();
    r.getSerializedSize();
    return r;
  }

  public static XdsResource of(ResourceType type, Message message) {
    String name = type.nameOf(message);
    if (name.isEmpty()) {
      throw new IllegalArgumentException(type.shortName() + " resource has an empty name: " + message);
    }
    byte[] bytes = deterministicBytes(message);
    String version = Hashing.murmur3_128().hashBytes(bytes).toString().substring(0, 16);
    Any body = Any.newBuilder().setTypeUrl(type.typeUrl()).setValue(ByteString.copyFrom(bytes)).build();
    // Encode the type URL once here, not once per client that receives the resource.
    body.getTypeUrlBytes();
    body.getSerializedSize();
    return new XdsResource(type, name, version, body);
  }

  /** A stand-in for "the client has version {@code version} of {@code name}" (delta reconnect). */
  public static XdsResource known(ResourceType type, String name, String version) {
    return new XdsResource(type, name, version, null);
  }

  private static byte[] deterministicBytes(Message message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(message.getSerializedSize());
    CodedOutputStream coded = CodedOutputStream.newInstance(out);
    coded.useDeterministicSerialization();
    try {
      message.writeTo(coded);
      coded.flush();
    } catch (IOException e) {
      throw new IllegalStateException("serializing to memory failed", e);
    }
    return out.toByteArray();
  }
}
