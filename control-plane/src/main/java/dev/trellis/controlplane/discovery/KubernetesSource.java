package dev.trellis.controlplane.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster config source: shared informers for Namespaces, Nodes, Pods, Services, EndpointSlices, Gateway API
 * HTTPRoutes and our policy CRDs (TrafficPolicy, PeerAuthentication, AuthorizationPolicy) feed
 * {@link KubernetesMesh}; every change (a namespace labeled or unlabeled, a pod started, a service edited)
 * leads, after {@code debounce}, to a new mesh handed to {@code onMesh} — only once every informer has synced
 * (never a half-listed cluster) and only when the mesh differs from the last one. Informer callbacks only
 * schedule; the translation runs on {@code scheduler}, the control plane's serial executor.
 */
public final class KubernetesSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);

  static final String CRD_GROUP = "mesh.trellis.dev";
  static final String CRD_VERSION = "v1alpha1";

  /**
   * What a cluster does not configure itself.
   *
   * @param rootNamespace the control plane's namespace (a PeerAuthentication there without selector is mesh-wide)
   * @param debounce quiet period after a change before the mesh is rebuilt
   */
  public record Settings(TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls, String rootNamespace,
      Duration debounce) {
    public Settings {
      requireNonNull(trustDomain, "trustDomain");
      requireNonNull(clusterDomain, "clusterDomain");
      requireNonNull(defaultMtls, "defaultMtls");
      requireNonNull(rootNamespace, "rootNamespace");
      requireNonNull(debounce, "debounce");
    }
  }

  private final KubernetesClient client;
  private final Settings settings;
  private final ScheduledExecutorService scheduler;
  private final Consumer<Mesh> onMesh;
  private final Clock clock;
  private final BooleanSupplier statusWriter;
  private final List<SharedIndexInformer<?>> required = new ArrayList<>();
  /** Informers of APIs a cluster may lack (Gateway API, our CRDs): value = why it is not listed, or null. */
  private final Map<SharedIndexInformer<?>, String> optional = new ConcurrentHashMap<>();
  private final Map<SharedIndexInformer<?>, String> missing = new ConcurrentHashMap<>();
  private SharedIndexInformer<Namespace> namespaces;
  private SharedIndexInformer<Node> nodes;
  private SharedIndexInformer<Pod> pods;
  private SharedIndexInformer<Service> services;
  private SharedIndexInformer<EndpointSlice> endpointSlices;
  private SharedIndexInformer<HTTPRoute> routes;
  private final Map<String, SharedIndexInformer<GenericKubernetesResource>> policies = new LinkedHashMap<>();
  private final AtomicBoolean passScheduled = new AtomicBoolean();
  private Runnable afterEachPass = () -> { };
  private Mesh last;

  public KubernetesSource(KubernetesClient client, TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      ScheduledExecutorService scheduler, Duration debounce, Consumer<Mesh> onMesh) {
    this(client, new Settings(trustDomain, clusterDomain, defaultMtls, "trellis-system", debounce), scheduler, onMesh,
        Clock.systemUTC(), () -> true);
  }

  /**
   * @param clock stamps status conditions
   * @param statusWriter whether this replica writes status now (the Lease holder when several run)
   */
  public KubernetesSource(KubernetesClient client, Settings settings, ScheduledExecutorService scheduler,
      Consumer<Mesh> onMesh, Clock clock, BooleanSupplier statusWriter) {
    this.client = requireNonNull(client, "client");
    this.settings = requireNonNull(settings, "settings");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.onMesh = requireNonNull(onMesh, "onMesh");
    this.clock = requireNonNull(clock, "clock");
    this.statusWriter = requireNonNull(statusWriter, "statusWriter");
  }

  /** The definition of one of our CRDs (informers and status writes need no API discovery with it). */
  static ResourceDefinitionContext crd(String kind, String plural) {
    return new ResourceDefinitionContext.Builder().withGroup(CRD_GROUP).withVersion(CRD_VERSION).withKind(kind)
        .withPlural(plural).withNamespaced(true).build();
  }

  static final Map<String, ResourceDefinitionContext> POLICY_KINDS = Map.of(
      MeshPolicies.TRAFFIC_POLICY, crd(MeshPolicies.TRAFFIC_POLICY, "trafficpolicies"),
      MeshPolicies.PEER_AUTHENTICATION, crd(MeshPolicies.PEER_AUTHENTICATION, "peerauthentications"),
      MeshPolicies.AUTHORIZATION_POLICY, crd(MeshPolicies.AUTHORIZATION_POLICY, "authorizationpolicies"));

  /** Starts the informers; the first mesh follows once all have listed the cluster. */
  public KubernetesSource start() {
    namespaces = watch(client.namespaces().inform(handler()));
    nodes = watch(client.nodes().inform(handler()));
    pods = watch(client.pods().inAnyNamespace().inform(handler()));
    services = watch(client.services().inAnyNamespace().inform(handler()));
    endpointSlices = watch(client.resources(EndpointSlice.class).inAnyNamespace().inform(handler()));
    routes = optional("HTTPRoute (Gateway API; install its standard-channel CRDs to use routes)",
        client.resources(HTTPRoute.class).inAnyNamespace().runnableInformer(0));
    for (String kind : List.of(MeshPolicies.TRAFFIC_POLICY, MeshPolicies.PEER_AUTHENTICATION,
        MeshPolicies.AUTHORIZATION_POLICY)) {
      policies.put(kind, optional(kind + " (" + CRD_GROUP + "; install the Trellis chart's CRDs)",
          client.genericKubernetesResources(POLICY_KINDS.get(kind)).inAnyNamespace().runnableInformer(0)));
    }
    changed(); // an empty cluster fires no events: the first check comes anyway
    return this;
  }

  private <T> SharedIndexInformer<T> watch(SharedIndexInformer<T> informer) {
    required.add(informer);
    return informer;
  }

  /**
   * An informer of an API the cluster may not serve: while it answers 404 the mesh is built without it (and the
   * log says what to install); it keeps retrying, so installing the CRDs later takes effect without a restart.
   */
  private <T> SharedIndexInformer<T> optional(String what, SharedIndexInformer<T> informer) {
    optional.put(informer, what);
    informer.addEventHandler(handler());
    informer.exceptionHandler((started, t) -> {
      if (t instanceof KubernetesClientException e && e.getCode() == 404) {
        if (missing.put(informer, what) == null) {
          log.warn("the cluster does not serve {}: building the mesh without it", what);
          changed();
        }
      } else {
        log.warn("listing/watching {} failed, retrying: {}", what, t.toString());
      }
      return true;
    });
    informer.start().whenComplete((ok, e) -> {
      if (e == null && missing.remove(informer) != null) {
        log.info("the cluster now serves {}", what);
      }
      changed();
    });
    return informer;
  }

  private <T> ResourceEventHandler<T> handler() {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        changed();
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        changed();
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        changed();
      }
    };
  }

  private <T> List<T> listed(SharedIndexInformer<T> informer) {
    return informer.hasSynced() ? informer.getStore().list() : List.of();
  }

  /**
   * Called from informer threads: coalesces bursts into one pass after {@code debounce}. A change that arrives while a
   * pass runs schedules the next one (the flag is cleared before the pass reads the caches), so none is lost.
   */
  private void changed() {
    if (passScheduled.compareAndSet(false, true)) {
      scheduler.schedule(this::publish, settings.debounce().toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void publish() {
    passScheduled.set(false);
    if (!synced()) {
      changed(); // look again
      return;
    }
    KubernetesMesh.Translation translation;
    List<HTTPRoute> httpRoutes = listed(routes);
    Map<String, List<GenericKubernetesResource>> crs = new HashMap<>();
    policies.forEach((kind, informer) -> crs.put(kind, listed(informer)));
    try {
      translation = KubernetesMesh.translate(settings.trustDomain(), settings.clusterDomain(), settings.defaultMtls(),
          settings.rootNamespace(), new KubernetesMesh.ClusterObjects(namespaces.getStore().list(),
              nodes.getStore().list(), pods.getStore().list(), services.getStore().list(),
              endpointSlices.getStore().list(), httpRoutes, crs.get(MeshPolicies.TRAFFIC_POLICY),
              crs.get(MeshPolicies.PEER_AUTHENTICATION), crs.get(MeshPolicies.AUTHORIZATION_POLICY)));
    } catch (RuntimeException e) {
      log.error("translating the cluster into the mesh failed; keeping the last mesh", e);
      return;
    }
    Mesh mesh = translation.mesh();
    // Status may lag the mesh (a conflict with another writer, a new Service): computed again every time.
    writeRouteStatus(httpRoutes, mesh);
    writePolicyStatus(crs, translation.verdicts());
    if (mesh.equals(last)) {
      afterEachPass.run();
      return;
    }
    last = mesh;
    log.info("cluster mesh: {} nodes, {} workloads ({} in the mesh), {} services, {} routes, {} traffic policies, "
        + "{} authorization policies", mesh.nodes().size(), mesh.workloads().size(),
        mesh.workloads().stream().filter(w -> w.inMesh()).count(), mesh.services().size(), mesh.routes().size(),
        mesh.policies().size(), mesh.authorizations().size());
    onMesh.accept(mesh);
    afterEachPass.run();
  }

  /** Writes each policy object's {@code Accepted} condition where it changed, when this replica writes status. */
  private void writePolicyStatus(Map<String, List<GenericKubernetesResource>> crs, List<MeshPolicies.Verdict> verdicts) {
    if (!statusWriter.getAsBoolean()) {
      return;
    }
    Map<String, GenericKubernetesResource> byKey = new HashMap<>();
    crs.forEach((kind, list) -> list.forEach(r -> byKey.put(kind + "/" + r.getMetadata().getNamespace() + "/"
        + r.getMetadata().getName(), r)));
    for (MeshPolicies.Verdict v : verdicts) {
      GenericKubernetesResource current = byKey.get(v.kind() + "/" + v.namespace() + "/" + v.name());
      if (current == null || PolicyStatus.upToDate(current, v)) {
        continue;
      }
      GenericKubernetesResource updated = client.getKubernetesSerialization().clone(current);
      updated.getAdditionalProperties().put("status", PolicyStatus.next(current, v, clock.instant()));
      try {
        client.genericKubernetesResources(POLICY_KINDS.get(v.kind())).inNamespace(v.namespace()).resource(updated)
            .updateStatus();
        if (!v.accepted()) {
          log.warn("{} {}/{} not applied ({}): {}", v.kind(), v.namespace(), v.name(), v.reason(), v.message());
        }
      } catch (RuntimeException e) {
        log.warn("writing the status of {} {}/{} failed: {}", v.kind(), v.namespace(), v.name(), e.getMessage());
      }
    }
  }

  /**
   * Writes each HTTPRoute's Service-parent status ({@link RouteStatus}) where it changed, when this replica
   * writes status ({@code statusWriter}, the Lease holder once there are several). A failed write (a conflict
   * with another writer) is logged; the next change of the route computes it again.
   */
  private void writeRouteStatus(List<HTTPRoute> httpRoutes, Mesh mesh) {
    if (!statusWriter.getAsBoolean()) {
      return;
    }
    Set<ObjectRef> known = new HashSet<>();
    mesh.services().forEach(svc -> known.add(svc.ref()));
    for (HTTPRoute r : httpRoutes) {
      GatewayRoutes.Translation t = GatewayRoutes.translate(r);
      var parents = RouteStatus.parents(r, t, known, clock.instant());
      var current = r.getStatus() == null ? null : r.getStatus().getParents();
      if (RouteStatus.sameConditions(current, parents)) {
        continue;
      }
      try {
        HTTPRoute updated = new HTTPRouteBuilder(r).withNewStatus()
            .withParents(parents).endStatus().build();
        client.resources(HTTPRoute.class).inNamespace(r.getMetadata().getNamespace()).resource(updated).updateStatus();
        if (!t.problems().isEmpty()) {
          log.warn("HTTPRoute {}/{}: {}", r.getMetadata().getNamespace(), r.getMetadata().getName(),
              t.problems().stream().map(GatewayRoutes.Problem::message).toList());
        }
      } catch (RuntimeException e) {
        log.warn("writing the status of HTTPRoute {}/{} failed: {}", r.getMetadata().getNamespace(),
            r.getMetadata().getName(), e.getMessage());
      }
    }
  }

  /**
   * Runs {@code hook} on the config thread after every pass over the cluster, changed mesh or not (the trust-bundle
   * ConfigMaps follow namespace labels even when no workload changed). Call before {@link #start()}.
   */
  public KubernetesSource afterEachPass(Runnable hook) {
    this.afterEachPass = requireNonNull(hook, "hook");
    return this;
  }

  /** Computes the mesh and status again (e.g. this replica just became the status writer). */
  public void refresh() {
    changed();
  }

  /** Namespaces labeled {@value KubernetesMesh#MESH_LABEL}={@value KubernetesMesh#ENABLED}. */
  public Set<String> enrolledNamespaces() {
    Set<String> out = new TreeSet<>();
    if (namespaces != null) {
      for (Namespace ns : namespaces.getStore().list()) {
        var labels = ns.getMetadata().getLabels();
        if (labels != null && KubernetesMesh.ENABLED.equals(labels.get(KubernetesMesh.MESH_LABEL))) {
          out.add(ns.getMetadata().getName());
        }
      }
    }
    return out;
  }

  /** Whether every informer has listed the cluster once. */
  public boolean synced() {
    return !required.isEmpty() && required.stream().allMatch(SharedIndexInformer::hasSynced)
        && optional.keySet().stream().allMatch(i -> i.hasSynced() || missing.containsKey(i));
  }

  /** The APIs the cluster does not serve (so their objects are not part of the mesh), for status pages. */
  public List<String> missingApis() {
    return missing.values().stream().sorted().toList();
  }

  @Override
  public void close() {
    required.forEach(SharedIndexInformer::close);
    optional.keySet().forEach(SharedIndexInformer::close);
  }
}
