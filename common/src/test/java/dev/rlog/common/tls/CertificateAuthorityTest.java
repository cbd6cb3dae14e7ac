package dev.rlog.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.tls.CertificateAuthority.Issued;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {
  private static final Instant NOW = Instant.parse("2025-01-01T00:00:00Z");

  @TempDir Path dir;

  /** The JDK's own PKIX validation, as a TLS peer would run it (minus revocation). */
  private static void assertChainsTo(X509Certificate leaf, X509Certificate root) throws Exception {
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
    params.setRevocationEnabled(false);
    params.setDate(Date.from(NOW.plus(Duration.ofDays(1))));
    CertPathValidator.getInstance("PKIX").validate(
        CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), params);
  }

  @Test
  void serverCertificateNamesItsHostsAndChainsToTheCa() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("rlog CA", NOW, Duration.ofDays(30));
    Issued server = ca.issueServer(List.of("Collector.Example.com", "127.0.0.1", "::1"), NOW,
        Duration.ofDays(10));
    X509Certificate c = server.certificate();
    assertChainsTo(c, ca.ca().certificate());
    assertThat(c.getSubjectAlternativeNames()).extracting(l -> String.valueOf(l.get(1)))
        .containsExactly("collector.example.com", "127.0.0.1", "0:0:0:0:0:0:0:1");
    assertThat(c.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // serverAuth
    assertThat(c.getBasicConstraints()).isEqualTo(-1);
    assertThat(c.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofDays(10)));
    assertThat(c.getNotBefore().toInstant()).isBefore(NOW);
    assertThat(ca.ca().certificate().getBasicConstraints()).isZero();
    assertThat(PemFiles.matches(server.key(), c)).isTrue();
    assertThat(server.toString()).doesNotContain(server.keyPem().substring(30, 60));
  }

  @Test
  void clientCertificateIsForClientAuth() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("rlog CA", NOW, Duration.ofDays(30));
    X509Certificate c = ca.issueClient("agent-1", NOW, Duration.ofDays(10)).certificate();
    assertChainsTo(c, ca.ca().certificate());
    assertThat(c.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2"); // clientAuth
    assertThat(c.getSubjectX500Principal().getName()).isEqualTo("CN=agent-1");
  }

  @Test
  void aLoadedCaIssuesCertificatesTheOldRootValidates() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("rlog CA", NOW, Duration.ofDays(30));
    Path cert = Files.writeString(dir.resolve("ca.pem"), ca.ca().certificatePem());
    Path key = Files.writeString(dir.resolve("ca-key.pem"), ca.ca().keyPem());
    CertificateAuthority loaded = CertificateAuthority.load(cert, key);
    assertChainsTo(loaded.issueClient("later", NOW, Duration.ofDays(1)).certificate(),
        ca.ca().certificate());

    Issued leaf = ca.issueClient("leaf", NOW, Duration.ofDays(1));
    Path leafCert = Files.writeString(dir.resolve("leaf.pem"), leaf.certificatePem());
    Path leafKey = Files.writeString(dir.resolve("leaf-key.pem"), leaf.keyPem());
    assertThat(assertThrows(PemException.class, () -> CertificateAuthority.load(leafCert, leafKey))
        .getMessage()).contains("not a CA certificate");
    assertThrows(PemException.class, () -> CertificateAuthority.load(cert, leafKey));
  }

  @Test
  void refusesWhatIsNeitherANameNorAnAddress() {
    CertificateAuthority ca = CertificateAuthority.create("rlog CA", NOW, Duration.ofDays(30));
    for (String bad : List.of("", "two words", "under_score.example", "-lead.example", "1.2.3.999")) {
      assertThrows(IllegalArgumentException.class,
          () -> ca.issueServer(List.of(bad), NOW, Duration.ofDays(1)), bad);
    }
    assertThrows(IllegalArgumentException.class,
        () -> ca.issueServer(List.of(), NOW, Duration.ofDays(1)));
    assertThrows(IllegalArgumentException.class,
        () -> ca.issueClient("c", NOW, Duration.ZERO));
  }
}
