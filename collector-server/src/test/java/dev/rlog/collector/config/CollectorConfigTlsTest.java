package dev.rlog.collector.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.tls.TlsInit;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** grpc.tls and tcp.tls: files checked at load, errors naming the config file and the key. */
class CollectorConfigTlsTest {
  private static final Path FILE = Path.of("conf/collector.yaml");

  @TempDir Path dir;
  private Path cert;
  private Path key;
  private Path ca;

  @BeforeEach
  void pki() throws Exception {
    TlsInit.init(dir, List.of("localhost"), List.of(), false, Instant.now(), Duration.ofDays(1));
    cert = dir.resolve(TlsInit.SERVER_CERT);
    key = dir.resolve(TlsInit.SERVER_KEY);
    ca = dir.resolve(TlsInit.CA_CERT);
  }

  private static CollectorConfig parse(String yaml) {
    return CollectorConfig.fromYaml(YamlConfig.parse(FILE, yaml));
  }

  private static ConfigException error(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml));
  }

  @Test
  void plaintextByDefault() {
    CollectorConfig c = parse("");
    assertThat(c.grpcTls()).isNull();
    assertThat(c.tcpTls()).isNull();
    assertThat(c.grpcTlsEnabled()).isFalse();
  }

  @Test
  void grpcAndTcpTlsAreRead() {
    CollectorConfig c = parse("grpc: {tls: {cert: " + cert + ", key: " + key + ", client_ca: "
        + ca + "}}\ntcp: {tls: {cert: " + cert + ", key: " + key + "}}");
    assertThat(c.grpcTls()).isEqualTo(new TlsFiles(cert, key, ca));
    assertThat(c.tcpTls()).isEqualTo(new TlsFiles(cert, key, null));
  }

  @Test
  void missingOrMismatchedFilesNameTheKey() throws Exception {
    assertThat(error("grpc: {tls: {}}").key()).isEqualTo("grpc.tls.cert");
    assertThat(error("grpc:\n  tls:\n  # cert: x\n").key()).isEqualTo("grpc.tls");
    assertThat(error("grpc: {tls: {cert: " + cert + "}}").key()).isEqualTo("grpc.tls.key");
    assertThat(error("tcp: {tls: {key: " + key + "}}").key()).isEqualTo("tcp.tls.cert");

    ConfigException missing = error("grpc: {tls: {cert: " + dir.resolve("nope.pem") + ", key: "
        + key + "}}");
    assertThat(missing.getMessage()).startsWith(FILE + ": key 'grpc.tls.cert': ")
        .contains("nope.pem: file not found");

    // the CA's key beside the server certificate
    ConfigException mismatch = error("grpc: {tls: {cert: " + cert + ", key: "
        + dir.resolve(TlsInit.CA_KEY) + "}}");
    assertThat(mismatch.key()).isEqualTo("grpc.tls.key");
    assertThat(mismatch.getMessage()).contains("is not the private key of the certificate");

    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not pem at all");
    assertThat(error("tcp: {tls: {cert: " + cert + ", key: " + garbage + "}}").key())
        .isEqualTo("tcp.tls.key");
    assertThat(error("grpc: {tls: {cert: " + cert + ", key: " + key + ", client_ca: " + garbage
        + "}}").key()).isEqualTo("grpc.tls.client_ca");
    assertThat(error("grpc: {tls: {cert: " + cert + ", key: " + key + ", clientca: " + ca
        + "}}").key()).isEqualTo("grpc.tls.clientca");
  }

  @Test
  void aKeyErrorNeverQuotesTheKey() throws Exception {
    String keyText = Files.readString(key);
    // a key file given as the certificate: the message names it, never shows it
    ConfigException e = error("grpc: {tls: {cert: " + key + ", key: " + key + "}}");
    assertThat(e.getMessage()).contains(key.toString());
    for (String line : keyText.split("\n")) {
      if (!line.startsWith("-----")) {
        assertThat(e.getMessage()).doesNotContain(line);
      }
    }
  }
}
