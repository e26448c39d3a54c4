package dev.trellis.cli;

import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuancePolicy;
import dev.trellis.ca.store.FileCaStore;
import dev.trellis.ca.store.PluggedCaFiles;
import dev.trellis.mtls.identity.TrustDomain;
import java.nio.file.Path;
import java.time.Clock;
import picocli.CommandLine.Option;

/** Where the local CA lives; shared by the commands that open it. */
final class CaOptions {

  @Option(names = "--state-dir", defaultValue = ".trellis",
      description = "Directory for local state; the CA keeps its root in <state-dir>/ca (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--trust-domain", defaultValue = "cluster.local",
      description = "SPIFFE trust domain (default: ${DEFAULT-VALUE}).")
  String trustDomain;

  @Option(names = "--plugged-ca", paramLabel = "DIR",
      description = "Use a user-provided CA from DIR (ca-cert.pem, ca-key.pem, root-cert.pem, optional cert-chain.pem)"
          + " instead of the generated root.")
  Path pluggedCa;

  TrustDomain trustDomain() {
    return TrustDomain.of(trustDomain);
  }

  Path caDir() {
    return stateDir.resolve("ca");
  }

  CertificateAuthority open(Clock clock) {
    return pluggedCa != null
        ? CertificateAuthority.plugged(trustDomain(), PluggedCaFiles.load(pluggedCa, clock.instant()), IssuancePolicy.defaults(), clock)
        : CertificateAuthority.openOrCreate(trustDomain(), new FileCaStore(caDir()), IssuancePolicy.defaults(), clock);
  }

  String describeSource() {
    return pluggedCa != null ? "plug-in CA in " + pluggedCa.toAbsolutePath() : caDir().toAbsolutePath().toString();
  }
}
