package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Empty;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import com.google.protobuf.ByteString;
import dev.rlog.proto.log.Chunk;
import dev.rlog.proto.log.ChunkAck;
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
  void fortyConcurrentSendsOfFifteenMegabytesAreRefusedForTheirSize() throws Exception {
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
      // above grpc.max_message_bytes (2 MiB): refused by the transport from the message header
      assertThat(st.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    assertThat(storedLinesOf("good-3")).isEqualTo(1000);
    assertUpAndSmall("40 concurrent Sends of 15 MB");
  }

  @Test
  void fortyConcurrentSendsOfFourMebibytesWaitTheirTurnAndAreAllStoredOnce() throws Exception {
    int calls = 40;
    String line = "r".repeat(1000);
    int batches = 4;
    int perBatch = 1000; // 4 batches of 1,000 lines, ~1 MB each (an agent's default batch)
    int lines = batches * perBatch;
    ManagedChannel ch = channel(); // multiplexed on one connection, as one busy client would
    String token = GrpcLoad.register(ch, key, "storm-host");
    List<CompletableFuture<Status>> storm = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      String fid = "storm-" + i;
      storm.add(sendWhenReady(logStub(ch, token), batches, b -> {
        LogBatch.Builder lb = LogBatch.newBuilder();
        for (int l = 0; l < perBatch; l++) {
          lb.addLogs(Log.newBuilder().setLabel("app").setLine(line).setFileInstance(fid)
              .setOffset(((long) b * perBatch + l) * (line.length() + 1)));
        }
        return lb.build();
      }));
    }
    CompletableFuture<Status> good = wellBehavedAgent("good-4");

    assertAllOkAndStoredOnce(storm, "storm-", lines);
    assertThat(await(good).getCode()).isEqualTo(Status.Code.OK);
    assertThat(storedLinesOf("good-4")).isEqualTo(1000);
    assertUpAndSmall("40 concurrent Sends of 4 MiB");
  }

  /**
   * The reconnect storm: 1,000 Send calls open at once, each carrying 4 MiB as 64 batches of
   * 64 KiB (16 lines of 4,000 bytes), sent as the stream is ready. All stored exactly once, the
   * collector under 256 MiB.
   */
  @Test
  void aThousandConcurrentSendsOfFourMebibytesAreAllStoredOnce() throws Exception {
    int calls = 1000;
    int batches = 64;
    int linesPerBatch = 16;
    String line = "t".repeat(4000);
    // One connection per call, as a fleet of agents has: streams multiplexed on one connection
    // share its HTTP/2 window, and one that is not read yet holds it for the others (README).
    List<ManagedChannel> chs = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      chs.add(channel());
    }
    String token = GrpcLoad.register(chs.get(0), key, "storm-host");
    List<CompletableFuture<Status>> storm = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      String fid = "big-" + i;
      // built when sent (the lines share one String): the probe never holds 4 GB
      java.util.function.IntFunction<LogBatch> batch = b -> {
        LogBatch.Builder lb = LogBatch.newBuilder();
        for (int l = 0; l < linesPerBatch; l++) {
          long n = (long) b * linesPerBatch + l;
          lb.addLogs(Log.newBuilder().setLabel("app").setLine(line).setFileInstance(fid)
              .setOffset(n * (line.length() + 1)));
        }
        return lb.build();
      };
      storm.add(sendWhenReady(logStub(chs.get(i % chs.size()), token), batches, batch));
    }

    assertAllOkAndStoredOnce(storm, "big-", batches * linesPerBatch);
    assertUpAndSmall("1,000 concurrent Sends of 4 MiB");
  }

  /**
   * The reconnect storm on the fast path: 1,000 authenticated Ship streams of 100 agents at once,
   * one per connection, each carrying 1 MiB as 16 chunks of 64 KiB (16 lines of 4,000 bytes). The first
   * connections take the wide windows (grpc.ship_window, 256 KiB) until grpc.ship_windows_budget
   * (16 MiB) is spent, the rest keep 8 KiB: every line stored once, the collector under 256 MiB.
   */
  @Test
  void aThousandConcurrentShipStreamsOfOneMebibyteAreAllStoredOnce() throws Exception {
    int calls = 1000;
    int chunks = 16;
    int linesPerChunk = 16;
    byte[] line = ("s".repeat(4000) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] data = new byte[line.length * linesPerChunk];
    for (int l = 0; l < linesPerChunk; l++) {
      System.arraycopy(line, 0, data, l * line.length, line.length);
    }
    ByteString chunkData = ByteString.copyFrom(data); // shared: the probe never holds 1 GB
    List<ManagedChannel> chs = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      chs.add(channel());
    }
    // 100 agents on 10 connections each: one agent may widen two of its connections, so the
    // 16 MiB budget (64 windows) is what runs out
    List<String> tokens = new ArrayList<>();
    for (int a = 0; a < 100; a++) {
      tokens.add(GrpcLoad.register(chs.get(a), key, "ship-storm-host-" + a));
    }
    List<CompletableFuture<Status>> storm = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      String fid = "ship-" + i;
      java.util.function.IntFunction<Chunk> chunk = c -> Chunk.newBuilder().setSeq(c + 1)
          .setLabel("app").setFileInstance(fid).setStartOffset((long) c * data.length)
          .setData(chunkData).addAllLineLengths(java.util.Collections.nCopies(linesPerChunk,
              line.length)).build();
      storm.add(shipWhenReady(logStub(chs.get(i), tokens.get(i % tokens.size())), chunks,
          chunk));
    }

    assertAllOkAndStoredOnce(storm, "ship-", chunks * linesPerChunk);
    assertThat(collector.metric("rlog_grpc_ship_windows_bytes")).isLessThanOrEqualTo(16 << 20);
    assertThat(collector.metric("rlog_grpc_ship_windows_refused_total")).isPositive();
    assertUpAndSmall("1,000 concurrent Ship streams of 1 MiB");
  }

  /**
   * Every call of a storm ended OK, and call i's file instance ({@code prefix + i}) has exactly
   * {@code lines} records in the store: every line of every call, once.
   */
  private void assertAllOkAndStoredOnce(List<CompletableFuture<Status>> storm, String prefix,
      int lines) throws Exception {
    for (CompletableFuture<Status> f : storm) {
      Status st = await(f);
      assertThat(st.getCode()).as(st.toString()).isEqualTo(Status.Code.OK);
    }
    int[] perFid = new int[storm.size()];
    CollectorProcess.forEachRecord(dir.resolve("data"), r -> {
      String fid = r.has("fid") ? r.get("fid").asText() : "";
      if (fid.startsWith(prefix)) {
        perFid[Integer.parseInt(fid.substring(prefix.length()))]++;
      }
    });
    Set<Integer> counts = java.util.Arrays.stream(perFid).boxed().collect(Collectors.toSet());
    assertThat(counts).containsExactly(lines);
  }

  /**
   * One Ship call of {@code chunks}, each handed to gRPC only when the stream is ready; it
   * half-closes once every chunk is acknowledged, and the future ends with the call's status.
   */
  private static CompletableFuture<Status> shipWhenReady(LogServiceGrpc.LogServiceStub stub,
      int chunks, java.util.function.IntFunction<Chunk> chunk) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    stub.ship(new io.grpc.stub.ClientResponseObserver<Chunk, ChunkAck>() {
      private io.grpc.stub.ClientCallStreamObserver<Chunk> req;
      private int next;

      @Override
      public void beforeStart(io.grpc.stub.ClientCallStreamObserver<Chunk> r) {
        req = r;
        r.setOnReadyHandler(() -> {
          while (req.isReady() && next < chunks) {
            req.onNext(chunk.apply(next++));
          }
        });
      }

      @Override
      public void onNext(ChunkAck ack) {
        if (ack.getSeq() == chunks) {
          req.onCompleted();
        }
      }

      @Override
      public void onError(Throwable t) {
        done.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        done.complete(Status.OK);
      }
    });
    return done;
  }

  /**
   * One Send call of {@code batches}, each handed to gRPC only when the stream is ready, so the
   * probe itself buffers about one batch per call.
   */
  private static CompletableFuture<Status> sendWhenReady(LogServiceGrpc.LogServiceStub stub,
      int batches, java.util.function.IntFunction<LogBatch> batch) {
    CompletableFuture<Status> done = new CompletableFuture<>();
    stub.send(new io.grpc.stub.ClientResponseObserver<LogBatch, Empty>() {
      @Override
      public void beforeStart(io.grpc.stub.ClientCallStreamObserver<LogBatch> req) {
        int[] next = {0};
        req.setOnReadyHandler(() -> {
          while (req.isReady() && next[0] < batches) {
            req.onNext(batch.apply(next[0]++));
          }
          if (next[0] == batches) {
            next[0]++;
            req.onCompleted();
          }
        });
      }

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
    return done;
  }
}
