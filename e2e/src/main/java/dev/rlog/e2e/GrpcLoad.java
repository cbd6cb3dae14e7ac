package dev.rlog.e2e;

import com.google.protobuf.Empty;
import com.google.protobuf.Timestamp;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.log.Log;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Drives {@code LogService.Send}: {@code streams} concurrent client streams, each sending
 * prebuilt batches of {@code linesPerBatch} lines of {@code lineBytes} bytes, only while the
 * stream {@code isReady()}. Each Send call carries {@code batchesPerCall} batches and is waited
 * for (the collector acknowledges after its store commit) before the next one starts.
 */
final class GrpcLoad {
  private final int port;
  private final String projectKey;
  private final int streams;
  private final int linesPerBatch;
  private final int lineBytes;
  private final int callsPerStream;
  private final int batchesPerCall;

  GrpcLoad(int port, String projectKey, int streams, int linesPerBatch, int lineBytes,
      int callsPerStream, int batchesPerCall) {
    this.port = port;
    this.projectKey = projectKey;
    this.streams = streams;
    this.linesPerBatch = linesPerBatch;
    this.lineBytes = lineBytes;
    this.callsPerStream = callsPerStream;
    this.batchesPerCall = batchesPerCall;
  }

  long totalLines() {
    return (long) streams * callsPerStream * batchesPerCall * linesPerBatch;
  }

  static String register(ManagedChannel ch, String projectKey, String host) {
    RegisterResponse r = AuthServiceGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
        .register(RegisterRequest.newBuilder().setProjectKey(projectKey).setHostname(host)
            .setOs("linux").setOsVersion("bench").build());
    return r.getAccessToken();
  }

  static ManagedChannel channel(int port) {
    return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  void run() throws Exception {
    StringBuilder sb = new StringBuilder();
    while (sb.length() < lineBytes) {
      sb.append("2026-11-21T22:01:27.123Z INFO GET /api/v1/items?id=42 200 17ms ua=bench ");
    }
    String text = sb.substring(0, lineBytes);
    LogBatch.Builder b = LogBatch.newBuilder().setBatchId("bench")
        .setSendAt(Timestamp.newBuilder().setSeconds(1_700_000_000L));
    for (int i = 0; i < linesPerBatch; i++) {
      b.addLogs(Log.newBuilder().setLabel("app").setLine(text)
          .setTimestamp(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(i * 1000)));
    }
    LogBatch batch = b.build();

    List<ManagedChannel> channels = new ArrayList<>();
    List<Thread> workers = new ArrayList<>();
    List<Throwable> errors = new ArrayList<>();
    try {
      for (int s = 0; s < streams; s++) {
        ManagedChannel ch = channel(port);
        channels.add(ch);
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + register(ch, projectKey, "bench-" + s));
        LogServiceGrpc.LogServiceStub stub = LogServiceGrpc.newStub(ch)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
        Thread t = new Thread(() -> {
          try {
            for (int c = 0; c < callsPerStream; c++) {
              oneCall(stub, batch);
            }
          } catch (Throwable e) {
            synchronized (errors) {
              errors.add(e);
            }
          }
        }, "grpc-load-" + s);
        workers.add(t);
      }
      workers.forEach(Thread::start);
      for (Thread t : workers) {
        t.join();
      }
      if (!errors.isEmpty()) {
        throw new IllegalStateException("grpc load failed", errors.get(0));
      }
    } finally {
      for (ManagedChannel ch : channels) {
        ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private void oneCall(LogServiceGrpc.LogServiceStub stub, LogBatch batch) throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Semaphore ready = new Semaphore(0);
    ClientCallStreamObserver<LogBatch>[] holder = new ClientCallStreamObserver[1];
    stub.send(new ClientResponseObserver<LogBatch, Empty>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<LogBatch> req) {
        holder[0] = req;
        req.setOnReadyHandler(ready::release);
      }

      @Override
      public void onNext(Empty value) {}

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
        ready.release();
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    });
    ClientCallStreamObserver<LogBatch> req = holder[0];
    for (int i = 0; i < batchesPerCall && !done.isDone(); i++) {
      while (!req.isReady() && !done.isDone()) {
        ready.tryAcquire(100, TimeUnit.MILLISECONDS);
      }
      req.onNext(batch);
    }
    req.onCompleted();
    done.get(120, TimeUnit.SECONDS);
  }
}
