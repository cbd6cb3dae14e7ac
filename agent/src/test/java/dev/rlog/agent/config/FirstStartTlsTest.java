package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.auth.HostInfo;
import dev.rlog.common.tls.CertificateAuthority;
import dev.rlog.common.tls.CertificateAuthority.Issued;
import dev.rlog.common.tls.TlsFiles;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SERVER_ADDR=https://... and RLOG_TLS_* at first start: checked, dialled, written. */
class FirstStartTlsTest {
  private static final HostInfo HOST = new HostInfo("host-a", "Linux", "6.1");

  @TempDir Path dir;
  private final FirstStartTest.FakeAuth auth = new FirstStartTest.FakeAuth();
  private final List<ServerAddress> dialed = new CopyOnWriteArrayList<>();
  private final List<TlsFiles> dialedTls = new CopyOnWriteArrayList<>();
  private String serverName;
  private Server server;
  private Path configFile;
  private Path ca;
  private Path cert;
  private Path key;

  @BeforeEach
  void setUp() throws Exception {
    serverName = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(serverName).directExecutor().addService(auth).build()
        .start();
    configFile = dir.resolve("config/agent.yaml");
    CertificateAuthority authority =
        CertificateAuthority.create("test CA", Instant.now(), Duration.ofDays(1));
    Issued client = authority.issueClient("agent", Instant.now(), Duration.ofDays(1));
    ca = Files.writeString(dir.resolve("ca.pem"), authority.ca().certificatePem());
    cert = Files.writeString(dir.resolve("client.pem"), client.certificatePem());
    key = Files.writeString(dir.resolve("client-key.pem"), client.keyPem());
  }

  @AfterEach
  void tearDown() {
    server.shutdownNow();
  }

  private FirstStart firstStart(Map<String, String> extra) {
    Map<String, String> env = new HashMap<>(Map.of("PROJECT_KEY", "pk_test_secret"));
    env.putAll(extra);
    FirstStart.Channels channels = (addr, tls) -> {
      dialed.add(addr);
      if (tls != null) {
        dialedTls.add(tls);
      }
      return InProcessChannelBuilder.forName(serverName).directExecutor().build();
    };
    return new FirstStart(configFile, new AgentState(dir.resolve("state")), env, channels, HOST,
        Duration.ofSeconds(5));
  }

  @Test
  void httpsWithCaAndClientCertificateIsDialledAndWrittenToTheConfig() throws Exception {
    FirstStart.Result r = firstStart(Map.of("SERVER_ADDR", "https://collector.test:50051",
        "RLOG_TLS_CA", ca.toString(), "RLOG_TLS_CERT", cert.toString(),
        "RLOG_TLS_KEY", key.toString())).run();

    TlsFiles expected = new TlsFiles(cert, key, ca);
    assertThat(dialed).containsExactly(new ServerAddress("collector.test", 50051, true));
    assertThat(dialedTls).containsExactly(expected);
    assertThat(r.config().tls()).isEqualTo(expected);
    assertThat(Files.readString(configFile))
        .contains("server_addr: https://collector.test:50051")
        .contains("ca: " + ca).contains("cert: " + cert).contains("key: " + key);
    AgentConfig reloaded = AgentConfig.load(configFile);
    assertThat(reloaded.tls()).isEqualTo(expected);
    assertThat(reloaded.serverAddr().tls()).isTrue();
  }

  @Test
  void httpSchemeOfTheOriginalAgentIsPlaintext() throws Exception {
    FirstStart.Result r = firstStart(Map.of("SERVER_ADDR", "http://localhost:50051")).run();
    assertThat(r.config().serverAddr()).isEqualTo(new ServerAddress("localhost", 50051, false));
    assertThat(r.config().tls()).isNull();
    assertThat(Files.readString(configFile)).contains("server_addr: localhost:50051")
        .doesNotContain("\ntls:");
  }

  @Test
  void httpsAloneTrustsTheSystemCas() throws Exception {
    FirstStart.Result r = firstStart(Map.of("SERVER_ADDR", "https://collector.test:443")).run();
    assertThat(r.config().serverAddr().tls()).isTrue();
    assertThat(r.config().tls()).isNull();
    assertThat(dialedTls).isEmpty();
  }

  @Test
  void tlsFilesWithAPlaintextAddressOrBadFilesStopBeforeDialling() {
    FirstStartException plain = assertThrows(FirstStartException.class, () -> firstStart(
        Map.of("SERVER_ADDR", "collector.test:50051", "RLOG_TLS_CA", ca.toString())).run());
    assertThat(plain.getMessage()).contains("https://collector.test:50051");

    FirstStartException half = assertThrows(FirstStartException.class, () -> firstStart(
        Map.of("SERVER_ADDR", "https://c:1", "RLOG_TLS_CERT", cert.toString())).run());
    assertThat(half.getMessage()).contains("RLOG_TLS_KEY");

    Path missing = dir.resolve("missing.pem");
    FirstStartException gone = assertThrows(FirstStartException.class, () -> firstStart(
        Map.of("SERVER_ADDR", "https://c:1", "RLOG_TLS_CA", missing.toString())).run());
    assertThat(gone.getMessage()).contains(missing.toString()).contains("file not found");

    FirstStartException mismatch = assertThrows(FirstStartException.class, () -> firstStart(
        Map.of("SERVER_ADDR", "https://c:1", "RLOG_TLS_CERT", cert.toString(),
            "RLOG_TLS_KEY", ca.toString())).run());
    assertThat(mismatch.getMessage()).contains(ca.toString());

    assertThat(dialed).isEmpty();
    assertThat(auth.registers).isEmpty();
    assertThat(configFile).doesNotExist();
  }
}
