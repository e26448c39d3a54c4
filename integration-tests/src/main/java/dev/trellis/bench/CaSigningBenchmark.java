package dev.trellis.bench;

import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.issuer.IssuedChain;
import dev.trellis.ca.issuer.RootGenerator;
import dev.trellis.ca.store.CaMaterial;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the CA does per {@code Sign} call, on P-256: {@link #validateAndSign} is the whole server-side
 * work (parse the CSR PEM, check key and self-signature and SAN, mint and sign the leaf, PEM-encode
 * it); {@link #signOnly} is minting and signing a pre-validated CSR. CSRs are pre-built (that is
 * the node's work, not the CA's) and cycled so no result is cached.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
@State(Scope.Benchmark)
public class CaSigningBenchmark {

  private static final int CSRS = 256;
  private static final TrustDomain TD = TrustDomain.CLUSTER_LOCAL;

  private CertificateAuthority ca;
  private CsrValidator validator;
  private SpiffeId identity;
  private String[] pems;
  private ValidatedCsr[] validated;
  private final AtomicInteger next = new AtomicInteger();

  @Setup
  public void setUp() {
    Clock clock = Clock.systemUTC();
    ca = CertificateAuthority.plugged(TD, CaMaterial.of(RootGenerator.newRoot(TD, clock.instant(), Duration.ofDays(365),
        new SecureRandom())), IssuancePolicy.defaults(), clock);
    validator = new CsrValidator(TD);
    identity = SpiffeId.forWorkload(TD, "bench", "workload");
    pems = new String[CSRS];
    validated = new ValidatedCsr[CSRS];
    for (int i = 0; i < CSRS; i++) {
      pems[i] = CsrBuilder.csrPem(identity, CsrBuilder.newKeyPair());
      validated[i] = validator.validate(pems[i], identity);
    }
  }

  @Benchmark
  public String validateAndSign() {
    String pem = pems[Math.floorMod(next.getAndIncrement(), CSRS)];
    IssuedChain issued = ca.sign(validator.validate(pem, identity), Duration.ZERO);
    return Pem.encodeCertificate(issued.leaf());
  }

  @Benchmark
  public IssuedChain signOnly() {
    return ca.sign(validated[Math.floorMod(next.getAndIncrement(), CSRS)], Duration.ZERO);
  }
}
