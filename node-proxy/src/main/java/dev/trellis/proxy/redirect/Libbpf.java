package dev.trellis.proxy.redirect;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The few functions of libbpf ({@code libbpf.so.1}) and libc the eBPF redirection needs, called through the
 * Foreign Function &amp; Memory API (no JNI). libbpf 1.x reports failure as NULL or {@code -errno} and sets
 * errno, which every downcall captures; failures surface as {@link IOException}s saying what was attempted
 * and the system's reason. libbpf's own messages (verifier logs included) go to SLF4J, not to C stderr.
 * Loading fails with {@link UnsatisfiedLinkError} where libbpf is not installed. Thread-safe.
 */
final class Libbpf {

  private static final Logger log = LoggerFactory.getLogger(Libbpf.class);
  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static volatile Libbpf instance;

  private final MethodHandle openFile;
  private final MethodHandle load;
  private final MethodHandle close;
  private final MethodHandle findProgram;
  private final MethodHandle findMap;
  private final MethodHandle setPinPath;
  private final MethodHandle mapFd;
  private final MethodHandle attachCgroup;
  private final MethodHandle linkPin;
  private final MethodHandle linkDisconnect;
  private final MethodHandle linkDestroy;
  private final MethodHandle updateElem;
  private final MethodHandle lookupElem;
  private final MethodHandle deleteElem;
  private final MethodHandle nextKey;
  private final MethodHandle objGet;
  private final MethodHandle linkDetach;
  private final MethodHandle strerror;
  private final MethodHandle openPath;
  private final MethodHandle closeFd;

  private Libbpf() {
    SymbolLookup bpf = SymbolLookup.libraryLookup("libbpf.so.1", Arena.global());
    SymbolLookup libc = LINKER.defaultLookup();
    Linker.Option errno = Linker.Option.captureCallState("errno");
    openFile = handle(bpf, "bpf_object__open_file", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), errno);
    load = handle(bpf, "bpf_object__load", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
    close = handle(bpf, "bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS));
    findProgram = handle(bpf, "bpf_object__find_program_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    findMap = handle(bpf, "bpf_object__find_map_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    setPinPath = handle(bpf, "bpf_map__set_pin_path", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), errno);
    mapFd = handle(bpf, "bpf_map__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    attachCgroup = handle(bpf, "bpf_program__attach_cgroup", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT), errno);
    linkPin = handle(bpf, "bpf_link__pin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), errno);
    linkDisconnect = handle(bpf, "bpf_link__disconnect", FunctionDescriptor.ofVoid(ADDRESS));
    linkDestroy = handle(bpf, "bpf_link__destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    updateElem = handle(bpf, "bpf_map_update_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG),
        errno);
    lookupElem = handle(bpf, "bpf_map_lookup_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), errno);
    deleteElem = handle(bpf, "bpf_map_delete_elem", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), errno);
    nextKey = handle(bpf, "bpf_map_get_next_key", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), errno);
    objGet = handle(bpf, "bpf_obj_get", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
    linkDetach = handle(bpf, "bpf_link_detach", FunctionDescriptor.of(JAVA_INT, JAVA_INT), errno);
    strerror = handle(bpf, "libbpf_strerror", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
    openPath = handle(libc, "open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), errno,
        Linker.Option.firstVariadicArg(2));
    closeFd = handle(libc, "close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    routePrintsToSlf4j(bpf);
  }

  /** The binding (made once per process); {@link UnsatisfiedLinkError} or similar if libbpf is missing. */
  static Libbpf get() {
    Libbpf l = instance;
    if (l == null) {
      synchronized (Libbpf.class) {
        l = instance;
        if (l == null) {
          try {
            l = new Libbpf();
          } catch (IllegalArgumentException e) {
            throw new UnsatisfiedLinkError("libbpf.so.1 cannot be loaded: " + e.getMessage());
          }
          instance = l;
        }
      }
    }
    return l;
  }

  private static MethodHandle handle(SymbolLookup lookup, String name, FunctionDescriptor fd, Linker.Option... options) {
    MemorySegment symbol = lookup.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name + " not found"));
    return LINKER.downcallHandle(symbol, fd, options);
  }

  // --- libbpf print callback -> SLF4J -----------------------------------------------------------------

  /** {@code int print(enum libbpf_print_level level, const char *fmt, va_list args)}: formatted with vsnprintf. */
  private void routePrintsToSlf4j(SymbolLookup bpf) {
    try {
      MethodHandle vsnprintf = handle(LINKER.defaultLookup(), "vsnprintf",
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
      MethodHandle target = MethodHandles.lookup().findStatic(Libbpf.class, "print",
          MethodType.methodType(int.class, MethodHandle.class, int.class, MemorySegment.class, MemorySegment.class))
          .bindTo(vsnprintf);
      MemorySegment stub = LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
          Arena.global());
      MethodHandle setPrint = handle(bpf, "libbpf_set_print", FunctionDescriptor.of(ADDRESS, ADDRESS));
      MemorySegment ignored = (MemorySegment) setPrint.invokeExact(stub);
    } catch (Throwable t) {
      log.debug("libbpf messages stay on stderr: {}", t.toString());
    }
  }

  /** The upcall: must never throw (the JVM would die). */
  private static int print(MethodHandle vsnprintf, int level, MemorySegment format, MemorySegment args) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(4096);
      int n = (int) vsnprintf.invokeExact(buf, 4096L, format, args);
      String message = buf.getString(0).strip();
      if (n > 0 && !message.isEmpty()) {
        switch (level) {
          case 0 -> log.warn("libbpf: {}", message);
          case 1 -> log.debug("libbpf: {}", message);
          default -> log.trace("libbpf: {}", message);
        }
      }
    } catch (Throwable t) {
      // nothing may escape an upcall
    }
    return 0;
  }

  // --- calls ------------------------------------------------------------------------------------------

  private static int errno(MemorySegment capture) {
    return (int) ERRNO.get(capture, 0L);
  }

  String describe(int error) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(256);
      int ignored = (int) strerror.invokeExact(-Math.abs(error), buf, 256L);
      return buf.getString(0);
    } catch (Throwable t) {
      return "errno " + Math.abs(error);
    }
  }

  private IOException failure(String what, int error) {
    return new IOException(what + ": " + describe(error));
  }

  MemorySegment openObject(String path) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE);
      MemorySegment obj = (MemorySegment) openFile.invokeExact(capture, arena.allocateFrom(path), MemorySegment.NULL);
      if (obj.equals(MemorySegment.NULL)) {
        throw failure("opening BPF object " + path, errno(capture));
      }
      return obj;
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("opening BPF object " + path, t);
    }
  }

  void loadObject(MemorySegment obj, String what) throws IOException {
    Result r = call("loading " + what, (c, a) -> (int) load.invokeExact(c, obj));
    if (r.rc() < 0) {
      throw failure("loading " + what + " (the verifier refused it, or no root/CAP_BPF)", r.rc());
    }
  }

  void closeObject(MemorySegment obj) {
    try {
      close.invokeExact(obj);
    } catch (Throwable t) {
      log.debug("closing a BPF object: {}", t.toString());
    }
  }

  MemorySegment program(MemorySegment obj, String name) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = (MemorySegment) findProgram.invokeExact(obj, arena.allocateFrom(name));
      if (p.equals(MemorySegment.NULL)) {
        throw new IOException("BPF program " + name + " is not in the object");
      }
      return p;
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("finding BPF program " + name, t);
    }
  }

  MemorySegment map(MemorySegment obj, String name) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment m = (MemorySegment) findMap.invokeExact(obj, arena.allocateFrom(name));
      if (m.equals(MemorySegment.NULL)) {
        throw new IOException("BPF map " + name + " is not in the object");
      }
      return m;
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("finding BPF map " + name, t);
    }
  }

  /** Before load: the map is pinned at {@code path}, reusing the map already pinned there. */
  void pinMapAt(MemorySegment map, String path) throws IOException {
    Result r = call("setting pin path " + path, (c, a) -> (int) setPinPath.invokeExact(c, map, a.allocateFrom(path)));
    if (r.rc() < 0) {
      throw failure("setting pin path " + path, r.rc());
    }
  }

  int mapFd(MemorySegment map) throws IOException {
    try {
      return (int) mapFd.invokeExact(map);
    } catch (Throwable t) {
      throw new IOException("bpf_map__fd", t);
    }
  }

  /** Attaches {@code program} to the cgroup directory {@code cgroup}, pins the link at {@code pin}, lets it go. */
  void attachAndPin(MemorySegment program, String name, String cgroup, String pin) throws IOException {
    int cgroupFd = open(cgroup);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE);
      MemorySegment link = (MemorySegment) attachCgroup.invokeExact(capture, program, cgroupFd);
      if (link.equals(MemorySegment.NULL)) {
        throw failure("attaching " + name + " to " + cgroup + " (needs CAP_BPF and CAP_NET_ADMIN, cgroup v2)",
            errno(capture));
      }
      try {
        int rc = (int) linkPin.invokeExact(capture, link, arena.allocateFrom(pin));
        if (rc < 0) {
          throw failure("pinning " + name + " at " + pin, rc);
        }
        // The pin holds the link now; without disconnecting, destroy would detach the program.
        linkDisconnect.invokeExact(link);
      } finally {
        int ignored = (int) linkDestroy.invokeExact(link);
      }
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("attaching " + name + " to " + cgroup, t);
    } finally {
      closeFd(cgroupFd);
    }
  }

  /** An fd for the object pinned at {@code path} (close it with {@link #closeFd}). */
  int pinned(String path) throws IOException {
    Result r = call("opening pinned " + path, (c, a) -> (int) objGet.invokeExact(c, a.allocateFrom(path)));
    if (r.rc() < 0) {
      throw failure("opening pinned " + path, r.errno());
    }
    return r.rc();
  }

  /** Detaches the link behind {@code linkFd} now (unpinning alone lets the kernel do it a little later). */
  void detach(int linkFd, String what) throws IOException {
    Result r = call("detaching " + what, (c, a) -> (int) linkDetach.invokeExact(c, linkFd));
    if (r.rc() < 0) {
      throw failure("detaching " + what, r.errno());
    }
  }

  void update(int fd, MemorySegment key, MemorySegment value) throws IOException {
    Result r = call("updating a BPF map", (c, a) -> (int) updateElem.invokeExact(c, fd, key, value, 0L));
    if (r.rc() < 0) {
      throw failure("updating a BPF map", r.errno());
    }
  }

  /** Fills {@code value}; false if there is no such key. */
  boolean lookup(int fd, MemorySegment key, MemorySegment value) throws IOException {
    return found("reading a BPF map", call("reading a BPF map", (c, a) -> (int) lookupElem.invokeExact(c, fd, key, value)));
  }

  /** Deletes the key; false if it was not there. */
  boolean delete(int fd, MemorySegment key) throws IOException {
    return found("deleting from a BPF map", call("deleting from a BPF map",
        (c, a) -> (int) deleteElem.invokeExact(c, fd, key)));
  }

  /** The key after {@code key} ({@code key} NULL: the first) into {@code next}; false at the end. */
  boolean nextKey(int fd, MemorySegment key, MemorySegment next) throws IOException {
    return found("walking a BPF map", call("walking a BPF map", (c, a) -> (int) nextKey.invokeExact(c, fd, key, next)));
  }

  /** Success, or false for ENOENT (no such key); other failures are thrown. */
  private boolean found(String what, Result r) throws IOException {
    if (r.rc() >= 0) {
      return true;
    }
    if (r.errno() == 2) {
      return false;
    }
    throw failure(what, r.errno());
  }

  /** An int-returning downcall that captures errno into {@code capture}; {@code arena} lives for the call. */
  @FunctionalInterface
  private interface IntCall {
    int invoke(MemorySegment capture, Arena arena) throws Throwable;
  }

  private record Result(int rc, int errno) {}

  private static Result call(String what, IntCall downcall) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(CAPTURE);
      int rc = downcall.invoke(capture, arena);
      return new Result(rc, errno(capture));
    } catch (Throwable t) {
      throw new IOException(what, t);
    }
  }

  private int open(String directory) throws IOException {
    Result r = call("opening cgroup " + directory, (c, a) -> (int) openPath.invokeExact(c, a.allocateFrom(directory),
        0x10000 /* O_RDONLY|O_DIRECTORY */, 0));
    if (r.rc() < 0) {
      throw failure("opening cgroup " + directory, r.errno());
    }
    return r.rc();
  }

  void closeFd(int fd) {
    try {
      int ignored = (int) closeFd.invokeExact(fd);
    } catch (Throwable t) {
      log.debug("close({}): {}", fd, t.toString());
    }
  }
}
