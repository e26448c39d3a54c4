package dev.trellis.proxy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a node proxy warns about at start, decided from its options alone: a token on the command line (every user
 * of the machine reads it with {@code ps}) and a token sent in plaintext — both only when the control plane is not
 * on a loopback address, where the local-mode trust model (any local user can do as much anyway) stops applying.
 * A control plane named by a host name other than {@code localhost} counts as remote: nothing is resolved here.
 */
final class ControlPlaneWarnings {

  private static final Logger log = LoggerFactory.getLogger(ControlPlaneWarnings.class);

  /** One warning: what and how to fix it. */
  enum Warning {
    /** {@code --token} on a command line, with a remote control plane. */
    TOKEN_ON_COMMAND_LINE,
    /** No {@code --control-plane-ca}: the bearer token crosses the network in plaintext. */
    PLAINTEXT_TOKEN
  }

  private ControlPlaneWarnings() {}

  static List<Warning> decide(NodeProxyOptions options) {
    List<Warning> out = new ArrayList<>();
    if (isLoopback(options.controlPlane())) {
      return out;
    }
    if (options.tokenFile() == null) {
      out.add(Warning.TOKEN_ON_COMMAND_LINE);
    }
    if (options.controlPlaneCa() == null) {
      out.add(Warning.PLAINTEXT_TOKEN);
    }
    return out;
  }

  static String message(Warning w, NodeProxyOptions options) {
    return switch (w) {
      case TOKEN_ON_COMMAND_LINE -> "the node token was given with --token: every user of this machine can read it "
          + "in the process list (ps) and act as node " + options.node() + " towards the control plane at "
          + options.controlPlane() + "; put it in a file only this proxy can read (mode 0600) and pass "
          + "--token-file FILE instead";
      case PLAINTEXT_TOKEN -> "INSECURE: node " + options.node() + " sends its token to the control plane at "
          + options.controlPlane() + " in PLAINTEXT (no --control-plane-ca): anyone on the path can read it and get "
          + "this node's configuration and certificates for its workloads. Use TLS: --control-plane-ca FILE (the "
          + "mesh's root bundle, e.g. ConfigMap trellis-ca-root-cert) and the control plane's TLS port, "
          + "--control-plane HOST:15012";
    };
  }

  /** Logs each warning that applies, once, at WARN. */
  static void emit(NodeProxyOptions options) {
    for (Warning w : decide(options)) {
      log.warn(message(w, options));
    }
  }

  /**
   * Whether a gRPC target ({@code host:port}, {@code [v6]:port}, {@code dns:///host:port}) names a loopback
   * address: an IP literal in 127.0.0.0/8 or ::1, or {@code localhost}.
   */
  static boolean isLoopback(String target) {
    if (target == null) {
      return false;
    }
    String t = target;
    int scheme = t.indexOf(":///");
    if (scheme >= 0) {
      t = t.substring(scheme + 4);
    }
    String host;
    if (t.startsWith("[")) {
      int close = t.indexOf(']');
      host = close < 0 ? t : t.substring(1, close);
    } else {
      int colon = t.lastIndexOf(':');
      host = colon >= 0 && t.indexOf(':') == colon ? t.substring(0, colon) : t;
    }
    if (host.toLowerCase(Locale.ROOT).equals("localhost")) {
      return true;
    }
    try {
      return InetAddress.ofLiteral(host).isLoopbackAddress();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
