package dev.trellis.proxy.entry;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.refusal.Refusal;
import dev.trellis.proxy.refusal.Refusals;
import dev.trellis.proxy.testing.LeakRecorder;
import dev.trellis.proxy.testing.TrackingAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the local-mode entry (SOCKS5 or HTTP CONNECT, told apart by the first byte) with whatever a client can send,
 * whole and byte by byte. The entry never throws, never leaks a buffer, asks the dispatcher at most once, and asks
 * only for what a well-formed request names: each protocol is checked against a small reference reading of the same
 * bytes ({@link #expectedSocks}, {@link #expectedConnect}), so a request the entry should have refused but passed on
 * is a finding. Both ways of feeding must end in the same request.
 */
class EntryProtocolFuzzTest {

  private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.7", 40000);

  /** A host name as a client may name a service: DNS labels of 1-63 letters, digits, '-', '_'; 253 characters. */
  private static final java.util.regex.Pattern HOST_NAME =
      java.util.regex.Pattern.compile("(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*\\.?");
  /** {@code [v6]:port} (a ':' inside the brackets) or {@code host:port} (no ':' in the host), port in decimal digits. */
  private static final java.util.regex.Pattern AUTHORITY =
      java.util.regex.Pattern.compile("(?:\\[([0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)\\]|([^\\[\\]:/@ ]+)):([0-9]{1,5})");

  /** What the entry asked the dispatcher for. */
  record Dispatched(InetAddress destination, String name, int port) {}

  @FuzzTest
  void clientBytes(byte[] input) {
    Dispatched whole = feed(input, input.length);
    Dispatched bytewise = feed(input, 1);
    assertThat(bytewise).as("the same request, however the bytes arrive").isEqualTo(whole);
    if (input.length > 0 && input[0] == 5) {
      assertThat(whole).as("what the entry dispatched for %s", printable(input)).isEqualTo(expectedSocks(input));
    } else if (whole != null) {
      assertThat(whole).as("what the entry dispatched for %s", printable(input)).isEqualTo(expectedConnect(input));
    }
  }

  @AfterAll
  static void noLeaks() {
    LeakRecorder.assertNoLeaks();
  }

  /** Feeds {@code input} in pieces of {@code piece} bytes; returns the one request dispatched, or null. */
  private static Dispatched feed(byte[] input, int piece) {
    TrackingAllocator alloc = new TrackingAllocator();
    List<Dispatched> dispatched = new ArrayList<>();
    EmbeddedChannel ch = new ClientChannel();
    ch.config().setAllocator(alloc);
    ch.pipeline().addLast("entry", new EntryProtocolHandler((downstream, source, destination, name, port, reply) -> {
      assertThat(source).isEqualTo(CLIENT.getAddress().getHostAddress());
      dispatched.add(new Dispatched(destination, name, port));
      if (port % 2 == 0) {
        reply.accept();
      } else {
        reply.reject(EntryDispatcher.Refusal.FORBIDDEN);
      }
    }, new Refusals(System::nanoTime), Refusal.Listener.OUTBOUND));
    try {
      for (int i = 0; i < input.length && ch.isOpen(); i += piece) {
        ch.writeInbound(alloc.copyOf(input, i, Math.min(piece, input.length - i)));
        drain(ch);
      }
      ch.checkException();
    } finally {
      ch.finishAndReleaseAll();
    }
    alloc.assertAllReleased();
    assertThat(dispatched).as("dispatched at most once").hasSizeLessThanOrEqualTo(1);
    return dispatched.isEmpty() ? null : dispatched.getFirst();
  }

  private static void drain(EmbeddedChannel ch) {
    for (Object m; (m = ch.readOutbound()) != null; ) {
      io.netty.util.ReferenceCountUtil.release(m);
    }
    for (Object m; (m = ch.readInbound()) != null; ) {
      io.netty.util.ReferenceCountUtil.release(m);
    }
  }

  /**
   * SOCKS5 (RFC 1928) as the entry accepts it: a greeting offering "no authentication", then a CONNECT for an IPv4 or
   * IPv6 address or a host name (its bytes exactly, ASCII), to a port other than 0. Anything else dispatches nothing.
   */
  static Dispatched expectedSocks(byte[] b) {
    int n = b.length;
    if (n < 2 || n < 2 + (b[1] & 0xff)) {
      return null;
    }
    boolean noAuth = false;
    for (int k = 2; k < 2 + (b[1] & 0xff); k++) {
      noAuth |= b[k] == 0;
    }
    int at = 2 + (b[1] & 0xff);
    if (!noAuth || n < at + 4 || b[at] != 5 || b[at + 1] != 1) {
      return null;
    }
    int atyp = b[at + 3];
    int addr = at + 4;
    InetAddress destination = null;
    String name = null;
    int end;
    try {
      switch (atyp) {
        case 1 -> {
          end = addr + 4;
          destination = n < end ? null : InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, addr, end));
        }
        case 4 -> {
          end = addr + 16;
          destination = n < end ? null : InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, addr, end));
        }
        case 3 -> {
          end = n < addr + 1 ? Integer.MAX_VALUE : addr + 1 + (b[addr] & 0xff);
          name = n < end ? null : new String(b, addr + 1, end - addr - 1, StandardCharsets.ISO_8859_1);
          if (name != null && !HOST_NAME.matcher(name).matches()) {
            return null;
          }
        }
        default -> {
          return null;
        }
      }
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
    if (destination == null && name == null || n < end + 2) {
      return null;
    }
    int port = (b[end] & 0xff) << 8 | b[end + 1] & 0xff;
    return port == 0 ? null : new Dispatched(destination, name, port);
  }

  /**
   * HTTP CONNECT as the entry may accept it: a request line {@code CONNECT <authority> <version>} (words split on
   * whitespace, leading control characters skipped, as Netty's decoder reads it), where the authority is {@code host:port} with an
   * IPv4 address or a host name, or {@code [IPv6]:port}, and the port is 1 to 65535 in decimal digits. Netty may still
   * refuse the head (its header fields, its version), so only a dispatch is compared with this reading.
   */
  static Dispatched expectedConnect(byte[] b) {
    String text = new String(b, StandardCharsets.ISO_8859_1);
    int start = 0;
    while (start < text.length() && (Character.isISOControl(text.charAt(start)) || text.charAt(start) == ' ')) {
      start++;
    }
    int lf = text.indexOf('\n', start);
    if (lf < 0) {
      return null;
    }
    // Netty takes SP, HTAB, VT, FF and CR between the words (RFC 9112 §3 allows a recipient any whitespace there).
    String[] parts = text.substring(start, lf).split("[ \t\u000b\f\r]+");
    if (parts.length != 3 || !parts[0].equals("CONNECT")) {
      return null;
    }
    java.util.regex.Matcher m = AUTHORITY.matcher(parts[1]);
    if (!m.matches()) {
      return null;
    }
    int port = Integer.parseInt(m.group(3));
    if (port < 1 || port > 65535) {
      return null;
    }
    String host = m.group(1) != null ? m.group(1) : m.group(2);
    try {
      return new Dispatched(InetAddress.ofLiteral(host), null, port);
    } catch (IllegalArgumentException notAnAddress) {
      return m.group(1) == null && HOST_NAME.matcher(host).matches() ? new Dispatched(null, host, port) : null;
    }
  }

  private static String printable(byte[] input) {
    StringBuilder s = new StringBuilder();
    for (byte x : input) {
      s.append(x >= 0x20 && x < 0x7f ? String.valueOf((char) x) : String.format("\\x%02x", x & 0xff));
    }
    return s.toString();
  }

  /** An embedded channel whose peer has an IP address, as the entry's real clients do. */
  private static final class ClientChannel extends EmbeddedChannel {
    @Override
    protected SocketAddress remoteAddress0() {
      return CLIENT;
    }

    @Override
    public Channel parent() {
      return null;
    }
  }
}
