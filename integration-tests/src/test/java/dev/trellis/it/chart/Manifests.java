package dev.trellis.it.chart;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Rendered YAML parsed into Fabric8's typed model, refusing anything the model does not know: an unknown
 * kind, or a field Fabric8 tucked away as an "additional property" or dropped on the way (a misspelled field
 * the API server would reject or, worse, ignore).
 */
final class Manifests {

  static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

  private Manifests() {}

  /** Every object of a multi-document YAML stream, typed; fails on unknown kinds and unknown fields. */
  static List<HasMetadata> parse(String yaml) {
    List<HasMetadata> objects = new ArrayList<>();
    for (String document : DOCUMENT_SEPARATOR.split(yaml)) {
      if (document.lines().allMatch(l -> l.isBlank() || l.strip().startsWith("#"))) {
        continue;
      }
      objects.add(parseOne(document));
    }
    return objects;
  }

  /** One YAML document as a typed object; fails on an unknown kind and on unknown fields. */
  static HasMetadata parseOne(String document) {
    Object parsed = SERIALIZATION.unmarshal(document);
    if (!(parsed instanceof HasMetadata object) || parsed instanceof GenericKubernetesResource) {
      throw new AssertionError("not a kind Fabric8 knows (typo in apiVersion/kind?): " + parsed + "\n" + document);
    }
    List<String> problems = unknownFields(object, document);
    if (!problems.isEmpty()) {
      throw new AssertionError(object.getKind() + " " + object.getMetadata().getName()
          + " has fields the Kubernetes API does not define: " + problems);
    }
    return object;
  }

  /**
   * The fields of {@code document} that {@code object} did not take as typed fields: those in an
   * {@code additionalProperties} map anywhere in its graph, and those lost on the way (parsed again from
   * the object's own serialization, they are missing).
   */
  static List<String> unknownFields(HasMetadata object, String document) {
    List<String> problems = new ArrayList<>();
    collectAdditionalProperties(object, object.getKind(), problems);
    Object raw = SERIALIZATION.unmarshal(document, Map.class);
    Object roundTrip = SERIALIZATION.unmarshal(SERIALIZATION.asYaml(object), Map.class);
    collectMissing(raw, roundTrip, object.getKind(), problems);
    return problems;
  }

  private static void collectAdditionalProperties(Object value, String path, List<String> problems) {
    if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean
        || value instanceof Enum<?> || value instanceof JsonNode) {
      return;
    }
    if (value instanceof Map<?, ?> map) {
      map.forEach((k, v) -> collectAdditionalProperties(v, path + "." + k, problems));
      return;
    }
    if (value instanceof Collection<?> items) {
      int i = 0;
      for (Object item : items) {
        collectAdditionalProperties(item, path + "[" + i++ + "]", problems);
      }
      return;
    }
    if (!value.getClass().getName().startsWith("io.fabric8.")) {
      return;
    }
    for (Method getter : value.getClass().getMethods()) {
      // Checked before the @JsonIgnore filter: Fabric8 marks this getter ignored (it is the any-getter's).
      if (getter.getName().equals("getAdditionalProperties") && getter.getParameterCount() == 0
          && Map.class.isAssignableFrom(getter.getReturnType())) {
        Map<?, ?> extra = (Map<?, ?>) invoke(getter, value);
        if (extra != null && !extra.isEmpty()) {
          problems.add(path + ": " + extra.keySet());
        }
        continue;
      }
      if (isPropertyGetter(getter)) {
        collectAdditionalProperties(invoke(getter, value), path + "." + propertyName(getter), problems);
      }
    }
  }

  private static boolean isPropertyGetter(Method m) {
    String name = m.getName();
    return m.getParameterCount() == 0 && !Modifier.isStatic(m.getModifiers())
        && !m.getDeclaringClass().isInterface() && m.getDeclaringClass() != Object.class
        && !m.isAnnotationPresent(JsonIgnore.class)
        && ((name.startsWith("get") && name.length() > 3) || (name.startsWith("is") && name.length() > 2));
  }

  private static String propertyName(Method getter) {
    String name = getter.getName().substring(getter.getName().startsWith("is") ? 2 : 3);
    return Character.toLowerCase(name.charAt(0)) + name.substring(1);
  }

  private static Object invoke(Method getter, Object target) {
    try {
      return getter.invoke(target);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new AssertionError("cannot read " + getter + " of " + target.getClass().getName(), e);
    }
  }

  /** Keys of {@code raw} (recursively) that {@code roundTrip} no longer has. */
  private static void collectMissing(Object raw, Object roundTrip, String path, List<String> problems) {
    if (raw instanceof Map<?, ?> rawMap) {
      if (!(roundTrip instanceof Map<?, ?> tripMap)) {
        if (!rawMap.isEmpty()) {
          problems.add(path + ": lost " + rawMap.keySet());
        }
        return;
      }
      rawMap.forEach((k, v) -> {
        if (!tripMap.containsKey(k)) {
          problems.add(path + "." + k + ": lost");
        } else {
          collectMissing(v, tripMap.get(k), path + "." + k, problems);
        }
      });
    } else if (raw instanceof List<?> rawList && roundTrip instanceof List<?> tripList) {
      for (int i = 0; i < rawList.size(); i++) {
        collectMissing(rawList.get(i), i < tripList.size() ? tripList.get(i) : null, path + "[" + i + "]", problems);
      }
    }
  }
}
