package dev.trellis.controlplane.admin;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.server.Caller;
import dev.trellis.ca.server.CallerAuthenticator;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.BiPredicate;

/**
 * Who may read the admin port's {@code /debug/*} pages, decided per request from the peer and its
 * {@code Authorization} header (health and metrics are open to anyone). Pure apart from the node-token check,
 * which is the same authenticator as xDS and the CA:
 * <ul>
 *   <li>{@code Authorization: Bearer <admin token>} (from {@code --admin-token-file}) sees everything;</li>
 *   <li>{@code Authorization: Bearer <node token>} (a mesh-file node token, or in a cluster a node proxy's projected
 *       token) sees its own node's view: the global configuration and its node's workloads and xDS clients;</li>
 *   <li>no header, from this host ({@link #sameHost}: a loopback peer, or a peer with the very address it connected
 *       to, which only this host can have — what {@code trellis status} and {@code kubectl port-forward} are), sees
 *       everything;</li>
 *   <li>anything else is refused: 401 naming what to send, 429/503 when the token cannot be checked now.</li>
 * </ul>
 */
public final class AdminAccess {

  /** What a request may see. */
  public sealed interface Decision {}

  /** Every node's resources and clients. */
  public record All(String why) implements Decision {}

  /** The global configuration and {@code node}'s own resources and clients. */
  public record OneNode(String node, String who) implements Decision {}

  /** Nothing: answer {@code status} with {@code message}. */
  public record Denied(int status, String reason, String message) implements Decision {}

  private final byte[] adminTokenDigest;
  private final CallerAuthenticator nodes;
  private final BiPredicate<InetSocketAddress, InetSocketAddress> local;

  /**
   * @param adminToken the admin token, or null for none
   * @param nodes checks node tokens (the control plane's authenticator)
   * @param local whether a request from {@code (peer, local address)} comes from this host; {@link #sameHost} in
   *     production
   */
  public AdminAccess(String adminToken, CallerAuthenticator nodes,
      BiPredicate<InetSocketAddress, InetSocketAddress> local) {
    this.adminTokenDigest = adminToken == null ? null : sha256(adminToken);
    this.nodes = requireNonNull(nodes, "nodes");
    this.local = requireNonNull(local, "local");
  }

  /** Whether a connection from {@code peer} to {@code localAddress} was made on this host. */
  public static boolean sameHost(InetSocketAddress peer, InetSocketAddress localAddress) {
    InetAddress p = peer == null ? null : peer.getAddress();
    if (p == null) {
      return false;
    }
    if (p.isLoopbackAddress()) {
      return true;
    }
    // The kernel does not accept a packet from outside whose source is one of this host's own addresses, so a peer
    // with the address it connected to is a process here (e.g. 'trellis status' against a control plane bound to a
    // namespace gateway address).
    InetAddress l = localAddress == null ? null : localAddress.getAddress();
    return l != null && !l.isAnyLocalAddress() && p.equals(l);
  }

  /** Decides for one request to a {@code /debug/*} page. */
  public Decision decide(InetSocketAddress peer, InetSocketAddress localAddress, String authorization) {
    if (authorization == null || authorization.isBlank()) {
      if (local.test(peer, localAddress)) {
        return new All("a caller on this host");
      }
      return new Denied(401, "unauthenticated", "the /debug pages need 'Authorization: Bearer <token>' (the admin "
          + "token of --admin-token-file, or a node token for that node's view), or a request from this host");
    }
    if (!authorization.regionMatches(true, 0, "bearer ", 0, 7) || authorization.substring(7).isBlank()) {
      return new Denied(401, "unauthenticated", "the Authorization header must be 'Bearer <token>'");
    }
    String token = authorization.substring(7).strip();
    if (adminTokenDigest != null && MessageDigest.isEqual(adminTokenDigest, sha256(token))) {
      return new All("the admin token");
    }
    try {
      Caller caller = nodes.authenticate(token, peer);
      return new OneNode(caller.node(), caller.principal());
    } catch (CaException e) {
      return switch (e.reason()) {
        case RATE_LIMITED -> new Denied(429, e.reason().label(), e.getMessage());
        case AUTHENTICATION_UNAVAILABLE -> new Denied(503, e.reason().label(), e.getMessage());
        default -> new Denied(401, "unauthenticated", "the token is neither the admin token nor a node token ("
            + e.getMessage() + ")");
      };
    }
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
