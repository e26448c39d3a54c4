package dev.trellis.ca.store;

import dev.trellis.ca.CaException;
import dev.trellis.ca.CaException.Reason;
import java.util.ArrayList;
import java.util.List;

/**
 * The manifest every CA store keeps: {@code active <id>} and one {@code authority <id>} line per authority, oldest
 * first. It is the truth about which stored authorities exist; the stores differ only in where each authority's
 * chain and key live (files, Secret keys).
 *
 * @param active the id of the authority that signs
 * @param authorities every authority's id, in order
 */
public record CaManifest(String active, List<String> authorities) {

  public CaManifest {
    authorities = List.copyOf(authorities);
  }

  /** The manifest text of {@code material}. */
  public static String format(CaMaterial material) {
    StringBuilder b = new StringBuilder("active ").append(material.activeId()).append('\n');
    material.authorities().forEach(a -> b.append("authority ").append(a.id()).append('\n'));
    return b.toString();
  }

  /**
   * @param where how the manifest is named in errors (a path, a Secret key)
   * @throws CaException INVALID_CA_MATERIAL for a line that is neither form, or no active authority
   */
  public static CaManifest parse(String text, String where) {
    String active = null;
    List<String> ids = new ArrayList<>();
    for (String line : text.split("\n")) {
      String[] parts = line.strip().split("\\s+");
      if (parts.length == 2 && parts[0].equals("active")) {
        active = parts[1];
      } else if (parts.length == 2 && parts[0].equals("authority")) {
        ids.add(parts[1]);
      } else if (!line.isBlank()) {
        throw new CaException(Reason.INVALID_CA_MATERIAL, where + ": unexpected line '" + line
            + "' (expected: 'active <id>' or 'authority <id>')");
      }
    }
    if (active == null) {
      throw new CaException(Reason.INVALID_CA_MATERIAL, where + " names no active authority");
    }
    return new CaManifest(active, ids);
  }
}
