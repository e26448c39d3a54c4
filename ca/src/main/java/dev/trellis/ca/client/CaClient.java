package dev.trellis.ca.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Duration;
import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.ca.v1.CertificateServiceGrpc;
import dev.trellis.ca.v1.SignRequest;
import dev.trellis.ca.v1.SignResponse;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.IssuedSvid;
import dev.trellis.mtls.svid.Pem;
import dev.trellis.mtls.svid.SvidFetcher;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.verify.SvidVerifier;
import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * Obtains SVIDs from the Trellis CA: generates an EC P-256 key locally (it never leaves this process),
 * sends a CSR, and checks what comes back before anyone uses it: the leaf carries the requested
 * identity and our key, and the chain verifies against the returned trust bundle.
 */
public final class CaClient implements SvidFetcher {

  private final CertificateServiceGrpc.CertificateServiceStub stub;
  private final java.time.Duration requestedTtl;
  private final java.time.Duration deadline;
  private final Clock clock;

  /**
   * @param channel to the control plane (15012 TLS, or 15010 plaintext in local mode)
   * @param credentials the node's bearer token
   * @param requestedTtl zero for the CA's default
   * @param deadline per call
   */
  public CaClient(Channel channel, CallCredentials credentials, java.time.Duration requestedTtl,
      java.time.Duration deadline, Clock clock) {
    this.stub = CertificateServiceGrpc.newStub(requireNonNull(channel, "channel")).withCallCredentials(credentials);
    this.requestedTtl = requireNonNull(requestedTtl, "requestedTtl");
    this.deadline = requireNonNull(deadline, "deadline");
    this.clock = requireNonNull(clock, "clock");
  }

  @Override
  public CompletionStage<IssuedSvid> fetchSvid(SpiffeId identity) {
    KeyPair key = CsrBuilder.newKeyPair();
    SignRequest request = SignRequest.newBuilder()
        .setCsrPem(CsrBuilder.csrPem(identity, key))
        .setIdentity(identity.toString())
        .setTtl(Duration.newBuilder().setSeconds(requestedTtl.getSeconds()).setNanos(requestedTtl.getNano()))
        .build();
    CompletableFuture<IssuedSvid> result = new CompletableFuture<>();
    stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).sign(request, new StreamObserver<>() {
      @Override
      public void onNext(SignResponse response) {
        try {
          result.complete(accept(identity, key, response));
        } catch (RuntimeException e) {
          result.completeExceptionally(e);
        }
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        result.completeExceptionally(new MtlsException(Reason.INVALID_SVID, "CA closed the call without a response"));
      }
    });
    return result;
  }

  private IssuedSvid accept(SpiffeId identity, KeyPair key, SignResponse response) {
    List<X509Certificate> chain = new ArrayList<>();
    for (String pem : response.getCertChainList()) {
      chain.addAll(Pem.decodeCertificates(pem));
    }
    List<X509Certificate> roots = new ArrayList<>();
    for (String pem : response.getTrustBundleList()) {
      roots.addAll(Pem.decodeCertificates(pem));
    }
    TrustDomain td = TrustDomain.of(response.getTrustDomain());
    X509Svid svid = X509Svid.of(chain, key.getPrivate());
    if (!svid.id().equals(identity)) {
      throw new MtlsException(Reason.INVALID_SVID, "CA issued " + svid.id() + " when asked for " + identity);
    }
    TrustBundle bundle = TrustBundle.of(td, roots);
    new SvidVerifier(bundle, identity.trustDomain(), clock).verify(chain.toArray(X509Certificate[]::new));
    return new IssuedSvid(svid, bundle);
  }
}
