package dev.trellis.mtls.tls;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;

/** Which TLS implementation backs a context. */
public enum TlsProvider {
  /** BoringSSL when netty-tcnative loads on this platform, else the JDK's provider. */
  AUTO,
  /** BoringSSL through netty-tcnative; fails if it cannot load. */
  BORINGSSL,
  /** The JDK's own TLS (SunJSSE). */
  JDK;

  /** A name for people: "BoringSSL" or "JDK", after resolving AUTO. */
  public String displayName() {
    return resolve() == SslProvider.OPENSSL ? "BoringSSL" : "JDK";
  }

  /** The Netty provider this choice resolves to here. */
  public SslProvider resolve() {
    return switch (this) {
      case AUTO -> OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
      case JDK -> SslProvider.JDK;
      case BORINGSSL -> {
        if (!OpenSsl.isAvailable()) {
          throw new MtlsException(Reason.TLS_CONTEXT, "BoringSSL (netty-tcnative) is not available on this platform: "
              + OpenSsl.unavailabilityCause() + "; choose provider JDK or AUTO");
        }
        yield SslProvider.OPENSSL;
      }
    };
  }
}
