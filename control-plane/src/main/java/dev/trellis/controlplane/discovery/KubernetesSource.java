package dev.trellis.controlplane.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.mtls.identity.TrustDomain;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster config source: shared informers for Namespaces, Nodes, Pods, Services and Gateway API HTTPRoutes feed
 * {@link KubernetesMesh}; every change (a namespace labeled or unlabeled, a pod started, a service edited)
 * leads, after {@code debounce}, to a new mesh handed to {@code onMesh} — only once every informer has synced
 * (never a half-listed cluster) and only when the mesh differs from the last one. Informer callbacks only
 * schedule; the translation runs on {@code scheduler}, the control plane's serial executor.
 */
public final class KubernetesSource implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);

  private final KubernetesClient client;
  private final TrustDomain trustDomain;
  private final String clusterDomain;
  private final MtlsMode defaultMtls;
  private final ScheduledExecutorService scheduler;
  private final Duration debounce;
  private final Consumer<Mesh> onMesh;
  private final java.time.Clock clock;
  private final java.util.function.BooleanSupplier statusWriter;
  private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
  private SharedIndexInformer<Namespace> namespaces;
  private SharedIndexInformer<Node> nodes;
  private SharedIndexInformer<Pod> pods;
  private SharedIndexInformer<Service> services;
  private SharedIndexInformer<HTTPRoute> routes;
  private ScheduledFuture<?> pending;
  private Mesh last;

  public KubernetesSource(KubernetesClient client, TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      ScheduledExecutorService scheduler, Duration debounce, Consumer<Mesh> onMesh) {
    this(client, trustDomain, clusterDomain, defaultMtls, scheduler, debounce, onMesh, java.time.Clock.systemUTC(),
        () -> true);
  }

  /**
   * @param clock stamps status conditions
   * @param statusWriter whether this replica writes status now (the Lease holder when several run)
   */
  public KubernetesSource(KubernetesClient client, TrustDomain trustDomain, String clusterDomain, MtlsMode defaultMtls,
      ScheduledExecutorService scheduler, Duration debounce, Consumer<Mesh> onMesh, java.time.Clock clock,
      java.util.function.BooleanSupplier statusWriter) {
    this.client = requireNonNull(client, "client");
    this.trustDomain = requireNonNull(trustDomain, "trustDomain");
    this.clusterDomain = requireNonNull(clusterDomain, "clusterDomain");
    this.defaultMtls = requireNonNull(defaultMtls, "defaultMtls");
    this.scheduler = requireNonNull(scheduler, "scheduler");
    this.debounce = requireNonNull(debounce, "debounce");
    this.onMesh = requireNonNull(onMesh, "onMesh");
    this.clock = requireNonNull(clock, "clock");
    this.statusWriter = requireNonNull(statusWriter, "statusWriter");
  }

  /** Starts the informers; the first mesh follows once all have listed the cluster. */
  public KubernetesSource start() {
    namespaces = watch(client.namespaces().inform(handler()));
    nodes = watch(client.nodes().inform(handler()));
    pods = watch(client.pods().inAnyNamespace().inform(handler()));
    services = watch(client.services().inAnyNamespace().inform(handler()));
    routes = watch(client.resources(HTTPRoute.class).inAnyNamespace().inform(handler()));
    changed(); // an empty cluster fires no events: the first check comes anyway
    return this;
  }

  private <T> SharedIndexInformer<T> watch(SharedIndexInformer<T> informer) {
    informers.add(informer);
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

  /** Called from informer threads: coalesces bursts into one translation after {@code debounce}. */
  private synchronized void changed() {
    if (pending == null || pending.isDone()) {
      pending = scheduler.schedule(this::publish, debounce.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void publish() {
    if (!synced()) {
      synchronized (this) {
        pending = scheduler.schedule(this::publish, debounce.toMillis(), TimeUnit.MILLISECONDS); // look again
      }
      return;
    }
    Mesh mesh;
    try {
      List<HTTPRoute> httpRoutes = routes.getStore().list();
      mesh = KubernetesMesh.translate(trustDomain, clusterDomain, defaultMtls, namespaces.getStore().list(),
          nodes.getStore().list(), pods.getStore().list(), services.getStore().list(), httpRoutes);

    } catch (RuntimeException e) {
      log.error("translating the cluster into the mesh failed; keeping the last mesh", e);
      return;
    }
    if (mesh.equals(last)) {
      writeRouteStatus(routes.getStore().list(), mesh); // a route's status may lag (a conflict, a new Service)
      return;
    }
    last = mesh;
    writeRouteStatus(routes.getStore().list(), mesh);
    log.info("cluster mesh: {} nodes, {} workloads ({} in the mesh), {} services", mesh.nodes().size(),
        mesh.workloads().size(), mesh.workloads().stream().filter(w -> w.inMesh()).count(), mesh.services().size());
    onMesh.accept(mesh);
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
    java.util.Set<dev.trellis.controlplane.model.ObjectRef> known = new java.util.HashSet<>();
    mesh.services().forEach(svc -> known.add(svc.ref()));
    for (HTTPRoute r : httpRoutes) {
      GatewayRoutes.Translation t = GatewayRoutes.translate(r);
      var parents = RouteStatus.parents(r, t, known, clock.instant());
      var current = r.getStatus() == null ? null : r.getStatus().getParents();
      if (RouteStatus.sameConditions(current, parents)) {
        continue;
      }
      try {
        HTTPRoute updated = new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder(r).withNewStatus()
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

  /** Whether every informer has listed the cluster once. */
  public boolean synced() {
    return !informers.isEmpty() && informers.stream().allMatch(SharedIndexInformer::hasSynced);
  }

  @Override
  public void close() {
    informers.forEach(SharedIndexInformer::close);
  }
}
