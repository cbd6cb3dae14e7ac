package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rlog.common.net.CapturingProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built collector and agent as processes talking TLS: certificates from {@code
 * rlog-collector tls init}, the collector requiring client certificates, the agent registering
 * from {@code SERVER_ADDR=https://...} and {@code RLOG_TLS_*}. A wire tap between them checks
 * that neither the project key nor a line crosses in clear; agents without TLS or without a
 * client certificate are refused.
 */
class TlsEndToEndTest {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final String MARKER = "card=4111-1111-never-in-clear";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir;
  private Path collectorDir;
  private Path logs;
  private Path tls;
  private String projectKey;
  private CollectorProcess collector;
  private final List<AutoCloseable> running = new ArrayList<>();

  @BeforeEach
  void mutualTlsCollector() throws Exception {
    collectorDir = Files.createDirectories(dir.resolve("collector"));
    logs = Files.createDirectories(dir.resolve("logs"));
    CollectorProcess.runCommand(collectorDir, "tls", "init", "--dir", "tls",
        "--host", "127.0.0.1,localhost", "--client", "agent1");
    tls = collectorDir.resolve("tls");
    // relative paths: resolved against the collector's working directory
    CollectorProcess.writeConfig(collectorDir, "grpc: {host: 127.0.0.1, port: 0, tls: {cert:"
        + " tls/server.pem, key: tls/server-key.pem, client_ca: tls/ca.pem}}");
    collector = CollectorProcess.start(collectorDir, List.of());
    running.add(collector);
    projectKey = CollectorProcess.runCommand(collectorDir, "project", "create", "e2e",
        "--flush-interval", "1", "--source", "app=" + logs.resolve("app.log")).trim();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (int i = running.size() - 1; i >= 0; i--) {
      running.get(i).close();
    }
  }

  private AgentProcess startAgent(Path agentDir, String serverAddr, boolean clientCert)
      throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("SERVER_ADDR", serverAddr);
    env.put("PROJECT_KEY", projectKey);
    if (serverAddr.startsWith("https://")) {
      env.put("RLOG_TLS_CA", tls.resolve("ca.pem").toString());
    }
    if (clientCert) {
      env.put("RLOG_TLS_CERT", tls.resolve("client-agent1.pem").toString());
      env.put("RLOG_TLS_KEY", tls.resolve("client-agent1-key.pem").toString());
    }
    AgentProcess a = AgentProcess.start(agentDir, env, List.of());
    running.add(a);
    return a;
  }

  private List<JsonNode> stored() throws Exception {
    return CollectorProcess.records(collectorDir.resolve("data"));
  }

  @Test
  void agentShipsOverMutualTlsAndAWireTapReadsNoSecret() throws Exception {
    Path agentDir = dir.resolve("agent");
    try (CapturingProxy tap = new CapturingProxy("127.0.0.1", collector.grpcPort());
        LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app " + MARKER, 20)) {
      app.write(500);
      AgentProcess agent = startAgent(agentDir, "https://127.0.0.1:" + tap.port(), true);
      app.write(500);
      await().atMost(WAIT).until(() -> stored().size() >= 1000);
      List<JsonNode> recs = stored();
      assertThat(recs).hasSize(1000);
      assertThat(recs).allMatch(r -> r.get("line").asText().contains(MARKER));

      assertThat(tap.capturedBytes()).as("bytes through the tap").isGreaterThan(10_000);
      assertThat(tap.sawText(projectKey)).as("project key in clear").isFalse();
      assertThat(tap.sawText(MARKER)).as("a line in clear").isFalse();
      assertThat(tap.sawText(Files.readString(agentDir.resolve("state/token")).strip()))
          .as("refresh token in clear").isFalse();

      assertThat(Files.readString(agentDir.resolve("config/agent.yaml")))
          .contains("server_addr: https://127.0.0.1:" + tap.port())
          .contains("ca: " + tls.resolve("ca.pem"))
          .contains("key: " + tls.resolve("client-agent1-key.pem"));
      assertThat(agent.output()).doesNotContain(projectKey);
      assertThat(agent.stop(WAIT)).isZero();
    }
  }

  @Test
  void agentsWithoutTlsOrWithoutAClientCertificateAreRefused() throws Exception {
    AgentProcess plain = startAgent(dir.resolve("plain"), "127.0.0.1:" + collector.grpcPort(),
        false);
    AgentProcess noCert = startAgent(dir.resolve("no-cert"),
        "https://127.0.0.1:" + collector.grpcPort(), false);
    for (AgentProcess a : List.of(plain, noCert)) {
      assertThat(a.process().waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(a.process().exitValue()).as(a.output()).isNotZero();
      assertThat(a.output()).contains("cannot register").doesNotContain(projectKey);
    }
    assertThat(dir.resolve("plain/config/agent.yaml")).doesNotExist();
    assertThat(dir.resolve("no-cert/config/agent.yaml")).doesNotExist();
  }
}
