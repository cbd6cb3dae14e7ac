package dev.rlog.common.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.CertificateAuthority.Issued;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemFilesTest {
  private static final Instant NOW = Instant.parse("2025-01-01T00:00:00Z");
  private static CertificateAuthority ca;
  private static Issued server;

  @TempDir Path dir;

  @BeforeAll
  static void pki() {
    ca = CertificateAuthority.create("test CA", NOW, Duration.ofDays(10));
    server = ca.issueServer(List.of("localhost", "127.0.0.1"), NOW, Duration.ofDays(5));
  }

  private Path file(String name, String text) throws Exception {
    return Files.writeString(dir.resolve(name), text);
  }

  @Test
  void readsBackWhatItWrites() throws Exception {
    Path cert = file("server.pem", server.certificatePem() + ca.ca().certificatePem());
    Path key = file("server-key.pem", server.keyPem());
    List<X509Certificate> chain = PemFiles.readCertificates(cert);
    assertThat(chain).containsExactly(server.certificate(), ca.ca().certificate());
    assertThat(PemFiles.readPrivateKey(key)).isEqualTo(server.key());
    assertThat(PemFiles.matches(server.key(), server.certificate())).isTrue();
    assertThat(PemFiles.matches(ca.ca().key(), server.certificate())).isFalse();
  }

  @Test
  void rsaKeysAndTextAroundTheBlocksAreFine() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    byte[] der = g.generateKeyPair().getPrivate().getEncoded();
    Path key = file("rsa.pem", "Bag Attributes\n" + PemFiles.encode("PRIVATE KEY", der) + "\n");
    assertThat(PemFiles.readPrivateKey(key).getAlgorithm()).isEqualTo("RSA");
  }

  @Test
  void errorsNameTheFileAndNeverShowTheContent() throws Exception {
    String secretish = server.keyPem();
    Path missing = dir.resolve("nope.pem");
    assertThat(assertThrows(PemException.class, () -> PemFiles.readCertificates(missing))
        .getMessage()).isEqualTo(missing + ": file not found");
    Path keyAsCert = file("k.pem", secretish);
    PemException e = assertThrows(PemException.class, () -> PemFiles.readCertificates(keyAsCert));
    assertThat(e.getMessage()).startsWith(keyAsCert.toString()).contains("no PEM certificate")
        .doesNotContain(secretish.substring(40, 80));
    Path garbage = file("g.pem", "hello");
    assertThat(assertThrows(PemException.class, () -> PemFiles.readPrivateKey(garbage))
        .getMessage()).contains("no PEM private key");
    Path badCert = file("bad.pem", PemFiles.encode("CERTIFICATE", new byte[] {1, 2, 3}));
    assertThat(assertThrows(PemException.class, () -> PemFiles.readCertificates(badCert))
        .getMessage()).contains("not a valid X.509 certificate");
    Path badKey = file("badkey.pem", PemFiles.encode("PRIVATE KEY", new byte[] {1, 2, 3}));
    assertThat(assertThrows(PemException.class, () -> PemFiles.readPrivateKey(badKey))
        .getMessage()).contains("not an RSA, EC or Ed25519 PKCS#8 key");
    Path pkcs1 = file("old.pem", PemFiles.encode("RSA PRIVATE KEY", new byte[] {1}));
    assertThat(assertThrows(PemException.class, () -> PemFiles.readPrivateKey(pkcs1))
        .getMessage()).contains("openssl pkcs8 -topk8");
    Path encrypted = file("enc.pem", PemFiles.encode("ENCRYPTED PRIVATE KEY", new byte[] {1}));
    assertThat(assertThrows(PemException.class, () -> PemFiles.readPrivateKey(encrypted))
        .getMessage()).contains("encrypted");
    Path twoKeys = file("two.pem", server.keyPem() + server.keyPem());
    assertThat(assertThrows(PemException.class, () -> PemFiles.readPrivateKey(twoKeys))
        .getMessage()).contains("more than one");
  }

  private static YamlConfig yaml(String text) {
    return YamlConfig.parse(Path.of("x.yaml"), text).section("tls");
  }

  @Test
  void configHelpersNameTheConfigFileAndKey() throws Exception {
    Path cert = file("server.pem", server.certificatePem());
    Path key = file("server-key.pem", server.keyPem());
    Path otherKey = file("ca-key.pem", ca.ca().keyPem());

    TlsFiles ok = PemFiles.certificateAndKeyAt(
        yaml("tls: {cert: " + cert + ", key: " + key + "}"), "cert", "key");
    assertThat(ok).isEqualTo(new TlsFiles(cert, key, null));
    assertThat(PemFiles.certificateAndKeyAt(yaml("tls: {}"), "cert", "key")).isNull();
    assertThat(PemFiles.certificatesAt(yaml("tls: {}"), "ca")).isNull();

    ConfigException e = assertThrows(ConfigException.class, () -> PemFiles.certificateAndKeyAt(
        yaml("tls: {cert: " + cert + ", key: " + otherKey + "}"), "cert", "key"));
    assertThat(e.key()).isEqualTo("tls.key");
    assertThat(e.getMessage()).startsWith("x.yaml: key 'tls.key': ")
        .contains("is not the private key of the certificate");
    assertThat(assertThrows(ConfigException.class, () -> PemFiles.certificateAndKeyAt(
        yaml("tls: {cert: " + cert + "}"), "cert", "key")).key()).isEqualTo("tls.key");
    assertThat(assertThrows(ConfigException.class, () -> PemFiles.certificateAndKeyAt(
        yaml("tls: {key: " + key + "}"), "cert", "key")).key()).isEqualTo("tls.cert");
    assertThat(assertThrows(ConfigException.class, () -> PemFiles.certificateAndKeyAt(
        yaml("tls: {cert: " + key + ", key: " + key + "}"), "cert", "key")).key())
        .isEqualTo("tls.cert");
    assertThat(assertThrows(ConfigException.class, () -> PemFiles.certificatesAt(
        yaml("tls: {ca: " + dir.resolve("missing.pem") + "}"), "ca")).getMessage())
        .contains("key 'tls.ca'").contains("missing.pem: file not found");
    assertThat(assertThrows(ConfigException.class, () -> PemFiles.certificatesAt(
        yaml("tls: {ca: ''}"), "ca")).key()).isEqualTo("tls.ca");
  }
}
