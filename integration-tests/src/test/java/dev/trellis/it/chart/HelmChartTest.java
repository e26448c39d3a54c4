package dev.trellis.it.chart;

import static dev.trellis.it.chart.Charts.CHART;
import static dev.trellis.it.chart.Charts.NAMESPACE;
import static dev.trellis.it.chart.Charts.collectSchemaKeys;
import static dev.trellis.it.chart.Charts.container;
import static dev.trellis.it.chart.Charts.crds;
import static dev.trellis.it.chart.Charts.find;
import static dev.trellis.it.chart.Charts.hostPaths;
import static dev.trellis.it.chart.Charts.keyLines;
import static dev.trellis.it.chart.Charts.mount;
import static dev.trellis.it.chart.Charts.mounts;
import static dev.trellis.it.chart.Charts.only;
import static dev.trellis.it.chart.Charts.property;
import static dev.trellis.it.chart.Charts.render;
import static dev.trellis.it.chart.Charts.rules;
import static dev.trellis.it.chart.Charts.schema;
import static dev.trellis.it.chart.Charts.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
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

/**
 * The Helm chart {@code charts/trellis}, linted and rendered in-process by helm-java (Helm as a native
 * library) and every rendered object parsed into Fabric8's typed model (see {@link Manifests}): the facts the
 * Kubernetes contract fixes (args, ports, RBAC, mounts, security) are asserted on typed objects, and so are
 * the CRDs of {@code crds/}. No cluster is involved.
 */
class HelmChartTest {

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
        tuple("ConfigMap", "trellis-dashboards"));
    assertThat(objects).filteredOn(o -> !o.getKind().startsWith("Cluster"))
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
        .containsExactly(tuple("tmp", "/tmp"));
    assertThat(volume(pod, "tmp").getEmptyDir()).isNotNull();

    var antiAffinity = pod.getAffinity().getPodAntiAffinity();
    assertThat(antiAffinity.getRequiredDuringSchedulingIgnoredDuringExecution()).isNullOrEmpty();
    var preferred = only(antiAffinity.getPreferredDuringSchedulingIgnoredDuringExecution()).getPodAffinityTerm();
    assertThat(preferred.getTopologyKey()).isEqualTo("kubernetes.io/hostname");
    assertThat(preferred.getLabelSelector().getMatchLabels()).isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
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

    assertThat(rules(find(objects, ClusterRole.class, "trellis-control-plane").getRules())).containsExactlyInAnyOrder(
        "/namespaces get,list,watch", "/pods get,list,watch", "/services get,list,watch", "/nodes get,list,watch",
        "discovery.k8s.io/endpointslices get,list,watch",
        "gateway.networking.k8s.io/httproutes get,list,watch",
        "gateway.networking.k8s.io/httproutes/status patch,update",
        "mesh.trellis.dev/trafficpolicies get,list,watch", "mesh.trellis.dev/peerauthentications get,list,watch",
        "mesh.trellis.dev/authorizationpolicies get,list,watch",
        "mesh.trellis.dev/trafficpolicies/status patch,update", "mesh.trellis.dev/peerauthentications/status patch,update",
        "mesh.trellis.dev/authorizationpolicies/status patch,update",
        "authentication.k8s.io/tokenreviews create",
        "/configmaps create,delete,get,list,update,watch");
    assertThat(rules(find(objects, Role.class, "trellis-control-plane").getRules()))
        .containsExactlyInAnyOrder("/secrets create,get,update", "coordination.k8s.io/leases create,get,update");

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
        .containsExactlyInAnyOrder("/pods get,list,watch", "/namespaces get,list,watch");
    ClusterRoleBinding binding = find(objects, ClusterRoleBinding.class, "trellis-node-proxy");
    assertThat(binding.getRoleRef().getName()).isEqualTo("trellis-node-proxy");
    assertThat(binding.getSubjects()).extracting(s -> s.getKind(), s -> s.getNamespace(), s -> s.getName())
        .containsExactly(tuple("ServiceAccount", NAMESPACE, "trellis-node-proxy"));
    Role own = find(objects, Role.class, "trellis-node-proxy");
    assertThat(own.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
    assertThat(rules(own.getRules())).as("its own DaemonSet: restart or uninstall?")
        .containsExactly("apps/daemonsets get");
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
    assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isEqualTo(1);

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
        "--token-file", "/var/run/secrets/trellis/token", "--capture", "transparent",
        "--agent-state", "/var/run/trellis/agent-state.json",
        "--ebpf-pins", "/sys/fs/bpf/trellis", "--tracing-sampling", "0.01");
    assertThat(proxy.getPorts()).extracting(p -> p.getContainerPort()).containsExactly(15001, 15006, 15008, 15020);
    assertThat(proxy.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
    assertThat(proxy.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15020);
    assertThat(mounts(proxy)).containsEntry("trellis-token", "/var/run/secrets/trellis")
        .containsEntry("trellis-ca", "/var/run/trellis/ca").containsEntry("bpffs", "/sys/fs/bpf")
        .containsEntry("trellis-run", "/var/run/trellis").containsEntry("netns", "/var/run/netns");
    assertThat(mount(proxy, "trellis-run").getReadOnly()).as("the proxy only reads the agent's state").isTrue();
    assertThat(mount(proxy, "netns").getReadOnly()).isTrue();
    assertThat(mount(proxy, "netns").getMountPropagation()).as("namespaces of pods started later")
        .isEqualTo("HostToContainer");
    assertThat(hostPaths(pod)).containsEntry("netns", "/var/run/netns");

    Container agent = container(pod, "node-agent");
    assertThat(agent.getImage()).isEqualTo(proxy.getImage());
    assertThat(agent.getCommand()).containsExactly("java", "--enable-native-access=ALL-UNNAMED", "-cp",
        "@/app/jib-classpath-file", "dev.trellis.proxy.NodeAgentMain");
    assertThat(agent.getArgs()).containsExactly("--kubernetes", "--node", "$(NODE_NAME)",
        "--socket", "/var/run/trellis/cni.sock", "--redirect", "auto", "--proxy-address", "$(HOST_IP)",
        "--state-file", "/var/run/trellis/agent-state.json", "--ebpf-pins", "/sys/fs/bpf/trellis",
        "--cni-bin-dir", "/host/opt/cni/bin", "--cni-conf-dir", "/host/etc/cni/net.d",
        "--cni-plugin-dir", "/opt/trellis/cni");
    assertThat(mounts(agent)).containsEntry("bpffs", "/sys/fs/bpf").containsEntry("cgroup", "/sys/fs/cgroup")
        .containsEntry("trellis-run", "/var/run/trellis").containsEntry("cni-bin", "/host/opt/cni/bin")
        .containsEntry("cni-conf", "/host/etc/cni/net.d");
    assertThat(mount(agent, "cgroup").getReadOnly()).isTrue();

    for (Container c : List.of(proxy, agent)) {
      assertThat(c.getEnv()).extracting(e -> e.getName(), e -> e.getValueFrom() == null ? e.getValue()
              : e.getValueFrom().getFieldRef().getFieldPath())
          .as(c.getName()).contains(tuple("NODE_NAME", "spec.nodeName"), tuple("HOST_IP", "status.hostIP"),
              tuple("POD_NAME", "metadata.name"), tuple("POD_NAMESPACE", "metadata.namespace"));
      var security = c.getSecurityContext();
      assertThat(security.getPrivileged()).as(c.getName()).isNotEqualTo(Boolean.TRUE);
      assertThat(security.getRunAsUser()).as(c.getName()).isEqualTo(0L);
      assertThat(security.getCapabilities().getDrop()).as(c.getName()).containsExactly("ALL");
      assertThat(security.getCapabilities().getAdd()).as(c.getName())
          .containsExactlyInAnyOrder("NET_ADMIN", "NET_RAW", "BPF", "PERFMON", "SYS_ADMIN");
      // Bidirectional propagation is only allowed in privileged containers.
      assertThat(c.getVolumeMounts()).as(c.getName())
          .allSatisfy(m -> assertThat(m.getMountPropagation()).isNotEqualTo("Bidirectional"));
    }
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
