package dev.trellis.cli;

import dev.trellis.ca.csr.CsrBuilder;
import dev.trellis.ca.csr.CsrValidator;
import dev.trellis.ca.issuer.CertificateAuthority;
import dev.trellis.ca.issuer.IssuedChain;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.mtls.svid.X509Svid;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis ca ...}: the local CA — show it, issue from it, rotate its root. */
@Command(name = "ca", mixinStandardHelpOptions = true, description = "Inspect and operate the local SPIFFE CA.",
    subcommands = {CaCommand.Show.class, CaCommand.Issue.class, CaCommand.Rotate.class})
final class CaCommand {

  @Command(name = "show", mixinStandardHelpOptions = true, description = "Print the CA's authorities and trust bundle (creates the root on first use).")
  static final class Show implements Callable<Integer> {
    @Mixin CaOptions ca;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      CertificateAuthority authority = ca.open(Clock.systemUTC());
      out.println("CA for trust domain " + authority.trustDomain() + " (" + ca.describeSource() + ")");
      for (SigningAuthority a : authority.authorities()) {
        out.println("  " + Describe.authority(a, authority.activeAuthority().id()));
      }
      out.println("trust bundle: " + authority.trustBundle().roots(authority.trustDomain()).size() + " root(s)");
      out.print(authority.trustBundle().toPem(authority.trustDomain()));
      return 0;
    }
  }

  @Command(name = "issue", mixinStandardHelpOptions = true, description = {
      "Issue an X.509-SVID from the local CA into a folder: svid.pem (chain), key.pem, bundle.pem.",
      "The key is generated here and written only to that folder."})
  static final class Issue implements Callable<Integer> {
    @Mixin CaOptions ca;
    @Spec CommandSpec spec;

    @Option(names = "--identity", required = true, description = "SPIFFE ID, e.g. spiffe://cluster.local/ns/default/sa/web")
    String identity;

    @Option(names = "--out", required = true, description = "Folder to write svid.pem, key.pem and bundle.pem into.")
    Path out;

    @Option(names = "--ttl", defaultValue = "PT0S",
        description = "Requested lifetime as an ISO-8601 duration (e.g. PT12H); 0 means the CA default of 24h.")
    Duration ttl;

    @Override
    public Integer call() throws Exception {
      PrintWriter printer = spec.commandLine().getOut();
      CertificateAuthority authority = ca.open(Clock.systemUTC());
      CsrValidator validator = new CsrValidator(authority.trustDomain());
      SpiffeId id = validator.requestedIdentity(identity);
      KeyPair key = CsrBuilder.newKeyPair();
      IssuedChain issued = authority.sign(validator.validate(CsrBuilder.csrPem(id, key), id), ttl);
      X509Svid svid = X509Svid.of(issued.chain(), key.getPrivate());
      SvidFiles.write(out, svid, issued.bundle(), authority.trustDomain());
      printer.println("issued " + id + " (" + Describe.certificate(svid.leaf()) + ")");
      printer.println("wrote " + out.resolve(SvidFiles.CHAIN) + ", " + out.resolve(SvidFiles.KEY) + " (mode 0600), "
          + out.resolve(SvidFiles.BUNDLE));
      printer.print(svid.chainPem());
      return 0;
    }
  }

  @Command(name = "rotate", mixinStandardHelpOptions = true, description = {
      "Rotate the root in three steps so no workload ever meets a certificate it cannot verify:",
      "  stage          add a new root to the trust bundle (it does not sign yet)",
      "  activate ID    once every workload has the new bundle, make ID sign",
      "  remove ID      once old certificates have expired, drop ID from the bundle"})
  static final class Rotate implements Callable<Integer> {
    @Mixin CaOptions ca;
    @Spec CommandSpec spec;

    @Parameters(index = "0", description = "stage | activate | remove")
    String step;

    @Parameters(index = "1", arity = "0..1", description = "authority id (for activate and remove); see 'trellis ca show'")
    String id;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      CertificateAuthority authority = ca.open(Clock.systemUTC());
      switch (step) {
        case "stage" -> {
          SigningAuthority staged = authority.stageNewRoot();
          out.println("staged root " + staged.id() + "; it is in the trust bundle now. Next, once workloads have it: "
              + "trellis ca rotate activate " + staged.id());
        }
        case "activate" -> {
          authority.activate(requireId());
          out.println("authority " + id + " signs new certificates now");
        }
        case "remove" -> {
          authority.remove(requireId());
          out.println("authority " + id + " removed from the trust bundle");
        }
        default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "unknown rotation step '" + step + "' (expected: stage, activate or remove)");
      }
      return 0;
    }

    private String requireId() {
      if (id == null) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "'" + step + "' needs an authority id; list them with 'trellis ca show'");
      }
      return id;
    }
  }
}
