package dev.trellis.mtls.svid;

import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.MtlsException.Reason;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;

/**
 * PEM (RFC 7468) text for certificates and PKCS#8 private keys. Decoding is strict about structure
 * (matching BEGIN/END labels, valid base64) and says which block is wrong.
 */
public final class Pem {

  /** One decoded PEM block: its label (e.g. {@code CERTIFICATE}) and DER bytes. */
  public record Block(String label, byte[] der) {}

  private static final String BEGIN = "-----BEGIN ";
  private static final String END = "-----END ";
  private static final String DASHES = "-----";
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  private Pem() {}

  /** Decodes every PEM block in {@code text}, in order. Text between blocks is ignored, as RFC 7468 allows. */
  public static List<Block> decode(String text) {
    if (text == null) {
      throw malformed("PEM text is null");
    }
    List<Block> blocks = new ArrayList<>();
    int at = 0;
    while (true) {
      int begin = text.indexOf(BEGIN, at);
      if (begin < 0) {
        break;
      }
      int labelEnd = text.indexOf(DASHES, begin + BEGIN.length());
      if (labelEnd < 0) {
        throw malformed("PEM block " + (blocks.size() + 1) + ": BEGIN line is not closed with '-----'");
      }
      String label = text.substring(begin + BEGIN.length(), labelEnd);
      String endLine = END + label + DASHES;
      int end = text.indexOf(endLine, labelEnd + DASHES.length());
      if (end < 0) {
        throw malformed("PEM block " + (blocks.size() + 1) + " ('" + label + "'): no matching '" + endLine + "' line");
      }
      String body = text.substring(labelEnd + DASHES.length(), end);
      byte[] der;
      try {
        der = Base64.getDecoder().decode(WHITESPACE.matcher(body).replaceAll(""));
      } catch (IllegalArgumentException e) {
        throw malformed("PEM block " + (blocks.size() + 1) + " ('" + label + "'): invalid base64: " + e.getMessage());
      }
      if (der.length == 0) {
        throw malformed("PEM block " + (blocks.size() + 1) + " ('" + label + "') is empty");
      }
      blocks.add(new Block(label, der));
      at = end + endLine.length();
    }
    return blocks;
  }

  /** Decodes one or more {@code CERTIFICATE} blocks. Any other block is an error. */
  public static List<X509Certificate> decodeCertificates(String text) {
    List<Block> blocks = decode(text);
    if (blocks.isEmpty()) {
      throw malformed("no PEM certificate found (expected '-----BEGIN CERTIFICATE-----')");
    }
    List<X509Certificate> certs = new ArrayList<>(blocks.size());
    for (int i = 0; i < blocks.size(); i++) {
      Block b = blocks.get(i);
      if (!b.label().equals("CERTIFICATE")) {
        throw malformed("PEM block " + (i + 1) + " is a '" + b.label() + "', expected 'CERTIFICATE'");
      }
      certs.add(parseCertificate(b.der(), i + 1));
    }
    return List.copyOf(certs);
  }

  /** Decodes exactly one PKCS#8 {@code PRIVATE KEY} block holding an EC or RSA key. */
  public static PrivateKey decodePrivateKey(String text) {
    List<Block> blocks = decode(text);
    if (blocks.size() != 1) {
      throw malformed("expected exactly one PEM private key block, found " + blocks.size());
    }
    Block b = blocks.getFirst();
    if (b.label().equals("EC PRIVATE KEY") || b.label().equals("RSA PRIVATE KEY")) {
      throw malformed("private key is in the legacy '" + b.label() + "' format; convert it to PKCS#8 with "
          + "'openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem'");
    }
    if (!b.label().equals("PRIVATE KEY")) {
      throw malformed("PEM block is a '" + b.label() + "', expected an unencrypted PKCS#8 'PRIVATE KEY'");
    }
    for (String algorithm : List.of("EC", "RSA")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(b.der()));
      } catch (GeneralSecurityException e) {
        // try the next algorithm
      }
    }
    throw malformed("PKCS#8 private key is neither an EC nor an RSA key, or is corrupt");
  }

  public static String encode(String label, byte[] der) {
    String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return BEGIN + label + DASHES + "\n" + body + "\n" + END + label + DASHES + "\n";
  }

  public static String encodeCertificate(X509Certificate cert) {
    try {
      return encode("CERTIFICATE", cert.getEncoded());
    } catch (CertificateEncodingException e) {
      throw new MtlsException(Reason.MALFORMED_PEM, "cannot encode certificate " + cert.getSubjectX500Principal(), e);
    }
  }

  public static String encodeCertificates(List<X509Certificate> certs) {
    StringBuilder b = new StringBuilder();
    certs.forEach(c -> b.append(encodeCertificate(c)));
    return b.toString();
  }

  /** PKCS#8, unencrypted: the file holding it must be readable by its owner only. */
  public static String encodePrivateKey(PrivateKey key) {
    if (!"PKCS#8".equals(key.getFormat())) {
      throw new MtlsException(Reason.MALFORMED_PEM, "private key format is " + key.getFormat() + ", expected PKCS#8");
    }
    return encode("PRIVATE KEY", key.getEncoded());
  }

  static X509Certificate parseCertificate(byte[] der, int index) {
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      return (X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der));
    } catch (CertificateException e) {
      throw malformed("PEM block " + index + " is not a valid X.509 certificate: " + e.getMessage());
    }
  }

  private static MtlsException malformed(String message) {
    return new MtlsException(Reason.MALFORMED_PEM, message);
  }
}
