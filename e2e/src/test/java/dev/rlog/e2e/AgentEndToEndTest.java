package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Empty;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

      for (String secret : List.of("config/agent.yaml", "state/token", "state/agent_secret")) {
        assertThat(PosixFilePermissions.toString(
            Files.getPosixFilePermissions(agentDir.resolve(secret)))).as(secret)
            .isEqualTo("rw-------");
      }
      assertThat(Files.readString(agentDir.resolve("config/agent.yaml")))
          .contains("server_addr: 127.0.0.1:" + grpcPort).contains("label: web");
      assertThat(Files.readString(agentDir.resolve("state/agent_uuid")).trim())
          .isEqualTo(stored("app").get(0).get("agent").asText());
      assertThat(agent.output()).doesNotContain(projectKey)
          .doesNotContain(Files.readString(agentDir.resolve("state/agent_secret")).strip());

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
      // rounds smaller than a batch, each at least 0.4 s after the last: the six span more than
      // twice the 1 s token whatever a round's own speed (a round can be stored well within
      // the agent's flush interval, and then all six fitted in one token's life and the test
      // failed at random)
      for (int round = 0; round < 6; round++) {
        app.write(100);
        awaitStored("app", app.written());
        await().pollDelay(Duration.ofMillis(400)).atMost(Duration.ofSeconds(1)).until(() -> true);
      }
      assertExactlyOnceInOrder("app", app.written());
      // The agent met an expired token and got past it: either a call was refused at its start
      // or its open stream was closed by the recheck; which one depends on timing.
      assertThat(collector.metric("rlog_auth_rejected_total")
          + collector.metric("rlog_grpc_streams_closed_unauthenticated_total")).isPositive();
    }
  }

  @Test
  void theProjectKeyAndTheAgentsUuidCannotTakeItOverNorSuppressItsLines() throws Exception {
    startCollector("");
    createProject("app=" + logs.resolve("app.log"));
    startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      app.write(100);
      awaitStored("app", 100);
      String uuid = Files.readString(agentDir.resolve("state/agent_uuid")).strip();
      String fid = stored("app").get(0).get("fid").asText();

      // A thief holding the project key names the agent's uuid (it cannot know its secret) ...
      ManagedChannel ch = GrpcLoad.channel(grpcPort);
      try {
        RegisterResponse thief = AuthServiceGrpc.newBlockingStub(ch)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .register(RegisterRequest.newBuilder().setProjectKey(projectKey).setHostname("thief")
                .setOs("linux").setOsVersion("x").setAgentUuid(uuid).build());
        assertThat(thief.getAgentUuid()).isNotEqualTo(uuid);
        // ... and sends a line of the agent's file instance with a huge offset, under its own uuid.
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + thief.getAccessToken());
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<LogBatch> req = LogServiceGrpc.newStub(ch)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .send(new StreamObserver<Empty>() {
              @Override
              public void onNext(Empty value) {}

              @Override
              public void onError(Throwable t) {
                done.completeExceptionally(t);
              }

              @Override
              public void onCompleted() {
                done.complete(null);
              }
            });
        req.onNext(LogBatch.newBuilder().addLogs(Log.newBuilder().setLabel("thief")
            .setLine("evil").setFileInstance(fid).setOffset(1L << 60)).build());
        req.onCompleted();
        done.get(30, TimeUnit.SECONDS);
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      assertThat(collector.metric("rlog_auth_identity_refusals_total")).isEqualTo(1);

      app.write(200);
      awaitStored("app", 300);
      assertExactlyOnceInOrder("app", 300);
      assertThat(stored("app")).allSatisfy(r -> assertThat(r.get("agent").asText()).isEqualTo(uuid));
      assertThat(Files.readString(agentDir.resolve("state/agent_uuid")).strip()).isEqualTo(uuid);
    }
  }

  /** The real logrotate, forced, on app.log with these directives. */
  private void logrotate(String directives) throws Exception {
    Path conf = dir.resolve("logrotate.conf");
    Files.writeString(conf, logs.resolve("app.log") + " {\n  rotate 9\n  missingok\n"
        + directives + "\n}\n");
    Process p = new ProcessBuilder(logrotateBinary(), "-f", "-s",
        dir.resolve("logrotate.state").toString(), conf.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as("logrotate said: %s", out).isZero();
  }

  static String logrotateBinary() {
    for (String c : List.of("/usr/sbin/logrotate", "/usr/bin/logrotate", "/sbin/logrotate")) {
      if (Files.isExecutable(Path.of(c))) {
        return c;
      }
    }
    throw new IllegalStateException(
        "logrotate is not installed: apt-get install logrotate (.ci/run installs it)");
  }

  /**
   * The configuration most people write: a plain path, rotated names not matched. The agent is
   * killed mid-stream (lines read but not acknowledged, lines not read at all), logrotate
   * rotates while it is down, and the restarted agent finishes the old file wherever logrotate
   * put it — renamed, dated, copied, or compressed.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"create", "copytruncate", "dateext", "compress"})
  void plainPathRotatedWhileTheAgentIsDownLosesAndDuplicatesNothing(String mode)
      throws Exception {
    String directives = switch (mode) {
      case "create" -> "  create";
      case "copytruncate" -> "  copytruncate";
      case "dateext" -> "  create\n  dateext\n  dateformat -%Y%m%d-%s";
      case "compress" -> "  create\n  compress"; // no delaycompress: gzip'd at once
      default -> throw new IllegalArgumentException(mode);
    };
    startCollector("");
    createProject("app=" + logs.resolve("app.log"));
    AgentProcess agent = startAgent();
    try (LogFileWriter app = new LogFileWriter(logs.resolve("app.log"), "app", 100)) {
      app.write(20_000);
      awaitStored("app", 2000);
      agent.kill();
      app.write(3000); // written while the agent is down
      logrotate(directives);
      if (mode.equals("create") || mode.equals("dateext")) {
        app.write(200); // the application writes on to the renamed file until it reopens
      }
      if (!mode.equals("copytruncate")) {
        app.reopen(); // postrotate: the application opens a new app.log
      }
      app.write(1000);
      startAgent();
      app.write(1000);
      awaitStored("app", app.written());
      assertExactlyOnceInOrder("app", app.written());
    }
    try (java.util.stream.Stream<Path> s = Files.list(logs)) {
      List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
      assertThat(names).as("what logrotate left").hasSize(2).contains("app.log");
      if (mode.equals("compress")) {
        assertThat(names).contains("app.log.1.gz"); // only the .gz was left to finish from
      }
    }
  }

  /** Counts complete records in the store without parsing them. */
  private long storedLines() throws IOException {
    long n = 0;
    Path data = collectorDir.resolve("data");
    if (!Files.isDirectory(data)) {
      return 0;
    }
    try (java.util.stream.Stream<Path> s = Files.list(data)) {
      for (Path seg : s.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
        for (byte b : Files.readAllBytes(seg)) {
          n += b == '\n' ? 1 : 0;
        }
      }
    }
    return n;
  }

  /**
   * A host that keeps many logs: 1,000 unread files of 1 MB under one source. The agent starts
   * with the collector down (it reads until its buffers are full, then waits, alive), then the
   * collector comes up and every line arrives exactly once, with the agent's peak RSS under
   * 160 MiB with the default JVM options.
   */
  @Test
  void aThousandUnreadFilesAreDeliveredOnceInBoundedMemoryAfterAnOutage() throws Exception {
    int files = 1000;
    int linesPerFile = 1000;
    startCollector("");
    createProject("bulk=" + logs.resolve("*.log"));
    AgentProcess first = startAgent(); // first start: registers, nothing to read yet
    await().atMost(WAIT).until(() -> first.output().contains("agent started"));
    assertThat(first.stop(WAIT)).isZero();
    assertThat(collector.stop(WAIT)).isZero();

    String pad = "x".repeat(1000 - 20);
    for (int f = 0; f < files; f++) {
      StringBuilder sb = new StringBuilder(linesPerFile * 1001);
      for (int i = 0; i < linesPerFile; i++) {
        sb.append(String.format("f%04d seq=%08d ", f, i)).append(pad).append('\n');
      }
      Files.writeString(logs.resolve(String.format("f%04d.log", f)), sb);
    }
    AgentProcess agent = startAgent();
    // Collector down: the agent fills its buffers, then retries with backoff, alive.
    await().atMost(WAIT).until(() -> agent.output().split("retrying in", -1).length > 4);
    assertThat(agent.process().isAlive()).isTrue();
    long rssDuringOutage = agent.rssKiB();

    startCollector("");
    long total = (long) files * linesPerFile;
    await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofSeconds(2))
        .until(() -> storedLines() >= total);
    long peak = agent.peakRssKiB();

    Map<String, java.util.BitSet> seen = new HashMap<>();
    AtomicLong dup = new AtomicLong();
    AtomicLong count = new AtomicLong();
    CollectorProcess.forEachRecord(collectorDir.resolve("data"), r -> {
      String line = r.get("line").asText();
      java.util.BitSet bits = seen.computeIfAbsent(line.substring(0, 5), k -> new java.util.BitSet());
      int seq = (int) seqOf(r);
      if (bits.get(seq)) {
        dup.incrementAndGet();
      }
      bits.set(seq);
      count.incrementAndGet();
    });
    assertThat(dup.get()).as("lines stored twice").isZero();
    assertThat(seen).hasSize(files);
    assertThat(seen.values()).allMatch(b -> b.cardinality() == linesPerFile);
    assertThat(count.get()).isEqualTo(total);
    System.out.printf("1000-file backlog: agent RSS %d MiB during the outage, peak %d MiB%n",
        rssDuringOutage / 1024, peak / 1024);
    assertThat(peak).as("agent peak RSS in KiB").isLessThan(160 * 1024);
  }
}
