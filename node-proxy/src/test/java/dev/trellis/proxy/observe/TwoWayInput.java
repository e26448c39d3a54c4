package dev.trellis.proxy.observe;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A fuzz input for a connection observed both ways, in a form corpus files can be written and read in by hand:
 *
 * <pre>
 * 7,1,300            &lt;- first line: the sizes the streams are cut into, used in turn (none or garbage: uncut)
 * GET / HTTP/1.1     &lt;- the client's bytes
 * ...
 * =====              &lt;- a line of five '=' (optional): what follows is the server's bytes
 * HTTP/1.1 200 OK
 * ...
 * </pre>
 *
 * {@link #pieces} interleaves the two streams piece by piece, the client's first.
 */
record TwoWayInput(int[] cuts, byte[] client, byte[] server) {

  private static final byte[] SEPARATOR = "\n=====\n".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_CUTS = 64;

  /** One piece of one stream, in the order it crosses the connection. */
  record Piece(boolean fromClient, byte[] bytes, int from, int length) {}

  static TwoWayInput parse(byte[] input) {
    int lf = indexOf(input, new byte[] {'\n'}, 0);
    int bodyStart = lf < 0 ? input.length : lf + 1;
    int[] cuts = cuts(new String(input, 0, lf < 0 ? input.length : lf, StandardCharsets.ISO_8859_1));
    int sep = indexOf(input, SEPARATOR, Math.max(0, bodyStart - 1));
    byte[] client;
    byte[] server;
    if (sep < 0) {
      client = Arrays.copyOfRange(input, bodyStart, input.length);
      server = new byte[0];
    } else {
      client = Arrays.copyOfRange(input, bodyStart, Math.max(bodyStart, sep + 1)); // the client keeps its last LF
      server = Arrays.copyOfRange(input, sep + SEPARATOR.length, input.length);
    }
    return new TwoWayInput(cuts, client, server);
  }

  /** The client's bytes with {@code prefix} in front (e.g. HTTP/2's connection preface). */
  TwoWayInput withClientPrefix(byte[] prefix) {
    byte[] c = new byte[prefix.length + client.length];
    System.arraycopy(prefix, 0, c, 0, prefix.length);
    System.arraycopy(client, 0, c, prefix.length, client.length);
    return new TwoWayInput(cuts, c, server);
  }

  List<Piece> pieces() {
    List<Piece> out = new ArrayList<>();
    int c = 0;
    int s = 0;
    int k = 0;
    while (c < client.length || s < server.length) {
      if (c < client.length) {
        int n = Math.min(cut(k++), client.length - c);
        out.add(new Piece(true, client, c, n));
        c += n;
      }
      if (s < server.length) {
        int n = Math.min(cut(k++), server.length - s);
        out.add(new Piece(false, server, s, n));
        s += n;
      }
    }
    return out;
  }

  private int cut(int k) {
    return cuts.length == 0 ? Integer.MAX_VALUE : cuts[k % cuts.length];
  }

  private static int[] cuts(String line) {
    List<Integer> sizes = new ArrayList<>();
    for (String part : line.split(",", MAX_CUTS + 1)) {
      try {
        int n = Integer.parseInt(part.strip());
        if (n > 0) {
          sizes.add(n);
        }
      } catch (NumberFormatException e) {
        // not a size: ignored
      }
      if (sizes.size() == MAX_CUTS) {
        break;
      }
    }
    return sizes.stream().mapToInt(Integer::intValue).toArray();
  }

  private static int indexOf(byte[] b, byte[] what, int from) {
    outer:
    for (int i = from; i <= b.length - what.length; i++) {
      for (int j = 0; j < what.length; j++) {
        if (b[i + j] != what[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
