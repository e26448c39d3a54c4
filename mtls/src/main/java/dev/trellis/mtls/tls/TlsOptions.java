package dev.trellis.mtls.tls;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Set;

/**
 * How mTLS contexts are built: the provider, the TLS versions and the ALPN protocols to offer.
 * Defaults: {@link TlsProvider#AUTO}, TLS 1.3 only, no ALPN.
 */
public record TlsOptions(TlsProvider provider, List<String> protocols, List<String> alpn) {

  private static final Set<String> SUPPORTED_PROTOCOLS = Set.of("TLSv1.2", "TLSv1.3");

  public TlsOptions {
    requireNonNull(provider, "provider");
    protocols = List.copyOf(protocols);
    alpn = List.copyOf(alpn);
    if (protocols.isEmpty()) {
      throw new IllegalArgumentException("protocols: [] (expected: at least one of " + SUPPORTED_PROTOCOLS + ")");
    }
    for (String p : protocols) {
      if (!SUPPORTED_PROTOCOLS.contains(p)) {
        throw new IllegalArgumentException("protocols: '" + p + "' (expected: one of " + SUPPORTED_PROTOCOLS + ")");
      }
    }
    for (String a : alpn) {
      if (a.isEmpty() || a.length() > 255) {
        throw new IllegalArgumentException("alpn: '" + a + "' (expected: 1 to 255 characters)");
      }
    }
  }

  public static TlsOptions defaults() {
    return new TlsOptions(TlsProvider.AUTO, List.of("TLSv1.3"), List.of());
  }

  public TlsOptions withProvider(TlsProvider provider) {
    return new TlsOptions(provider, protocols, alpn);
  }

  public TlsOptions withProtocols(String... protocols) {
    return new TlsOptions(provider, List.of(protocols), alpn);
  }

  public TlsOptions withAlpn(String... alpn) {
    return new TlsOptions(provider, protocols, List.of(alpn));
  }
}
