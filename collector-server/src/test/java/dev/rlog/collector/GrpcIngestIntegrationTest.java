package dev.rlog.collector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Empty;
import com.google.protobuf.Timestamp;
import dev.rlog.collector.auth.AgentInfo;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.common.time.Clock;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gRPC side of the collector over real loopback sockets, store on disk. */
class GrpcIngestIntegrationTest {
  @TempDir Path dir;

  static LogBatch batch(String fid, long firstOffset, String... lines) {
    LogBatch.Builder b = LogBatch.newBuilder().setBatchId("b-" + firstOffset);
    long off = firstOffset;
    for (String l : lines) {
      Log.Builder lb = Log.newBuilder().setLabel("app").setLine(l)
          .setTimestamp(Timestamp.newBuilder().setSeconds(1_700_000_000L));
      if (fid != null) {
        lb.setFileInstance(fid).setOffset(off);
      }
      b.addLogs(lb);
      off += l.length() + 1;
    }
    return b.build();
  }

  /** One Send call carrying {@code batches}; completes when the collector acknowledges. */
  static CompletableFuture<Empty> send(LogServiceGrpc.LogServiceStub stub, LogBatch... batches) {
    CompletableFuture<Empty> done = new CompletableFuture<>();
    StreamObserver<LogBatch> req = stub.send(new StreamObserver<>() {
      Empty got;

      @Override
      public void onNext(Empty value) {
        got = value;
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(got);
      }
    });
    for (LogBatch b : batches) {
      req.onNext(b);
    }
    req.onCompleted();
    return done;
  }

  static Status statusOf(CompletableFuture<?> f) throws InterruptedException {
    try {
      f.get(30, TimeUnit.SECONDS);
      return Status.OK;
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer", e);
    }
  }

  private static List<String> lines(List<JsonNode> recs) {
    return recs.stream().map(r -> r.get("line").asText()).toList();
  }

  @Test
  void registeredAgentsLinesAreInTheStoreWhenSendCompletes() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      String key = c.createProject("web");
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, key, "host-1");
      assertThat(reg.getSuccess()).isTrue();
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());

      send(stub, batch("f1", 0, "one", "two"), batch("f1", 8, "three")).get(30, TimeUnit.SECONDS);

      // acknowledged means committed: the records are in the file now, no waiting
      List<JsonNode> recs = c.records();
      assertThat(lines(recs)).containsExactly("one", "two", "three");
      JsonNode r = recs.get(0);
      assertThat(r.get("src").asText()).isEqualTo("grpc");
      assertThat(r.get("project").asText()).isEqualTo("web");
      assertThat(r.get("agent").asText()).isEqualTo(reg.getAgentUuid());
      assertThat(r.get("host").asText()).isEqualTo("host-1");
      assertThat(r.get("label").asText()).isEqualTo("app");
      assertThat(r.get("ts").asText()).isEqualTo("2023-11-14T22:13:20Z");
      assertThat(r.get("fid").asText()).isEqualTo("f1");
      assertThat(recs.get(2).get("off").asLong()).isEqualTo(8);
    }
  }

  @Test
  void gzipCompressedBatchesAreAccepted() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken())
          .withCompression("gzip");
      send(stub, batch(null, 0, "zipped")).get(30, TimeUnit.SECONDS);
      assertThat(lines(c.records())).containsExactly("zipped");
    }
  }

  @Test
  void theSameBatchSentTwiceIsStoredOnceAndStillAcknowledged() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());
      LogBatch b = batch("f1", 0, "a", "b", "c");
      send(stub, b).get(30, TimeUnit.SECONDS);
      send(stub, b).get(30, TimeUnit.SECONDS);
      // an overlapping re-send: only the new tail is stored
      send(stub, batch("f1", 4, "c", "d")).get(30, TimeUnit.SECONDS);
      assertThat(lines(c.records())).containsExactly("a", "b", "c", "d");
      assertThat(c.collector.grpcCounters().duplicatesSkipped()).isEqualTo(4);
    }
  }

  @Test
  void aFileInstanceIdLongerThanTheCapIsRefusedAndNotStored() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());
      String longest = "f".repeat(dev.rlog.collector.grpc.PositionFilter.MAX_FILE_INSTANCE_BYTES);
      send(stub, batch(longest, 0, "fits")).get(30, TimeUnit.SECONDS);

      Status s = statusOf(send(stub, batch(longest + "f", 0, "too long")));

      assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(s.getDescription()).contains("file_instance");
      assertThat(lines(c.records())).containsExactly("fits");
    }
  }

  @Test
  void aLabelLongerThanTheCapIsRefusedAndNotStored() throws Exception {
    // Each call caches the labels it met: an unbounded label would be memory a client chooses.
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());
      // 128 characters of up to 4 UTF-8 bytes: 512 bytes
      String longest = "l".repeat(4 * dev.rlog.collector.auth.ProjectRegistry.MAX_LABEL_CHARS);
      send(stub, labelled(longest, "fits")).get(30, TimeUnit.SECONDS);

      Status s = statusOf(send(stub, labelled(longest + "l", "too long")));

      assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(s.getDescription()).contains("label of 513 bytes");
      assertThat(lines(c.records())).containsExactly("fits");
    }
  }

  private static LogBatch labelled(String label, String line) {
    return LogBatch.newBuilder().addLogs(Log.newBuilder().setLabel(label).setLine(line)).build();
  }

  @Test
  void duplicateFilterSurvivesACollectorRestart() throws Exception {
    LogBatch b = batch("f1", 0, "a", "b");
    String token;
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      token = c.register(ch, c.createProject("web"), "h").getAccessToken();
      send(CollectorFixture.withToken(LogServiceGrpc.newStub(ch), token), b)
          .get(30, TimeUnit.SECONDS);
    }
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      // same state dir: the signing key and the agent survive, so the token is still good
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), token);
      send(stub, b, batch("f1", 4, "c")).get(30, TimeUnit.SECONDS);
      assertThat(lines(c.records())).containsExactly("a", "b", "c");
    }
  }

  @Test
  void missingForgedOrExpiredTokensAreUnauthenticatedAndStoreNothing() throws Exception {
    FakeClock clock = new FakeClock(System.currentTimeMillis());
    try (CollectorFixture c = new CollectorFixture(dir, "auth: {access_token_ttl: 60s}", clock,
        WriteGate.OPEN)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      LogServiceGrpc.LogServiceStub bare = LogServiceGrpc.newStub(ch);

      assertThat(statusOf(send(bare, batch(null, 0, "no token"))).getCode())
          .isEqualTo(Status.Code.UNAUTHENTICATED);
      String forged = reg.getAccessToken().substring(0, reg.getAccessToken().lastIndexOf('.'))
          + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
      assertThat(statusOf(send(CollectorFixture.withToken(bare, forged),
          batch(null, 0, "forged"))).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      clock.advance(Duration.ofSeconds(61));
      assertThat(statusOf(send(CollectorFixture.withToken(bare, reg.getAccessToken()),
          batch(null, 0, "expired"))).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> c.register(ch, "rlp_wrong", "h"));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

      assertThat(c.records()).isEmpty();
    }
  }

  @Test
  void heartbeatsFillTheAgentTableAndStandardHealthAnswers() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "db-7");
      CollectorFixture.withToken(HealthServiceGrpc.newBlockingStub(ch), reg.getAccessToken())
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .heartbeat(HeartbeatRequest.newBuilder().setCpu(12.5).setMemory(40).build());
      AgentInfo a = c.collector.agents().find(reg.getAgentUuid()).orElseThrow();
      assertThat(a.hostname()).isEqualTo("db-7");
      assertThat(a.cpu()).isEqualTo(12.5);
      assertThat(a.memory()).isEqualTo(40.0);
      assertThat(a.lastHeartbeatMillis()).isPositive();

      HealthCheckResponse h = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      assertThat(h.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }
  }

  @Test
  void withTheStoreHeldASendIsNotAcknowledgedUntilCommitted() throws Exception {
    WriteGate.Manual gate = WriteGate.Manual.held();
    try (CollectorFixture c = new CollectorFixture(dir, "", Clock.system(), gate)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h");
      var stub = CollectorFixture.withToken(LogServiceGrpc.newStub(ch), reg.getAccessToken());
      CompletableFuture<Empty> ack = send(stub, batch("f1", 0, "held"));
      await().atMost(Duration.ofSeconds(30))
          .until(() -> c.collector.grpcCounters().records() == 1);
      assertThat(ack).isNotDone();
      assertThat(c.records()).isEmpty();
      gate.release();
      ack.get(30, TimeUnit.SECONDS);
      assertThat(lines(c.records())).containsExactly("held");
    }
  }
}
