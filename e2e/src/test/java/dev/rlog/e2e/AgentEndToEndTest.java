package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built collector and agent as separate processes on loopback, with real log files: every
 * line written arrives in the store exactly once, in order per file, through rotation,
 * truncation, kill -9 and a collector outage.
 */
class AgentEndToEndTest {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir; // kept on failure, for its logs
  private Path collectorDir;
  private Path agentDir;
  private Path logs;
  private int grpcPort;
  private String projectKey;
  private CollectorProcess collector;
  private final List<AutoCloseable> running = new ArrayList<>();

  @BeforeEach
  void dirs() throws IOException {
    collectorDir = Files.createDirectories(dir.resolve("collector"));
    agentDir = Files.createDirectories(dir.resolve("agent"));
    logs = Files.createDirectories(dir.resolve("logs"));
    grpcPort = CollectorProcess.freePort();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (int i = running.size() - 1; i >= 0; i--) {
      running.get(i).close();
    }
  }

  private void startCollector(String extraYaml) throws Exception {
    CollectorProcess.writeConfig(collectorDir,
        "grpc: {host: 127.0.0.1, port: " + grpcPort + "}\n" + extraYaml);
    collector = CollectorProcess.start(collectorDir, List.of());
    running.add(collector);
  }

  private void createProject(String... sources) throws Exception {
    List<String> args = new ArrayList<>(List.of("project", "create", "e2e",
        "--flush-interval", "1", "--batch-size", "1000"));
    for (String s : sources) {
      args.add("--source");
      args.add(s);
    }
    projectKey = CollectorProcess.runCommand(collectorDir, args.toArray(String[]::new)).trim();
  }

  private AgentProcess startAgent() throws IOException {
    Map<String, String> env = new HashMap<>();
    if (!Files.exists(agentDir.resolve("config/agent.yaml"))) {
      env.put("SERVER_ADDR", "127.0.0.1:" + grpcPort);
      env.put("PROJECT_KEY", projectKey);
    }
    AgentProcess a = AgentProcess.start(agentDir, env, List.of());
    running.add(a);
    return a;
  }

  private List<JsonNode> stored(String label) throws IOException {
    return CollectorProcess.records(collectorDir.resolve("data")).stream()
        .filter(r -> r.get("src").asText().equals("grpc") && r.get("label").asText().equals(label))
        .toList();
  }

  private void awaitStored(String label, long n) {
    await().atMost(WAIT).until(() -> stored(label).size() >= n);
  }

  private static long seqOf(JsonNode r) {
    String line = r.get("line").asText();
    int i = line.indexOf("seq=");
    return Long.parseLong(line.substring(i + 4, i + 12));
  }

  /** Every line 0..n-1 of {@code label} is stored exactly once, in order within its file. */
  private void assertExactlyOnceInOrder(String label, long n) throws IOException {
    List<JsonNode> recs = stored(label);
    Map<Long, Integer> count = new HashMap<>();
    Map<String, Long> lastPerFile = new LinkedHashMap<>();
    for (JsonNode r : recs) {
      long seq = seqOf(r);
      count.merge(seq, 1, Integer::sum);
      String fid = r.get("fid").asText();
      Long last = lastPerFile.put(fid, seq);
      assertThat(last == null || last < seq).as("order within %s: %s after %s", fid, seq, last)
          .isTrue();
    }
    List<Long> twice = count.entrySet().stream().filter(e -> e.getValue() > 1)
        .map(Map.Entry::getKey).sorted().toList();
    assertThat(twice).as("lines stored twice").isEmpty();
    List<Long> missing = new ArrayList<>();
    for (long s = 0; s < n; s++) {
      if (!count.containsKey(s)) {
        missing.add(s);
      }
    }
    assertThat(missing).as("lines lost").isEmpty();
    assertThat(recs).hasSize((int) n);
  }

  @Test
  void firstStartRegistersWritesItsFilesAndShipsTwoSourcesExactlyOnce() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log"), "web=" + logs.resolve("web*.log"));
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 50);
        LogFileWriter web = new LogFileWriter(logs.resolve("web-1.log"), "web", 150)) {
      app.write(3000);
      web.write(2000);
      AgentProcess agent = startAgent();
      app.write(2000);
      web.write(1000);
      awaitStored("app", 5000);
      awaitStored("web", 3000);
      assertExactlyOnceInOrder("app", 5000);
      assertExactlyOnceInOrder("web", 3000);

      for (String secret : List.of("config/agent.yaml", "state/token")) {
        assertThat(PosixFilePermissions.toString(
            Files.getPosixFilePermissions(agentDir.resolve(secret)))).as(secret)
            .isEqualTo("rw-------");
      }
      assertThat(Files.readString(agentDir.resolve("config/agent.yaml")))
          .contains("server_addr: 127.0.0.1:" + grpcPort).contains("label: web");
      assertThat(Files.readString(agentDir.resolve("state/agent_uuid")).trim())
          .isEqualTo(stored("app").get(0).get("agent").asText());
      assertThat(agent.output()).doesNotContain(projectKey);

      // SIGTERM: exits 0; a restart needs no environment and sends nothing twice
      assertThat(agent.stop(WAIT)).isZero();
      app.write(100);
      startAgent();
      awaitStored("app", 5100);
      assertExactlyOnceInOrder("app", 5100);
    }
  }

  @Test
  void renameRotationUnderContinuousWritingLosesAndDuplicatesNothing() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log*"));
    startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      app.write(5000);
      awaitStored("app", 1000); // the agent is reading the file now
      app.renameTo(logs.resolve("app.log.1"));
      app.write(500); // the application still writes to the renamed file for a moment
      app.reopen();
      app.write(5000);
      app.renameTo(logs.resolve("app.log.2"));
      app.reopen();
      app.write(1000);
      awaitStored("app", app.written());
      assertExactlyOnceInOrder("app", app.written());
    }
  }

  @Test
  void copytruncateRotationUnderContinuousWritingLosesAndDuplicatesNothing() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log*"));
    startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      app.write(5000);
      awaitStored("app", 500);
      // the writer is paused for the instant between copy and truncate (a real copytruncate
      // loses what is written then; no agent can see it)
      app.copyTruncate(logs.resolve("app.log.1"));
      app.write(5000);
      awaitStored("app", 500 + 1);
      app.copyTruncate(logs.resolve("app.log.1")); // the next rotation overwrites the copy
      app.write(1000);
      awaitStored("app", app.written());
      assertExactlyOnceInOrder("app", app.written());
    }
  }

  @Test
  void agentKilledMidStreamResumesWithoutLossOrDuplicates() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log"));
    AgentProcess agent = startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 200)) {
      app.write(20_000);
      awaitStored("app", 2000);
      agent.kill(); // SIGKILL while shipping
      app.write(5000);
      startAgent();
      app.write(5000);
      awaitStored("app", app.written());
      assertExactlyOnceInOrder("app", app.written());
    }
  }

  @Test
  void collectorDownForTwentySecondsLosesAndDuplicatesNothing() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log"));
    startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      app.write(3000);
      awaitStored("app", 3000);
      collector.kill();
      app.write(3000); // written while the collector is away
      // the outage itself: the agent keeps retrying for these 20 s
      await().pollDelay(Duration.ofSeconds(20)).atMost(Duration.ofSeconds(21)).until(() -> true);
      app.write(1000);
      startCollector("");
      awaitStored("app", app.written());
      assertExactlyOnceInOrder("app", app.written());
    }
  }

  @Test
  void anExpiredAccessTokenIsRenewedMidStreamWithoutLoss() throws Exception {
    startCollector("auth: {access_token_ttl: 1s}");
    createProject("app=" + logs.resolve("app.log"));
    startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      // rounds smaller than a batch, so each goes out on the 1 s flush interval: the stream
      // outlives several 1 s tokens
      for (int round = 0; round < 6; round++) {
        app.write(100);
        awaitStored("app", app.written());
      }
      assertExactlyOnceInOrder("app", app.written());
      assertThat(collector.metric("rlog_auth_rejected_total")).isPositive();
    }
  }
}
