package dev.trellis.controlplane.config;

import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.parser.Parser;

/**
 * A YAML event stream passed through to the composer unchanged, each event shown to {@link #check} as the composer
 * takes it ({@link #next}): the base of the checks that must see every event once, before composing it.
 */
abstract class CheckedEvents implements Parser {
  private final Parser parser;

  CheckedEvents(Parser parser) {
    this.parser = parser;
  }

  /** Sees each event the composer takes, in order; throws (unchecked) to stop composing. */
  abstract void check(Event e);

  @Override
  public final boolean checkEvent(Event.ID id) {
    return parser.checkEvent(id);
  }

  @Override
  public final Event peekEvent() {
    return parser.peekEvent();
  }

  @Override
  public final boolean hasNext() {
    return parser.hasNext();
  }

  @Override
  public final Event next() {
    Event e = parser.next();
    check(e);
    return e;
  }
}
