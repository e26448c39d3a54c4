package dev.trellis.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a tcpdump capture (pcap, Ethernet, IPv4) of a link shows: the TCP segments carrying payload, their
 * ports and bytes. Enough to assert that only TLS crossed the link; not a general pcap reader.
 */
final class WireCapture {

  record Segment(String src, int srcPort, String dst, int dstPort, byte[] payload) {}

  final List<Segment> segments;

  private WireCapture(List<Segment> segments) {
    this.segments = segments;
  }

  static WireCapture read(Path pcap) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(pcap));
    int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
      b.order(ByteOrder.BIG_ENDIAN);
    }
    if (b.getInt(20) != 1) {
      throw new IOException(pcap + ": link type " + b.getInt(20) + " (expected Ethernet)");
    }
    List<Segment> out = new ArrayList<>();
    int at = 24;
    while (at + 16 <= b.limit()) {
      int captured = b.getInt(at + 8);
      int frame = at + 16;
      at = frame + captured;
      if (at > b.limit() || captured < 14 + 20 || net16(b.array(), frame + 12) != 0x0800) {
        continue;
      }
      int ip = frame + 14;
      int ihl = (b.get(ip) & 0x0f) * 4;
      int total = net16(b.array(), ip + 2);
      if (b.get(ip + 9) != 6) {
        continue;
      }
      int tcp = ip + ihl;
      int srcPort = net16(b.array(), tcp);
      int dstPort = net16(b.array(), tcp + 2);
      int dataOffset = ((b.get(tcp + 12) & 0xf0) >> 4) * 4;
      int payloadStart = tcp + dataOffset;
      int payloadEnd = Math.min(ip + total, frame + captured);
      if (payloadEnd <= payloadStart) {
        continue;
      }
      byte[] payload = new byte[payloadEnd - payloadStart];
      System.arraycopy(b.array(), payloadStart, payload, 0, payload.length);
      out.add(new Segment(address(b.array(), ip + 12), srcPort, address(b.array(), ip + 16), dstPort, payload));
    }
    return new WireCapture(out);
  }

  /** A 16-bit field in network byte order (the pcap headers around it are in the writer's order). */
  private static int net16(byte[] a, int at) {
    return ((a[at] & 0xff) << 8) | (a[at + 1] & 0xff);
  }

  private static String address(byte[] a, int at) {
    return (a[at] & 0xff) + "." + (a[at + 1] & 0xff) + "." + (a[at + 2] & 0xff) + "." + (a[at + 3] & 0xff);
  }

  /** The server-side port of every segment with payload (the lower of the two ports). */
  Set<Integer> payloadPorts() {
    Set<Integer> ports = new HashSet<>();
    segments.forEach(s -> ports.add(Math.min(s.srcPort(), s.dstPort())));
    return ports;
  }

  /** The first payload each client connection sent to {@code port}. */
  List<byte[]> firstPayloadsTo(int port) {
    Map<String, byte[]> first = new LinkedHashMap<>();
    for (Segment s : segments) {
      if (s.dstPort() == port) {
        first.putIfAbsent(s.src() + ":" + s.srcPort() + ">" + s.dst(), s.payload());
      }
    }
    return List.copyOf(first.values());
  }

  /** Whether {@code text} appears inside any one segment's payload. */
  boolean contains(String text) {
    byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
    for (Segment s : segments) {
      outer:
      for (int i = 0; i + needle.length <= s.payload().length; i++) {
        for (int j = 0; j < needle.length; j++) {
          if (s.payload()[i + j] != needle[j]) {
            continue outer;
          }
        }
        return true;
      }
    }
    return false;
  }
}
