package dev.trellis.ca.store;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Everything a CA persists: its signing authorities and which one signs now. Every authority's root
 * is in the trust bundle, which is how a root rotation keeps old and new leaves trusted: stage a new
 * root (trusted, not signing), activate it (signing), later remove the old one.
 *
 * @param authorities all authorities, oldest first
 * @param activeId the {@link SigningAuthority#id()} that signs new certificates
 * @param extraRoots roots trusted without a key here (a plug-in CA's other roots)
 */
public record CaMaterial(List<SigningAuthority> authorities, String activeId, List<X509Certificate> extraRoots) {

  public CaMaterial {
    authorities = List.copyOf(authorities);
    extraRoots = List.copyOf(extraRoots);
    if (authorities.isEmpty()) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "CA material has no signing authority");
    }
    Set<String> ids = new HashSet<>();
    for (SigningAuthority a : authorities) {
      if (!ids.add(a.id())) {
        throw new CaException(Reason.INVALID_CA_MATERIAL, "CA material lists authority " + a.id() + " twice");
      }
    }
    if (!ids.contains(activeId)) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, "active authority '" + activeId + "' is not among " + ids);
    }
  }

  public static CaMaterial of(SigningAuthority only) {
    return new CaMaterial(List.of(only), only.id(), List.of());
  }

  public SigningAuthority active() {
    return find(activeId);
  }

  public SigningAuthority find(String id) {
    for (SigningAuthority a : authorities) {
      if (a.id().equals(id)) {
        return a;
      }
    }
    throw new CaException(Reason.INVALID_ROTATION, "no signing authority with id '" + id + "'; known: "
        + authorities.stream().map(SigningAuthority::id).toList());
  }

  /** The distinct roots of all authorities plus the extra roots, in that order. */
  public List<X509Certificate> trustRoots() {
    List<X509Certificate> roots = new ArrayList<>();
    for (SigningAuthority a : authorities) {
      addDistinct(roots, a.root());
    }
    extraRoots.forEach(r -> addDistinct(roots, r));
    return roots;
  }

  private static void addDistinct(List<X509Certificate> roots, X509Certificate root) {
    if (!roots.contains(root)) {
      roots.add(root);
    }
  }

  public CaMaterial withAuthority(SigningAuthority added) {
    List<SigningAuthority> list = new ArrayList<>(authorities);
    list.add(added);
    return new CaMaterial(list, activeId, extraRoots);
  }

  public CaMaterial withActive(String id) {
    find(id);
    return new CaMaterial(authorities, id, extraRoots);
  }

  public CaMaterial without(String id) {
    find(id);
    if (id.equals(activeId)) {
      throw new CaException(Reason.INVALID_ROTATION, "authority " + id
          + " signs new certificates and cannot be removed; activate another one first");
    }
    List<SigningAuthority> list = new ArrayList<>(authorities);
    list.removeIf(a -> a.id().equals(id));
    return new CaMaterial(list, activeId, extraRoots);
  }
}
