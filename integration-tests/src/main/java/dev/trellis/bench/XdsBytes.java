package dev.trellis.bench;

import com.sun.management.ThreadMXBean;
import dev.trellis.controlplane.config.MeshFileCache;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.translate.TranslationCache;
import dev.trellis.controlplane.translate.Translator;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import dev.trellis.xds.resource.XdsResource;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Without sockets and deterministic: the bytes of the resources one node proxy of {@link XdsLoadRun}'s mesh holds
 * (each resource's encoding, as in a SotW response's {@code Any}), and how much CPU parsing the mesh file and translating
 * it take in this thread, cold and after {@code --repeat} one-endpoint edits (the local-mode change path).
 * {@code java -cp integration-tests/target/benchmarks.jar dev.trellis.bench.XdsBytes --repeat 30}
 */
public final class XdsBytes {

  /** CPU time of this thread, not wall time: the machine is shared. Garbage collection runs on other threads. */
  private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

  private XdsBytes() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opts.put(args[i].substring(2), args[i + 1]);
    }
    int services = Integer.parseInt(opts.getOrDefault("services", "1000"));
    int endpoints = Integer.parseInt(opts.getOrDefault("endpoints", "10"));
    int nodes = Integer.parseInt(opts.getOrDefault("nodes", "100"));
    int repeat = Integer.parseInt(opts.getOrDefault("repeat", "30"));
    MeshGenerator gen = new MeshGenerator(services, endpoints, nodes);
    Map<String, String> overrides = new HashMap<>();
    String yaml = gen.yaml(overrides);
    // As the control plane's MeshFileSource parses: each edit reuses what the unchanged items of the last file became.
    MeshFileCache parsed = new MeshFileCache();
    Mesh mesh = parsed.parse(yaml, "mesh.yaml", Path.of("."));
    TranslationCache cache = new TranslationCache();
    Snapshot snapshot = Translator.translate(mesh, TrustBundle.empty(), cache);
    long total = 0;
    StringBuilder line = new StringBuilder();
    for (ResourceType t : LoadClient.TYPES) {
      long bytes = 0;
      for (XdsResource r : snapshot.view(t, MeshGenerator.nodeName(0), ClientKind.NODE_PROXY).values()) {
        bytes += r.body().getSerializedSize();
      }
      total += bytes;
      line.append(", ").append(t.shortName()).append(' ').append(bytes);
    }
    System.out.printf("mesh file %d bytes; one node proxy's resources (node-0): %d bytes%s%n", yaml.length(), total,
        line);

    long[] parses = new long[repeat];
    long[] translations = new long[repeat];
    long[] allocated = new long[repeat];
    for (int c = 0; c < repeat; c++) {
      overrides.put(gen.workloadName((c * 37) % services, 0), "10.250." + (c / 250) + "." + (c % 250 + 1));
      String edited = gen.yaml(overrides);
      long a0 = THREADS.getCurrentThreadAllocatedBytes();
      long t0 = THREADS.getCurrentThreadCpuTime();
      Mesh m = parsed.parse(edited, "mesh.yaml", Path.of("."));
      long t1 = THREADS.getCurrentThreadCpuTime();
      allocated[c] = THREADS.getCurrentThreadAllocatedBytes() - a0;
      Translator.translate(m, TrustBundle.empty(), cache);
      long t2 = THREADS.getCurrentThreadCpuTime();
      parses[c] = t1 - t0;
      translations[c] = t2 - t1;
    }
    System.out.printf("%d one-endpoint edits, CPU of this thread (min / median / max): parse %s, translate %s; "
        + "parse allocates %d MiB%n", repeat, spread(parses), spread(translations),
        Arrays.stream(allocated).sorted().toArray()[repeat / 2] >> 20);
  }

  private static String spread(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return ms(sorted[0]) + " / " + ms(sorted[sorted.length / 2]) + " / " + ms(sorted[sorted.length - 1]) + " ms";
  }

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }
}
