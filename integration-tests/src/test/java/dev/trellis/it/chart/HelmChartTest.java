package dev.trellis.it.chart;

import static dev.trellis.it.chart.Charts.CHART;
import static dev.trellis.it.chart.Charts.NAMESPACE;
import static dev.trellis.it.chart.Charts.collectSchemaKeys;
import static dev.trellis.it.chart.Charts.container;
import static dev.trellis.it.chart.Charts.containers;
import static dev.trellis.it.chart.Charts.crds;
import static dev.trellis.it.chart.Charts.find;
import static dev.trellis.it.chart.Charts.hostPaths;
import static dev.trellis.it.chart.Charts.keyLines;
import static dev.trellis.it.chart.Charts.mount;
import static dev.trellis.it.chart.Charts.mounts;
import static dev.trellis.it.chart.Charts.only;
import static dev.trellis.it.chart.Charts.pods;
import static dev.trellis.it.chart.Charts.property;
import static dev.trellis.it.chart.Charts.render;
import static dev.trellis.it.chart.Charts.rules;
import static dev.trellis.it.chart.Charts.schema;
import static dev.trellis.it.chart.Charts.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import dev.trellis.it.chart.AdmissionCel.Create;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicy;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Helm chart {@code charts/trellis}, linted and rendered in-process by helm-java (Helm as a native
 * library) and every rendered object parsed into Fabric8's typed model (see {@link Manifests}): the facts the
 * Kubernetes contract fixes (args, ports, RBAC, mounts, security) are asserted on typed objects, and so are
 * the CRDs of {@code crds/}. No cluster is involved.
 */
class HelmChartTest {

  /** Where Fabric8 (like every Kubernetes client) looks for the API server's credentials. */
  static final String SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

  @Test
  void lintPassesInStrictModeWithNothingWorseThanInfo() {
    LintResult result = new Helm(CHART).lint().strict().call();

    assertThat(result.isFailed()).as("lint failed: %s", result.getMessages()).isFalse();
    assertThat(result.getMessages()).allSatisfy(m -> assertThat(m).startsWith("[INFO]"));
  }

  @Test
  void defaultsRenderExactlyTheExpectedObjectsAllOfThemKnownKubernetesTypes() {
    List<HasMetadata> objects = render(Map.of());

    assertThat(objects).extracting(HasMetadata::getKind, o -> o.getMetadata().getName()).containsExactlyInAnyOrder(
        tuple("ServiceAccount", "trellis-control-plane"),
        tuple("ClusterRole", "trellis-control-plane"),
        tuple("ClusterRoleBinding", "trellis-control-plane"),
        tuple("Role", "trellis-control-plane"),
        tuple("RoleBinding", "trellis-control-plane"),
        tuple("Deployment", "trellis-control-plane"),
        tuple("PodDisruptionBudget", "trellis-control-plane"),
        tuple("Service", "trellis-control-plane"),
        tuple("ServiceAccount", "trellis-node-proxy"),
        tuple("ClusterRole", "trellis-node-proxy"),
        tuple("ClusterRoleBinding", "trellis-node-proxy"),
        tuple("Role", "trellis-node-proxy"),
        tuple("RoleBinding", "trellis-node-proxy"),
        tuple("DaemonSet", "trellis-node-proxy"),
        tuple("ConfigMap", "trellis-dashboards"),
        tuple("ValidatingAdmissionPolicy", "trellis-control-plane"),
        tuple("ValidatingAdmissionPolicyBinding", "trellis-control-plane"));
    assertThat(objects).filteredOn(o -> !o.getKind().startsWith("Cluster") && !o.getKind().startsWith("Validating"))
        .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo(NAMESPACE));
    assertThat(objects).allSatisfy(o -> assertThat(o.getMetadata().getLabels()).containsEntry("app.kubernetes.io/name", "trellis")
        .containsEntry("app.kubernetes.io/instance", "trellis").containsEntry("app.kubernetes.io/managed-by", "Helm")
        .containsEntry("app.kubernetes.io/version", "0.1.0").containsKey("app.kubernetes.io/component"));
  }

  @Test
  void controlPlaneRunsTheContractArgsAsNonRootWithReadOnlyRootAndProbesOnAdmin() {
    Deployment deployment = find(render(Map.of()), Deployment.class, "trellis-control-plane");
    PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    Container cp = only(pod.getContainers());

    assertThat(deployment.getSpec().getReplicas()).isEqualTo(2);
    assertThat(pod.getServiceAccountName()).isEqualTo("trellis-control-plane");
    assertThat(cp.getImage()).isEqualTo("ghcr.io/trellis-mesh/control-plane:0.1.0");
    assertThat(cp.getImagePullPolicy()).isEqualTo("IfNotPresent");
    assertThat(cp.getArgs()).containsExactly("control-plane", "--kubernetes", "--bind", "0.0.0.0",
        "--namespace", "$(POD_NAMESPACE)", "--pod-name", "$(POD_NAME)",
        "--trusted-node-proxies", "trellis-system/trellis-node-proxy",
        "--trust-domain", "cluster.local", "--cluster-domain", "cluster.local");
    assertThat(cp.getEnv()).extracting(e -> e.getName(), e -> e.getValueFrom() == null ? e.getValue()
            : e.getValueFrom().getFieldRef().getFieldPath())
        .contains(tuple("POD_NAMESPACE", "metadata.namespace"), tuple("POD_NAME", "metadata.name"),
            tuple("TRELLIS_LOG_LEVEL", "info"));
    assertThat(cp.getPorts()).extracting(p -> p.getName(), p -> p.getContainerPort())
        .containsExactly(tuple("grpc-xds", 15010), tuple("grpc-xds-tls", 15012), tuple("http-admin", 15014));
    assertThat(cp.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
    assertThat(cp.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15014);
    assertThat(cp.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz/live");
    assertThat(cp.getLivenessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15014);
    assertThat(cp.getResources().getRequests()).containsKeys("cpu", "memory");
    assertThat(cp.getResources().getLimits()).containsKey("memory");

    var security = cp.getSecurityContext();
    assertThat(security.getRunAsNonRoot()).isTrue();
    assertThat(security.getRunAsUser()).isEqualTo(65532L);
    assertThat(security.getReadOnlyRootFilesystem()).isTrue();
    assertThat(security.getAllowPrivilegeEscalation()).isFalse();
    assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(security.getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(security.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(cp.getVolumeMounts()).extracting(VolumeMount::getName, VolumeMount::getMountPath)
        .containsExactly(tuple("kube-api-token", SA_DIR), tuple("tmp", "/tmp"));
    assertThat(volume(pod, "tmp").getEmptyDir()).isNotNull();

    var antiAffinity = pod.getAffinity().getPodAntiAffinity();
    assertThat(antiAffinity.getRequiredDuringSchedulingIgnoredDuringExecution()).isNullOrEmpty();
    var preferred = only(antiAffinity.getPreferredDuringSchedulingIgnoredDuringExecution()).getPodAffinityTerm();
    assertThat(preferred.getTopologyKey()).isEqualTo("kubernetes.io/hostname");
    assertThat(preferred.getLabelSelector().getMatchLabels()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
  }

  /**
   * The images run their JVM defaults from an @argument file on the entrypoint; javaOptions reach the JVM as
   * _JAVA_OPTIONS, which HotSpot reads after the command line, so they win — and only the container they name gets them.
   */
  @Test
  void javaOptionsReachOnlyTheirJvmAsJavaOptionsAfterTheImagesDefaults() {
    assertThat(containers(render(Map.of()))).allSatisfy(c -> assertThat(c.getEnv())
        .extracting(e -> e.getName()).doesNotContain("_JAVA_OPTIONS"));

    List<HasMetadata> objects = render(Map.of("controlPlane.javaOptions", "-XX:TieredStopAtLevel=4 -Xmx2g",
        "nodeProxy.javaOptions", "-Xmx512m"));
    PodSpec cp = find(objects, Deployment.class, "trellis-control-plane").getSpec().getTemplate().getSpec();
    PodSpec node = find(objects, DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();
    assertThat(only(cp.getContainers()).getEnv()).filteredOn(e -> e.getName().equals("_JAVA_OPTIONS"))
        .extracting(e -> e.getValue()).containsExactly("-XX:TieredStopAtLevel=4 -Xmx2g");
    assertThat(container(node, "node-proxy").getEnv()).filteredOn(e -> e.getName().equals("_JAVA_OPTIONS"))
        .extracting(e -> e.getValue()).containsExactly("-Xmx512m");
    assertThat(container(node, "node-agent").getEnv()).extracting(e -> e.getName()).doesNotContain("_JAVA_OPTIONS");
  }

  @Test
  void controlPlaneServiceExposesXdsXdsTlsAndAdminToTheControlPlanePods() {
    List<HasMetadata> objects = render(Map.of());
    Service service = find(objects, Service.class, "trellis-control-plane");
    Deployment deployment = find(objects, Deployment.class, "trellis-control-plane");

    assertThat(service.getSpec().getType()).isEqualTo("ClusterIP");
    assertThat(service.getSpec().getPorts()).extracting(p -> p.getName(), p -> p.getPort(), p -> p.getTargetPort().getStrVal())
        .containsExactly(tuple("grpc-xds", 15010, "grpc-xds"), tuple("grpc-xds-tls", 15012, "grpc-xds-tls"),
            tuple("http-admin", 15014, "http-admin"));
    assertThat(service.getSpec().getSelector()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
  }

  @Test
  void controlPlaneRbacIsExactlyTheLeastPrivilegeRulesOfTheContract() {
    List<HasMetadata> objects = render(Map.of());

    // Exactly the requests the code sends (recorded against the mock API server): informers list and watch,
    // status is replaced (PUT), the Lease is patched (Fabric8's LeaseLock), the trust bundle is named.
    assertThat(rules(find(objects, ClusterRole.class, "trellis-control-plane").getRules())).containsExactlyInAnyOrder(
        "/namespaces list,watch", "/pods list,watch", "/services list,watch", "/nodes list,watch",
        "discovery.k8s.io/endpointslices list,watch",
        "gateway.networking.k8s.io/httproutes list,watch",
        "gateway.networking.k8s.io/httproutes/status update",
        "mesh.trellis.dev/trafficpolicies list,watch", "mesh.trellis.dev/peerauthentications list,watch",
        "mesh.trellis.dev/authorizationpolicies list,watch",
        "mesh.trellis.dev/trafficpolicies/status update", "mesh.trellis.dev/peerauthentications/status update",
        "mesh.trellis.dev/authorizationpolicies/status update",
        "authentication.k8s.io/tokenreviews create",
        "/configmaps[trellis-ca-root-cert] delete,get,list,update",
        "/configmaps create");
    Role role = find(objects, Role.class, "trellis-control-plane");
    assertThat(role.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(rules(role.getRules())).containsExactlyInAnyOrder(
        "/secrets[trellis-ca-root] get,update", "/secrets create",
        "coordination.k8s.io/leases[trellis-control-plane-leader] get,patch", "coordination.k8s.io/leases create",
        "/pods get");

    ClusterRoleBinding clusterBinding = find(objects, ClusterRoleBinding.class, "trellis-control-plane");
    assertThat(clusterBinding.getRoleRef().getKind()).isEqualTo("ClusterRole");
    assertThat(clusterBinding.getRoleRef().getName()).isEqualTo("trellis-control-plane");
    assertThat(clusterBinding.getSubjects()).extracting(s -> s.getKind(), s -> s.getNamespace(), s -> s.getName())
        .containsExactly(tuple("ServiceAccount", NAMESPACE, "trellis-control-plane"));
    RoleBinding binding = find(objects, RoleBinding.class, "trellis-control-plane");
    assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(binding.getRoleRef().getName()).isEqualTo("trellis-control-plane");
    assertThat(binding.getSubjects()).extracting(s -> s.getKind(), s -> s.getNamespace(), s -> s.getName())
        .containsExactly(tuple("ServiceAccount", NAMESPACE, "trellis-control-plane"));
    assertThat(find(objects, ServiceAccount.class, "trellis-control-plane")).isNotNull();
  }

  @Test
  void nodeProxyMayOnlyReadPodsAndNamespacesAndItsOwnDaemonSet() {
    List<HasMetadata> objects = render(Map.of());

    assertThat(rules(find(objects, ClusterRole.class, "trellis-node-proxy").getRules()))
        .containsExactlyInAnyOrder("/pods list,watch", "/namespaces list,watch");
    ClusterRoleBinding binding = find(objects, ClusterRoleBinding.class, "trellis-node-proxy");
    assertThat(binding.getRoleRef().getName()).isEqualTo("trellis-node-proxy");
    assertThat(binding.getSubjects()).extracting(s -> s.getKind(), s -> s.getNamespace(), s -> s.getName())
        .containsExactly(tuple("ServiceAccount", NAMESPACE, "trellis-node-proxy"));
    Role own = find(objects, Role.class, "trellis-node-proxy");
    assertThat(own.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(rules(own.getRules())).as("its own pod and DaemonSet: restart or uninstall?")
        .containsExactlyInAnyOrder("/pods get", "apps/daemonsets[trellis-node-proxy] get");
    RoleBinding ownBinding = find(objects, RoleBinding.class, "trellis-node-proxy");
    assertThat(ownBinding.getRoleRef().getName()).isEqualTo("trellis-node-proxy");
    assertThat(ownBinding.getSubjects()).extracting(s -> s.getKind(), s -> s.getNamespace(), s -> s.getName())
        .containsExactly(tuple("ServiceAccount", NAMESPACE, "trellis-node-proxy"));
  }

  @Test
  void nodeProxyDaemonSetIsHostNetworkedWithTheCaTokenCapabilitiesAndHostMountsOfTheContract() {
    DaemonSet daemonSet = find(render(Map.of()), DaemonSet.class, "trellis-node-proxy");
    PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();

    assertThat(pod.getHostNetwork()).isTrue();
    assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
    assertThat(pod.getServiceAccountName()).isEqualTo("trellis-node-proxy");
    assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
    assertThat(pod.getTerminationGracePeriodSeconds()).isEqualTo(30L);
    assertThat(pod.getTolerations()).extracting(t -> t.getOperator(), t -> t.getKey(), t -> t.getEffect())
        .containsExactly(tuple("Exists", null, null));
    assertThat(daemonSet.getSpec().getUpdateStrategy().getType()).isEqualTo("RollingUpdate");
    // An upgrade surges: the new pod runs beside the old one (both bind the same ports with SO_REUSEPORT), which the
    // scheduler allows only when no container declares a port (with hostNetwork each would be a hostPort).
    assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxSurge().getIntVal()).isEqualTo(1);
    assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isZero();
    assertThat(pod.getContainers()).allSatisfy(c -> assertThat(c.getPorts()).as(c.getName() + " ports").isEmpty());
    assertThat(pod.getInitContainers()).allSatisfy(c -> assertThat(c.getPorts()).as(c.getName() + " ports").isEmpty());

    var token = only(volume(pod, "trellis-token").getProjected().getSources()).getServiceAccountToken();
    assertThat(token.getAudience()).isEqualTo("trellis-ca");
    assertThat(token.getExpirationSeconds()).isEqualTo(3600L);
    assertThat(token.getPath()).isEqualTo("token");
    var bundle = volume(pod, "trellis-ca").getConfigMap();
    assertThat(bundle.getName()).isEqualTo("trellis-ca-root-cert");
    assertThat(bundle.getOptional()).isTrue();
    assertThat(bundle.getItems()).extracting(i -> i.getKey()).containsExactly("root-cert.pem");
    assertThat(hostPaths(pod)).containsEntry("bpffs", "/sys/fs/bpf").containsEntry("cgroup", "/sys/fs/cgroup")
        .containsEntry("trellis-run", "/var/run/trellis").containsEntry("cni-bin", "/opt/cni/bin")
        .containsEntry("cni-conf", "/etc/cni/net.d");
    assertThat(volume(pod, "trellis-run").getHostPath().getType()).isEqualTo("DirectoryOrCreate");

    Container proxy = container(pod, "node-proxy");
    assertThat(proxy.getImage()).isEqualTo("ghcr.io/trellis-mesh/node-proxy:0.1.0");
    assertThat(proxy.getCommand()).isNullOrEmpty();
    assertThat(proxy.getArgs()).containsExactly("--node", "$(NODE_NAME)", "--address", "$(HOST_IP)",
        "--control-plane", "trellis-control-plane.trellis-system.svc:15012",
        "--control-plane-ca", "/var/run/trellis/ca/root-cert.pem",
        "--token-file", "/var/run/secrets/trellis/token", "--capture", "transparent", "--drain-timeout", "20s",
        "--listen-after-ready", "60s",
        "--ebpf-pins", "/sys/fs/bpf/trellis", "--tracing-sampling", "0.01");
    assertThat(proxy.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
    assertThat(proxy.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15020);
    assertThat(mounts(proxy)).containsOnly(entry("trellis-token", "/var/run/secrets/trellis"),
        entry("trellis-ca", "/var/run/trellis/ca"), entry("bpffs", "/sys/fs/bpf"), entry("tmp", "/tmp"));
    assertThat(mount(proxy, "bpffs").getReadOnly()).as("the proxy only reads the pinned map").isTrue();

    Container agent = container(pod, "node-agent");
    assertThat(agent.getImage()).isEqualTo(proxy.getImage());
    assertThat(agent.getCommand()).containsExactly("java", "--enable-native-access=ALL-UNNAMED", "-cp",
        "@/app/jib-classpath-file", "dev.trellis.proxy.NodeAgentMain");
    assertThat(agent.getArgs()).containsExactly("--kubernetes", "--node", "$(NODE_NAME)",
        "--socket", "/var/run/trellis/cni.sock", "--redirect", "auto", "--proxy-address", "$(HOST_IP)",
        "--state-file", "/var/run/trellis/agent-state.json", "--ebpf-pins", "/sys/fs/bpf/trellis",
        "--cni-bin-dir", "/host/opt/cni/bin", "--cni-conf-dir", "/host/etc/cni/net.d",
        "--cni-plugin-dir", "/opt/trellis/cni");
    assertThat(mounts(agent)).containsOnly(entry("kube-api-token", SA_DIR), entry("bpffs", "/sys/fs/bpf"),
        entry("cgroup", "/sys/fs/cgroup"), entry("trellis-run", "/var/run/trellis"),
        entry("cni-bin", "/host/opt/cni/bin"), entry("cni-conf", "/host/etc/cni/net.d"), entry("agent-tmp", "/tmp"));
    assertThat(mount(agent, "cgroup").getReadOnly()).isTrue();
    assertThat(mount(agent, "bpffs").getReadOnly()).as("it pins and unpins").isNotEqualTo(Boolean.TRUE);
    assertThat(List.of(volume(pod, "tmp"), volume(pod, "agent-tmp"))).as("a /tmp each, none shared")
        .allSatisfy(v -> assertThat(v.getEmptyDir()).isNotNull());

    for (Container c : List.of(proxy, agent)) {
      assertThat(c.getEnv()).extracting(e -> e.getName(), e -> e.getValueFrom() == null ? e.getValue()
              : e.getValueFrom().getFieldRef().getFieldPath())
          .as(c.getName()).contains(tuple("NODE_NAME", "spec.nodeName"), tuple("HOST_IP", "status.hostIP"),
              tuple("POD_NAME", "metadata.name"), tuple("POD_NAMESPACE", "metadata.namespace"));
      var security = c.getSecurityContext();
      assertThat(security.getPrivileged()).as(c.getName()).isNotEqualTo(Boolean.TRUE);
      assertThat(security.getRunAsUser()).as("%s: added capabilities are effective for UID 0 only", c.getName())
          .isEqualTo(0L);
      assertThat(security.getRunAsNonRoot()).as(c.getName()).isFalse();
      // Bidirectional propagation is only allowed in privileged containers.
      assertThat(c.getVolumeMounts()).as(c.getName())
          .allSatisfy(m -> assertThat(m.getMountPropagation()).isNotEqualTo("Bidirectional"));
    }
  }

  // Least privilege (docs/security.md, section 8): each assertion below is one fact of that section.

  @ParameterizedTest(name = "redirect.mode={0}")
  @CsvSource({"auto, 'NET_ADMIN,BPF', 'NET_ADMIN,BPF'", "ebpf, 'NET_ADMIN,BPF', 'NET_ADMIN,BPF'",
      "nftables, NET_ADMIN, NET_ADMIN"})
  void eachContainerDropsEveryCapabilityAndAddsOnlyWhatItsCodeUses(String mode, String proxyCaps, String agentCaps) {
    List<HasMetadata> objects = render(Map.of("redirect.mode", mode));
    PodSpec node = find(objects, DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();
    PodSpec cp = find(objects, Deployment.class, "trellis-control-plane").getSpec().getTemplate().getSpec();

    // node-proxy: IP_TRANSPARENT (NET_ADMIN); bpf() on the pinned orig_dst map in eBPF modes (BPF).
    // node-agent: nft/ip over netlink and cgroup/sockops program types (NET_ADMIN); maps, programs, pins (BPF).
    assertThat(container(node, "node-proxy").getSecurityContext().getCapabilities().getAdd())
        .containsExactly(proxyCaps.split(","));
    assertThat(container(node, "node-agent").getSecurityContext().getCapabilities().getAdd())
        .containsExactly(agentCaps.split(","));
    assertThat(only(cp.getContainers()).getSecurityContext().getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(containers(objects)).allSatisfy(c -> {
      assertThat(c.getSecurityContext().getCapabilities().getDrop()).as(c.getName()).containsExactly("ALL");
      assertThat(c.getSecurityContext().getCapabilities().getAdd()).as(c.getName())
          .doesNotContain("SYS_ADMIN", "CAP_SYS_ADMIN", "PERFMON", "NET_RAW", "SYS_PTRACE", "DAC_OVERRIDE", "ALL");
    });
    boolean ebpf = !mode.equals("nftables");
    assertThat(mounts(container(node, "node-proxy")).containsKey("bpffs")).as("bpffs in the proxy").isEqualTo(ebpf);
    assertThat(mounts(container(node, "node-agent"))).as("the agent unlinks old pins in nftables mode too")
        .containsEntry("bpffs", "/sys/fs/bpf");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"defaults", "redirect.mode=nftables", "cni.enabled=false", "controlPlane.replicas=1"})
  void everyContainerRunsWithoutPrivilegeEscalationOnAReadOnlyRootUnderRuntimeDefaultSeccomp(String set) {
    Map<String, String> values = set.equals("defaults") ? Map.of() : Map.of(set.split("=")[0], set.split("=")[1]);
    List<HasMetadata> objects = render(values);

    for (PodSpec pod : pods(objects)) {
      assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
      assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
      assertThat(pod.getHostIPC()).isNotEqualTo(Boolean.TRUE);
      for (Container c : pod.getContainers()) {
        var security = c.getSecurityContext();
        assertThat(security.getAllowPrivilegeEscalation()).as(c.getName()).isFalse();
        assertThat(security.getReadOnlyRootFilesystem()).as(c.getName()).isTrue();
        assertThat(security.getPrivileged()).as(c.getName()).isNotEqualTo(Boolean.TRUE);
        assertThat(security.getSeccompProfile()).as(c.getName())
            .satisfiesAnyOf(p -> assertThat(p).isNull(), p -> assertThat(p.getType()).isEqualTo("RuntimeDefault"));
        // What the processes write: the JVM's hsperfdata, Netty's native library and the agent's extracted BPF
        // object in /tmp, an emptyDir of its own per container; everything else they write is a host path.
        VolumeMount tmp = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/tmp")).findFirst()
            .orElseThrow(() -> new AssertionError(c.getName() + " has no writable /tmp"));
        assertThat(volume(pod, tmp.getName()).getEmptyDir()).as(c.getName()).isNotNull();
      }
      assertThat(pod.getContainers()).extracting(c -> mount(c, c.getVolumeMounts().stream()
              .filter(m -> m.getMountPath().equals("/tmp")).findFirst().orElseThrow().getName()).getName())
          .doesNotHaveDuplicates();
    }
    Container cp = only(find(objects, Deployment.class, "trellis-control-plane").getSpec().getTemplate().getSpec()
        .getContainers());
    assertThat(cp.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(cp.getSecurityContext().getRunAsUser()).isEqualTo(65532L);
  }

  @Test
  void noTokenIsMountedByDefaultAndOnlyTheContainersThatCallTheApiServerGetOne() {
    List<HasMetadata> objects = render(Map.of());

    assertThat(objects).filteredOn(o -> o instanceof ServiceAccount).hasSize(2)
        .allSatisfy(o -> assertThat(((ServiceAccount) o).getAutomountServiceAccountToken()).isFalse());
    for (PodSpec pod : pods(objects)) {
      assertThat(pod.getAutomountServiceAccountToken()).isFalse();
    }
    // The control plane (informers, TokenReview, Secret, Lease, status) and the node agent (informers, its
    // DaemonSet) call the API server; the node proxy does not, and holds only the trellis-ca token.
    assertThat(containers(objects)).filteredOn(c -> c.getVolumeMounts().stream()
            .anyMatch(m -> m.getMountPath().equals(SA_DIR))).extracting(Container::getName)
        .containsExactlyInAnyOrder("control-plane", "node-agent");
    for (PodSpec pod : pods(objects)) {
      for (Container c : pod.getContainers()) {
        c.getVolumeMounts().stream().filter(m -> m.getName().equals("kube-api-token")).forEach(m -> {
          assertThat(m.getMountPath()).isEqualTo(SA_DIR);
          assertThat(m.getReadOnly()).isTrue();
        });
      }
      if (pod.getVolumes().stream().anyMatch(v -> v.getName().equals("kube-api-token"))) {
        var sources = volume(pod, "kube-api-token").getProjected().getSources();
        assertThat(sources).hasSize(3);
        assertThat(sources.get(0).getServiceAccountToken().getAudience()).as("the API server's own").isNull();
        assertThat(sources.get(0).getServiceAccountToken().getExpirationSeconds()).isEqualTo(3600L);
        assertThat(sources.get(0).getServiceAccountToken().getPath()).isEqualTo("token");
        assertThat(sources.get(1).getConfigMap().getName()).isEqualTo("kube-root-ca.crt");
        assertThat(sources.get(1).getConfigMap().getItems()).extracting(i -> i.getKey(), i -> i.getPath())
            .containsExactly(tuple("ca.crt", "ca.crt"));
        assertThat(only(sources.get(2).getDownwardAPI().getItems()).getFieldRef().getFieldPath())
            .isEqualTo("metadata.namespace");
      }
    }
    PodSpec node = find(objects, DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();
    assertThat(mounts(container(node, "node-proxy"))).doesNotContainKey("kube-api-token")
        .containsEntry("trellis-token", "/var/run/secrets/trellis");
    assertThat(only(volume(node, "trellis-token").getProjected().getSources()).getServiceAccountToken().getAudience())
        .as("a token the API server refuses").isEqualTo("trellis-ca");
  }

  @Test
  void noRuleHasWildcardsSecretsAreNamedInTheOwnNamespaceAndEveryClusterWideWriteIsNamedButCreate() {
    List<HasMetadata> objects = render(Map.of());
    List<String> writes = List.of("create", "update", "patch", "delete", "deletecollection");

    List<PolicyRule> all = new ArrayList<>();
    objects.stream().filter(o -> o instanceof ClusterRole).forEach(o -> all.addAll(((ClusterRole) o).getRules()));
    List<PolicyRule> namespaced = new ArrayList<>();
    objects.stream().filter(o -> o instanceof Role).forEach(o -> namespaced.addAll(((Role) o).getRules()));
    all.addAll(namespaced);
    assertThat(all).isNotEmpty().allSatisfy(r -> {
      assertThat(r.getVerbs()).doesNotContain("*", "escalate", "bind", "impersonate", "deletecollection");
      assertThat(r.getResources()).doesNotContain("*");
      assertThat(r.getApiGroups()).doesNotContain("*");
    });
    List<String> clusterWrites = new ArrayList<>();
    objects.stream().filter(o -> o instanceof ClusterRole).flatMap(o -> ((ClusterRole) o).getRules().stream())
        .forEach(r -> {
          assertThat(r.getResources()).as("no Secret cluster-wide").doesNotContain("secrets");
          r.getResources().stream().filter(res -> !res.endsWith("/status")).forEach(res -> r.getVerbs().stream()
              .filter(writes::contains).filter(v -> r.getResourceNames() == null || r.getResourceNames().isEmpty())
              .forEach(v -> clusterWrites.add(v + " " + res)));
        });
    // RBAC cannot confine create to a name; TokenReviews are not stored. The admission policy takes the first back.
    assertThat(clusterWrites).as("cluster-wide writes not limited by name")
        .containsExactlyInAnyOrder("create configmaps", "create tokenreviews");
    assertThat(namespaced).filteredOn(r -> r.getResources().contains("secrets")).allSatisfy(r ->
        assertThat(r.getResourceNames() == null || r.getResourceNames().isEmpty() ? r.getVerbs()
            : List.of("create")).containsExactly("create"));
    assertThat(rules(find(objects, Role.class, "trellis-control-plane").getRules()))
        .filteredOn(r -> r.startsWith("/secrets")).containsExactlyInAnyOrder("/secrets[trellis-ca-root] get,update",
            "/secrets create");
  }

  @Test
  void onKubernetes130AnAdmissionPolicyLetsTheControlPlaneCreateOnlyItsOwnThreeObjects() {
    List<HasMetadata> objects = render(Map.of());
    ValidatingAdmissionPolicy policy = find(objects, ValidatingAdmissionPolicy.class, "trellis-control-plane");
    ValidatingAdmissionPolicyBinding binding = find(objects, ValidatingAdmissionPolicyBinding.class,
        "trellis-control-plane");

    assertThat(binding.getSpec().getPolicyName()).isEqualTo("trellis-control-plane");
    assertThat(binding.getSpec().getValidationActions()).containsExactly("Deny");
    assertThat(policy.getSpec().getFailurePolicy()).isEqualTo("Fail");
    assertThat(policy.getSpec().getMatchConstraints().getResourceRules())
        .extracting(r -> r.getApiGroups(), r -> r.getOperations(), r -> r.getResources())
        .containsExactly(tuple(List.of(""), List.of("CREATE"), List.of("configmaps", "secrets")),
            tuple(List.of("coordination.k8s.io"), List.of("CREATE"), List.of("leases")));
    String match = only(policy.getSpec().getMatchConditions()).getExpression();
    String cp = "system:serviceaccount:trellis-system:trellis-control-plane";
    assertThat(AdmissionCel.eval(match, new Create(cp, "configmaps", "shop", "x"))).isEqualTo(true);
    assertThat(AdmissionCel.eval(match, new Create("system:serviceaccount:trellis-system:trellis-node-proxy",
        "configmaps", "shop", "trellis-ca-root-cert"))).isEqualTo(false);
    assertThat(AdmissionCel.eval(match, new Create("kubernetes-admin", "secrets", "trellis-system", "x")))
        .isEqualTo(false);

    var validation = only(policy.getSpec().getValidations());
    Map<Create, Boolean> cases = new LinkedHashMap<>();
    cases.put(new Create(cp, "configmaps", "shop", "trellis-ca-root-cert"), true);
    cases.put(new Create(cp, "configmaps", "trellis-system", "trellis-ca-root-cert"), true);
    cases.put(new Create(cp, "secrets", "trellis-system", "trellis-ca-root"), true);
    cases.put(new Create(cp, "leases", "trellis-system", "trellis-control-plane-leader"), true);
    cases.put(new Create(cp, "configmaps", "kube-system", "coredns"), false);
    cases.put(new Create(cp, "configmaps", "trellis-system", "trellis-ca-root"), false);
    cases.put(new Create(cp, "secrets", "trellis-system", "stolen"), false);
    cases.put(new Create(cp, "secrets", "shop", "trellis-ca-root"), false);
    cases.put(new Create(cp, "leases", "kube-system", "trellis-control-plane-leader"), false);
    cases.put(new Create(cp, "leases", "trellis-system", "kube-scheduler"), false);
    cases.forEach((request, admitted) -> assertThat(AdmissionCel.eval(validation.getExpression(), request))
        .as("%s", request).isEqualTo(admitted));
    assertThat(AdmissionCel.eval(validation.getMessageExpression(), new Create(cp, "secrets", "shop", "trellis-ca-root")))
        .asString().contains("trellis-system/trellis-ca-root").endsWith("not secrets shop/trellis-ca-root");
  }

  @Test
  void belowKubernetes130OrSwitchedOffNoAdmissionPolicyIsRendered() {
    assertThat(render("1.29.4", Map.of())).noneMatch(o -> o.getKind().startsWith("ValidatingAdmissionPolicy"));
    assertThat(render(Map.of("controlPlane.admissionPolicy.enabled", "false")))
        .noneMatch(o -> o.getKind().startsWith("ValidatingAdmissionPolicy"));
    assertThat(render("1.30.0", Map.of())).filteredOn(o -> o.getKind().startsWith("ValidatingAdmissionPolicy"))
        .hasSize(2);
  }

  @Test
  void theControlPlaneNetworkPolicyIsOptionalAndAdmitsNodesToXdsTlsClientsToXdsAndMonitoringToAdmin() {
    assertThat(render(Map.of())).as("off by default").noneMatch(o -> o instanceof NetworkPolicy);

    List<HasMetadata> objects = render(Map.of("controlPlane.networkPolicy.enabled", "true",
        "controlPlane.networkPolicy.nodeCidrs[0]", "10.0.0.0/16", "controlPlane.networkPolicy.nodeCidrs[1]", "fd00::/64",
        "controlPlane.networkPolicy.xdsClients.namespaceSelector.matchLabels.trellis\\.dev/xds-client", "yes",
        "controlPlane.networkPolicy.monitoring.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name",
        "monitoring",
        "controlPlane.networkPolicy.monitoring.podSelector.matchLabels.app\\.kubernetes\\.io/name", "prometheus"));
    NetworkPolicy policy = find(objects, NetworkPolicy.class, "trellis-control-plane");
    Deployment deployment = find(objects, Deployment.class, "trellis-control-plane");
    DaemonSet daemonSet = find(objects, DaemonSet.class, "trellis-node-proxy");

    assertThat(policy.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    assertThat(policy.getSpec().getPolicyTypes()).containsExactly("Ingress");
    var ingress = policy.getSpec().getIngress();
    assertThat(ingress).extracting(r -> r.getPorts().stream().map(p -> p.getPort().getIntVal() + "/" + p.getProtocol())
        .toList()).containsExactly(List.of("15012/TCP"), List.of("15010/TCP", "15012/TCP"), List.of("15014/TCP"));
    var nodes = ingress.get(0).getFrom();
    assertThat(nodes).extracting(p -> p.getIpBlock() == null ? null : p.getIpBlock().getCidr())
        .containsExactly("10.0.0.0/16", "fd00::/64", null);
    assertThat(nodes.get(2).getPodSelector().getMatchLabels())
        .isEqualTo(daemonSet.getSpec().getSelector().getMatchLabels());
    assertThat(nodes.get(2).getNamespaceSelector()).as("this namespace's node proxies").isNull();
    var xds = only(ingress.get(1).getFrom());
    assertThat(xds.getNamespaceSelector().getMatchLabels()).isEqualTo(Map.of("trellis.dev/xds-client", "yes"));
    assertThat(xds.getPodSelector()).isNull();
    var monitoring = only(ingress.get(2).getFrom());
    assertThat(monitoring.getNamespaceSelector().getMatchLabels())
        .isEqualTo(Map.of("kubernetes.io/metadata.name", "monitoring"));
    assertThat(monitoring.getPodSelector().getMatchLabels()).isEqualTo(Map.of("app.kubernetes.io/name", "prometheus"));

    NetworkPolicy minimal = find(render(Map.of("controlPlane.networkPolicy.enabled", "true",
        "controlPlane.networkPolicy.nodeCidrs[0]", "10.0.0.0/16")), NetworkPolicy.class, "trellis-control-plane");
    assertThat(minimal.getSpec().getIngress()).as("no selector given: node proxies only, admin closed").hasSize(1);
    assertThat(only(minimal.getSpec().getIngress()).getPorts()).extracting(p -> p.getPort().getIntVal())
        .containsExactly(15012);
  }

  @Test
  void anEnabledNetworkPolicyWithoutNodeRangesOrWithABadSelectorIsRejectedNamingTheField() {
    assertThatThrownBy(() -> render(Map.of("controlPlane.networkPolicy.enabled", "true")))
        .hasMessageContaining("controlPlane.networkPolicy.nodeCidrs").hasMessageContaining("host network");
    assertThatThrownBy(() -> render(Map.of("controlPlane.networkPolicy.nodeCidrs[0]", "10.0.0.0")))
        .hasMessageContaining("/controlPlane/networkPolicy/nodeCidrs/0");
    assertThatThrownBy(() -> render(Map.of("controlPlane.networkPolicy.monitoring.namespaceSelector.matchLabel.a", "b")))
        .hasMessageContaining("/controlPlane/networkPolicy/monitoring/namespaceSelector").hasMessageContaining("matchLabel");
  }

  @Test
  void theNodeProxysGracePeriodOutlastsItsDrainTimeout() {
    PodSpec defaults = find(render(Map.of()), DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();
    assertThat(container(defaults, "node-proxy").getArgs()).containsSubsequence("--drain-timeout", "20s");
    assertThat(defaults.getTerminationGracePeriodSeconds()).isEqualTo(30L);
    PodSpec longer = find(render(Map.of("nodeProxy.drainTimeoutSeconds", "45")), DaemonSet.class, "trellis-node-proxy")
        .getSpec().getTemplate().getSpec();
    assertThat(container(longer, "node-proxy").getArgs()).containsSubsequence("--drain-timeout", "45s");
    assertThat(longer.getTerminationGracePeriodSeconds()).as("the kubelet waits longer than the drain")
        .isEqualTo(55L);
  }

  @Test
  void telemetryValuesBecomeTheNodeProxysFlags() {
    PodSpec defaults = find(render(Map.of()), DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();
    assertThat(container(defaults, "node-proxy").getArgs()).containsSubsequence("--tracing-sampling", "0.01")
        .doesNotContain("--zipkin", "--otlp-grpc", "--otlp-http", "--access-log", "--telemetry");
    PodSpec traced = find(render(Map.of("telemetry.tracing.zipkin", "http://zipkin.obs:9411/api/v2/spans",
        "telemetry.tracing.otlpGrpc", "http://collector.obs:4317", "telemetry.tracing.sampling", "1",
        "telemetry.accessLog.sink", "stdout", "telemetry.accessLog.sampling", "0.5")), DaemonSet.class,
        "trellis-node-proxy").getSpec().getTemplate().getSpec();
    assertThat(container(traced, "node-proxy").getArgs())
        .containsSubsequence("--tracing-sampling", "1")
        .containsSubsequence("--otlp-grpc", "http://collector.obs:4317")
        .containsSubsequence("--zipkin", "http://zipkin.obs:9411/api/v2/spans")
        .containsSubsequence("--access-log", "stdout", "--access-log-sampling", "0.5");
    PodSpec off = find(render(Map.of("telemetry.enabled", "false")), DaemonSet.class, "trellis-node-proxy").getSpec()
        .getTemplate().getSpec();
    assertThat(container(off, "node-proxy").getArgs()).containsSubsequence("--telemetry", "off")
        .doesNotContain("--tracing-sampling");
  }

  @Test
  void anonymousXdsIsOffUnlessTheValueTurnsItOn() {
    Container off = only(find(render(Map.of()), Deployment.class, "trellis-control-plane").getSpec().getTemplate()
        .getSpec().getContainers());
    assertThat(off.getArgs()).doesNotContain("--anonymous-xds");
    Container on = only(find(render(Map.of("controlPlane.anonymousXds", "true")), Deployment.class,
        "trellis-control-plane").getSpec().getTemplate().getSpec().getContainers());
    assertThat(on.getArgs()).endsWith("--cluster-domain", "cluster.local", "--anonymous-xds");
  }

  @Test
  void passthroughFromThePodsNamespaceIsOptInAndBringsSysAdminWithTheNamespaceMounts() {
    Container off = container(find(render(Map.of()), DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec(), "node-proxy");
    assertThat(off.getArgs()).doesNotContain("--agent-state");
    assertThat(off.getSecurityContext().getCapabilities().getAdd()).doesNotContain("SYS_ADMIN");
    assertThat(mounts(off)).doesNotContainKeys("trellis-run", "netns");

    PodSpec pod = find(render(Map.of("nodeProxy.egressFromPodNamespace", "true")), DaemonSet.class,
        "trellis-node-proxy").getSpec().getTemplate().getSpec();
    Container on = container(pod, "node-proxy");
    assertThat(on.getArgs()).containsSubsequence("--agent-state", "/var/run/trellis/agent/agent-state.json");
    assertThat(on.getSecurityContext().getCapabilities().getAdd()).contains("SYS_ADMIN", "NET_ADMIN");
    assertThat(on.getSecurityContext().getAllowPrivilegeEscalation())
        .as("the API server refuses no_new_privs beside SYS_ADMIN").isTrue();
    assertThat(mounts(on)).containsEntry("trellis-run", "/var/run/trellis/agent")
        .containsEntry("netns", "/var/run/netns");
    assertThat(mount(on, "trellis-run").getReadOnly()).as("the proxy only reads the agent's state").isTrue();
    assertThat(mount(on, "netns").getReadOnly()).isTrue();
    assertThat(mount(on, "netns").getMountPropagation()).as("namespaces of pods started later")
        .isEqualTo("HostToContainer");
    assertThat(hostPaths(pod)).containsEntry("netns", "/var/run/netns");
    Container agent = container(pod, "node-agent");
    assertThat(agent.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(agent.getSecurityContext().getCapabilities().getAdd()).doesNotContain("SYS_ADMIN");
  }

  @Test
  void theEgressAllowListBecomesTheControlPlanesFlagAndIsAbsentByDefault() {
    Container cp = only(find(render(Map.of("egress.allowCidrs[0]", "169.254.169.254/32",
        "egress.allowCidrs[1]", "10.0.0.0/8")), Deployment.class,
        "trellis-control-plane").getSpec().getTemplate().getSpec().getContainers());
    assertThat(cp.getArgs()).endsWith("--egress-allow-cidrs", "169.254.169.254/32,10.0.0.0/8");
    assertThat(only(find(render(Map.of()), Deployment.class, "trellis-control-plane").getSpec().getTemplate().getSpec()
        .getContainers()).getArgs()).doesNotContain("--egress-allow-cidrs");
    assertThatThrownBy(() -> render(Map.of("egress.allowCidrs[0]", "metadata.internal")))
        .hasMessageContaining("egress/allowCidrs");
  }

  @Test
  void aTracingEndpointThatIsNotAUrlIsRejectedNamingTheField() {
    assertThatThrownBy(() -> render(Map.of("telemetry.tracing.zipkin", "zipkin:9411")))
        .hasMessageContaining("telemetry/tracing/zipkin");
  }

  @Test
  void nftablesModeDropsTheEbpfPinsFromTheProxyAndPassesTheModeToTheAgent() {
    PodSpec pod = find(render(Map.of("redirect.mode", "nftables")), DaemonSet.class, "trellis-node-proxy")
        .getSpec().getTemplate().getSpec();

    assertThat(container(pod, "node-proxy").getArgs()).doesNotContain("--ebpf-pins").containsSubsequence("--capture",
        "transparent");
    assertThat(mounts(container(pod, "node-proxy"))).doesNotContainKey("bpffs");
    assertThat(container(pod, "node-agent").getArgs()).containsSubsequence("--redirect", "nftables");
  }

  @Test
  void withoutCniTheAgentGetsNoCniFlagsAndTheHostCniFoldersAreNotMounted() {
    PodSpec pod = find(render(Map.of("cni.enabled", "false")), DaemonSet.class, "trellis-node-proxy")
        .getSpec().getTemplate().getSpec();

    Container agent = container(pod, "node-agent");
    assertThat(agent.getArgs()).noneMatch(a -> a.startsWith("--cni-"));
    assertThat(agent.getArgs()).contains("--socket", "--ebpf-pins");
    assertThat(pod.getVolumes()).extracting(Volume::getName).doesNotContain("cni-bin", "cni-conf");
    assertThat(pod.getContainers()).flatExtracting(Container::getVolumeMounts)
        .noneMatch(m -> m.getMountPath().startsWith("/host/"));
  }

  @Test
  void customCniFoldersAreTheHostPathsWhileTheAgentSeesThemUnderHost() {
    PodSpec pod = find(render(Map.of("cni.binDir", "/home/kubernetes/bin", "cni.confDir", "/etc/cni/custom.d")),
        DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();

    assertThat(hostPaths(pod)).containsEntry("cni-bin", "/home/kubernetes/bin").containsEntry("cni-conf", "/etc/cni/custom.d");
    assertThat(container(pod, "node-agent").getArgs())
        .containsSubsequence("--cni-bin-dir", "/host/opt/cni/bin", "--cni-conf-dir", "/host/etc/cni/net.d");
  }

  @Test
  void threeReplicasFromACustomRegistryAndTagKeepAPodDisruptionBudget() {
    List<HasMetadata> objects = render(Map.of("controlPlane.replicas", "3", "image.registry", "registry.example.com/mesh",
        "image.tag", "1.2.3-rc1", "imagePullSecrets[0]", "regcred", "trustDomain", "prod.example.org",
        "logLevel", "debug"));
    Deployment deployment = find(objects, Deployment.class, "trellis-control-plane");
    PodSpec cpPod = deployment.getSpec().getTemplate().getSpec();
    PodSpec nodePod = find(objects, DaemonSet.class, "trellis-node-proxy").getSpec().getTemplate().getSpec();

    assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
    assertThat(only(cpPod.getContainers()).getImage()).isEqualTo("registry.example.com/mesh/control-plane:1.2.3-rc1");
    assertThat(only(cpPod.getContainers()).getArgs()).containsSubsequence("--trust-domain", "prod.example.org");
    assertThat(nodePod.getContainers()).extracting(Container::getImage)
        .containsOnly("registry.example.com/mesh/node-proxy:1.2.3-rc1");
    assertThat(List.of(cpPod, nodePod)).allSatisfy(p -> assertThat(p.getImagePullSecrets()).extracting(s -> s.getName())
        .containsExactly("regcred"));
    assertThat(nodePod.getContainers()).allSatisfy(c -> assertThat(c.getEnv())
        .anyMatch(e -> e.getName().equals("TRELLIS_LOG_LEVEL") && e.getValue().equals("debug")));
    PodDisruptionBudget pdb = find(objects, PodDisruptionBudget.class, "trellis-control-plane");
    assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
    assertThat(pdb.getSpec().getSelector().getMatchLabels()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
  }

  @Test
  void oneReplicaRendersNoPodDisruptionBudget() {
    List<HasMetadata> objects = render(Map.of("controlPlane.replicas", "1"));

    assertThat(find(objects, Deployment.class, "trellis-control-plane").getSpec().getReplicas()).isEqualTo(1);
    assertThat(objects).noneMatch(o -> o instanceof PodDisruptionBudget);
  }

  @Test
  void disabledPodDisruptionBudgetIsNotRenderedEvenWithReplicas() {
    assertThat(render(Map.of("controlPlane.podDisruptionBudget.enabled", "false")))
        .noneMatch(o -> o instanceof PodDisruptionBudget);
  }

  @Test
  void anUnknownRedirectModeIsRejectedNamingTheField() {
    assertThatThrownBy(() -> render(Map.of("redirect.mode", "bogus")))
        .hasMessageContaining("/redirect/mode").hasMessageContaining("auto").hasMessageContaining("nftables");
  }

  @Test
  void aMisspelledKeyIsRejectedNamingTheKey() {
    assertThatThrownBy(() -> render(Map.of("controlPlane.replica", "3")))
        .hasMessageContaining("/controlPlane").hasMessageContaining("replica");
    assertThatThrownBy(() -> render(Map.of("cni.binDirectory", "/opt/cni/bin")))
        .hasMessageContaining("/cni").hasMessageContaining("binDirectory");
  }

  @Test
  void aReplicaCountBelowOneIsRejected() {
    assertThatThrownBy(() -> render(Map.of("controlPlane.replicas", "0")))
        .hasMessageContaining("/controlPlane/replicas");
  }

  @Test
  void crdsAreTheThreeMeshKindsServedAndStoredAsV1alpha1WithStatusAndPrinterColumns() throws IOException {
    Map<String, CustomResourceDefinition> crds = crds();

    assertThat(crds).containsOnlyKeys("trafficpolicies.mesh.trellis.dev", "peerauthentications.mesh.trellis.dev",
        "authorizationpolicies.mesh.trellis.dev");
    assertThat(crds.values()).extracting(c -> c.getSpec().getNames().getKind(), c -> c.getSpec().getNames().getShortNames())
        .containsExactlyInAnyOrder(tuple("TrafficPolicy", List.of("tp")), tuple("PeerAuthentication", List.of("pa")),
            tuple("AuthorizationPolicy", List.of("ap")));
    for (CustomResourceDefinition crd : crds.values()) {
      assertThat(crd.getApiVersion()).isEqualTo("apiextensions.k8s.io/v1");
      assertThat(crd.getSpec().getGroup()).isEqualTo("mesh.trellis.dev");
      assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
      CustomResourceDefinitionVersion version = only(crd.getSpec().getVersions());
      assertThat(version.getName()).isEqualTo("v1alpha1");
      assertThat(version.getServed()).isTrue();
      assertThat(version.getStorage()).isTrue();
      assertThat(version.getSubresources().getStatus()).as(crd.getMetadata().getName()).isNotNull();
      assertThat(version.getAdditionalPrinterColumns()).extracting(c -> c.getName(), c -> c.getJsonPath())
          .containsExactly(tuple("Accepted", ".status.conditions[?(@.type==\"Accepted\")].status"),
              tuple("Age", ".metadata.creationTimestamp"));
      JSONSchemaProps conditions = property(version.getSchema().getOpenAPIV3Schema(), "status", "conditions");
      assertThat(conditions.getType()).isEqualTo("array");
      assertThat(conditions.getXKubernetesListMapKeys()).containsExactly("type");
      JSONSchemaProps condition = conditions.getItems().getSchema();
      assertThat(condition.getProperties()).containsOnlyKeys("type", "status", "reason", "message",
          "observedGeneration", "lastTransitionTime");
      assertThat(condition.getRequired()).contains("type", "status", "reason", "lastTransitionTime");
      assertThat(condition.getProperties().get("status").getEnum()).extracting(JsonNode::asText)
          .containsExactly("True", "False", "Unknown");
    }
  }

  @Test
  void crdSchemasTypeTheContractFieldsWithEnumsMinimumsAndRequired() throws IOException {
    Map<String, CustomResourceDefinition> crds = crds();
    JSONSchemaProps tp = schema(crds.get("trafficpolicies.mesh.trellis.dev"));
    JSONSchemaProps pa = schema(crds.get("peerauthentications.mesh.trellis.dev"));
    JSONSchemaProps ap = schema(crds.get("authorizationpolicies.mesh.trellis.dev"));

    assertThat(property(tp, "spec").getRequired()).containsExactly("targetRef");
    assertThat(property(tp, "spec", "targetRef").getRequired()).containsExactly("name");
    assertThat(property(tp, "spec", "targetRef", "kind").getDefault().asText()).isEqualTo("Service");
    assertThat(property(tp, "spec", "targetRef", "group").getDefault().asText()).isEmpty();
    assertThat(property(tp, "spec", "loadBalancer", "algorithm").getEnum()).extracting(JsonNode::asText)
        .containsExactly("round-robin", "least-request", "ring-hash", "maglev", "random");
    assertThat(property(tp, "spec", "connectionPool").getProperties()).containsOnlyKeys("maxConnections",
        "maxPendingRequests", "maxRequests", "maxRetries").allSatisfy((name, field) -> {
          assertThat(field.getType()).as(name).isEqualTo("integer");
          assertThat(field.getMinimum()).as(name).isEqualTo(1.0);
        });
    assertThat(property(tp, "spec", "outlierDetection", "consecutive5xx").getMinimum()).isEqualTo(1.0);
    assertThat(property(tp, "spec", "outlierDetection", "interval").getPattern()).isNotBlank();
    assertThat(property(tp, "spec", "outlierDetection", "baseEjectionTime").getType()).isEqualTo("string");
    JSONSchemaProps maxEjection = property(tp, "spec", "outlierDetection", "maxEjectionPercent");
    assertThat(List.of(maxEjection.getMinimum(), maxEjection.getMaximum())).containsExactly(0.0, 100.0);
    assertThat(property(tp, "spec", "retryBudget").getRequired()).containsExactly("percent");
    assertThat(property(tp, "spec", "retryBudget", "percent").getType()).isEqualTo("number");
    assertThat(property(tp, "spec", "retryBudget", "percent").getMaximum()).isEqualTo(100.0);
    assertThat(property(tp, "spec", "retryBudget", "minConcurrency").getMinimum()).isEqualTo(0.0);

    assertThat(property(pa, "spec").getRequired()).isNullOrEmpty();
    assertThat(property(pa, "spec", "selector", "matchLabels").getAdditionalProperties().getSchema().getType())
        .isEqualTo("string");
    assertThat(property(pa, "spec", "mtls", "mode").getEnum()).extracting(JsonNode::asText)
        .containsExactly("STRICT", "PERMISSIVE", "DISABLE");

    assertThat(property(ap, "spec").getRequired()).containsExactly("action");
    assertThat(property(ap, "spec", "action").getEnum()).extracting(JsonNode::asText).containsExactly("ALLOW", "DENY");
    JSONSchemaProps rule = property(ap, "spec", "rules").getItems().getSchema();
    assertThat(rule.getProperties()).containsOnlyKeys("from", "ports", "methods", "paths");
    JSONSchemaProps port = rule.getProperties().get("ports").getItems().getSchema();
    assertThat(List.of(port.getMinimum(), port.getMaximum())).containsExactly(1.0, 65535.0);
  }

  @Test
  void theUnknownFieldCheckCatchesAMisspelledFieldInAManifestAndInACrdSchema() {
    String deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: typo}
        spec:
          replica: 2
          template: {spec: {containers: [{name: c, image: i, imagePullPolicy: IfNotPresent, readinesProbe: {}}]}}
        """;
    assertThatThrownBy(() -> Manifests.parseOne(deployment))
        .hasMessageContaining("Deployment.spec: [replica]").hasMessageContaining("readinesProbe");
    String crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: things.example.com}
        spec:
          group: example.com
          names: {kind: Thing, plural: things}
          scope: Namespaced
          versions:
            - name: v1
              served: true
              storage: true
              schema: {openAPIV3Schema: {type: object, properties: {size: {type: integer, minimun: 1}}}}
        """;
    assertThatThrownBy(() -> Manifests.parseOne(crd)).hasMessageContaining("minimun");
    assertThatThrownBy(() -> Manifests.parseOne("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n"))
        .hasMessageContaining("not a kind Fabric8 knows");
  }

  @Test
  void notesTellHowToEnrollCheckAndGetTheGatewayApiCrds() {
    String notes = new Helm(CHART).install().withName("trellis").withNamespace(NAMESPACE).withKubeVersion("1.31.0")
        .clientOnly().dryRun().call().getOutput();

    assertThat(notes).contains("NOTES:", "kubectl label namespace <namespace> trellis.dev/mesh=enabled",
        "Gateway API", "standard-install.yaml", "kubectl -n trellis-system get pods",
        "port-forward deploy/trellis-control-plane 15014:15014", "localhost:15014/debug/clients");
  }

  @Test
  void dashboardsConfigMapCarriesTheGrafanaSidecarLabelAndTheDashboardFileVerbatim() throws IOException {
    ConfigMap dashboards = find(render(Map.of()), ConfigMap.class, "trellis-dashboards");

    assertThat(dashboards.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1")
        .containsEntry("app.kubernetes.io/component", "dashboards");
    assertThat(dashboards.getData()).containsOnlyKeys("trellis-mesh.json");
    String file = Files.readString(CHART.resolve("dashboards/trellis-mesh.json"));
    assertThat(dashboards.getData().get("trellis-mesh.json")).isEqualTo(file.stripTrailing());
    JsonNode dashboard = Manifests.SERIALIZATION.unmarshal(dashboards.getData().get("trellis-mesh.json"), JsonNode.class);
    assertThat(dashboard.path("uid").asText()).isEqualTo("trellis-mesh");
    assertThat(dashboard.path("schemaVersion").asInt()).isEqualTo(39);
    assertThat(dashboard.path("title").asText()).isNotBlank();
  }

  @Test
  void dashboardsDisabledRenderNoConfigMap() {
    assertThat(render(Map.of("dashboards.enabled", "false"))).noneMatch(o -> o instanceof ConfigMap);
  }

  @Test
  void dashboardSelectsItsPrometheusThroughADatasourceVariableAndNamespaceServiceWorkloadFromLabelValues() {
    JsonNode dashboard = dashboard();
    Map<String, JsonNode> variables = new LinkedHashMap<>();
    dashboard.path("templating").path("list").forEach(v -> variables.put(v.path("name").asText(), v));

    assertThat(variables).containsOnlyKeys("datasource", "namespace", "service", "workload");
    assertThat(variables.get("datasource").path("type").asText()).isEqualTo("datasource");
    assertThat(variables.get("datasource").path("query").asText()).isEqualTo("prometheus");
    for (var entry : Map.of("namespace", "trellis_destination_namespace", "service", "trellis_destination_service",
        "workload", "trellis_destination_workload").entrySet()) {
      JsonNode variable = variables.get(entry.getKey());
      assertThat(variable.path("type").asText()).isEqualTo("query");
      assertThat(variable.path("datasource").path("uid").asText()).isEqualTo("${datasource}");
      assertThat(Dashboards.variableQuery(variable)).startsWith("label_values(").endsWith(", " + entry.getValue() + ")");
    }
  }

  @Test
  void everyDashboardPanelHasATitleAndTheDatasourceVariableAndQueriesOnlyTheMeshMetricsAndLabels() {
    JsonNode dashboard = dashboard();
    Set<String> metricsUsed = new TreeSet<>();
    List<String> exprs = new ArrayList<>();

    for (JsonNode panel : Dashboards.panels(dashboard)) {
      String title = panel.path("title").asText();
      assertThat(title).as("panel %s title", panel.path("id")).isNotBlank();
      if (panel.path("type").asText().equals("row")) {
        assertThat(panel.has("targets")).as("row %s has no queries", title).isFalse();
        continue;
      }
      assertThat(panel.path("datasource").path("uid").asText()).as("datasource of %s", title).isEqualTo("${datasource}");
      assertThat(panel.path("datasource").path("type").asText()).as("datasource of %s", title).isEqualTo("prometheus");
      assertThat(panel.path("targets")).as("queries of %s", title).isNotEmpty();
      for (JsonNode target : panel.path("targets")) {
        String expr = target.path("expr").asText();
        assertThat(target.path("datasource").path("uid").asText()).as("datasource of %s", expr).isEqualTo("${datasource}");
        Dashboards.Names names = Dashboards.names(expr);
        assertThat(names.metrics()).as("metrics of %s: %s", title, expr).isNotEmpty().isSubsetOf(Dashboards.MESH_METRICS);
        assertThat(names.labels()).as("labels of %s: %s", title, expr).isSubsetOf(Dashboards.MESH_LABELS);
        assertThat(Dashboards.legendLabels(target.path("legendFormat").asText())).as("legend of %s", title)
            .isSubsetOf(names.labels());
        metricsUsed.addAll(names.metrics());
        exprs.add(expr);
      }
    }
    dashboard.path("templating").path("list").forEach(v -> {
      if (v.path("type").asText().equals("query")) {
        Dashboards.Names names = Dashboards.names(Dashboards.variableQuery(v));
        assertThat(names.metrics()).as("metrics of $%s", v.path("name").asText()).isSubsetOf(Dashboards.MESH_METRICS);
        assertThat(names.labels()).as("labels of $%s", v.path("name").asText()).isSubsetOf(Dashboards.MESH_LABELS);
      }
    });

    assertThat(metricsUsed).as("the golden signals, inbound and outbound, and L4").contains(
        "http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket",
        "http_client_request_duration_seconds_count", "http_client_request_duration_seconds_bucket",
        "trellis_tcp_io_bytes_total", "trellis_tcp_connections_total");
    for (String grouping : List.of("trellis_destination_service", "trellis_destination_workload")) {
      for (String quantile : List.of("0.5", "0.9", "0.99")) {
        assertThat(exprs).as("p%s by %s", quantile, grouping).anyMatch(e -> e.startsWith("histogram_quantile(" + quantile + ",")
            && e.contains("by (le, " + grouping + ")") && e.contains("http_server_request_duration_seconds_bucket"));
      }
      assertThat(exprs).as("5xx share by %s", grouping).anyMatch(e -> e.contains("http_response_status_code=~\"5..\"")
          && e.contains("by (" + grouping + ")") && e.contains("/"));
    }
  }

  @Test
  void theDashboardQueryCheckFindsMetricsAndLabelsOutsideTheMeshList() {
    var names = Dashboards.names("sum by (destination_service) (rate(istio_requests_total{reporter=\"destination\", "
        + "response_code=~\"5..\"}[$__rate_interval])) / ignoring(x) up");
    assertThat(names.metrics()).containsExactlyInAnyOrder("istio_requests_total", "up");
    assertThat(names.labels()).containsExactlyInAnyOrder("destination_service", "reporter", "response_code", "x");
    var variable = Dashboards.names("label_values({__name__=~\"a_total|b_count\", ns=~\"$namespace\"}, pod)");
    assertThat(variable.metrics()).containsExactlyInAnyOrder("a_total", "b_count");
    assertThat(variable.labels()).containsExactlyInAnyOrder("ns", "pod");
    assertThat(Dashboards.names("histogram_quantile(0.99, sum by (le) (rate(m_bucket[5m]))) * 1e3").metrics())
        .containsExactly("m_bucket");
  }

  @Test
  void valuesYamlOffersAndCommentsEveryKeyTheSchemaAllowsAndTheDocsListThem() throws IOException {
    JsonNode schema = Manifests.SERIALIZATION.unmarshal(Files.readString(CHART.resolve("values.schema.json")), JsonNode.class);
    List<String> schemaKeys = new ArrayList<>();
    List<String> schemaLeaves = new ArrayList<>();
    collectSchemaKeys(schema, "", schemaKeys, schemaLeaves);
    schemaKeys.remove("global");
    schemaLeaves.remove("global");
    List<String> valuesLines = Files.readAllLines(CHART.resolve("values.yaml"));
    Map<String, Integer> valuesKeys = keyLines(valuesLines);
    String docs = Files.readString(CHART.resolve("../../docs/kubernetes.md"));

    assertThat(valuesKeys.keySet()).containsAll(schemaKeys);
    assertThat(schemaKeys).as("the values the chart promises").contains("image.registry", "image.tag", "image.pullPolicy",
        "imagePullSecrets", "trustDomain", "clusterDomain", "logLevel", "controlPlane.replicas",
        "controlPlane.resources", "controlPlane.nodeSelector", "controlPlane.tolerations", "controlPlane.affinity",
        "controlPlane.podDisruptionBudget.enabled", "controlPlane.podDisruptionBudget.minAvailable",
        "nodeProxy.resources", "nodeProxy.nodeSelector", "nodeProxy.tolerations", "nodeProxy.priorityClassName",
        "redirect.mode", "cni.enabled", "cni.binDir", "cni.confDir");
    for (String key : schemaKeys) {
      int line = valuesKeys.get(key);
      assertThat(valuesLines.get(line - 1).strip()).as("comment above %s in values.yaml", key).startsWith("#");
    }
    for (String leaf : schemaLeaves) {
      assertThat(docs).as("docs/kubernetes.md values table").contains("| `" + leaf + "` |");
    }
  }

  private static JsonNode dashboard() {
    try {
      return Manifests.SERIALIZATION.unmarshal(Files.readString(CHART.resolve("dashboards/trellis-mesh.json")),
          JsonNode.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
