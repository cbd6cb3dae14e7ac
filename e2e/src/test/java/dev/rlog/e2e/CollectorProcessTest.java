package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Empty;
import dev.rlog.common.wire.FrameEncoder;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built collector jar as a separate process, driven the way ops and agents drive it. */
class CollectorProcessTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;
  private final List<CollectorProcess> started = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void stopEverything() throws Exception {
    for (ManagedChannel ch : channels) {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (CollectorProcess p : started) {
      p.close();
    }
  }

  private CollectorProcess start() throws Exception {
    CollectorProcess p = CollectorProcess.start(dir, List.of());
    started.add(p);
    return p;
  }

  private LogServiceGrpc.LogServiceStub logStub(ManagedChannel ch, String token) {
    return LogServiceGrpc.newStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
        bearer(token)));
  }

  private static Metadata bearer(String token) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return md;
  }

  private ManagedChannel channel(CollectorProcess p) {
    ManagedChannel ch = GrpcLoad.channel(p.grpcPort());
    channels.add(ch);
    return ch;
  }

  private static LogBatch batch(String fid, long offset, String... lines) {
    LogBatch.Builder b = LogBatch.newBuilder().setBatchId("b" + offset);
    for (String l : lines) {
      b.addLogs(Log.newBuilder().setLabel("app").setLine(l).setFileInstance(fid).setOffset(offset));
      offset += l.length() + 1;
    }
    return b.build();
  }

  private static void send(LogServiceGrpc.LogServiceStub stub, LogBatch... batches)
      throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<LogBatch> req = stub.send(new StreamObserver<Empty>() {
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
    for (LogBatch b : batches) {
      req.onNext(b);
    }
    req.onCompleted();
    done.get(60, TimeUnit.SECONDS);
  }

  private List<JsonNode> records() throws IOException {
    return CollectorProcess.records(dir.resolve("data"));
  }

  private List<String> grpcLines() throws IOException {
    return records().stream().filter(r -> r.get("src").asText().equals("grpc"))
        .map(r -> r.get("line").asText()).toList();
  }

  @Test
  void acknowledgedBatchesSurviveKill9AndTheirResendIsNotStoredTwice() throws Exception {
    CollectorProcess.writeConfig(dir, "");
    String key = CollectorProcess.runCommand(dir, "project", "create", "web").trim();
    assertThat(key).startsWith("rlp_");
    assertThat(Files.readString(dir.resolve("state/projects.json"))).doesNotContain(key);

    CollectorProcess c = start();
    String token = GrpcLoad.register(channel(c), key, "host-a");
    send(logStub(channel(c), token), batch("fid-1", 0, "l1", "l2", "l3"));
    c.kill(); // SIGKILL right after the acknowledgement: nothing may be missing

    CollectorProcess c2 = start();
    // the agent did not see the ack (say) and sends again, then continues
    send(logStub(channel(c2), token), batch("fid-1", 0, "l1", "l2", "l3"),
        batch("fid-1", 9, "l4"));
    assertThat(grpcLines()).containsExactly("l1", "l2", "l3", "l4");
    assertThat(c2.stop(WAIT)).isZero();
  }

  @Test
  void sigtermStoresEveryReceivedRecordAndExitsZero() throws Exception {
    CollectorProcess.writeConfig(dir, "");
    CollectorProcess c = start();
    int conns = 50;
    int perConn = 200;
    List<Socket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < conns; i++) {
        Socket s = new Socket("127.0.0.1", c.tcpPort());
        sockets.add(s);
        OutputStream out = s.getOutputStream();
        for (int r = 0; r < perConn; r++) {
          out.write(FrameEncoder.encode(("c" + i + "-" + r).getBytes(StandardCharsets.UTF_8)));
        }
        out.flush();
      }
      await().atMost(WAIT).until(
          () -> c.metric("rlog_ingest_records_total") == conns * perConn);
      assertThat(c.stop(WAIT)).isZero(); // connections still open: it closes them itself
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
    }
    List<JsonNode> recs = records();
    assertThat(recs).hasSize(conns * perConn);
    assertThat(recs.stream().map(r -> r.get("payload").asText()).distinct().count())
        .isEqualTo(conns * perConn);
  }

  @Test
  void kill9DuringHeavyWritesLeavesAStoreOfWholeRecordsThatRestartsCleanly() throws Exception {
    CollectorProcess.writeConfig(dir, "store: {segment_bytes: 1MiB}");
    CollectorProcess c = start();
    TcpLoad load = new TcpLoad(c.tcpPort(), 4, 100, 50_000, 1);
    Thread sender = new Thread(() -> {
      try {
        load.run();
      } catch (Exception expected) {
        // the collector dies under it
      }
    });
    sender.start();
    await().atMost(WAIT).until(() -> c.metric("rlog_store_records_total") > 10_000);
    c.kill();
    sender.join(TimeUnit.SECONDS.toMillis(60));

    CollectorProcess c2 = start();
    long before = records().size(); // every line parses as JSON: no torn record remains
    assertThat(before).isGreaterThan(10_000);
    try (Socket s = new Socket("127.0.0.1", c2.tcpPort())) {
      s.getOutputStream().write(FrameEncoder.encode("after restart".getBytes(StandardCharsets.UTF_8)));
    }
    await().atMost(WAIT).until(() -> c2.metric("rlog_store_records_total") == 1);
    List<JsonNode> recs = records();
    assertThat(recs).hasSize((int) before + 1);
    assertThat(recs.get(recs.size() - 1).get("payload").asText()).isEqualTo("after restart");
  }

  /** Whether every page of file[from, from+len) is in the OS page cache (mincore, via the JDK). */
  private static boolean cached(Path file, long from, long len) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return ch.map(FileChannel.MapMode.READ_ONLY, from, len).isLoaded();
    }
  }

  private Path firstSegment() {
    return dir.resolve("data/segment-00000000000000000000.jsonl");
  }

  /** ~87 MB of store (480,000 records of 100 B) into one segment, all stored. */
  private void fillOneSegment(CollectorProcess c) throws Exception {
    new TcpLoad(c.tcpPort(), 4, 100, 120_000, 1).run();
    await().atMost(WAIT).until(() -> c.metric("rlog_store_records_total") == 480_000);
    assertThat(Files.size(firstSegment())).isGreaterThan(80L << 20);
  }

  @Test
  void theStoreDropsWhatIsOnDiskFromThePageCacheButTheActiveSegmentsTail() throws Exception {
    CollectorProcess c = start(); // store.drop_page_cache: true, the default
    fillOneSegment(c);
    Path seg = firstSegment();
    // Forced every 8 MiB in the background, then dropped but the last 32 MiB (asynchronously).
    await().atMost(WAIT).until(() -> !cached(seg, 0, 1 << 20));
    assertThat(cached(seg, Files.size(seg) - (1 << 20), 1 << 20)).isTrue();
    assertThat(records()).hasSize(480_000); // and read back from the disk, whole
  }

  @Test
  void withDropPageCacheFalseTheStoreLeavesThePageCacheToTheKernel() throws Exception {
    CollectorProcess.writeConfig(dir, "store: {drop_page_cache: false}");
    CollectorProcess c = start();
    fillOneSegment(c);
    assertThat(cached(firstSegment(), 0, 1 << 20)).isTrue();
  }

  @Test
  void badConfigNamesTheFileAndTheKeyAndExitsNonZero() throws Exception {
    CollectorProcess.writeConfig(dir, "queue: {capacity_bytes: 1MiB, high_watermark_bytes: 2MiB}");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(), "-jar", CollectorProcess.jar().toString())
        .directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isNotZero();
      assertThat(out).contains("collector.yaml").contains("queue.high_watermark_bytes");
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void agentsCommandListsAnAgentAfterItsHeartbeat() throws Exception {
    CollectorProcess.writeConfig(dir, "");
    String key = CollectorProcess.runCommand(dir, "project", "create", "web").trim();
    CollectorProcess c = start();
    ManagedChannel ch = channel(c);
    String token = GrpcLoad.register(ch, key, "db-7");
    HealthServiceGrpc.newBlockingStub(ch)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .heartbeat(HeartbeatRequest.newBuilder().setCpu(3.5).setMemory(41).build());
    // the collector persists heartbeats every few seconds; the command reads that file
    await().atMost(WAIT).until(() -> CollectorProcess.runCommand(dir, "agents").contains("online"));
    String table = CollectorProcess.runCommand(dir, "agents");
    assertThat(table).contains("db-7").contains("web").contains("3.5").contains("41.0");
    for (String secret : List.of("agents.json", "signing.key", "projects.json")) {
      assertThat(PosixFilePermissions.toString(
          Files.getPosixFilePermissions(dir.resolve("state").resolve(secret))))
          .as(secret).isEqualTo("rw-------");
    }
  }
}
