package dev.trellis.mtls.tls;

import static java.util.Objects.requireNonNull;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.SvidListener;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server and client TLS contexts of one workload identity, rebuilt whenever its SVID or trust
 * bundle changes. Each new connection takes the contexts current at that moment, so after a rotation
 * new handshakes present the new SVID while established connections keep theirs. When the SVID
 * becomes unavailable, new connections fail closed with {@link Reason#SVID_UNAVAILABLE}.
 *
 * <p>Register it on the identity's {@code SvidSource}; reads are lock-free from any thread.
 */
public final class RotatingTlsContexts implements SvidListener {

  private static final Logger log = LoggerFactory.getLogger(RotatingTlsContexts.class);

  private record Contexts(IssuedSvid credentials, SslContext server, SslContext client) {}

  private final SpiffeId identity;
  private final TlsOptions options;
  private final Clock clock;
  private volatile Contexts current;
  private volatile String unavailable;

  public RotatingTlsContexts(SpiffeId identity, TlsOptions options, Clock clock) {
    this.identity = requireNonNull(identity, "identity");
    this.options = requireNonNull(options, "options");
    this.clock = requireNonNull(clock, "clock");
    this.unavailable = "no SVID has been issued for " + identity + " yet";
  }

  @Override
  public void onSvidUpdate(IssuedSvid update) {
    if (!update.svid().id().equals(identity)) {
      log.error("ignoring SVID for {}: these contexts serve {}", update.svid().id(), identity);
      return;
    }
    try {
      current = new Contexts(update, SvidSslContexts.forServer(update, options, clock),
          SvidSslContexts.forClient(update, options, clock));
    } catch (MtlsException e) {
      // Keep the previous contexts: they stay usable until that SVID expires.
      log.error("TLS contexts for {} not rotated: {}", identity, e.getMessage(), e);
    }
  }

  @Override
  public void onSvidUnavailable(MtlsException reason) {
    unavailable = reason.getMessage();
    current = null;
  }

  /** Whether contexts exist: an SVID arrived and TLS contexts were built from it. */
  public boolean ready() {
    return current != null;
  }

  /** The credentials the current contexts were built from. */
  public IssuedSvid credentials() {
    return contexts().credentials();
  }

  public SslContext serverContext() {
    return contexts().server();
  }

  public SslContext clientContext() {
    return contexts().client();
  }

  /** A server-side handler for a new connection, from the contexts current now. */
  public SslHandler newServerHandler(ByteBufAllocator alloc) {
    return serverContext().newHandler(alloc);
  }

  /** A client-side handler for a new connection, from the contexts current now. */
  public SslHandler newClientHandler(ByteBufAllocator alloc) {
    return clientContext().newHandler(alloc);
  }

  private Contexts contexts() {
    Contexts c = current;
    if (c == null) {
      throw new MtlsException(Reason.SVID_UNAVAILABLE, unavailable);
    }
    return c;
  }
}
