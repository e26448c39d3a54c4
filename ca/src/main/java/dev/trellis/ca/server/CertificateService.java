package dev.trellis.ca.server;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuedChain;
import dev.trellis.ca.v1.CertificateServiceGrpc;
import dev.trellis.ca.v1.SignRequest;
import dev.trellis.ca.v1.SignResponse;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.refusal.RefusalLog;
import dev.trellis.mtls.svid.Pem;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code trellis.ca.v1.CertificateService}: signs a node proxy's CSR for one of its workloads. The
 * order of checks: caller authenticated (by {@link BearerAuthInterceptor}), identity well-formed,
 * caller's node runs that identity, CSR valid, then sign. Every rejection is a gRPC status with a
 * message that names the problem; unexpected failures are logged with a reference the caller sees.
 */
public final class CertificateService extends CertificateServiceGrpc.CertificateServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(CertificateService.class);
  /** The service label of this service's refusals. */
  public static final String SERVICE = "ca";

  private final CertificateAuthority ca;
  private final NodeAuthorizer authorizer;
  private final CsrValidator validator;
  private final LongAdder signed = new LongAdder();
  private final Map<Reason, LongAdder> failed =
      new ConcurrentHashMap<>();

  private final RefusalLog refusals;

  public CertificateService(CertificateAuthority ca, NodeAuthorizer authorizer) {
    this(ca, authorizer, RefusalLog.to(log, Clock.systemUTC()));
  }

  /** @param refusals counts and logs refused requests (service {@value #SERVICE}), at most a line per reason per interval */
  public CertificateService(CertificateAuthority ca, NodeAuthorizer authorizer, RefusalLog refusals) {
    this.ca = requireNonNull(ca, "ca");
    this.authorizer = requireNonNull(authorizer, "authorizer");
    this.refusals = requireNonNull(refusals, "refusals");
    this.validator = new CsrValidator(ca.trustDomain());
  }

  @Override
  public void sign(SignRequest request, StreamObserver<SignResponse> response) {
    Caller caller = Caller.current();
    try {
      if (caller == null) {
        throw new CaException(Reason.UNAUTHENTICATED, "call was not authenticated (the server lacks BearerAuthInterceptor)");
      }
      SpiffeId identity = validator.requestedIdentity(request.getIdentity());
      authorizer.authorize(caller, identity);
      ValidatedCsr csr = validator.validate(request.getCsrPem(), identity);
      Duration ttl = request.hasTtl()
          ? Duration.ofSeconds(request.getTtl().getSeconds(), request.getTtl().getNanos()) : Duration.ZERO;
      IssuedChain issued = ca.sign(csr, ttl);
      log.info("issued {} to {} (serial {}, valid {}, authority {})", identity, caller.principal(),
          issued.leaf().getSerialNumber().toString(16), issued.grantedTtl(), ca.activeAuthority().id());
      response.onNext(toResponse(issued));
      response.onCompleted();
      signed.increment();
    } catch (CaException e) {
      failed.computeIfAbsent(e.reason(), r -> new LongAdder()).increment();
      refusals.refuse(SERVICE, e.reason().label(), "sign request from " + (caller == null ? "?" : caller.principal())
          + ": " + e.getMessage());
      response.onError(e.toStatus().asRuntimeException());
    } catch (RuntimeException e) {
      failed.computeIfAbsent(Reason.STORE_FAILURE, r -> new LongAdder()).increment();
      String ref = UUID.randomUUID().toString().substring(0, 8);
      log.error("[{}] unexpected failure signing for {}", ref, caller == null ? "?" : caller.principal(), e);
      response.onError(Status.INTERNAL.withDescription("internal error while signing (reference " + ref
          + " in the control plane log)").asRuntimeException());
    }
  }

  /** Certificates signed since start. */
  public long signed() {
    return signed.sum();
  }

  /** Refused or failed sign requests since start, by reason (the metric label). */
  public Map<Reason, Long> failed() {
    Map<Reason, Long> out = new EnumMap<>(Reason.class);
    failed.forEach((r, n) -> out.put(r, n.sum()));
    return out;
  }

  private SignResponse toResponse(IssuedChain issued) {
    SignResponse.Builder b = SignResponse.newBuilder().setTrustDomain(ca.trustDomain().name());
    for (X509Certificate c : issued.chain()) {
      b.addCertChain(Pem.encodeCertificate(c));
    }
    for (X509Certificate root : issued.bundle().roots(ca.trustDomain())) {
      b.addTrustBundle(Pem.encodeCertificate(root));
    }
    return b.build();
  }
}
