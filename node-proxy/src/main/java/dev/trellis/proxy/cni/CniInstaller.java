package dev.trellis.proxy.cni;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs the CNI plugin on the node from the node agent's container and chains it into the node's CNI
 * configuration (the node agent's {@code --cni-bin-dir}, {@code --cni-conf-dir}, {@code --cni-plugin-dir}).
 *
 * <ul>
 *   <li>{@link #installPlugin}: copies the packaged plugin ({@code trellis-cni} and {@code trellis-cni.d/lib/*.jar},
 *       the AOT cache if there is one) into the bin directory, with the JDK the agent runs on as
 *       {@code trellis-cni.d/java} — copied, not linked: the runtime runs the plugin on the host, which does not see
 *       the container's file system. Files already identical are left alone.
 *   <li>{@link #ensureChained}: chains {@code {"type": "trellis-cni", "agentSocket": …}} last in the configuration the
 *       runtime loads (the lexicographically first {@code .conflist}, {@code .conf} or {@code .json}; a single-plugin
 *       {@code .conf}/{@code .json} is first turned into the {@code .conflist} the runtime would make of it, and
 *       removed). Atomic (temporary file + rename), idempotent, every other field and plugin kept.
 *       {@link #start} repeats it: until the cluster's own CNI has written its configuration, and whenever it rewrites
 *       it without us (CNI daemons do on restart).
 *   <li>{@link #uninstall}: takes the entry out of every list and deletes the plugin's files.
 * </ul>
 */
public final class CniInstaller implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CniInstaller.class);
  static final String LAUNCHER = "trellis-cni";
  static final String HOME = "trellis-cni.d";

  /** The three directories, as the node agent's flags name them. */
  public record Dirs(Path bin, Path conf, Path plugin) {
    public Dirs {
      Objects.requireNonNull(bin, "bin");
      Objects.requireNonNull(conf, "conf");
      Objects.requireNonNull(plugin, "plugin");
    }
  }

  private final Dirs dirs;
  private final String agentSocket;
  private final Path javaHome;
  private ScheduledFuture<?> keeping;
  /** Set by {@link #uninstall}: a check already running must not chain the plugin again after it. */
  private boolean removed;
  private volatile boolean waitingLogged;
  private volatile String lastProblem;

  /**
   * @param agentSocket the node agent's socket, as the plugin (on the host) reaches it
   * @param javaHome the JDK to copy as the plugin's Java, or null to copy none (the launcher then looks for one)
   */
  public CniInstaller(Dirs dirs, String agentSocket, Path javaHome) {
    this.dirs = Objects.requireNonNull(dirs, "dirs");
    this.agentSocket = Objects.requireNonNull(agentSocket, "agentSocket");
    this.javaHome = javaHome;
  }

  /** Copies the plugin and the JDK into the bin directory. */
  public void installPlugin() throws IOException {
    Path launcher = dirs.plugin().resolve(LAUNCHER);
    Path lib = dirs.plugin().resolve(HOME).resolve("lib");
    if (!Files.isRegularFile(launcher) || !Files.isDirectory(lib)) {
      throw new IOException("--cni-plugin-dir " + dirs.plugin() + " holds no packaged plugin (expected " + LAUNCHER
          + " and " + HOME + "/lib/*.jar, as scripts/package-cni lays them out)");
    }
    Path home = dirs.bin().resolve(HOME);
    Files.createDirectories(home.resolve("lib"));
    List<String> wanted = new ArrayList<>();
    try (Stream<Path> jars = Files.list(lib)) {
      for (Path jar : jars.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList()) {
        copyIfChanged(jar, home.resolve("lib").resolve(jar.getFileName().toString()));
        wanted.add(jar.getFileName().toString());
      }
    }
    try (Stream<Path> installed = Files.list(home.resolve("lib"))) { // jars of an older version
      for (Path old : installed.filter(p -> !wanted.contains(p.getFileName().toString())).toList()) {
        Files.deleteIfExists(old);
      }
    }
    Path aot = dirs.plugin().resolve(HOME).resolve("trellis-cni.aot");
    if (Files.isRegularFile(aot)) {
      copyIfChanged(aot, home.resolve("trellis-cni.aot"));
    } else {
      Files.deleteIfExists(home.resolve("trellis-cni.aot")); // trained on other jars: worse than none
    }
    if (javaHome != null) {
      copyJdk(javaHome, home.resolve("java"));
    }
    // The launcher last: a runtime that sees it finds everything it needs.
    copyIfChanged(launcher, dirs.bin().resolve(LAUNCHER));
    Files.setPosixFilePermissions(dirs.bin().resolve(LAUNCHER), PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  /**
   * Chains the plugin into the configuration the runtime loads, if there is one yet.
   *
   * @return the configuration file that chains it, or empty while the directory has none
   * @throws IOException if the file cannot be read, written or parsed (a CNI daemon may be writing it: try again)
   */
  public Optional<Path> ensureChained() throws IOException {
    Optional<String> first = CniConfList.pick(fileNames(dirs.conf()));
    if (first.isEmpty()) {
      return Optional.empty();
    }
    Path file = dirs.conf().resolve(first.get());
    String text = Files.readString(file, StandardCharsets.UTF_8);
    Path list = file;
    try {
      if (CniConfList.Kind.of(first.get()).orElseThrow() == CniConfList.Kind.SINGLE) {
        String name = first.get().substring(0, first.get().lastIndexOf('.')) + ".conflist";
        list = dirs.conf().resolve(name);
        text = CniConfList.toList(text);
        writeAtomically(list, CniConfList.chain(text, agentSocket).orElse(text));
        Files.delete(file); // the runtime would load it first; the list says the same and more
        log.info("CNI: {} held a single plugin; it is now {} with trellis-cni chained last", file, list);
        return Optional.of(list);
      }
      Optional<String> chained = CniConfList.chain(text, agentSocket);
      if (chained.isPresent()) {
        writeAtomically(list, chained.get());
        log.info("CNI: trellis-cni chained last in {} (agent socket {})", list, agentSocket);
      }
      return Optional.of(list);
    } catch (IllegalArgumentException e) {
      throw new IOException("CNI configuration " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Keeps the plugin chained: now and every {@code period}, so a configuration written later (the cluster's CNI not
   * installed yet) or rewritten without us is chained. Each problem is logged once until it changes.
   */
  public synchronized void start(ScheduledExecutorService scheduler, Duration period) {
    removed = false;
    keeping = scheduler.scheduleWithFixedDelay(this::tick, 0, period.toMillis(), TimeUnit.MILLISECONDS);
  }

  private synchronized void tick() {
    if (removed) {
      return;
    }
    try {
      Optional<Path> chained = ensureChained();
      if (chained.isEmpty() && !waitingLogged) {
        log.warn("CNI: no network configuration (*.conflist, *.conf) in {} yet — the cluster's CNI plugin writes it "
            + "when it starts; trellis-cni is chained as soon as one appears, and until then new pods on this node "
            + "have no network anyway", dirs.conf());
        waitingLogged = true;
      } else if (chained.isPresent() && waitingLogged) {
        waitingLogged = false;
      }
      lastProblem = null;
    } catch (IOException | RuntimeException e) {
      if (!String.valueOf(e.getMessage()).equals(lastProblem)) {
        log.warn("CNI: cannot chain trellis-cni yet: {} (trying again)", e.getMessage());
        lastProblem = String.valueOf(e.getMessage());
      }
    }
  }

  /** Stops keeping the plugin chained (does not remove it: {@link #uninstall}). */
  @Override
  public synchronized void close() {
    if (keeping != null) {
      keeping.cancel(false);
      keeping = null;
    }
  }

  /**
   * Takes trellis-cni out of every configuration list in the directory and deletes the plugin's files. New pods on
   * this node then start without capture (see docs/node-agent.md, Restarts).
   */
  public synchronized void uninstall() throws IOException {
    removed = true;
    close();
    IOException first = null;
    for (String name : fileNames(dirs.conf())) {
      if (name.startsWith(".") || CniConfList.Kind.of(name).orElse(null) != CniConfList.Kind.LIST) {
        continue;
      }
      Path file = dirs.conf().resolve(name);
      try {
        Optional<String> without = CniConfList.unchain(Files.readString(file, StandardCharsets.UTF_8));
        if (without.isPresent()) {
          writeAtomically(file, without.get());
          log.info("CNI: trellis-cni removed from {}", file);
        }
      } catch (IllegalArgumentException e) {
        log.debug("CNI: {} is not a configuration list: {}", file, e.getMessage());
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    try {
      Files.deleteIfExists(dirs.bin().resolve(LAUNCHER)); // first: no runtime starts a half-deleted plugin
      deleteTree(dirs.bin().resolve(HOME));
    } catch (IOException e) {
      first = first == null ? e : first;
    }
    if (first != null) {
      throw first;
    }
  }

  private static List<String> fileNames(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).toList();
    }
  }

  /** Writes {@code text} to a hidden temporary file beside {@code file}, then renames it over {@code file}. */
  static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".trellis-tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    if (Files.exists(file)) {
      try {
        Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(file));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: the default permissions stand
      }
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Copies {@code from} over {@code to} through a temporary file, unless {@code to} already has the same bytes. */
  static boolean copyIfChanged(Path from, Path to) throws IOException {
    if (Files.isRegularFile(to) && Files.mismatch(from, to) == -1) {
      return false;
    }
    Path tmp = to.resolveSibling("." + to.getFileName() + ".trellis-tmp");
    Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
    Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return true;
  }

  /**
   * Copies the JDK at {@code from} to {@code to}, unless the copy there came from an identical JDK (same files, sizes
   * and modification times, recorded beside it). A changed JDK is copied next to the old one and swapped in.
   */
  static boolean copyJdk(Path from, Path to) throws IOException {
    String fingerprint = fingerprint(from);
    Path stamp = to.resolveSibling(to.getFileName() + ".fingerprint");
    if (Files.isDirectory(to) && Files.isRegularFile(stamp)
        && Files.readString(stamp, StandardCharsets.UTF_8).equals(fingerprint)) {
      return false;
    }
    Path fresh = to.resolveSibling("." + to.getFileName() + ".trellis-new");
    Path old = to.resolveSibling("." + to.getFileName() + ".trellis-old");
    deleteTree(fresh);
    deleteTree(old);
    copyTree(from, fresh);
    if (Files.exists(to, LinkOption.NOFOLLOW_LINKS)) {
      Files.move(to, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(fresh, to, StandardCopyOption.ATOMIC_MOVE);
    writeAtomically(stamp, fingerprint);
    deleteTree(old);
    log.info("CNI: copied the JDK {} to {} for the plugin", from, to);
    return true;
  }

  /** Every file's relative path, size and modification time: what "the same JDK" means here. */
  static String fingerprint(Path root) throws IOException {
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted().toList()) {
        if (Files.isRegularFile(p)) {
          sb.append(root.relativize(p)).append(' ').append(Files.size(p)).append(' ')
              .append(Files.getLastModifiedTime(p).toMillis()).append('\n');
        }
      }
    }
    return sb.toString();
  }

  /**
   * Copies a tree keeping permissions; relative symbolic links stay links (the JDK's {@code legal/} files), absolute
   * ones are copied as what they point to (their target is a path in this container, not on the host).
   */
  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : paths.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isSymbolicLink(p) && !Files.readSymbolicLink(p).isAbsolute()) {
          Files.createSymbolicLink(target, Files.readSymbolicLink(p));
        } else if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.deleteIfExists(p);
        } catch (NoSuchFileException | DirectoryNotEmptyException e) {
          log.debug("deleting {}: {}", p, e.toString());
        }
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
