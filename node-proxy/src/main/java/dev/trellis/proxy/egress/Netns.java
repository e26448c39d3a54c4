package dev.trellis.proxy.egress;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The three libc calls that move a thread into another network namespace, through the Foreign Function &amp;
 * Memory API: {@code open} of a namespace file (a CNI runtime's {@code CNI_NETNS}, e.g. {@code /var/run/netns/cni-…}),
 * {@code setns(fd, CLONE_NEWNET)}, {@code close}. {@code setns} changes only the calling thread and needs
 * {@code CAP_SYS_ADMIN}. Failures are {@link IOException}s naming the call, the path and errno's meaning.
 * Thread-safe (errno is captured per call).
 */
final class Netns {

  static final int CLONE_NEWNET = 0x40000000;
  private static final int O_RDONLY_CLOEXEC = 0x80000; // O_RDONLY | O_CLOEXEC
  /** The calling thread's own namespace (not the process's: a thread may have moved). */
  static final String SELF = "/proc/thread-self/ns/net";
  static final int EPERM = 1;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Netns INSTANCE = new Netns();

  private final MethodHandle open;
  private final MethodHandle setns;
  private final MethodHandle close;
  private final MethodHandle strerror;

  private Netns() {
    var libc = LINKER.defaultLookup();
    Linker.Option errno = Linker.Option.captureCallState("errno");
    open = LINKER.downcallHandle(libc.find("open").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
        JAVA_INT), errno, Linker.Option.firstVariadicArg(2));
    setns = LINKER.downcallHandle(libc.find("setns").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
        errno);
    close = LINKER.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    strerror = LINKER.downcallHandle(libc.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));
  }

  static Netns get() {
    return INSTANCE;
  }

  /** A failed call: what was attempted and errno. */
  static final class NetnsException extends IOException {
    final int errno;

    NetnsException(String message, int errno) {
      super(message);
      this.errno = errno;
    }
  }

  /** Opens a network namespace file; the descriptor must be {@link #close}d. */
  int open(String path) throws NetnsException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      int fd = (int) open.invokeExact(state, arena.allocateFrom(path), O_RDONLY_CLOEXEC, 0);
      if (fd < 0) {
        int e = (int) ERRNO.get(state, 0L);
        throw new NetnsException("cannot open network namespace " + path + ": " + describe(e), e);
      }
      return fd;
    } catch (NetnsException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("open downcall failed", t);
    }
  }

  /** Moves the calling thread into the namespace {@code fd} refers to. */
  void enter(int fd, String what) throws NetnsException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      int r = (int) setns.invokeExact(state, fd, CLONE_NEWNET);
      if (r != 0) {
        int e = (int) ERRNO.get(state, 0L);
        throw new NetnsException("cannot enter network namespace " + what + ": " + describe(e)
            + (e == EPERM ? " (setns needs CAP_SYS_ADMIN)" : ""), e);
      }
    } catch (NetnsException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("setns downcall failed", t);
    }
  }

  void close(int fd) {
    try {
      int ignored = (int) close.invokeExact(fd);
    } catch (Throwable t) {
      throw new IllegalStateException("close downcall failed", t);
    }
  }

  private String describe(int errno) {
    try {
      MemorySegment s = (MemorySegment) strerror.invokeExact(errno);
      return s.reinterpret(256).getString(0) + " (errno " + errno + ")";
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }
}
