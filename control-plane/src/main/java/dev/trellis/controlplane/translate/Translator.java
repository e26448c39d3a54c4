package dev.trellis.controlplane.translate;

import dev.trellis.controlplane.model.HttpRoute;
import dev.trellis.controlplane.model.Mesh;
import dev.trellis.controlplane.model.ObjectRef;
import dev.trellis.controlplane.model.Service;
import dev.trellis.controlplane.model.ServicePort;
import dev.trellis.controlplane.model.TrafficPolicy;
import dev.trellis.controlplane.model.Workload;
import dev.trellis.mesh.v1.Workload.Builder;
import dev.trellis.mtls.svid.TrustBundle;
import dev.trellis.xds.cache.Snapshot;
import dev.trellis.xds.resource.ResourceType;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.util.HashMap;
import java.util.Map;

/**
 * The whole translation: mesh model + trust bundle → the snapshot every xDS client is served. A pure
 * function; each resource kind has its own translation class, tested table-style.
 */
public final class Translator {

  private Translator() {}

  public static Snapshot translate(Mesh mesh, TrustBundle bundle) {
    Snapshot.Builder snapshot = Snapshot.builder();
    Map<String, HttpRoute> routes = routesByServicePort(mesh);
    Map<ObjectRef, TrafficPolicy> policies = new HashMap<>();
    mesh.policies().forEach(p -> policies.put(p.service(), p));

    for (Service service : mesh.services()) {
      TrafficPolicy policy = policies.get(service.ref());
      for (ServicePort port : service.ports()) {
        snapshot.add(ResourceType.CLUSTER, ClusterTranslation.cluster(mesh, service, port, policy));
        snapshot.add(ResourceType.ENDPOINT, EndpointTranslation.endpoints(mesh, service, port, mesh.workloads()));
        if (port.protocol().isHttp()) {
          snapshot.add(ResourceType.ROUTE, RouteTranslation.routeConfig(mesh, service, port,
              routes.get(service.ref() + ":" + port.port()), policy));
          snapshot.add(ResourceType.LISTENER, ListenerTranslation.apiListener(mesh, service, port));
        }
      }
    }
    snapshot.add(ResourceType.CLUSTER, ClusterTranslation.passthrough());
    snapshot.add(ResourceType.LISTENER, ListenerTranslation.outbound(mesh, mesh.services()));
    snapshot.add(ResourceType.SECRET, trustBundle(mesh, bundle));
    for (Workload w : mesh.workloads()) {
      snapshot.addForNode(ResourceType.WORKLOAD, w.node(), workload(mesh, w));
    }
    return snapshot.build();
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

  static dev.trellis.mesh.v1.Workload workload(Mesh mesh, Workload w) {
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
    for (Service s : mesh.services()) {
      if (w.matches(s.selector())) {
        b.addServices(mesh.fqdn(s));
      }
    }
    return b.build();
  }
}
