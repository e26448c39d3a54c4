package dev.trellis.controlplane.config;

import java.util.Map;
import org.snakeyaml.engine.v2.api.ConstructNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.resolver.JsonScalarResolver;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;
import org.snakeyaml.engine.v2.schema.JsonSchema;
import org.snakeyaml.engine.v2.schema.Schema;

/**
 * The JSON schema (snakeyaml-engine's default) as far as the mesh file needs it: {@link YamlValue} reads each scalar's
 * text and asks the composed tree only whether a scalar is null. A plain scalar is null exactly where the JSON schema
 * says so (it is empty or {@code null}, so at most 4 characters: only those are resolved by the JSON resolver); every
 * other scalar is a string, without running the int, float and bool patterns over each one — those regular
 * expressions were a third of composing a 1.3 MiB file.
 */
final class NullOnlySchema implements Schema {

  static final NullOnlySchema INSTANCE = new NullOnlySchema();

  private static final int LONGEST_NULL = "null".length();
  private static final ScalarResolver JSON = new JsonScalarResolver();
  private static final Schema JSON_SCHEMA = new JsonSchema();
  private static final ScalarResolver RESOLVER = (value, implicit) ->
      implicit && value.length() <= LONGEST_NULL ? JSON.resolve(value, implicit) : Tag.STR;

  private NullOnlySchema() {}

  @Override
  public ScalarResolver getScalarResolver() {
    return RESOLVER;
  }

  @Override
  public Map<Tag, ConstructNode> getSchemaTagConstructors() {
    return JSON_SCHEMA.getSchemaTagConstructors();
  }
}
