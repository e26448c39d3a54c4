package dev.trellis.it;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A workload's HTTP/1.1 keep-alive connection through a node proxy's entry: SOCKS5 CONNECT from the
 * workload's own address to the service VIP, then plain requests on the tunnel. Responses must carry
 * a Content-Length (every backend and local reply in these tests does).
 */
final class MeshHttpClient implements AutoCloseable {

  record Response(int status, Map<String, String> headers, String body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  private final Socket socket;
  private final OutputStream out;
  private final PushbackInputStream in;

  private MeshHttpClient(Socket socket) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.in = new PushbackInputStream(new BufferedInputStream(socket.getInputStream()));
  }

  /** Connects {@code source} through the entry at {@code entry} to {@code destination:port}. */
  static MeshHttpClient connect(InetSocketAddress entry, String source, String destination, int port)
      throws IOException {
    return new MeshHttpClient(socks(entry, source, destination, port));
  }

  /** A client on a connection already through the entry ({@link #socks}). */
  static MeshHttpClient over(Socket socket) throws IOException {
    return new MeshHttpClient(socket);
  }

  /** A SOCKS5 CONNECT; throws with the reply code when the proxy refuses. */
  static Socket socks(InetSocketAddress entry, String source, String destination, int port) throws IOException {
    Socket s = new Socket();
    try {
      s.bind(new InetSocketAddress(source, 0));
      s.connect(entry, 5000);
      s.setSoTimeout(20_000);
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      out.write(new byte[] {5, 1, 0});
      in.readFully(new byte[2]);
      byte[] address = InetAddress.getByName(destination).getAddress();
      byte[] req = new byte[6 + address.length];
      req[0] = 5;
      req[1] = 1;
      req[3] = 1;
      System.arraycopy(address, 0, req, 4, address.length);
      req[4 + address.length] = (byte) (port >> 8);
      req[5 + address.length] = (byte) port;
      out.write(req);
      byte[] reply = new byte[10];
      in.readFully(reply);
      if (reply[1] != 0) {
        throw new IOException("SOCKS reply " + reply[1]);
      }
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  Response get(String path) throws IOException {
    return send("GET", path, null);
  }

  Response send(String method, String path, String body) throws IOException {
    byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    String head = method + " " + path + " HTTP/1.1\r\nHost: svc\r\n"
        + (body == null ? "" : "Content-Length: " + content.length + "\r\n") + "\r\n";
    out.write(head.getBytes(StandardCharsets.US_ASCII));
    out.write(content);
    out.flush();
    return read();
  }

  /**
   * The connection ended before a single byte of the response: on a reused keep-alive connection the server may have
   * closed it as idle just as the request went out, and HTTP clients send an idempotent request again on a new
   * connection (RFC 9112, section 9.3.1).
   */
  static final class ClosedBeforeResponseException extends IOException {
    ClosedBeforeResponseException() {
      super("connection closed before any byte of the response");
    }
  }

  private Response read() throws IOException {
    int first = in.read();
    if (first < 0) {
      throw new ClosedBeforeResponseException();
    }
    in.unread(first);
    String status = line();
    if (!status.startsWith("HTTP/1.1 ")) {
      throw new IOException("not an HTTP/1.1 status line: " + status);
    }
    Map<String, String> headers = new LinkedHashMap<>();
    for (String l = line(); !l.isEmpty(); l = line()) {
      int colon = l.indexOf(':');
      headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
    }
    String length = headers.get("content-length");
    if (length == null) {
      throw new IOException("response without content-length: " + status + " " + headers);
    }
    byte[] content = in.readNBytes(Integer.parseInt(length));
    return new Response(Integer.parseInt(status.substring(9, 12)), headers, new String(content, StandardCharsets.UTF_8));
  }

  private String line() throws IOException {
    return line(in);
  }

  /** One CRLF- (or LF-) terminated line of {@code in}, without its end; fails if the stream ends before it. */
  static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException("connection closed mid-response");
      }
      if (c != '\r') {
        b.write(c);
      }
    }
    return b.toString(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
