package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.mtls.svid.X509Svid;
import dev.trellis.mtls.verify.SvidVerifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrellisCliTest {

  @TempDir
  Path state;

  @Test
  void demoRunsTheIdentityPathEndToEndAndKeepsItsRootAcrossRuns() throws Exception {
    CliRun first = CliRun.run("demo", "--state-dir", state.toString());
    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(first.out())
        .contains("[1] created a root CA for trust domain cluster.local")
        .contains("refused as expected: PERMISSION_DENIED: no workload with identity spiffe://cluster.local/ns/shop/sa/payments")
        .contains("negotiated TLSv1.3")
        .contains("client verified the server as spiffe://cluster.local/ns/shop/sa/backend")
        .contains("server verified the client as spiffe://cluster.local/ns/shop/sa/frontend")
        .contains("echoed: \"hello from frontend\"")
        .contains("refused as expected: UNEXPECTED_PEER_IDENTITY");

    Path dir = state.resolve("svids/shop.frontend");
    X509Svid svid = X509Svid.fromPem(Files.readString(dir.resolve("svid.pem")), Files.readString(dir.resolve("key.pem")));
    TrustBundle bundle = TrustBundle.fromPem(TrustDomain.CLUSTER_LOCAL, Files.readString(dir.resolve("bundle.pem")));
    assertThat(new SvidVerifier(bundle, TrustDomain.CLUSTER_LOCAL, Clock.systemUTC())
        .verify(svid.chain().toArray(X509Certificate[]::new)).toString()).isEqualTo("spiffe://cluster.local/ns/shop/sa/frontend");
    assertThat(Files.getPosixFilePermissions(dir.resolve("key.pem")))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);

    CliRun second = CliRun.run("demo", "--state-dir", state.toString());
    assertThat(second.exit()).isZero();
    assertThat(second.out()).contains("[1] loaded the root CA");
    assertThat(rootId(second.out())).isEqualTo(rootId(first.out()));
  }

  @Test
  void caIssueWritesAnSvidIntoAFolder() throws Exception {
    Path out = state.resolve("web");
    CliRun r = CliRun.run("ca", "issue", "--state-dir", state.toString(), "--identity", "spiffe://cluster.local/ns/default/sa/web",
        "--out", out.toString(), "--ttl", "PT2H");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("issued spiffe://cluster.local/ns/default/sa/web").contains("BEGIN CERTIFICATE");
    X509Svid svid = X509Svid.fromPem(Files.readString(out.resolve("svid.pem")), Files.readString(out.resolve("key.pem")));
    assertThat(java.time.Duration.between(svid.notBefore(), svid.notAfter())).isEqualTo(java.time.Duration.ofMinutes(121));
  }

  @Test
  void rotationThroughTheCli() {
    assertThat(CliRun.run("ca", "show", "--state-dir", state.toString()).out()).contains("(active)").contains("1 root(s)");
    CliRun staged = CliRun.run("ca", "rotate", "stage", "--state-dir", state.toString());
    assertThat(staged.exit()).isZero();
    String newId = staged.out().split(" ")[2].replace(";", "");
    CliRun show = CliRun.run("ca", "show", "--state-dir", state.toString());
    assertThat(show.out()).contains(newId + " (trusted, not signing)").contains("2 root(s)");

    assertThat(CliRun.run("ca", "rotate", "activate", newId, "--state-dir", state.toString()).exit()).isZero();
    assertThat(CliRun.run("ca", "show", "--state-dir", state.toString()).out()).contains(newId + " (active)");

    CliRun removeActive = CliRun.run("ca", "rotate", "remove", newId, "--state-dir", state.toString());
    assertThat(removeActive.exit()).isEqualTo(1);
    assertThat(removeActive.err()).contains("error: authority " + newId + " signs new certificates and cannot be removed");
  }

  @Test
  void badInputIsOneClearLineWithoutAStackTrace() {
    CliRun r = CliRun.run("ca", "issue", "--state-dir", state.toString(), "--identity", "spiffe://Cluster.local/x", "--out",
        state.resolve("x").toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).startsWith("error: identity: invalid SPIFFE ID 'spiffe://Cluster.local/x': trust domain")
        .doesNotContain("\tat ");

    CliRun unknownStep = CliRun.run("ca", "rotate", "spin", "--state-dir", state.toString());
    assertThat(unknownStep.exit()).isEqualTo(2);
    assertThat(unknownStep.err()).contains("unknown rotation step 'spin' (expected: stage, activate or remove)");

    CliRun missing = CliRun.run("ca", "issue", "--state-dir", state.toString());
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).contains("Missing required options");
  }

  @Test
  void demoWithAPluggedCaIncludesTheIntermediate() throws Exception {
    dev.trellis.mtls.testing.TestPki root = dev.trellis.mtls.testing.TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    dev.trellis.mtls.testing.TestPki intermediate = root.newIntermediate();
    Path plugged = Files.createDirectories(state.resolve("cacerts"));
    Files.writeString(plugged.resolve("ca-cert.pem"), dev.trellis.mtls.svid.Pem.encodeCertificate(intermediate.signerCertificate()));
    Files.writeString(plugged.resolve("ca-key.pem"), dev.trellis.mtls.svid.Pem.encodePrivateKey(intermediate.signerKey().getPrivate()));
    Files.writeString(plugged.resolve("root-cert.pem"), dev.trellis.mtls.svid.Pem.encodeCertificate(root.root()));
    CliRun r = CliRun.run("demo", "--state-dir", state.toString(), "--plugged-ca", plugged.toString());
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("[1] loaded plug-in CA");
    assertThat(dev.trellis.mtls.svid.Pem.decodeCertificates(Files.readString(state.resolve("svids/shop.backend/svid.pem"))))
        .hasSize(2);
  }

  private static String rootId(String out) {
    Matcher m = Pattern.compile("\\n    ([0-9a-f]{16}) \\(active\\)").matcher(out);
    assertThat(m.find()).as(out).isTrue();
    return m.group(1);
  }
}
