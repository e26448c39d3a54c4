package dev.trellis.proxy.redirect;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node proxy's side of eBPF redirection: where an accepted connection was originally going, read (and
 * then deleted) from the {@code orig_dst} map the node agent pinned, keyed by the connection's source — the
 * peer address of the accepted socket. A hit is two system calls (lookup, delete; ~1 µs each). The map is
 * opened on first use and, after a miss, looked for again at most once a second (the agent may start after
 * the proxy, or re-create the map after an uninstall). Thread-safe.
 */
public final class EbpfOriginalDestinations implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EbpfOriginalDestinations.class);

  private static final long RECHECK_NANOS = 1_000_000_000L;

  private final Path pin;
  private final Libbpf bpf;
  private final LongSupplier ticker;
  private volatile int fd = -1;
  private Object identity; // the pin's file key when opened: a new map after an uninstall/reinstall
  private final List<Integer> retired = new ArrayList<>();
  private long checkedAt;
  private boolean checked;

  public EbpfOriginalDestinations(Path pins) throws IOException {
    this(pins, System::nanoTime);
  }

  EbpfOriginalDestinations(Path pins, LongSupplier ticker) throws IOException {
    this.pin = pins.resolve(EbpfRedirector.ORIG_DST);
    this.ticker = ticker;
    try {
      this.bpf = Libbpf.get();
    } catch (UnsatisfiedLinkError e) {
      throw new IOException("eBPF lookups need libbpf.so.1: " + e.getMessage(), e);
    }
  }

  /** The original destination of a connection accepted from {@code peer}, if eBPF redirected it. */
  public Optional<InetSocketAddress> find(InetSocketAddress peer) {
    Optional<InetSocketAddress> found = lookup(fd, peer);
    if (found.isEmpty() && refresh()) {
      found = lookup(fd, peer);
    }
    return found;
  }

  private Optional<InetSocketAddress> lookup(int map, InetSocketAddress peer) {
    if (map < 0) {
      return Optional.empty();
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment key = arena.allocateFrom(ValueLayout.JAVA_BYTE, EbpfMaps.addrPort(peer));
      MemorySegment value = arena.allocate(EbpfMaps.ADDR_PORT);
      if (!bpf.lookup(map, key, value)) {
        return Optional.empty();
      }
      bpf.delete(map, key); // one connection, one answer: the source port may be reused later
      return Optional.of(EbpfMaps.readAddrPort(value.toArray(ValueLayout.JAVA_BYTE)));
    } catch (IOException e) {
      log.warn("reading the eBPF redirection map {}: {}", pin, e.getMessage());
      return Optional.empty();
    }
  }

  /** Opens the pinned map if it is new (at most once a second); whether the fd changed. */
  private synchronized boolean refresh() {
    long now = ticker.getAsLong();
    if (checked && now - checkedAt < RECHECK_NANOS) {
      return false;
    }
    checked = true;
    checkedAt = now;
    try {
      if (!Files.exists(pin)) {
        return false;
      }
      Object key = Files.readAttributes(pin, BasicFileAttributes.class).fileKey();
      if (fd >= 0 && key != null && key.equals(identity)) {
        return false;
      }
      int opened = bpf.pinned(pin.toString());
      if (fd >= 0) {
        // An event loop may be reading through the old fd this very moment: closing it could let the number
        // be reused under that read. It is kept (one fd per re-created map, which happens on reinstall only).
        retired.add(fd);
      }
      fd = opened;
      identity = key;
      return true;
    } catch (IOException e) {
      log.debug("the eBPF redirection map {} is not open: {}", pin, e.getMessage());
      return false;
    }
  }

  @Override
  public synchronized void close() {
    if (fd >= 0) {
      bpf.closeFd(fd);
      fd = -1;
    }
    retired.forEach(bpf::closeFd);
    retired.clear();
  }
}
