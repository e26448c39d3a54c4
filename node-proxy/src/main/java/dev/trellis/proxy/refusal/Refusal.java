package dev.trellis.proxy.refusal;

import java.util.Locale;

/**
 * Why the node proxy refused a connection or a request stream that it had not authenticated, or whose peer asked
 * for something it may not have. The {@link #label()} is the {@code reason} label of
 * {@code trellis_proxy_refusals_total} and the word in the refusal's log line.
 */
public enum Refusal {
  // HBONE (15008), before the peer is authenticated
  /** The first bytes were not a TLS handshake (plain HTTP, garbage): HBONE is mutual TLS. */
  NOT_TLS,
  /** A ClientHello without a server name, on an address where no workload picks the certificate. */
  NO_SNI,
  /** A server name that names no workload of this node. */
  UNKNOWN_SNI,
  /** The workload the connection is for has no valid SVID (yet). */
  NO_CERTIFICATE,
  /** The TLS handshake failed (the client's certificate is untrusted, expired, absent; protocol, timeout). */
  TLS_HANDSHAKE,
  /** The verified peer certificate carries no usable SPIFFE ID. */
  PEER_IDENTITY,
  /** ALPN did not choose h2. */
  ALPN,
  /** Anything else that ended the connection before the peer was authenticated. */
  CONNECTION_ERROR,

  // HBONE streams and plaintext inbound (15006): the decisions of InboundDecision
  /** An HBONE stream that is not a CONNECT. */
  NOT_CONNECT,
  /** A destination that is not {@code ip:port} (or a name where an address is needed). */
  BAD_AUTHORITY,
  /** No workload of this node has the destination address. */
  NO_WORKLOAD,
  /** The destination workload's identity is not the one this HBONE connection presented. */
  IDENTITY_MISMATCH,
  /** The destination port is one of the node proxy's own. */
  PROXY_PORT,
  /** An authorization policy denied the caller. */
  DENIED,
  /** Plaintext to a workload whose mTLS mode is STRICT. */
  STRICT_MTLS,

  // entry listeners (local mode 15001/15006: SOCKS5, HTTP CONNECT; capture 15001)
  /** A SOCKS5 or HTTP request that does not parse, or a CONNECT target without a valid port. */
  MALFORMED,
  /** Well-formed, but not what the entry does: a SOCKS5 command other than CONNECT, authentication, not CONNECT. */
  UNSUPPORTED,
  /** A connection made straight to a capture listener instead of being redirected to it (it would loop). */
  NOT_REDIRECTED,
  /** A client that did not complete its SOCKS5 or HTTP CONNECT handshake within 15 s. */
  HANDSHAKE_TIMEOUT,

  // outbound decisions (OutboundDecision.Refuse) and passthrough dials
  /** The connection's source address is no workload of this node. */
  UNKNOWN_SOURCE,
  /** A destination the client named (local entry) that is no mesh service. */
  UNKNOWN_SERVICE,
  /** A captured pod's passthrough to a link-local address (metadata servers), not in {@code egress.allowCidrs}. */
  LINK_LOCAL,
  /** A captured pod's passthrough to an address of its own node, not in {@code egress.allowCidrs}. */
  NODE_ADDRESS,
  /** A passthrough that cannot leave as the pod: its network namespace is unknown or cannot be entered. */
  POD_NAMESPACE;

  /** The metric label and log word: the name in lower case. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Which listener refused: the {@code listener} label of the refusal counter. */
  public enum Listener {
    /** The HBONE server, 15008. */
    HBONE,
    /** The outbound entry (local mode: SOCKS5/CONNECT) or capture listener, 15001. */
    OUTBOUND,
    /** The plaintext inbound listener, 15006. */
    INBOUND;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }
}
