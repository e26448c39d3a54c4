package dev.trellis.controlplane.config;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.Workload;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.common.FlowStyle;
import org.snakeyaml.engine.v2.common.ScalarStyle;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.AliasEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.events.NodeEvent;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.parser.Parser;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

/**
 * Parses successive versions of one mesh file, reusing what the unchanged parts of the previous version became: a
 * one-endpoint edit of a 1.3 MiB file composes and checks one list item instead of 11,000, so its CPU and allocation
 * follow the edit, not the file. The result is always what {@link MeshFile#parse(String, String, Path)} returns for
 * the same text (a property test pins it); any file this class is not sure about is parsed in full by that method,
 * and so is every invalid file, so its messages are exactly the full parse's.
 *
 * <p>How a file is cut, and when it is not (then the full parse runs):
 * <ul>
 *   <li>The text is cut into top-level entries at each line that starts in column 0 with {@code key:} (a plain
 *       key of letters, digits, '-' and '_', then ': ' or the line's end); comment and blank lines stay with the
 *       entry before. Any other line starting in column 0 (document markers {@code ---}/{@code ...}, directives,
 *       flow or quoted root keys, {@code ? } keys, a root list), a tab, a carriage return, a byte-order mark or a
 *       Unicode line separator anywhere, or indented text before the first key: no cut, full parse.
 *   <li>A list section ({@code nodes}, {@code workloads}, {@code services}, {@code routes}, {@code policies},
 *       {@code authorizations}) whose header line has no value is cut further into its items, each from its
 *       {@code - } line (at the indentation of the first item) to the next; comment and blank lines stay with the
 *       item before. A line less indented than the items, or at their indentation without {@code - }: the section is
 *       composed whole.
 *   <li>Each piece is composed alone. A piece that is not valid YAML on its own (a flow collection, a quoted scalar
 *       or anything else cut in the middle), holds an anchor or an alias (an alias may name an anchor of another
 *       piece, and the full parse counts aliases over the whole file), or nests too deeply: full parse.
 *   <li>Workload and service items are then read alone, the node of a workload taken as declared; the checks across
 *       items (the node is declared, no name, address or vip taken twice) run over every item on each parse. Any
 *       problem anywhere: full parse, which reports it with line and column.
 * </ul>
 * What is kept: each piece's composed node (by its exact text) and each workload and service item's model object
 * (by its exact text) of the last successful parse. Not thread-safe: one instance per file, used by one thread.
 */
public final class MeshFileCache {

  private static final Set<String> LISTS = Set.of("nodes", "workloads", "services", "routes", "policies",
      "authorizations");

  /** Where the reuse stopped; caught in {@link #reuse}, which then leaves the text to the full parse. */
  private static final class NotReusable extends RuntimeException {
    NotReusable() {
      super(null, null, false, false);
    }
  }

  /** One top-level entry: its key, its text, and its items' texts when it is a list section that was cut. */
  record Entry(String key, String text, List<String> items) {}

  private Map<String, Node> pieces = new HashMap<>();
  private Map<String, Workload> workloads = new HashMap<>();
  private Map<String, Service> services = new HashMap<>();
  private int lastComposed;
  private boolean lastReused;

  /** Like {@link MeshFile#parse(String, String, Path)}; reuses what unchanged parts of the previous file became. */
  public Mesh parse(String text, String label, Path baseDir) throws MeshFileException {
    Mesh mesh = reuse(text, label, baseDir);
    if (mesh != null) {
      return mesh;
    }
    lastReused = false;
    return MeshFile.parse(text, label, baseDir);
  }

  /** Whether the last {@link #parse} reused the cut pieces (false: it was a full parse). For tests. */
  boolean lastReused() {
    return lastReused;
  }

  /** How many pieces the last {@link #parse} composed because no earlier parse had them. For tests. */
  int lastComposed() {
    return lastComposed;
  }

  private Mesh reuse(String text, String label, Path baseDir) {
    List<Entry> entries = split(text);
    if (entries == null) {
      return null;
    }
    Round round = new Round(label);
    try {
      List<NodeTuple> tuples = new ArrayList<>();
      for (Entry e : entries) {
        ScalarNode key = new ScalarNode(Tag.STR, e.key(), ScalarStyle.PLAIN);
        if (e.items() == null) {
          Node piece = round.compose(e.text(), MeshFile.MAX_NESTING);
          if (!(piece instanceof MappingNode m) || m.getValue().size() != 1) {
            throw new NotReusable();
          }
          tuples.add(m.getValue().getFirst());
        } else if (e.key().equals("workloads") || e.key().equals("services")) {
          if (round.items.put(e.key(), e.items()) != null) {
            throw new NotReusable(); // the section twice: the full parse says so
          }
          tuples.add(new NodeTuple(key, new SequenceNode(Tag.SEQ, List.of(), FlowStyle.BLOCK)));
        } else {
          List<Node> items = new ArrayList<>(e.items().size());
          for (String item : e.items()) {
            items.add(round.item(item));
          }
          tuples.add(new NodeTuple(key, new SequenceNode(Tag.SEQ, items, FlowStyle.BLOCK)));
        }
      }
      YamlValue.Problems problems = new YamlValue.Problems();
      MeshFile.Parser<Void> parser = new MeshFile.Parser<>(
          new YamlValue(new MappingNode(Tag.MAP, tuples, FlowStyle.BLOCK), "", label, problems), problems, baseDir,
          MeshFile.IGNORE_RUN);
      parser.reuse = round;
      Mesh mesh = parser.mesh();
      if (!problems.isEmpty()) {
        return null;
      }
      pieces = round.pieces;
      workloads = round.workloads;
      services = round.services;
      lastComposed = round.composed;
      lastReused = true;
      return mesh;
    } catch (RuntimeException e) {
      // Not valid YAML alone, an anchor or alias, too deep, a problem across items: the full parse decides.
      return null;
    }
  }

  /** One parse: what it composes or reuses, kept as the cache if it succeeds. */
  private final class Round implements MeshFile.Reuse {
    final LoadSettings settings;
    final String label;
    final Map<String, List<String>> items = new HashMap<>();
    final Map<String, Node> pieces = new HashMap<>();
    final Map<String, Workload> workloads = new HashMap<>();
    final Map<String, Service> services = new HashMap<>();
    int composed;

    Round(String label) {
      this.label = label;
      this.settings = MeshFile.settings(label, false);
    }

    /** The node of one piece of text (a top-level entry, or a list of one item). */
    Node compose(String text, int nesting) {
      Node known = MeshFileCache.this.pieces.get(text);
      if (known == null) {
        known = pieces.get(text);
      }
      if (known == null) {
        Optional<Node> node = new Composer(settings, new PlainEvents(new NestingLimit(
            new ParserImpl(settings, new StreamReader(settings, text)), label, nesting))).getSingleNode();
        known = node.orElseThrow(NotReusable::new);
        composed++;
      }
      pieces.put(text, known);
      return known;
    }

    /** The node of one list item, composed as a list of one: one level less deep than in the file. */
    Node item(String text) {
      if (compose(text, MeshFile.MAX_NESTING - 1) instanceof SequenceNode s && s.getValue().size() == 1) {
        return s.getValue().getFirst();
      }
      throw new NotReusable();
    }

    @Override
    public List<Service> services(MeshFile.Parser<?> parser) {
      List<String> texts = items.get("services");
      if (texts == null) {
        return null;
      }
      List<Service> out = new ArrayList<>(texts.size());
      Set<String> vips = new HashSet<>();
      for (String text : texts) {
        Service s = MeshFileCache.this.services.get(text);
        if (s == null) {
          YamlValue.Problems problems = new YamlValue.Problems();
          s = parser.serviceItem(new YamlValue(item(text), "services", label, problems)).service();
          if (s == null || !problems.isEmpty()) {
            throw new NotReusable();
          }
        }
        services.put(text, s);
        if ((s.vip() != null && !vips.add(s.vip())) || parser.services.putIfAbsent(s.ref(), s) != null) {
          throw new NotReusable();
        }
        out.add(s);
      }
      return out;
    }

    @Override
    public List<Workload> workloads(MeshFile.Parser<?> parser) {
      List<String> texts = items.get("workloads");
      if (texts == null) {
        return null;
      }
      List<Workload> out = new ArrayList<>(texts.size());
      Set<ObjectRef> refs = new HashSet<>();
      Set<String> addresses = new HashSet<>();
      for (String text : texts) {
        Workload w = MeshFileCache.this.workloads.get(text);
        if (w == null) {
          YamlValue.Problems problems = new YamlValue.Problems();
          w = parser.workloadItem(new YamlValue(item(text), "workloads", label, problems), node -> true).workload();
          if (w == null || !problems.isEmpty()) {
            throw new NotReusable();
          }
        }
        workloads.put(text, w);
        if (!parser.nodeNames.contains(w.node()) || !refs.add(w.ref()) || !addresses.add(w.address())) {
          throw new NotReusable();
        }
        out.add(w);
      }
      return out;
    }
  }

  /**
   * The text cut into top-level entries, list sections into items (the class comment says how), or null when it
   * cannot be cut safely.
   */
  static List<Entry> split(String text) {
    if (text.length() > MeshFile.MAX_BYTES || text.indexOf('\t') >= 0 || text.indexOf('\r') >= 0
        || text.indexOf('\uFEFF') >= 0 || text.indexOf('\u0085') >= 0 || text.indexOf('\u2028') >= 0
        || text.indexOf('\u2029') >= 0) {
      return null;
    }
    List<Entry> entries = new ArrayList<>();
    String key = null;
    int start = 0;
    int pos = 0;
    while (pos < text.length()) {
      int eol = text.indexOf('\n', pos);
      int end = eol < 0 ? text.length() : eol;
      if (end > pos && text.charAt(pos) != ' ' && text.charAt(pos) != '#') {
        String k = key(text, pos, end);
        if (k == null) {
          return null;
        }
        if (key != null) {
          entries.add(entry(key, text.substring(start, pos)));
        }
        key = k;
        start = pos;
      } else if (key == null && !blankOrComment(text, pos, end)) {
        return null;
      }
      pos = eol < 0 ? text.length() : eol + 1;
    }
    if (key == null) {
      return null;
    }
    entries.add(entry(key, text.substring(start)));
    return entries;
  }

  /** The key of a line {@code key:} or {@code key: ...} starting in column 0, or null. */
  private static String key(String text, int from, int end) {
    int i = from;
    while (i < end && (Character.isLetterOrDigit(text.charAt(i)) && text.charAt(i) < 128 || text.charAt(i) == '-'
        || text.charAt(i) == '_')) {
      i++;
    }
    if (i == from || !Character.isLetter(text.charAt(from)) || i == end || text.charAt(i) != ':'
        || (i + 1 < end && text.charAt(i + 1) != ' ')) {
      return null;
    }
    return text.substring(from, i);
  }

  private static Entry entry(String key, String text) {
    return new Entry(key, text, LISTS.contains(key) ? items(key, text) : null);
  }

  /** The items of a list section written as a block list under its header line, or null. */
  private static List<String> items(String key, String text) {
    int eol = text.indexOf('\n');
    if (eol < 0 || !blankOrComment(text, key.length() + 1, eol)) {
      return null; // a value on the header line
    }
    List<String> items = new ArrayList<>();
    int indent = -1;
    int itemStart = -1;
    int pos = eol + 1;
    while (pos < text.length()) {
      int next = text.indexOf('\n', pos);
      int end = next < 0 ? text.length() : next;
      if (!blankOrComment(text, pos, end)) {
        int spaces = 0;
        while (pos + spaces < end && text.charAt(pos + spaces) == ' ') {
          spaces++;
        }
        boolean dash = text.charAt(pos + spaces) == '-' && (pos + spaces + 1 == end || text.charAt(pos + spaces + 1) == ' ');
        if (indent < 0) {
          if (!dash) {
            return null;
          }
          indent = spaces;
        }
        if (spaces == indent && dash) {
          if (itemStart >= 0) {
            items.add(text.substring(itemStart, pos));
          }
          itemStart = pos;
        } else if (spaces <= indent) {
          return null;
        }
      }
      pos = next < 0 ? text.length() : next + 1;
    }
    if (itemStart < 0) {
      return null;
    }
    items.add(text.substring(itemStart));
    return items;
  }

  /** Whether {@code text[from, end)} holds only spaces, or spaces and then a comment. */
  private static boolean blankOrComment(String text, int from, int end) {
    int i = from;
    while (i < end && text.charAt(i) == ' ') {
      i++;
    }
    return i == end || text.charAt(i) == '#' && (i == from || text.charAt(i - 1) == ' ');
  }

  /** The events of one piece, refusing anchors and aliases: the full parse resolves those across the whole file. */
  private static final class PlainEvents extends CheckedEvents {
    PlainEvents(Parser parser) {
      super(parser);
    }

    @Override
    void check(Event e) {
      if (e instanceof AliasEvent || e instanceof NodeEvent n && n.getAnchor().isPresent()) {
        throw new NotReusable();
      }
    }
  }
}
