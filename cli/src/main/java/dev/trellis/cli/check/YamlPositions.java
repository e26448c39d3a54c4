package dev.trellis.cli.check;

import java.util.Optional;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Where a field of an already valid mesh file is written, so a warning names it the way the parser names an
 * error: {@code file:line:column: workloads[2].address}.
 */
final class YamlPositions {

  private final String label;
  private final Node root;

  private YamlPositions(String label, Node root) {
    this.label = label;
    this.root = root;
  }

  /** Positions in {@code text}; a text that is not YAML yields positions without line numbers. */
  static YamlPositions of(String text, String label) {
    Node root;
    try {
      root = new Compose(LoadSettings.builder().setLabel(label).setAllowDuplicateKeys(true).build())
          .composeString(text).orElse(null);
    } catch (RuntimeException e) {
      root = null;
    }
    return new YamlPositions(label, root);
  }

  /**
   * {@code file:line:column: path} of the value at {@code path}: strings are mapping keys, integers list
   * indexes. When the path goes further than the file, the deepest node found gives the position.
   */
  String where(Object... path) {
    StringBuilder name = new StringBuilder();
    Node at = root;
    Node deepest = root;
    for (Object step : path) {
      if (step instanceof Integer i) {
        name.append('[').append(i).append(']');
        at = at instanceof SequenceNode s && i < s.getValue().size() ? s.getValue().get(i) : null;
      } else {
        name.append(name.isEmpty() ? "" : ".").append(step);
        at = at instanceof MappingNode m ? value(m, step.toString()) : null;
      }
      if (at != null) {
        deepest = at;
      }
    }
    Optional<Mark> mark = deepest == null ? Optional.empty() : deepest.getStartMark();
    return label + mark.map(m -> ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1)).orElse("")
        + (name.isEmpty() ? "" : ": " + name);
  }

  private static Node value(MappingNode m, String key) {
    for (NodeTuple t : m.getValue()) {
      if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
        return t.getValueNode();
      }
    }
    return null;
  }
}
