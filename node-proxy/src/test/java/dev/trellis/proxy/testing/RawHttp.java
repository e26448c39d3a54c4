package dev.trellis.proxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A deliberately plain HTTP/1.1 client for tests: a socket through the proxy's SOCKS5 entry, bytes
 * written as given (so tests can send malformed or hostile requests), responses parsed by
 * Content-Length, chunked framing or connection close.
 */
public final class RawHttp implements AutoCloseable {

  public record Response(int status, Map<String, List<String>> headers, byte[] body) {
    public String header(String name) {
      List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
      return v == null ? null : v.getFirst();
    }

    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private RawHttp(Socket socket) throws IOException {
    this.socket = socket;
    this.socket.setSoTimeout(20_000);
    this.in = new java.io.BufferedInputStream(socket.getInputStream());
    this.out = socket.getOutputStream();
  }

  /** Connects straight to {@code address} (a listener that speaks HTTP itself, no SOCKS5 entry in front). */
  public static RawHttp plain(InetSocketAddress address) throws IOException {
    Socket s = new Socket();
    s.connect(address, 5000);
    return new RawHttp(s);
  }

  /** Connects to {@code destination}:{@code port} through the SOCKS5 entry, from {@code source}. */
  public static RawHttp socks(InetSocketAddress entry, String source, String destination, int port) throws IOException {
    Socket s = new Socket();
    s.bind(new InetSocketAddress(source, 0));
    s.connect(entry, 5000);
    RawHttp h = new RawHttp(s);
    h.out.write(new byte[] {5, 1, 0});
    h.out.flush();
    byte[] choice = h.in.readNBytes(2);
    if (choice.length != 2 || choice[1] != 0) {
      throw new IOException("SOCKS method refused");
    }
    byte[] ip = InetAddress.getByName(destination).getAddress();
    ByteArrayOutputStream req = new ByteArrayOutputStream();
    req.write(new byte[] {5, 1, 0, 1});
    req.write(ip);
    req.write(port >> 8);
    req.write(port & 0xff);
    h.out.write(req.toByteArray());
    h.out.flush();
    byte[] reply = h.in.readNBytes(10);
    if (reply.length != 10 || reply[1] != 0) {
      throw new IOException("SOCKS CONNECT refused with status " + (reply.length > 1 ? reply[1] : -1));
    }
    return h;
  }

  public RawHttp send(String raw) throws IOException {
    return send(raw.getBytes(StandardCharsets.ISO_8859_1));
  }

  public RawHttp send(byte[] raw) throws IOException {
    out.write(raw);
    out.flush();
    return this;
  }

  public Response get(String path) throws IOException {
    send("GET " + path + " HTTP/1.1\r\nHost: web.d.svc.cluster.local\r\n\r\n");
    return read();
  }

  public Response read() throws IOException {
    String status = line();
    if (status == null) {
      throw new java.io.EOFException("connection closed before a response");
    }
    String[] parts = status.split(" ", 3);
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String l = line(); l != null && !l.isEmpty(); l = line()) {
      int c = l.indexOf(':');
      headers.computeIfAbsent(l.substring(0, c).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
          .add(l.substring(c + 1).trim());
    }
    int code = Integer.parseInt(parts[1]);
    byte[] body;
    List<String> te = headers.get("transfer-encoding");
    List<String> cl = headers.get("content-length");
    if (code == 204 || code == 304 || code / 100 == 1) {
      body = new byte[0];
    } else if (te != null && te.getLast().equalsIgnoreCase("chunked")) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      while (true) {
        int size = Integer.parseInt(line().split(";")[0].trim(), 16);
        if (size == 0) {
          while (!line().isEmpty()) {
            // trailers
          }
          break;
        }
        b.write(in.readNBytes(size));
        line();
      }
      body = b.toByteArray();
    } else if (cl != null) {
      body = in.readNBytes(Integer.parseInt(cl.getFirst()));
    } else {
      body = in.readAllBytes();
    }
    return new Response(code, headers, body);
  }

  public RawHttp shutdownOutput() throws IOException {
    socket.shutdownOutput();
    return this;
  }

  public byte[] readN(int n) throws IOException {
    return in.readNBytes(n);
  }

  /** Everything until the proxy closes the connection. */
  public byte[] readToEnd() throws IOException {
    return in.readAllBytes();
  }

  /** Whether the proxy closed the connection (reads end of stream). */
  public boolean closed() throws IOException {
    try {
      return in.read() == -1;
    } catch (java.net.SocketException e) {
      return true;
    }
  }

  /**
   * Whether the connection is still open, nothing arriving, for {@code quiet} (a read that times out); false if the
   * proxy closed it in that time. Anything that arrives fails: the caller expects silence.
   */
  public boolean openFor(java.time.Duration quiet) throws IOException {
    int before = socket.getSoTimeout();
    socket.setSoTimeout((int) quiet.toMillis());
    try {
      int b = in.read();
      if (b != -1) {
        throw new IOException("expected silence, got byte " + b);
      }
      return false;
    } catch (java.net.SocketTimeoutException e) {
      return true;
    } catch (java.net.SocketException e) {
      return false;
    } finally {
      socket.setSoTimeout(before);
    }
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        byte[] bytes = b.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * For raw test backends: reads one request head from {@code in} (to its blank line, byte by byte, so nothing of what
   * follows is consumed); false at the end of the stream.
   */
  public static boolean readRequestHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0) {
      head.write(b);
      if (head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
