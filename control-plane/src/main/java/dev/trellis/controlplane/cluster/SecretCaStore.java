package dev.trellis.controlplane.cluster;

import static java.util.Objects.requireNonNull;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import dev.trellis.ca.store.SigningAuthority;
import dev.trellis.ca.store.CaManifest;
import dev.trellis.ca.store.CaMaterial;
import dev.trellis.ca.store.CaStore;
import dev.trellis.mtls.MtlsException;
import dev.trellis.mtls.svid.Pem;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * CA material in a Kubernetes Secret (cluster mode), one Secret per control plane installation:
 *
 * <pre>
 * manifest            "active &lt;id&gt;" and one "authority &lt;id&gt;" line per authority (as the file store writes it)
 * &lt;id&gt;.chain.pem       signing certificate first, root last
 * &lt;id&gt;.key.pem         PKCS#8
 * </pre>
 *
 * Creation is a plain {@code create}: the API server lets exactly one of several racing replicas create a name
 * and answers the others 409 Conflict, after which they read the winner's root — so a fresh install with several
 * replicas ends up with one root, without a leader. Updates (rotation) carry the {@code resourceVersion} they
 * read (optimistic concurrency): a concurrent change fails loudly instead of being overwritten.
 */
public final class SecretCaStore implements CaStore {

  static final String MANIFEST = "manifest";
  public static final String DEFAULT_NAME = "trellis-ca-root";

  private final KubernetesClient client;
  private final String namespace;
  private final String name;

  public SecretCaStore(KubernetesClient client, String namespace, String name) {
    this.client = requireNonNull(client, "client");
    this.namespace = requireNonNull(namespace, "namespace");
    this.name = requireNonNull(name, "name");
  }

  @Override
  public String describe() {
    return "Secret " + namespace + "/" + name;
  }

  @Override
  public Optional<CaMaterial> load() {
    return read().map(this::decode);
  }

  private Optional<Secret> read() {
    try {
      return Optional.ofNullable(client.secrets().inNamespace(namespace).withName(name).get());
    } catch (KubernetesClientException e) {
      throw failure("cannot read " + describe() + ": " + e.getMessage() + hint(e, "get"), e);
    }
  }

  @Override
  public CaMaterial createIfAbsent(CaMaterial material) {
    try { // no read first: the create itself is the test, and a lost race reads the winner's
      client.secrets().inNamespace(namespace).resource(encode(material, null)).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
        throw failure("cannot create " + describe() + ": " + e.getMessage() + hint(e, "create"), e);
      }
      // Another replica created it first: its root is the root.
    }
    return load().orElseThrow(() -> failure(describe() + " vanished right after it was created", null));
  }

  @Override
  public synchronized void update(CaMaterial material) {
    Secret current = read().orElseThrow(() -> failure(describe() + " does not exist; cannot update it", null));
    try {
      client.secrets().inNamespace(namespace).resource(encode(material, current.getMetadata().getResourceVersion()))
          .update();
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        throw new CaException(Reason.STORE_FAILURE, describe() + " was changed by someone else while this replica "
            + "updated it; nothing was overwritten — read it again and retry the rotation step", e);
      }
      throw failure("cannot update " + describe() + " (" + e.getMessage() + ")", e);
    }
  }

  private Secret encode(CaMaterial material, String resourceVersion) {
    Map<String, String> data = new LinkedHashMap<>();
    for (SigningAuthority a : material.authorities()) {
      data.put(a.id() + ".chain.pem", base64(Pem.encodeCertificates(a.chain())));
      data.put(a.id() + ".key.pem", base64(Pem.encodePrivateKey(a.key())));
    }
    data.put(MANIFEST, base64(CaManifest.format(material)));
    return new SecretBuilder().withNewMetadata().withNamespace(namespace).withName(name)
        .withResourceVersion(resourceVersion)
        .addToLabels("app.kubernetes.io/managed-by", "trellis").addToLabels("app.kubernetes.io/component", "ca")
        .endMetadata().withType("Opaque").withData(data).build();
  }

  private CaMaterial decode(Secret secret) {
    Map<String, String> data = secret.getData() == null ? Map.of() : secret.getData();
    CaManifest manifest = CaManifest.parse(text(data, MANIFEST), describe() + " key '" + MANIFEST + "'");
    List<SigningAuthority> authorities = new ArrayList<>();
    for (String id : manifest.authorities()) {
      try {
        List<X509Certificate> chain = Pem.decodeCertificates(text(data, id + ".chain.pem"));
        PrivateKey key = Pem.decodePrivateKey(text(data, id + ".key.pem"));
        authorities.add(new SigningAuthority(key, chain));
      } catch (MtlsException e) {
        throw new CaException(Reason.INVALID_CA_MATERIAL, "authority " + id + " in " + describe()
            + " is corrupt: " + e.getMessage() + "; restore the Secret from backup, or delete it to start a new "
            + "root (every workload certificate will then be reissued)", e);
      }
    }
    return new CaMaterial(authorities, manifest.active(), List.of());
  }

  private String text(Map<String, String> data, String key) {
    String value = data.get(key);
    if (value == null) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, describe() + " has no key '" + key + "'");
    }
    return new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8);
  }

  private static String base64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /** What to check: RBAC when the API server refused, reachability when it never answered. */
  private String hint(KubernetesClientException e, String verb) {
    if (e.getCode() == HttpURLConnection.HTTP_FORBIDDEN) {
      return " (the control plane's service account needs RBAC to " + verb + " secrets in " + namespace + ")";
    }
    if (e.getCode() < 100) { // no HTTP answer at all
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      return " (no answer from the API server: " + root + "; in a pod, check the service account token and network "
          + "policy; outside a cluster, check ~/.kube/config or $KUBECONFIG)";
    }
    return "";
  }

  private static CaException failure(String message, Throwable cause) {
    return new CaException(Reason.STORE_FAILURE, message, cause);
  }
}
