package dev.trellis.controlplane.translate;

import dev.trellis.controlplane.model.AuthorizationPolicy;
import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.MeshEgress;
import dev.trellis.controlplane.model.MeshHttp;
import dev.trellis.controlplane.model.MtlsMode;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mesh.v1.Authorization;
import dev.trellis.mesh.v1.AuthorizationRule;
import dev.trellis.mesh.v1.Workload.Builder;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ClientKind;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import dev.trellis.xds.resource.XdsResource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The whole translation: mesh model + trust bundle → the snapshot every xDS client is served. A pure
 * function; each resource kind has its own translation class, tested table-style.
 */
public final class Translator {

  private Translator() {}

  public static Snapshot translate(Mesh mesh, TrustBundle bundle) {
    return translate(mesh, bundle, new TranslationCache());
  }

  /** As {@link #translate(Mesh, TrustBundle)}, reusing the unchanged parts of the previous translation. */
  public static Snapshot translate(Mesh mesh, TrustBundle bundle, TranslationCache cache) {
    Snapshot.Builder snapshot = Snapshot.builder();
    Map<String, HttpRoute> routes = routesByServicePort(mesh);
    Map<ObjectRef, TrafficPolicy> policies = new HashMap<>();
    mesh.policies().forEach(p -> policies.put(p.service(), p));
    Membership members = new Membership(mesh);

    for (Service service : mesh.services()) {
      TrafficPolicy policy = policies.get(service.ref());
      List<HttpRoute> attached = service.ports().stream().map(p -> routes.get(service.ref() + ":" + p.port())).toList();
      List<Workload> selected = members.workloads(service);
      ServiceKey key = new ServiceKey(mesh.trustDomain().name(), mesh.clusterDomain(), mesh.http(), service, policy,
          attached, selected);
      TranslationCache.Translated translated = cache.get(key,
          () -> serviceResources(mesh, service, policy, routes, selected));
      translated.resources().forEach(snapshot::add);
      translated.proxyless().forEach(v -> snapshot.addVariant(ClientKind.PROXYLESS, v));
      translated.legacyNodeProxy().forEach(v -> snapshot.addVariant(ClientKind.LEGACY_NODE_PROXY, v));
    }
    snapshot.add(ResourceType.CLUSTER, ClusterTranslation.passthrough());
    // One filter chain per service port: rebuilding and encoding it for every change was a quarter of a one-endpoint
    // change's translation.
    cache.get(new OutboundKey(mesh.clusterDomain(), mesh.http(), mesh.egress(), mesh.services()),
        () -> TranslationCache.Translated.of(List.of(XdsResource.of(ResourceType.LISTENER,
            ListenerTranslation.outbound(mesh, mesh.services()))))).resources().forEach(snapshot::add);
    snapshot.add(ResourceType.SECRET, trustBundle(mesh, bundle));
    for (Workload w : mesh.workloads()) {
      List<Service> selecting = members.services(w);
      List<AuthorizationPolicy> authz = authorizations(mesh, w);
      WorkloadKey key = new WorkloadKey(mesh.trustDomain().name(), mesh.clusterDomain(), mesh.defaultMtls(), w, selecting,
          authz);
      for (XdsResource r : cache.get(key, () -> TranslationCache.Translated.of(List.of(XdsResource.of(
          ResourceType.WORKLOAD, workload(mesh, w, selecting, authz))))).resources()) {
        snapshot.addForNode(w.node(), r);
      }
    }
    cache.finish();
    return snapshot.build();
  }

  // The keys' equals and hashCode are written out, as Workload's and Service's are (see there: generated ones run
  // through method handles, which the control plane's C1-only JIT does not inline).

  /** Everything that decides a service's resources. */
  private record ServiceKey(String trustDomain, String clusterDomain, MeshHttp http, Service service,
      TrafficPolicy policy, List<HttpRoute> routes, List<Workload> members) {
    @Override
    public boolean equals(Object o) {
      return this == o || o instanceof ServiceKey k && service.equals(k.service) && members.equals(k.members)
          && trustDomain.equals(k.trustDomain) && clusterDomain.equals(k.clusterDomain) && http.equals(k.http)
          && Objects.equals(policy, k.policy) && routes.equals(k.routes);
    }

    @Override
    public int hashCode() {
      int h = service.hashCode();
      h = 31 * h + members.hashCode();
      h = 31 * h + trustDomain.hashCode();
      h = 31 * h + clusterDomain.hashCode();
      h = 31 * h + http.hashCode();
      h = 31 * h + Objects.hashCode(policy);
      return 31 * h + routes.hashCode();
    }
  }

  /** Everything that decides the outbound listener. */
  private record OutboundKey(String clusterDomain, MeshHttp http, MeshEgress egress, List<Service> services) {
    @Override
    public boolean equals(Object o) {
      return this == o || o instanceof OutboundKey k && services.equals(k.services)
          && clusterDomain.equals(k.clusterDomain) && http.equals(k.http) && Objects.equals(egress, k.egress);
    }

    @Override
    public int hashCode() {
      return ((services.hashCode() * 31 + clusterDomain.hashCode()) * 31 + http.hashCode()) * 31
          + Objects.hashCode(egress);
    }
  }

  /** Everything that decides a workload's resource. */
  private record WorkloadKey(String trustDomain, String clusterDomain, MtlsMode defaultMtls, Workload workload,
      List<Service> services, List<AuthorizationPolicy> authorizations) {
    @Override
    public boolean equals(Object o) {
      return this == o || o instanceof WorkloadKey k && workload.equals(k.workload) && services.equals(k.services)
          && trustDomain.equals(k.trustDomain) && clusterDomain.equals(k.clusterDomain)
          && defaultMtls == k.defaultMtls && authorizations.equals(k.authorizations);
    }

    @Override
    public int hashCode() {
      int h = workload.hashCode();
      h = 31 * h + services.hashCode();
      h = 31 * h + trustDomain.hashCode();
      h = 31 * h + clusterDomain.hashCode();
      h = 31 * h + Objects.hashCode(defaultMtls);
      return 31 * h + authorizations.hashCode();
    }
  }

  /** The policies of the workload's namespace whose selector its labels satisfy (empty selector: all). */
  static List<AuthorizationPolicy> authorizations(Mesh mesh, Workload w) {
    if (mesh.authorizations().isEmpty()) {
      return List.of(); // the common case, for each of the mesh's workloads on every change
    }
    List<AuthorizationPolicy> out = new ArrayList<>();
    for (AuthorizationPolicy p : mesh.authorizations()) {
      if (p.namespace().equals(w.namespace()) && w.labels().entrySet().containsAll(p.selector().entrySet())) {
        out.add(p);
      }
    }
    return out;
  }

  private static TranslationCache.Translated serviceResources(Mesh mesh, Service service, TrafficPolicy policy,
      Map<String, HttpRoute> routes, List<Workload> selected) {
    List<XdsResource> out = new ArrayList<>();
    List<Snapshot.Variant> proxyless = new ArrayList<>();
    List<Snapshot.Variant> legacy = new ArrayList<>();
    for (ServicePort port : service.ports()) {
      Cluster cluster = ClusterTranslation.cluster(mesh, service, port, policy);
      out.add(XdsResource.of(ResourceType.CLUSTER, cluster));
      Snapshot.Variant variant = ClusterTranslation.forProxyless(cluster);
      if (variant != null) {
        proxyless.add(variant);
      }
      out.add(XdsResource.of(ResourceType.ENDPOINT, EndpointTranslation.endpoints(mesh, service, port, selected)));
      legacy.add(EndpointTranslation.legacy(mesh, service, port, selected));
      if (port.protocol().isHttp()) {
        RouteConfiguration route = RouteTranslation.routeConfig(mesh, service, port,
            routes.get(service.ref() + ":" + port.port()), policy);
        out.add(XdsResource.of(ResourceType.ROUTE, route));
        Snapshot.Variant routeVariant = RouteTranslation.forProxyless(route);
        if (routeVariant != null) {
          proxyless.add(routeVariant);
        }
        out.add(XdsResource.of(ResourceType.LISTENER, ListenerTranslation.apiListener(mesh, service, port)));
      }
    }
    return new TranslationCache.Translated(out, proxyless, legacy);
  }

  private static Map<String, HttpRoute> routesByServicePort(Mesh mesh) {
    Map<String, HttpRoute> byPort = new HashMap<>();
    for (HttpRoute r : mesh.routes()) {
      Service s = mesh.service(r.service()).orElseThrow();
      for (ServicePort p : s.ports()) {
        if (p.protocol().isHttp() && (r.port() == null || r.port() == p.port())) {
          byPort.put(s.ref() + ":" + p.port(), r);
        }
      }
    }
    return byPort;
  }

  static Secret trustBundle(Mesh mesh, TrustBundle bundle) {
    return Secret.newBuilder().setName(XdsNames.TRUST_BUNDLE)
        .setValidationContext(CertificateValidationContext.newBuilder()
            .setTrustedCa(DataSource.newBuilder().setInlineString(bundle.toPem(mesh.trustDomain()))))
        .build();
  }

  static dev.trellis.mesh.v1.Workload workload(Mesh mesh, Workload w, List<Service> services) {
    return workload(mesh, w, services, authorizations(mesh, w));
  }

  static dev.trellis.mesh.v1.Workload workload(Mesh mesh, Workload w, List<Service> services,
      List<AuthorizationPolicy> authz) {
    Builder b = dev.trellis.mesh.v1.Workload.newBuilder()
        .setName(w.ref().toString())
        .setNamespace(w.namespace())
        .setServiceAccount(w.serviceAccount())
        .setIdentity(w.identity(mesh.trustDomain()).toString())
        .setNode(w.node())
        .addAddresses(w.address())
        .setInMesh(w.inMesh())
        .setMtlsMode(switch (w.mtls() != null ? w.mtls() : mesh.defaultMtls()) {
          case STRICT -> dev.trellis.mesh.v1.MtlsMode.STRICT;
          case PERMISSIVE -> dev.trellis.mesh.v1.MtlsMode.PERMISSIVE;
          case DISABLE -> dev.trellis.mesh.v1.MtlsMode.DISABLE;
        })
        .putAllLabels(w.labels());
    for (Service s : services) {
      b.addServices(mesh.fqdn(s));
      for (ServicePort port : s.ports()) {
        b.putPortProtocols(port.targetPort(), port.protocol().name().toLowerCase(Locale.ROOT));
      }
    }
    for (AuthorizationPolicy p : authz) {
      Authorization.Builder a = Authorization.newBuilder().setName(p.namespace() + "/" + p.name())
          .setAction(p.action() == AuthorizationPolicy.Action.DENY ? Authorization.Action.DENY : Authorization.Action.ALLOW);
      for (AuthorizationPolicy.Rule r : p.rules()) {
        AuthorizationRule.Builder rb = AuthorizationRule.newBuilder().addAllFrom(r.from()).addAllMethods(r.methods())
            .addAllPaths(r.paths());
        r.ports().forEach(rb::addPorts);
        a.addRules(rb);
      }
      b.addAuthorizations(a);
    }
    return b.build();
  }
}
