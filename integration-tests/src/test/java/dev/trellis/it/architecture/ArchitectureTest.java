package dev.trellis.it.architecture;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;

/**
 * The layering of Trellis's modules and packages (ARCHITECTURE.md, "Modules"), checked on the main classes of every
 * module. Maven already stops a module from importing one it does not depend on; these rules pin the intended graph,
 * so that a new dependency between modules, or a cycle between two packages of one module, fails the build with the
 * rule it breaks and why it exists.
 */
@AnalyzeClasses(packages = "dev.trellis",
    importOptions = {ImportOption.DoNotIncludeTests.class, ArchitectureTest.NoTestJars.class})
class ArchitectureTest {

  /** Test jars of other modules (their shared test fixtures) are not main code. */
  static final class NoTestJars implements ImportOption {
    @Override
    public boolean includes(Location location) {
      return !location.contains("-tests.jar");
    }
  }

  @ArchTest
  static final ArchRule modulesDependOnlyDownwards = layeredArchitecture()
      .consideringOnlyDependenciesInLayers()
      .layer("mtls").definedBy("dev.trellis.mtls..")
      .layer("ca").definedBy("dev.trellis.ca..")
      .layer("xds").definedBy("dev.trellis.xds..")
      .layer("telemetry").definedBy("dev.trellis.telemetry..")
      .layer("control-plane").definedBy("dev.trellis.controlplane..")
      .layer("node-proxy").definedBy("dev.trellis.proxy..")
      .layer("demo").definedBy("dev.trellis.demo..")
      .layer("cni").definedBy("dev.trellis.cni..")
      .layer("cli").definedBy("dev.trellis.cli..")
      .whereLayer("mtls").mayNotAccessAnyLayer()
      .whereLayer("telemetry").mayNotAccessAnyLayer()
      .whereLayer("demo").mayNotAccessAnyLayer()
      .whereLayer("cni").mayNotAccessAnyLayer()
      .whereLayer("ca").mayOnlyAccessLayers("mtls")
      .whereLayer("xds").mayOnlyAccessLayers("mtls")
      .whereLayer("control-plane").mayOnlyAccessLayers("mtls", "ca", "xds", "telemetry")
      .whereLayer("node-proxy").mayOnlyAccessLayers("mtls", "ca", "xds", "telemetry", "cni")
      .whereLayer("cli").mayOnlyAccessLayers("mtls", "ca", "xds", "telemetry", "control-plane", "node-proxy", "cni",
          "demo")
      .because("each module builds only on the ones below it (identity at the bottom, the control plane and the node "
          + "proxy side by side, the CLI on top; the CNI plugin, which the container runtime starts for every pod, "
          + "on nothing of ours), so the node proxy's image carries no control-plane code and the other way round; "
          + "a new edge between modules is a design change for ARCHITECTURE.md, not a shortcut");

  @ArchTest
  static final ArchRule packagesAreFreeOfCycles = slices().assignedFrom(new TopLevelPackages())
      .should().beFreeOfCycles()
      .because("a package is a unit that can be read, tested and moved on its own only when what it uses does not "
          + "use it back; break a cycle by moving the shared piece down or by having the upper package pass a small "
          + "interface (as the admin servers take a read-only view instead of the root that serves them)");

  /**
   * A module's package as its top-level package below the module's root ({@code dev.trellis.proxy.outbound.x} is
   * {@code proxy.outbound}); the module's root package itself is a slice of its own ({@code proxy}).
   */
  static final class TopLevelPackages implements SliceAssignment {
    @Override
    public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
      String[] parts = javaClass.getPackageName().split("\\.");
      if (parts.length < 3 || !parts[0].equals("dev") || !parts[1].equals("trellis")) {
        return SliceIdentifier.ignore();
      }
      return SliceIdentifier.of(parts.length == 3 ? parts[2] : parts[2] + "." + parts[3]);
    }

    @Override
    public String getDescription() {
      return "the top-level packages of each module";
    }
  }
}
