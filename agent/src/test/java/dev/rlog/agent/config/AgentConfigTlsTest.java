package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.CertificateAuthority;
import dev.rlog.common.tls.CertificateAuthority.Issued;
import dev.rlog.common.tls.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** server_addr schemes and the tls section of agent.yaml. */
class AgentConfigTlsTest {
  private static final Path FILE = Path.of("config/agent.yaml");

  @TempDir Path dir;
  private Path ca;
  private Path cert;
  private Path key;
  private Path caKey;

  @BeforeEach
  void pki() throws Exception {
    CertificateAuthority authority =
        CertificateAuthority.create("test CA", Instant.now(), Duration.ofDays(1));
    Issued client = authority.issueClient("agent", Instant.now(), Duration.ofDays(1));
    ca = Files.writeString(dir.resolve("ca.pem"), authority.ca().certificatePem());
    caKey = Files.writeString(dir.resolve("ca-key.pem"), authority.ca().keyPem());
    cert = Files.writeString(dir.resolve("client.pem"), client.certificatePem());
    key = Files.writeString(dir.resolve("client-key.pem"), client.keyPem());
  }

  private static AgentConfig parse(String yaml) {
    return AgentConfig.fromYaml(YamlConfig.parse(FILE, "project_key: pk\n" + yaml));
  }

  private static ConfigException error(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml));
  }

  @Test
  void schemesChooseTlsAndTheSectionNamesTheFiles() {
    assertThat(parse("server_addr: http://localhost:50051\n").serverAddr())
        .isEqualTo(new ServerAddress("localhost", 50051, false));
    AgentConfig systemCas = parse("server_addr: https://collector.example.com:50051\n");
    assertThat(systemCas.serverAddr().tls()).isTrue();
    assertThat(systemCas.tls()).isNull();

    AgentConfig mutual = parse("server_addr: https://c:1\ntls: {ca: " + ca + ", cert: " + cert
        + ", key: " + key + "}\n");
    assertThat(mutual.tls()).isEqualTo(new TlsFiles(cert, key, ca));
    assertThat(parse("server_addr: https://c:1\ntls: {ca: " + ca + "}\n").tls())
        .isEqualTo(new TlsFiles(null, null, ca));
  }

  @Test
  void tlsFilesWithAPlaintextAddressAreAConflict() {
    ConfigException e = error("server_addr: c:1\ntls: {ca: " + ca + "}\n");
    assertThat(e.key()).isEqualTo("tls");
    assertThat(e.getMessage()).contains("https://c:1");
  }

  @Test
  void badFilesNameTheirKey() {
    assertThat(error("server_addr: https://c:1\ntls: {cert: " + cert + "}\n").key())
        .isEqualTo("tls.key");
    assertThat(error("server_addr: https://c:1\ntls:\n").key()).isEqualTo("tls");
    assertThat(error("server_addr: https://c:1\ntls: {cert: " + cert + ", key: " + caKey
        + "}\n").key()).isEqualTo("tls.key");
    assertThat(error("server_addr: https://c:1\ntls: {ca: " + key + "}\n").key())
        .isEqualTo("tls.ca");
    assertThat(error("server_addr: https://c:1\ntls: {ca: " + dir.resolve("missing.pem")
        + "}\n").getMessage()).contains("key 'tls.ca'").contains("file not found");
    assertThat(error("server_addr: https://c:1\ntls: {cacert: " + ca + "}\n").key())
        .isEqualTo("tls.cacert");
  }

  @Test
  void theWriterKeepsTlsAndTheSchemeAcrossARoundTrip() throws Exception {
    AgentConfig c = parse("server_addr: https://c:1\ntls: {ca: " + ca + ", cert: " + cert
        + ", key: " + key + "}\n");
    Path file = dir.resolve("agent.yaml");
    AgentConfigWriter.write(c, file);
    String text = Files.readString(file);
    assertThat(text).contains("server_addr: https://c:1").contains("ca: " + ca);
    assertThat(AgentConfig.load(file).tls()).isEqualTo(c.tls());
    assertThat(AgentConfig.load(file).serverAddr()).isEqualTo(c.serverAddr());
  }
}
