package dev.trellis.ca.server;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.mtls.refusal.RefusalLog;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way callers authenticate to the control plane (CA and xDS alike): an
 * {@code authorization: Bearer <token>} metadata entry, checked by a {@link CallerAuthenticator}.
 * An authenticated call carries its {@link Caller} in the gRPC {@link Context}. A call with a bad
 * token is always closed with {@code UNAUTHENTICATED} and a message that says what was wrong; one
 * with no token at all is refused too, unless {@link Anonymous#ALLOW} lets it through uncredited.
 * Each refusal is counted and logged through a {@link RefusalLog} (service {@code xds} or {@code ca},
 * reason {@link Reason#label()}): never a line or a stack trace per refused call.
 */
public final class BearerAuthInterceptor implements ServerInterceptor {

  private static final Logger log = LoggerFactory.getLogger(BearerAuthInterceptor.class);
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String BEARER = "bearer ";

  /** What to do with a call that carries no {@code authorization} metadata at all. */
  public enum Anonymous {
    /** Refuse it with UNAUTHENTICATED. */
    REJECT,
    /** Let it through without a {@link Caller}; each service decides what an anonymous caller may do. */
    ALLOW
  }

  private final CallerAuthenticator authenticator;
  private final Anonymous anonymous;
  private final RefusalLog refusals;

  public BearerAuthInterceptor(CallerAuthenticator authenticator) {
    this(authenticator, Anonymous.REJECT);
  }

  public BearerAuthInterceptor(CallerAuthenticator authenticator, Anonymous anonymous) {
    this(authenticator, anonymous, RefusalLog.to(log, Clock.systemUTC()));
  }

  public BearerAuthInterceptor(CallerAuthenticator authenticator, Anonymous anonymous, RefusalLog refusals) {
    this.authenticator = requireNonNull(authenticator, "authenticator");
    this.anonymous = requireNonNull(anonymous, "anonymous");
    this.refusals = requireNonNull(refusals, "refusals");
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (anonymous == Anonymous.ALLOW && headers.get(AUTHORIZATION) == null) {
      return next.startCall(call, headers);
    }
    Caller caller;
    try {
      caller = authenticator.authenticate(bearerToken(headers), call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    } catch (CaException e) {
      refusals.refuse(service(call), e.reason().label(), call.getMethodDescriptor().getFullMethodName() + " from "
          + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + ": " + e.getMessage());
      call.close(e.toStatus(), new Metadata());
      return new ServerCall.Listener<>() {};
    } catch (RuntimeException e) {
      log.debug("authenticator failed for a call to {}", call.getMethodDescriptor().getFullMethodName(), e);
      refusals.refuse(service(call), Reason.AUTHENTICATION_UNAVAILABLE.label(), "the authenticator failed for a call to "
          + call.getMethodDescriptor().getFullMethodName() + ": " + e + " (stack trace at debug level)");
      call.close(Status.UNAVAILABLE.withDescription("caller authentication is unavailable; retry later"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(Caller.CONTEXT_KEY, caller), call, headers, next);
  }

  /** The refusal's service label: {@code xds} for discovery services, {@code ca} for ours, else {@code grpc}. */
  static String service(ServerCall<?, ?> call) {
    String name = call.getMethodDescriptor().getServiceName();
    if (name == null) {
      return "grpc";
    }
    if (name.startsWith("envoy.service.")) {
      return "xds";
    }
    return name.startsWith("trellis.ca.") ? "ca" : "grpc";
  }

  private static String bearerToken(Metadata headers) {
    String value = headers.get(AUTHORIZATION);
    if (value == null || value.isBlank()) {
      throw new CaException(Reason.UNAUTHENTICATED,
          "missing 'authorization' metadata (expected: 'authorization: Bearer <node token>')");
    }
    if (!value.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      throw new CaException(Reason.UNAUTHENTICATED, "'authorization' metadata must use the Bearer scheme");
    }
    String token = value.substring(BEARER.length()).strip();
    if (token.isEmpty()) {
      throw new CaException(Reason.UNAUTHENTICATED, "'authorization: Bearer' carries no token");
    }
    return token;
  }
}
