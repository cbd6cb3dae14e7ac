package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Empty;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gRPC probes of issue 7 against the built collector with its default config and JVM options
 * (112 MiB heap): each probe gets a status or waits, the collector stays up with its peak RSS
 * under 256 MiB, and a well-behaved agent's records are all stored meanwhile.
 */
class GrpcBoundsProcessTest {
  private static final long RSS_BOUND_KIB = 256 << 10;
  private static final long CALL_BOUND_SECONDS = 120;

  @TempDir Path dir;
  private CollectorProcess collector;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private String key;

  @BeforeEach
  void start() throws Exception {
    CollectorProcess.writeConfig(dir, "");
    key = CollectorProcess.runCommand(dir, "project", "create", "web").trim();
    collector = CollectorProcess.start(dir, List.of());
  }

  @AfterEach
  void stopEverything() throws Exception {
    for (ManagedChannel ch : channels) {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (collector != null) {
      collector.close();
    }
  }

  private ManagedChannel channel() {
    ManagedChannel ch = GrpcLoad.channel(collector.grpcPort());
    channels.add(ch);
    return ch;
  }

  private LogServiceGrpc.LogServiceStub logStub(ManagedChannel ch, String token) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return LogServiceGrpc.newStub(ch).withInterceptors(
        MetadataUtils.newAttachHeadersInterceptor(md))
        .withDeadlineAfter(CALL_BOUND_SECONDS, TimeUnit.SECONDS);
  }

  /** One Send call of {@code batch}; the future ends with the call's status. */
  private static CompletableFuture<Status> send(LogServiceGrpc.LogServiceStub stub,
      LogBatch batch) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    StreamObserver<LogBatch> req = stub.send(new StreamObserver<Empty>() {
      @Override
      public void onNext(Empty value) {}

      @Override
      public void onError(Throwable t) {
        done.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        done.complete(Status.OK);
      }
    });
    req.onNext(batch);
    req.onCompleted();
    return done;
  }

  private static Status await(CompletableFuture<Status> f) throws Exception {
    return f.get(CALL_BOUND_SECONDS + 30, TimeUnit.SECONDS);
  }

  private static LogBatch lines(String fid, int n, String line) {
    LogBatch.Builder b = LogBatch.newBuilder().setBatchId(fid);
    for (int i = 0; i < n; i++) {
      b.addLogs(Log.newBuilder().setLabel("app").setLine(line).setFileInstance(fid)
          .setOffset((long) i * (line.length() + 1)));
    }
    return b.build();
  }

  /** A well-behaved agent: registers, sends 1,000 lines, and all of them must be stored. */
  private CompletableFuture<Status> wellBehavedAgent(String fid) {
    ManagedChannel ch = channel();
    String token = GrpcLoad.register(ch, key, "good-host");
    return send(logStub(ch, token), lines(fid, 1000, "a well-behaved line"));
  }

  private long storedLinesOf(String fid) throws Exception {
    long[] n = {0};
    CollectorProcess.forEachRecord(dir.resolve("data"), r -> {
      if (r.has("fid") && r.get("fid").asText().equals(fid)) {
        n[0]++;
      }
    });
    return n[0];
  }

  private void assertUpAndSmall(String probe) {
    long peak = collector.peakRssKiB();
    System.out.printf("probe %s: collector peak RSS %d KiB, now %d KiB%n", probe, peak,
        collector.rssKiB());
    assertThat(collector.process().isAlive()).as("collector alive after " + probe).isTrue();
    assertThat(peak).as("peak RSS KiB after " + probe).isLessThan(RSS_BOUND_KIB);
  }

  @Test
  void eightGzipRegisterBombsAreRefusedAndTheCollectorStaysUp() throws Exception {
    String huge = "k".repeat(15 << 20); // compresses to a few KiB
    RegisterRequest bomb = RegisterRequest.newBuilder().setProjectKey(huge).setHostname("h")
        .build();
    List<CompletableFuture<Status>> probes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      CompletableFuture<Status> f = new CompletableFuture<>();
      AuthServiceGrpc.newStub(channel()).withCompression("gzip")
          .withDeadlineAfter(CALL_BOUND_SECONDS, TimeUnit.SECONDS)
          .register(bomb, new StreamObserver<RegisterResponse>() {
            @Override
            public void onNext(RegisterResponse value) {}

            @Override
            public void onError(Throwable t) {
              f.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
              f.complete(Status.OK);
            }
          });
      probes.add(f);
    }
    CompletableFuture<Status> good = wellBehavedAgent("good-1");

    for (CompletableFuture<Status> f : probes) {
      assertThat(await(f).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    assertThat(storedLinesOf("good-1")).isEqualTo(1000);
    assertThat(collector.metric("rlog_grpc_small_messages_too_large_total")
        + collector.metric("rlog_grpc_auth_calls_refused_total")).isEqualTo(8);
    assertUpAndSmall("8 gzip Register bombs");
  }

  @Test
  void aBatchOfHalfAMillionEmptyLogsIsRefusedBeforeItIsExpanded() throws Exception {
    ManagedChannel ch = channel();
    String token = GrpcLoad.register(ch, key, "probe-host");
    LogBatch.Builder b = LogBatch.newBuilder();
    for (int i = 0; i < 500_000; i++) {
      b.addLogs(Log.getDefaultInstance());
    }
    CompletableFuture<Status> probe = send(logStub(ch, token), b.build());
    CompletableFuture<Status> good = wellBehavedAgent("good-2");

    Status st = await(probe);
    assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(st.getDescription()).contains("500000 entries");
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    assertThat(storedLinesOf("good-2")).isEqualTo(1000);
    assertThat(collector.metric("rlog_grpc_batches_too_large_total")).isEqualTo(1);
    assertUpAndSmall("500,000 empty Logs");
  }

  @Test
  void fortyConcurrentSendsOfFifteenMegabytesAreRefusedForTheirStoreSize() throws Exception {
    int calls = 40;
    String line = "s".repeat(8 << 10);
    int perBatch = 15_000_000 / (line.length() + 16); // one 15 MB batch per call
    ManagedChannel ch = channel();
    String token = GrpcLoad.register(ch, key, "storm-host");
    List<CompletableFuture<Status>> storm = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      storm.add(send(logStub(ch, token), lines("storm-" + i, perBatch, line)));
    }
    CompletableFuture<Status> good = wellBehavedAgent("good-3");

    for (CompletableFuture<Status> f : storm) {
      Status st = await(f);
      assertThat(st.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(st.getDescription()).contains("grpc.max_batch_store_bytes");
    }
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    assertThat(storedLinesOf("good-3")).isEqualTo(1000);
    assertThat(collector.metric("rlog_grpc_batches_too_large_total")).isEqualTo(calls);
    assertUpAndSmall("40 concurrent Sends of 15 MB");
  }

  @Test
  void fortyConcurrentSendsOfFourMebibytesWaitTheirTurnAndAreAllStoredOnce() throws Exception {
    int calls = 40;
    String line = "r".repeat(4000);
    int perBatch = 1000; // an agent's default batch: 1,000 lines, ~4 MiB
    ManagedChannel ch = channel();
    String token = GrpcLoad.register(ch, key, "storm-host");
    List<CompletableFuture<Status>> storm = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      storm.add(send(logStub(ch, token), lines("storm-" + i, perBatch, line)));
    }
    CompletableFuture<Status> good = wellBehavedAgent("good-4");

    for (CompletableFuture<Status> f : storm) {
      assertThat(await(f).getCode()).isEqualTo(Status.Code.OK);
    }
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    long[] perFid = new long[calls];
    CollectorProcess.forEachRecord(dir.resolve("data"), r -> {
      String fid = r.has("fid") ? r.get("fid").asText() : "";
      if (fid.startsWith("storm-")) {
        perFid[Integer.parseInt(fid.substring(6))]++;
      }
    });
    Set<Long> counts = java.util.Arrays.stream(perFid).boxed().collect(Collectors.toSet());
    assertThat(counts).containsExactly((long) perBatch); // every line of every call, once
    assertThat(storedLinesOf("good-4")).isEqualTo(1000);
    assertUpAndSmall("40 concurrent Sends of 4 MiB");
  }
}
