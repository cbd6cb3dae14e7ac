package dev.rlog.e2e;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.rlog.proto.log.Chunk;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives {@code LogService.Ship} as our agent does: {@code streams} agents (each registered on
 * its own connection), each sending chunks of {@code linesPerChunk} lines of {@code lineBytes}
 * bytes (newline included) of one file instance, with at most {@code window} chunks
 * unacknowledged, written only while the stream {@code isReady()}. Ends when every chunk is
 * acknowledged (the collector acks after its store commit).
 */
final class ShipLoad {
  private static final int WINDOW = 16;

  private final int port;
  private final String projectKey;
  private final int streams;
  private final int linesPerChunk;
  private final int lineBytes;
  private final int chunksPerStream;

  ShipLoad(int port, String projectKey, int streams, int linesPerChunk, int lineBytes,
      int chunksPerStream) {
    this.port = port;
    this.projectKey = projectKey;
    this.streams = streams;
    this.linesPerChunk = linesPerChunk;
    this.lineBytes = lineBytes;
    this.chunksPerStream = chunksPerStream;
  }

  long totalLines() {
    return (long) streams * chunksPerStream * linesPerChunk;
  }

  void run() throws Exception {
    StringBuilder sb = new StringBuilder();
    while (sb.length() < lineBytes - 1) {
      sb.append("2026-11-21T22:01:27.123Z INFO GET /api/v1/items?id=42 200 17ms ua=bench ");
    }
    String line = sb.substring(0, lineBytes - 1) + "\n";
    ByteString data = ByteString.copyFrom(line.repeat(linesPerChunk), StandardCharsets.UTF_8);
    Chunk.Builder proto = Chunk.newBuilder().setLabel("app").setData(data)
        .setReadAt(Timestamp.newBuilder().setSeconds(1_700_000_000L));
    for (int i = 0; i < linesPerChunk; i++) {
      proto.addLineLengths(lineBytes);
    }
    Chunk template = proto.build();

    List<ManagedChannel> channels = new ArrayList<>();
    List<Thread> workers = new ArrayList<>();
    List<Throwable> errors = new ArrayList<>();
    try {
      for (int s = 0; s < streams; s++) {
        ManagedChannel ch = GrpcLoad.channel(port);
        channels.add(ch);
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + GrpcLoad.register(ch, projectKey, "bench-" + s));
        LogServiceGrpc.LogServiceStub stub = LogServiceGrpc.newStub(ch)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
        String fid = "bench-file-" + s + "-" + System.nanoTime();
        Thread t = new Thread(() -> {
          try {
            ship(stub, template.toBuilder().setFileInstance(fid).build());
          } catch (Throwable e) {
            synchronized (errors) {
              errors.add(e);
            }
          }
        }, "ship-load-" + s);
        workers.add(t);
      }
      workers.forEach(Thread::start);
      for (Thread t : workers) {
        t.join();
      }
      if (!errors.isEmpty()) {
        throw new IllegalStateException("ship load failed", errors.get(0));
      }
    } finally {
      for (ManagedChannel ch : channels) {
        ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private void ship(LogServiceGrpc.LogServiceStub stub, Chunk template) throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Semaphore wake = new Semaphore(0);
    AtomicLong acked = new AtomicLong();
    @SuppressWarnings("unchecked")
    ClientCallStreamObserver<Chunk>[] holder = new ClientCallStreamObserver[1];
    stub.ship(new ClientResponseObserver<Chunk, ChunkAck>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<Chunk> req) {
        holder[0] = req;
        req.setOnReadyHandler(wake::release);
      }

      @Override
      public void onNext(ChunkAck ack) {
        acked.set(ack.getSeq());
        wake.release();
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
        wake.release();
      }

      @Override
      public void onCompleted() {
        done.complete(null);
        wake.release();
      }
    });
    ClientCallStreamObserver<Chunk> req = holder[0];
    long chunkBytes = template.getData().size();
    for (long seq = 1; seq <= chunksPerStream && !done.isDone(); seq++) {
      while ((seq - acked.get() > WINDOW || !req.isReady()) && !done.isDone()) {
        wake.tryAcquire(100, TimeUnit.MILLISECONDS);
      }
      req.onNext(template.toBuilder().setSeq(seq).setStartOffset((seq - 1) * chunkBytes).build());
    }
    req.onCompleted();
    done.get(300, TimeUnit.SECONDS);
    if (acked.get() != chunksPerStream) {
      throw new IllegalStateException("acked " + acked.get() + " of " + chunksPerStream);
    }
  }
}
