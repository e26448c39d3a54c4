package dev.trellis.ca.issuer;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.csr.ValidatedCsr;
import dev.trellis.ca.store.CaMaterial;
import dev.trellis.ca.store.CaStore;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.KeyPairs;
import dev.trellis.mtls.svid.TrustBundle;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh's certificate authority for one trust domain: its signing material, the trust bundle, and
 * root rotation.
 *
 * <p>Root rotation is three steps so that no peer ever sees a leaf it cannot verify:
 * {@link #stageNewRoot()} adds a new root to the trust bundle (it does not sign yet); once the bundle
 * has reached every workload, {@link #activate} makes it sign; once every old leaf has expired,
 * {@link #remove} takes the old root out of the bundle.
 *
 * <p>Signing is lock-free; rotation steps are serialized and persisted before they take effect.
 */
public final class CertificateAuthority {

  private static final Logger log = LoggerFactory.getLogger(CertificateAuthority.class);

  private record State(CaMaterial material, TrustBundle bundle) {}

  private final TrustDomain trustDomain;
  private final SvidIssuer issuer;
  private final Clock clock;
  private final SecureRandom random;
  private final CaStore store;
  private volatile State state;

  private CertificateAuthority(TrustDomain trustDomain, CaMaterial material, SvidIssuer issuer, Clock clock,
      SecureRandom random, CaStore store) {
    this.trustDomain = requireNonNull(trustDomain, "trustDomain");
    this.issuer = requireNonNull(issuer, "issuer");
    this.clock = requireNonNull(clock, "clock");
    this.random = requireNonNull(random, "random");
    this.store = store;
    this.state = stateOf(material);
  }

  /**
   * Loads the CA from {@code store}, or on first start generates an EC P-256 root and stores it (if
   * another replica stored one first, that one is used).
   */
  public static CertificateAuthority openOrCreate(TrustDomain trustDomain, CaStore store, IssuancePolicy policy,
      Clock clock) {
    SecureRandom random = new SecureRandom();
    CaMaterial material = store.load().orElseGet(() -> {
      SigningAuthority root = RootGenerator.newRoot(trustDomain, clock.instant(), RootGenerator.DEFAULT_LIFETIME, random);
      CaMaterial stored = store.createIfAbsent(CaMaterial.of(root));
      if (stored.activeId().equals(root.id())) {
        log.info("created root CA {} for trust domain {} in {}", root.id(), trustDomain, store.describe());
      }
      return stored;
    });
    check(material, clock.instant(), store.describe());
    return new CertificateAuthority(trustDomain, material, new SvidIssuer(policy, random), clock, random, store);
  }

  /** A CA over user-provided material (see {@code PluggedCaFiles}); rotation is the user's, by replacing the files. */
  public static CertificateAuthority plugged(TrustDomain trustDomain, CaMaterial material, IssuancePolicy policy,
      Clock clock) {
    check(material, clock.instant(), "plug-in CA");
    SecureRandom random = new SecureRandom();
    return new CertificateAuthority(trustDomain, material, new SvidIssuer(policy, random), clock, random, null);
  }

  private static void check(CaMaterial material, Instant now, String where) {
    for (SigningAuthority a : material.authorities()) {
      if (!KeyPairs.matches(a.certificate().getPublicKey(), a.key())) {
        throw new CaException(Reason.INVALID_CA_MATERIAL, "authority " + a.id() + " in " + where
            + ": the private key does not belong to its certificate");
      }
    }
    SigningAuthority active = material.active();
    if (!active.certificate().getNotAfter().toInstant().isAfter(now)) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "the signing certificate " + active.id() + " in " + where
          + " expired at " + active.certificate().getNotAfter().toInstant() + "; stage and activate a new root");
    }
  }

  private State stateOf(CaMaterial material) {
    return new State(material, TrustBundle.of(trustDomain, material.trustRoots()));
  }

  public TrustDomain trustDomain() {
    return trustDomain;
  }

  public TrustBundle trustBundle() {
    return state.bundle();
  }

  public SigningAuthority activeAuthority() {
    return state.material().active();
  }

  /** All authorities, oldest first; each one's root is in the trust bundle. */
  public List<SigningAuthority> authorities() {
    return state.material().authorities();
  }

  public IssuancePolicy policy() {
    return issuer.policy();
  }

  /** Signs a validated CSR with the active authority. Authorization is the caller's job. */
  public IssuedChain sign(ValidatedCsr csr, Duration requestedTtl) {
    State s = state;
    return issuer.issue(s.material().active(), csr, requestedTtl, clock.instant(), s.bundle());
  }

  /** Signs a serving certificate: the SVID of {@code csr} plus {@code dnsNames} as DNS SANs. */
  public IssuedChain signServing(ValidatedCsr csr, List<String> dnsNames, Duration requestedTtl) {
    State s = state;
    return issuer.issue(s.material().active(), csr, requestedTtl, clock.instant(), s.bundle(), dnsNames);
  }

  /** Step 1 of a rotation: a new root joins the trust bundle; the current authority keeps signing. */
  public synchronized SigningAuthority stageNewRoot() {
    requireStore("stage a new root");
    SigningAuthority root = RootGenerator.newRoot(trustDomain, clock.instant(), RootGenerator.DEFAULT_LIFETIME, random);
    commit(state.material().withAuthority(root));
    log.info("staged root {} for trust domain {}: trusted now, signing after activation", root.id(), trustDomain);
    return root;
  }

  /** Step 2: authority {@code id} signs from now on. */
  public synchronized void activate(String id) {
    requireStore("activate an authority");
    commit(state.material().withActive(id));
    log.info("authority {} now signs certificates for trust domain {}", id, trustDomain);
  }

  /** Step 3: authority {@code id} leaves the trust bundle. Refused for the active one. */
  public synchronized void remove(String id) {
    requireStore("remove an authority");
    commit(state.material().without(id));
    log.info("authority {} removed from the trust bundle of {}", id, trustDomain);
  }

  private void commit(CaMaterial next) {
    store.update(next);
    state = stateOf(next);
  }

  private void requireStore(String action) {
    if (store == null) {
      throw new CaException(Reason.INVALID_ROTATION, "cannot " + action + " on a plug-in CA: replace its files "
          + "(ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem with old and new roots) and restart");
    }
  }
}
