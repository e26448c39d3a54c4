package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.mtls.identity.TrustDomain;
import dev.trellis.mtls.svid.Pem;
import dev.trellis.mtls.testing.TestPki;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node proxy's channel to the control plane, against a TLS gRPC server on loopback with minted certificates. */
class ControlPlaneChannelTest {

  @TempDir
  Path dir;

  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  private static final MethodDescriptor<String, String> ECHO = MethodDescriptor.<String, String>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("trellis.test.Echo/Echo")
      .setRequestMarshaller(new Utf8()).setResponseMarshaller(new Utf8()).build();

  @AfterEach
  void stop() throws InterruptedException {
    channels.forEach(ManagedChannel::shutdownNow);
    servers.forEach(Server::shutdownNow);
    for (Server s : servers) {
      s.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aServerWhoseCertificateChainsToTheBundleAndNamesTheHostIsReached() throws Exception {
    TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    int port = startServer(pki, "127.0.0.1");
    Path ca = writeBundle(pki.root());

    assertThat(echo("127.0.0.1:" + port, ca, "hello")).isEqualTo("hello");
  }

  @Test
  void aServerWithACertificateFromAnotherRootIsRefusedSayingWhy() throws Exception {
    TestPki serverPki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    TestPki otherRoot = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    int port = startServer(serverPki, "127.0.0.1");
    Path ca = writeBundle(otherRoot.root());

    assertThatThrownBy(() -> echo("127.0.0.1:" + port, ca, "hello"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(causes(e)).contains("not trusted").contains("--control-plane-ca " + ca);
        });
  }

  @Test
  void aServerWhoseCertificateNamesAnotherHostIsRefused() throws Exception {
    TestPki pki = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    int port = startServer(pki, "10.9.9.9"); // the SAN names another address than the one dialed
    Path ca = writeBundle(pki.root());

    assertThatThrownBy(() -> echo("127.0.0.1:" + port, ca, "hello"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(causes(e)).contains("server name '127.0.0.1'").contains("10.9.9.9");
        });
  }

  @Test
  void aBundleThatChangesIsReadAgainSoARotatedRootIsTrustedWithoutARestart() throws Exception {
    TestPki oldRoot = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    TestPki newRoot = TestPki.newRoot(TrustDomain.CLUSTER_LOCAL);
    int port = startServer(newRoot, "127.0.0.1"); // the control plane's certificate, already under the new root
    Path ca = Files.writeString(dir.resolve("root-cert.pem"), Pem.encodeCertificate(oldRoot.root()));
    io.netty.handler.ssl.SslContext tls = ControlPlaneChannel.sslContext(ca); // one context for the proxy's life

    assertThatThrownBy(() -> call(tls, port)).isInstanceOf(StatusRuntimeException.class);
    // The control plane publishes both roots (ConfigMap update); the file changes under the running proxy.
    Files.writeString(ca, Pem.encodeCertificate(oldRoot.root()) + Pem.encodeCertificate(newRoot.root()));
    Files.setLastModifiedTime(ca, java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(10)));
    assertThat(call(tls, port)).isEqualTo("rotated");
  }

  private String call(io.netty.handler.ssl.SslContext tls, int port) {
    ManagedChannel channel = io.grpc.netty.NettyChannelBuilder.forTarget("127.0.0.1:" + port).useTransportSecurity()
        .sslContext(tls).build();
    channels.add(channel);
    return ClientCalls.blockingUnaryCall(channel.newCall(ECHO, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10,
        TimeUnit.SECONDS)), "rotated");
  }

  @Test
  void withoutABundleTheChannelIsPlaintext() throws Exception {
    Server plain = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(echoService())
        .build().start();
    servers.add(plain);
    assertThat(echo("127.0.0.1:" + plain.getPort(), null, "plain")).isEqualTo("plain");
  }

  @Test
  void aMissingOrNonPemBundleIsAnErrorNamingTheFlag() throws Exception {
    Path missing = dir.resolve("absent.pem");
    assertThatThrownBy(() -> ControlPlaneChannel.open("127.0.0.1:1", missing))
        .isInstanceOf(IOException.class).hasMessageContaining("--control-plane-ca " + missing)
        .hasMessageContaining("no such file");
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
    assertThatThrownBy(() -> ControlPlaneChannel.open("127.0.0.1:1", garbage))
        .isInstanceOf(IOException.class).hasMessageContaining("--control-plane-ca " + garbage)
        .hasMessageContaining("not a PEM certificate bundle");
  }

  private String echo(String target, Path ca, String message) throws IOException {
    ManagedChannel channel = ControlPlaneChannel.open(target, ca);
    channels.add(channel);
    return ClientCalls.blockingUnaryCall(channel.newCall(ECHO, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10,
        TimeUnit.SECONDS)), message);
  }

  private int startServer(TestPki pki, String ipSan) throws Exception {
    KeyPair key = TestPki.ecKey();
    X509Certificate leaf = servingCertificate(pki, key, ipSan);
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.configure(SslContextBuilder.forServer(key.getPrivate(), leaf)).build())
        .addService(echoService()).build().start();
    servers.add(server);
    return server.getPort();
  }

  private static ServerServiceDefinition echoService() {
    return ServerServiceDefinition.builder("trellis.test.Echo")
        .addMethod(ECHO, ServerCalls.asyncUnaryCall((String req, io.grpc.stub.StreamObserver<String> out) -> {
          out.onNext(req);
          out.onCompleted();
        })).build();
  }

  /** A serving certificate as the control plane's CA would sign one: a name SAN (here an IP), serverAuth. */
  private static X509Certificate servingCertificate(TestPki pki, KeyPair key, String ipSan) throws Exception {
    Instant now = Instant.now();
    X509Certificate issuer = pki.signerCertificate();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
        X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded()), BigInteger.valueOf(now.toEpochMilli()),
        Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofHours(1))),
        new X500Name("CN=trellis-control-plane"), key.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
    b.addExtension(Extension.subjectAlternativeName, false,
        new GeneralNames(new GeneralName(GeneralName.iPAddress, ipSan)));
    return new JcaX509CertificateConverter().getCertificate(
        b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pki.signerKey().getPrivate())));
  }

  private Path writeBundle(X509Certificate root) throws IOException {
    return Files.writeString(dir.resolve("root-cert-" + root.getSerialNumber() + ".pem"), Pem.encodeCertificate(root));
  }

  private static String causes(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getMessage()).append(" | ");
    }
    return sb.toString();
  }

  private static final class Utf8 implements MethodDescriptor.Marshaller<String> {
    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
