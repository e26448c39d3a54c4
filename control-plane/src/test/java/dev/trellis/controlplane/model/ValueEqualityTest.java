package dev.trellis.controlplane.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The model records whose equals and hashCode are written out (translation cache keys) compare by every component,
 * as generated ones would: a copy is equal with the same hash, a copy with any one component changed is not.
 */
class ValueEqualityTest {

  static Stream<Record> values() {
    ServicePort port = new ServicePort("http", 80, 8080, ServicePort.AppProtocol.HTTP);
    return Stream.of(
        new Workload("web-0", "demo", "web", "node-1", "10.0.0.1", Map.of("app", "web"), true, true, MtlsMode.STRICT),
        new Service("web", "demo", "10.96.0.1", Map.of("app", "web"), List.of(port)),
        port,
        new ObjectRef("demo", "web"),
        MeshHttp.DEFAULTS);
  }

  @ParameterizedTest
  @MethodSource("values")
  void equalWithEveryComponentEqualAndUnequalWithAnyOneChanged(Record value) throws Exception {
    RecordComponent[] components = value.getClass().getRecordComponents();
    Object[] args = componentValues(value);
    Constructor<?> canonical = canonical(value);
    Object copy = canonical.newInstance(args.clone());
    assertThat(copy).isEqualTo(value).isNotSameAs(value).hasSameHashCodeAs(value);

    for (int i = 0; i < components.length; i++) {
      Object[] changed = args.clone();
      changed[i] = other(args[i]);
      Object different = canonical.newInstance(changed);
      assertThat(different).as("%s changed", components[i].getName()).isNotEqualTo(value);
      assertThat(value).as("%s changed", components[i].getName()).isNotEqualTo(different);
    }
  }

  /** As generated ones: a null component compares and hashes without throwing (where the record allows null). */
  @ParameterizedTest
  @MethodSource("values")
  void aNullComponentComparesAndHashesWithoutThrowing(Record value) throws Exception {
    RecordComponent[] components = value.getClass().getRecordComponents();
    Object[] args = componentValues(value);
    Constructor<?> canonical = canonical(value);
    int nullable = 0;
    for (int i = 0; i < components.length; i++) {
      if (components[i].getType().isPrimitive()) {
        continue;
      }
      Object[] withNull = args.clone();
      withNull[i] = null;
      Object one;
      Object two;
      try {
        one = canonical.newInstance(withNull.clone());
        two = canonical.newInstance(withNull.clone());
      } catch (java.lang.reflect.InvocationTargetException e) {
        continue; // the record refuses null there (a copied map or list, a required value)
      }
      nullable++;
      assertThat(one).as("%s null", components[i].getName()).isEqualTo(two).hasSameHashCodeAs(two)
          .isNotEqualTo(value);
      assertThat(value).as("%s null", components[i].getName()).isNotEqualTo(one);
    }
    if (!(value instanceof MeshHttp)) {
      assertThat(nullable).as("components that may be null").isPositive();
    }
  }

  private static Object[] componentValues(Record value) throws ReflectiveOperationException {
    RecordComponent[] components = value.getClass().getRecordComponents();
    Object[] args = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      args[i] = components[i].getAccessor().invoke(value);
    }
    return args;
  }

  private static Constructor<?> canonical(Record value) throws NoSuchMethodException {
    return value.getClass().getDeclaredConstructor(Arrays.stream(value.getClass().getRecordComponents())
        .map(RecordComponent::getType).toArray(Class<?>[]::new));
  }

  private static Object other(Object v) {
    return switch (v) {
      case String s -> s + "x";
      case Integer n -> n + 1;
      case Boolean b -> !b;
      case Enum<?> e -> e.getDeclaringClass().getEnumConstants()[(e.ordinal() + 1) % e.getDeclaringClass().getEnumConstants().length];
      case Map<?, ?> m -> {
        Map<Object, Object> more = new HashMap<>(m);
        more.put("other", "x");
        yield more;
      }
      case List<?> l -> {
        List<Object> more = new ArrayList<>(l);
        more.add(new ServicePort("grpc", 9090, 9090, ServicePort.AppProtocol.GRPC));
        yield more;
      }
      default -> throw new IllegalArgumentException("no other value for " + v);
    };
  }
}
