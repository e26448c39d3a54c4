package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.MeshNode;
import dev.trellis.controlplane.model.MeshTelemetry;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.ServicePort.AppProtocol;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.identity.TrustDomain;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.ReaderException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

/**
 * The local-mode config source: a YAML mesh file describing the same model the cluster source builds
 * (nodes, workloads, services, routes, traffic and authorization policies). Parsing is strict:
 * unknown fields, wrong types, dangling references are all reported, each with file, line, column
 * and field path. The format is documented in docs/mesh-file.md.
 */
public final class MeshFile {

  static final Set<String> ROOT = Set.of("trustDomain", "clusterDomain", "mtls", "nodes", "workloads", "services",
      "routes", "policies", "authorizations", "telemetry", "egress", "http");
  /** Mesh files larger than this are refused before parsing. */
  static final int MAX_BYTES = 16 * 1024 * 1024;
  /** Lists and mappings nested deeper than this are refused before composing (the format needs about ten). */
  static final int MAX_NESTING = 64;

  /**
   * What a workload's {@code run:} field becomes: the control plane accepts the field without reading it ({@link
   * #IGNORE_RUN}); {@code trellis up}, which starts the workloads, parses it. A parser reports each problem through
   * {@link YamlValue#problem} (so it lands in the same {@link MeshFileException}, in file order) and then returns
   * null.
   *
   * @param <T> what a valid field becomes
   */
  @FunctionalInterface
  public interface RunParser<T> {
    T parse(YamlValue run);
  }

  /** The control plane's view of {@code run:}: how to start a workload on this machine is not its business. */
  public static final RunParser<Void> IGNORE_RUN = run -> null;

  /**
   * A mesh and, for each workload with a {@code run:} field that parsed, what the {@link RunParser} made of it (by
   * namespace/name, in file order).
   */
  public record Parsed<T>(Mesh mesh, Map<ObjectRef, T> runs) {
    public Parsed {
      runs = Collections.unmodifiableMap(new LinkedHashMap<>(runs));
    }
  }

  private MeshFile() {}

  public static Mesh load(Path file) throws MeshFileException {
    return load(file, IGNORE_RUN).mesh();
  }

  /** The mesh, with each workload's {@code run:} field as {@code runs} parses it. */
  public static <T> Parsed<T> load(Path file, RunParser<T> runs) throws MeshFileException {
    String text;
    try {
      if (Files.size(file) > MAX_BYTES) {
        throw new MeshFileException(List.of(file + ": larger than " + MAX_BYTES / (1024 * 1024) + " MiB"));
      }
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new MeshFileException(List.of(unreadable(file, e)));
    }
    return parse(text, file.toString(), file.toAbsolutePath().getParent(), runs);
  }

  /**
   * @param label how the file is named in messages
   * @param baseDir where relative paths in the file (tokenFile) resolve
   */
  public static Mesh parse(String text, String label, Path baseDir) throws MeshFileException {
    return parse(text, label, baseDir, IGNORE_RUN).mesh();
  }

  /** Like {@link #parse(String, String, Path)}, with each workload's {@code run:} field as {@code runs} parses it. */
  public static <T> Parsed<T> parse(String text, String label, Path baseDir, RunParser<T> runs)
      throws MeshFileException {
    try {
      return parse(text, label, baseDir, runs, false);
    } catch (MeshFileException e) {
      // The messages say line and column: the same parse again, keeping positions. A reload of a valid file (the
      // common case) skips them: they are a fifth of what composing a large file allocates.
      return parse(text, label, baseDir, runs, true);
    }
  }

  private static <T> Parsed<T> parse(String text, String label, Path baseDir, RunParser<T> runs, boolean positions)
      throws MeshFileException {
    Node root;
    try {
      LoadSettings settings = settings(label, positions);
      Optional<Node> composed = new Composer(settings, new NestingLimit(
          new ParserImpl(settings, new StreamReader(settings, text)), label, MAX_NESTING)).getSingleNode();
      if (composed.isEmpty()) {
        throw new MeshFileException(List.of(label + ": the file is empty"));
      }
      root = composed.get();
    } catch (NestingLimit.TooDeep e) {
      throw new MeshFileException(List.of(e.getMessage()));
    } catch (YamlEngineException e) {
      throw new MeshFileException(List.of(syntaxError(label, text, e)));
    }
    YamlValue.Problems problems = new YamlValue.Problems();
    MeshFile.Parser<T> parser = new MeshFile.Parser<>(new YamlValue(root, "", label, problems), problems, baseDir, runs);
    Mesh mesh = parser.mesh();
    if (!problems.isEmpty()) {
      throw new MeshFileException(problems.messages());
    }
    return new Parsed<>(mesh, parser.runs);
  }

  /** How the file is composed: duplicate keys are reported by {@link YamlValue#fields}, not by the composer. */
  static LoadSettings settings(String label, boolean positions) {
    return LoadSettings.builder().setLabel(label).setAllowDuplicateKeys(true)
        .setSchema(NullOnlySchema.INSTANCE).setUseMarks(positions)
        .setMaxAliasesForCollections(50).setCodePointLimit(MAX_BYTES).build();
  }

  /**
   * Why {@code file} cannot be read, as {@code file: cannot be read: reason} in words (no exception class name): a
   * missing file says it does not exist.
   */
  static String unreadable(Path file, IOException e) {
    String reason = switch (e) {
      case NoSuchFileException _ -> "it does not exist (check the path)";
      case AccessDeniedException _ -> "permission denied";
      case FileSystemException x when x.getReason() != null -> x.getReason();
      default -> e.getMessage() != null ? e.getMessage() : "I/O error";
    };
    return file + ": cannot be read: " + reason;
  }

  /**
   * A YAML syntax error as {@code label:line:column: not valid YAML: problem (context at line:column)}, on one line: snakeyaml-engine's own message
   * spans several lines with a snippet and a caret that mean nothing once flattened.
   */
  static String syntaxError(String label, String text, YamlEngineException e) {
    String prefix = label;
    String problem;
    if (e instanceof MarkedYamlEngineException m) {
      prefix += m.getProblemMark().or(m::getContextMark).map(MeshFile::position).orElse("");
      if (m.getProblem() == null) {
        problem = oneLine(m.getContext());
      } else {
        problem = oneLine(m.getProblem());
        if (m.getContext() != null) {
          problem += " (" + oneLine(m.getContext())
              + m.getContextMark().map(c -> " at " + position(c).substring(1)).orElse("") + ")";
        }
      }
    } else if (e instanceof ReaderException r) {
      prefix += position(text, r.getPosition());
      problem = "the character U+" + String.format("%04X", r.getCodePoint()) + " is not allowed in YAML";
    } else {
      problem = oneLine(String.valueOf(e.getMessage()));
    }
    return prefix + ": not valid YAML: " + problem;
  }

  private static String position(Mark m) {
    return ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1);
  }

  /** {@code :line:column} of the code point at {@code offset} (a count of code points, as the YAML reader counts). */
  private static String position(String text, int offset) {
    int line = 1;
    int column = 1;
    int i = 0;
    for (int seen = 0; seen < offset && i < text.length(); seen++) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return ":" + line + ":" + column;
  }

  private static String oneLine(String s) {
    return s.replaceAll("\\s*\n\\s*", " ").strip();
  }

  /**
   * The workloads and services sections as {@link MeshFileCache} reads them, reusing what unchanged items became in
   * an earlier parse; each returns null when it does not hold the section's items (the parser reads it as usual).
   */
  interface Reuse {
    List<Service> services(Parser<?> parser);

    List<Workload> workloads(Parser<?> parser);
  }

  /** One parse; sections in dependency order so references can be checked where they are written. */
  static final class Parser<T> {
    final YamlValue root;
    final YamlValue.Problems problems;
    final Path baseDir;
    final Map<ObjectRef, Service> services = new HashMap<>();
    final Set<String> nodeNames = new HashSet<>();
    final RunParser<T> runParser;
    final Map<ObjectRef, T> runs = new LinkedHashMap<>();
    /** Reads the workloads and services sections from unchanged items of an earlier parse; null in a full parse. */
    Reuse reuse;

    Parser(YamlValue root, YamlValue.Problems problems, Path baseDir, RunParser<T> runParser) {
      this.root = root;
      this.problems = problems;
      this.baseDir = baseDir;
      this.runParser = runParser;
    }

    Mesh mesh() {
      Map<String, YamlValue> f = root.fields(ROOT);
      TrustDomain td = TrustDomain.CLUSTER_LOCAL;
      if (f.containsKey("trustDomain")) {
        String s = f.get("trustDomain").string();
        try {
          td = s == null ? td : TrustDomain.of(s);
        } catch (MtlsException e) {
          f.get("trustDomain").problem(e.getMessage());
        }
      }
      String clusterDomain = f.containsKey("clusterDomain") ? Names.dnsName(f.get("clusterDomain")) : "cluster.local";
      MtlsMode mtls = MtlsMode.PERMISSIVE;
      if (f.containsKey("mtls")) {
        Map<String, YamlValue> m = f.get("mtls").fields(Set.of("mode"));
        if (m.containsKey("mode")) {
          MtlsMode mode = m.get("mode").enumValue(MtlsMode.class);
          mtls = mode == null ? mtls : mode;
        }
      }
      List<MeshNode> nodes = nodes(section(f, "nodes"));
      List<Service> svcs = reuse == null ? null : reuse.services(this);
      svcs = svcs != null ? svcs : services(section(f, "services"));
      List<Workload> workloads = reuse == null ? null : reuse.workloads(this);
      workloads = workloads != null ? workloads : workloads(section(f, "workloads"));
      TrafficSections traffic = new TrafficSections(this);
      List<HttpRoute> routes = traffic.routes(section(f, "routes"));
      List<TrafficPolicy> policies = traffic.policies(section(f, "policies"));
      List<AuthorizationPolicy> authz = traffic.authorizations(section(f, "authorizations"));
      if (nodes.isEmpty() && !f.containsKey("nodes")) {
        root.problem("no nodes: declare at least one under 'nodes' (name, address, token)");
      }
      MeshTelemetry telemetry = f.containsKey("telemetry") ? TelemetrySection.parse(f.get("telemetry"), baseDir)
          : MeshTelemetry.DEFAULTS;
      MeshEgress egress = f.containsKey("egress") ? egress(f.get("egress")) : MeshEgress.DEFAULTS;
      MeshHttp http = f.containsKey("http") ? http(f.get("http")) : MeshHttp.DEFAULTS;
      return new Mesh(td, clusterDomain == null ? "cluster.local" : clusterDomain, mtls, nodes, workloads, svcs, routes,
          policies, authz, telemetry, egress, http);
    }

    /** {@code egress: {allowCidrs: [...]}}: each entry an address prefix (or one address). */
    private static MeshEgress egress(YamlValue v) {
      Map<String, YamlValue> f = v.fields(Set.of("allowCidrs"));
      List<String> allow = new ArrayList<>();
      for (YamlValue item : f.containsKey("allowCidrs") ? f.get("allowCidrs").list() : List.<YamlValue>of()) {
        String s = item.string();
        if (s == null) {
          continue;
        }
        try {
          allow.add(MeshEgress.cidr(s));
        } catch (IllegalArgumentException e) {
          item.problem(e.getMessage());
        }
      }
      return new MeshEgress(allow);
    }

    /** The {@code http} section: {@code escapedSlashes}, {@code pathParameters}; what is left out keeps its default. */
    private static MeshHttp http(YamlValue section) {
      Map<String, YamlValue> f = section.fields(Set.of("escapedSlashes", "pathParameters"));
      MeshHttp.EscapedSlashes slashes = f.containsKey("escapedSlashes")
          ? f.get("escapedSlashes").enumValue(MeshHttp.EscapedSlashes.class) : null;
      MeshHttp.PathParameters parameters = f.containsKey("pathParameters")
          ? f.get("pathParameters").enumValue(MeshHttp.PathParameters.class) : null;
      return new MeshHttp(slashes == null ? MeshHttp.DEFAULTS.escapedSlashes() : slashes,
          parameters == null ? MeshHttp.DEFAULTS.pathParameters() : parameters);
    }

    private static List<YamlValue> section(Map<String, YamlValue> f, String name) {
      return f.containsKey(name) ? f.get(name).list() : List.of();
    }

    private List<MeshNode> nodes(List<YamlValue> items) {
      List<MeshNode> out = new ArrayList<>();
      Map<String, String> tokens = new HashMap<>();
      Set<String> addresses = new HashSet<>();
      for (YamlValue item : items) {
        Map<String, YamlValue> f = item.fields(Set.of("name", "address", "token", "tokenFile"));
        String name = required(item, f, "name") ? Names.label(f.get("name")) : null;
        String address = required(item, f, "address") ? Names.ip(f.get("address")) : null;
        String token = token(item, f);
        if (name != null && !nodeNames.add(name)) {
          f.get("name").problem("node '" + name + "' is declared twice");
        }
        if (address != null && !addresses.add(address)) {
          f.get("address").problem("address " + address + " is used by another node");
        }
        if (token != null) {
          String other = tokens.put(token, name);
          if (other != null) {
            item.problem("node '" + name + "' has the same token as node '" + other + "'; give each node its own");
          }
        }
        if (name != null && address != null && token != null) {
          out.add(new MeshNode(name, address, token));
        }
      }
      return out;
    }

    private String token(YamlValue item, Map<String, YamlValue> f) {
      String token;
      YamlValue at;
      if (f.containsKey("token") == f.containsKey("tokenFile")) {
        item.problem("give exactly one of 'token' or 'tokenFile' (the node proxy's secret for the control plane; "
            + "generate one with 'openssl rand -hex 16')");
        return null;
      }
      if (f.containsKey("token")) {
        at = f.get("token");
        token = at.string();
      } else {
        at = f.get("tokenFile");
        String path = at.string();
        if (path == null) {
          return null;
        }
        Path file = baseDir == null ? Path.of(path) : baseDir.resolve(path);
        try {
          token = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
          at.problem("cannot read token file " + file + ": " + e.getMessage());
          return null;
        }
      }
      if (token != null && token.length() < 16) {
        at.problem("token has " + token.length() + " characters (expected: at least 16; generate one with "
            + "'openssl rand -hex 16')");
        return null;
      }
      return token;
    }

    private List<Service> services(List<YamlValue> items) {
      List<Service> out = new ArrayList<>();
      Map<String, String> vips = new HashMap<>();
      for (YamlValue item : items) {
        ServiceItem s = serviceItem(item);
        if (s.service() == null) {
          continue;
        }
        ObjectRef ref = s.service().ref();
        if (s.service().vip() != null) {
          String other = vips.put(s.service().vip(), ref.toString());
          if (other != null) {
            s.fields().get("vip").problem("vip " + s.service().vip() + " is already the address of service " + other);
          }
        }
        if (services.putIfAbsent(ref, s.service()) != null) {
          item.problem("service " + ref + " is declared twice");
          continue;
        }
        out.add(s.service());
      }
      return out;
    }

    /** A service item's fields; {@code service} is null when its name or namespace is missing or invalid. */
    record ServiceItem(Map<String, YamlValue> fields, Service service) {}

    /**
     * What one service item says on its own, every problem reported in file order; the checks across items (vip and
     * name taken twice) are the caller's.
     */
    ServiceItem serviceItem(YamlValue item) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "namespace", "vip", "selector", "ports"));
      String name = required(item, f, "name") ? Names.label(f.get("name")) : null;
      String ns = required(item, f, "namespace") ? Names.label(f.get("namespace")) : null;
      String vip = f.containsKey("vip") ? Names.ip(f.get("vip")) : null;
      Map<String, String> selector = f.containsKey("selector") ? f.get("selector").stringMap() : Map.of();
      List<ServicePort> ports = new ArrayList<>();
      Set<Integer> numbers = new HashSet<>();
      if (required(item, f, "ports")) {
        for (YamlValue p : f.get("ports").list()) {
          ServicePort port = port(p);
          if (port != null && !numbers.add(port.port())) {
            p.problem("port " + port.port() + " is declared twice");
          } else if (port != null) {
            ports.add(port);
          }
        }
        if (ports.isEmpty() && f.get("ports").list().isEmpty()) {
          f.get("ports").problem("a service needs at least one port");
        }
      }
      return new ServiceItem(f, name == null || ns == null ? null : new Service(name, ns, vip, selector, ports));
    }

    private ServicePort port(YamlValue item) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "port", "targetPort", "protocol"));
      Integer port = required(item, f, "port") ? f.get("port").integer(1, 65535) : null;
      Integer target = f.containsKey("targetPort") ? f.get("targetPort").integer(1, 65535) : port;
      String name = f.containsKey("name") ? Names.label(f.get("name")) : null;
      AppProtocol protocol;
      if (f.containsKey("protocol")) {
        protocol = f.get("protocol").enumValue(AppProtocol.class);
      } else {
        protocol = AppProtocol.fromPortName(name);
      }
      if (port == null || target == null || protocol == null) {
        return null;
      }
      return new ServicePort(name == null ? protocol.name().toLowerCase(Locale.ROOT) + "-" + port : name, port,
          target, protocol);
    }


    private List<Workload> workloads(List<YamlValue> items) {
      List<Workload> out = new ArrayList<>();
      Set<ObjectRef> refs = new HashSet<>();
      Map<String, String> addresses = new HashMap<>();
      for (YamlValue item : items) {
        WorkloadItem<T> w = workloadItem(item, nodeNames::contains);
        if (w.workload() == null) {
          continue;
        }
        Workload workload = w.workload();
        if (!refs.add(workload.ref())) {
          item.problem("workload " + workload.namespace() + "/" + workload.name() + " is declared twice");
          continue;
        }
        String other = addresses.put(workload.address(), workload.namespace() + "/" + workload.name());
        if (other != null) {
          w.fields().get("address").problem("address " + workload.address() + " is already used by workload " + other);
          continue;
        }
        out.add(workload);
        if (w.run() != null) {
          runs.put(workload.ref(), w.run());
        }
      }
      return out;
    }

    /**
     * A workload item's fields, the workload (null when a field it needs is missing or invalid) and its parsed
     * {@code run:}.
     */
    record WorkloadItem<R>(Map<String, YamlValue> fields, Workload workload, R run) {}

    /**
     * What one workload item says on its own, every problem reported in file order; {@code knownNode} tells whether
     * its node is declared. The checks across items (name and address taken twice) are the caller's.
     */
    WorkloadItem<T> workloadItem(YamlValue item, Predicate<String> knownNode) {
      Map<String, YamlValue> f = item.fields(Set.of("name", "namespace", "serviceAccount", "node", "address", "labels",
          "inMesh", "mtls", "run"));
      String name = required(item, f, "name") ? Names.label(f.get("name")) : null;
      String ns = required(item, f, "namespace") ? Names.label(f.get("namespace")) : null;
      String sa = f.containsKey("serviceAccount") ? Names.label(f.get("serviceAccount")) : "default";
      String node = required(item, f, "node") ? f.get("node").string() : null;
      if (node != null && !knownNode.test(node)) {
        f.get("node").problem("no node named '" + node + "' (declared nodes: " + new TreeSet<>(nodeNames) + ")");
        node = null;
      }
      String address = required(item, f, "address") ? Names.ip(f.get("address")) : null;
      Map<String, String> labels = f.containsKey("labels") ? f.get("labels").stringMap() : Map.of();
      Boolean inMesh = f.containsKey("inMesh") ? f.get("inMesh").bool() : Boolean.TRUE;
      MtlsMode mtls = f.containsKey("mtls") ? f.get("mtls").enumValue(MtlsMode.class) : null;
      T run = f.containsKey("run") ? runParser.parse(f.get("run")) : null;
      if (name == null || ns == null || sa == null || node == null || address == null || inMesh == null) {
        return new WorkloadItem<>(f, null, run);
      }
      return new WorkloadItem<>(f, new Workload(name, ns, sa, node, address, labels, inMesh, true, mtls), run);
    }

    boolean required(YamlValue item, Map<String, YamlValue> f, String field) {
      if (!f.containsKey(field)) {
        item.problem("missing required field '" + field + "'");
        return false;
      }
      return true;
    }

    /** A reference written as {@code name} (in {@code namespace}) or {@code namespace/name}. */
    ObjectRef serviceRef(YamlValue v, String namespace) {
      String s = v.string();
      if (s == null) {
        return null;
      }
      ObjectRef ref = s.contains("/") ? new ObjectRef(s.substring(0, s.indexOf('/')), s.substring(s.indexOf('/') + 1))
          : new ObjectRef(namespace, s);
      if (!services.containsKey(ref)) {
        v.problem("no service " + ref + " (declared services: " + new TreeSet<>(services.keySet()) + ")");
        return null;
      }
      return ref;
    }
  }
}
