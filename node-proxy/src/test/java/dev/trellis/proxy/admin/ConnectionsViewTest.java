package dev.trellis.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.mtls.identity.SpiffeId;
import dev.trellis.proxy.inbound.InboundRecords;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code /connections}: who called is what the proxy verified; what the caller claimed is labelled as such. */
class ConnectionsViewTest {

  @Test
  void theVerifiedPeerAndItsAddressComeFirstAndAForwardedClaimIsLabelledAndEscaped() {
    InboundRecords records = new InboundRecords(10);
    Instant at = Instant.parse("2026-01-01T00:00:00Z");
    records.add(new InboundRecords.Entry(at, SpiffeId.parse("spiffe://cluster.local/ns/d/sa/client"), "10.0.0.1",
        "10.1.0.7:8080", "d/web-0", 200, null, Map.of("forwarded", "for=\"6.6.6.6\"\n200 spiffe://forged")));
    records.add(new InboundRecords.Entry(at, null, "10.0.0.9", "10.1.0.7:8080", null, 403, "STRICT"));
    assertThat(ProxyAdminServer.connections(records.recent())).isEqualTo(
        "2026-01-01T00:00:00Z 200 spiffe://cluster.local/ns/d/sa/client -> 10.1.0.7:8080 (d/web-0) from 10.0.0.1"
            + " [caller claims forwarded: for=\"6.6.6.6\"\\x0A200\\x20spiffe://forged]\n"
            + "2026-01-01T00:00:00Z 403 plaintext -> 10.1.0.7:8080 from 10.0.0.9: STRICT\n");
  }
}
