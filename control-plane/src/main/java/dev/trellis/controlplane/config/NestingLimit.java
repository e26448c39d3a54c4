package dev.trellis.controlplane.config;

import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.parser.Parser;

/**
 * The YAML events, refusing nesting deeper than {@code limit} ({@link MeshFile#MAX_NESTING}) as the composer reads
 * them, before it recurses: snakeyaml-engine composes recursively and has no depth limit, so a file of 10,000 '['
 * overflowed the stack (found by fuzzing). Counting on the composer's own event stream reads the text once, where a
 * separate pass before composing read it twice.
 */
final class NestingLimit extends CheckedEvents {
  private final String label;
  private final int limit;
  private int depth;

  NestingLimit(Parser parser, String label, int limit) {
    super(parser);
    this.label = label;
    this.limit = limit;
  }

  @Override
  void check(Event e) {
    switch (e.getEventId()) {
      case SequenceStart, MappingStart -> {
        if (++depth > limit) {
          String at = e.getStartMark().map(m -> ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1)).orElse("");
          throw new TooDeep(label + at + ": lists and mappings are nested more than " + limit
              + " levels deep; a mesh file needs far fewer (is the file generated wrongly?)");
        }
      }
      case SequenceEnd, MappingEnd -> depth--;
      default -> { }
    }
  }

  /** Unchecked, to leave the composer; turned into a {@link MeshFileException} by {@code MeshFile.parse}. */
  static final class TooDeep extends RuntimeException {
    TooDeep(String message) {
      super(message, null, false, false);
    }
  }
}
