package dev.trellis.proxy.cluster;

import java.nio.charset.StandardCharsets;

/** The 64-bit hash behind ring hash and Maglev: FNV-1a over UTF-8 bytes, then a murmur3 finalizer to spread it. */
public final class Hashing {

  private Hashing() {}

  public static long hash(CharSequence s) {
    byte[] bytes = s.toString().getBytes(StandardCharsets.UTF_8);
    long h = 0xcbf29ce484222325L;
    for (byte b : bytes) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return mix(h);
  }

  static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }
}
