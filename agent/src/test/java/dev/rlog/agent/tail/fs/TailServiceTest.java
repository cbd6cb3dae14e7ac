package dev.rlog.agent.tail.fs;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSink;
import dev.rlog.agent.tail.PositionsFile;
import dev.rlog.agent.tail.PositionsFileException;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.common.time.Clock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TailServiceTest {
  @TempDir Path logs;
  @TempDir Path state;

  /** Rescans rarely: lines arriving quickly prove the WatchService woke the tailer. */
  static final TailConfig CONFIG = TailConfig.builder()
      .rescanInterval(Duration.ofSeconds(30))
      .checkpointInterval(Duration.ofMillis(20))
      .build();

  private static void append(Path p, String prefix, int from, int to) throws Exception {
    String text = IntStream.range(from, to).mapToObj(i -> prefix + i + "\n")
        .collect(Collectors.joining());
    Files.writeString(p, text, UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private static List<String> range(String prefix, int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> prefix + i).toList();
  }

  private TailService service(OffsetStore store, RecordingSink sink) {
    return new TailService(List.of(new TailSource("app", logs.resolve("*.log").toString())),
        CONFIG, store, sink, Clock.system());
  }

  private static void ackAll(TailService svc, RecordingSink sink) {
    for (LineBatch b : sink.takeUnacked()) {
      svc.commit(b.fileInstance(), b.endPosition());
    }
  }

  /** Live tail threads; other tests' leftovers are excluded by comparing with a set from before. */
  private static Set<Thread> tailThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals(TailService.THREAD_NAME) && t.isAlive())
        .collect(Collectors.toSet());
  }

  /** The service's future completes from inside its thread, just before the thread ends. */
  private static void assertEnded(Set<Thread> threads) throws InterruptedException {
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(t.isAlive()).as("%s still alive", t).isFalse();
    }
  }

  @Test
  void tailsThroughWatchEventsCommitsAndResumesAfterRestart() throws Exception {
    Path log = logs.resolve("app.log");
    OffsetStore store = new OffsetStore(state);
    append(log, "line-", 0, 10);
    RecordingSink sink = new RecordingSink(store);
    TailService svc = service(store, sink);
    Set<Thread> before = tailThreads();
    svc.start();
    Set<Thread> ours = new HashSet<>(tailThreads());
    ours.removeAll(before);
    assertThat(ours).hasSize(1);
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.texts().size() == 10);
      append(log, "line-", 10, 100);
      append(logs.resolve("second.log"), "other-", 0, 5); // new file, found through CREATE
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.texts().size() == 105);
      ackAll(svc, sink);
      long size = Files.size(log);
      await().atMost(Duration.ofSeconds(10)).until(() -> store.load().entries().stream()
          .anyMatch(e -> e.path().equals(log.toString()) && e.committed() == size));
      assertThat(svc.committedPositions().entries()).hasSize(2);
      append(log, "line-", 100, 120); // shipped but never acknowledged
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.texts().size() == 125);
    } finally {
      CompletableFuture<Void> f = svc.shutdown();
      assertThat(svc.shutdown()).isSameAs(f);
      f.get(10, TimeUnit.SECONDS);
    }
    assertThat(sink.texts(r -> r.text().startsWith("line-")))
        .containsExactlyElementsOf(range("line-", 0, 120));
    assertEnded(ours);

    append(log, "line-", 120, 130);
    RecordingSink sink2 = new RecordingSink(store);
    TailService again = service(store, sink2);
    again.start();
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> sink2.texts().size() == 30);
      assertThat(sink2.texts()).containsExactlyElementsOf(range("line-", 100, 130));
    } finally {
      again.close();
    }
  }

  @Test
  void stopReadingStillPersistsCommitsUntilShutdown() throws Exception {
    Path log = logs.resolve("app.log");
    OffsetStore store = new OffsetStore(state);
    append(log, "line-", 0, 50);
    RecordingSink sink = new RecordingSink(store);
    TailService svc = service(store, sink);
    svc.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> sink.texts().size() == 50);
    svc.stopReading();
    append(log, "line-", 50, 60);
    ackAll(svc, sink);
    svc.shutdown().get(10, TimeUnit.SECONDS);
    assertThat(sink.texts()).hasSize(50); // nothing read after stopReading() took effect...
    PositionsFile onDisk = store.load();
    assertThat(onDisk.entries()).singleElement()
        .satisfies(e -> assertThat(e.committed()).isEqualTo(offsetOf(log, 50)));
    svc.commit(onDisk.entries().get(0).instance(), 1); // after shutdown: logged, ignored
  }

  @Test
  void sinkFullThenWakeupDeliversEverything() throws Exception {
    Path log = logs.resolve("app.log");
    OffsetStore store = new OffsetStore(state);
    RecordingSink sink = new RecordingSink(store);
    sink.full(true);
    append(log, "line-", 0, 20_000);
    TailService svc = service(store, sink);
    svc.start();
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> svc.stats().stream()
          .anyMatch(s -> s.sinkRefusals() > 0));
      sink.full(false);
      svc.wakeup();
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.texts().size() == 20_000);
      assertThat(sink.texts()).containsExactlyElementsOf(range("line-", 0, 20_000));
    } finally {
      svc.close();
    }
  }

  @Test
  void commitOfLinesFromAPartlyTakenBatchTakesEffectOnceTheBatchIsAccepted() throws Exception {
    Path log = logs.resolve("app.log");
    OffsetStore store = new OffsetStore(state);
    append(log, "line-", 0, 10);
    AtomicReference<TailService> ref = new AtomicReference<>();
    AtomicBoolean refuseRest = new AtomicBoolean(true);
    AtomicInteger offers = new AtomicInteger();
    // Takes the first 4 lines, has them "acknowledged" at once, refuses the rest for now.
    LineSink sink = b -> {
      offers.incrementAndGet();
      if (refuseRest.get()) {
        if (offers.get() == 1) {
          ref.get().commit(b.fileInstance(), b.end(3));
        }
        return false;
      }
      return true;
    };
    TailService svc = new TailService(List.of(new TailSource("app", log.toString())), CONFIG, store, sink,
        Clock.system());
    ref.set(svc);
    svc.start();
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> offers.get() >= 2);
      long end3 = offsetOf(log, 4);
      assertThat(store.load().entries()).singleElement()
          .satisfies(e -> assertThat(e.committed()).isZero()); // nothing read yet: nothing applied
      refuseRest.set(false);
      svc.wakeup();
      await().atMost(Duration.ofSeconds(10)).until(() -> store.load().entries().get(0).committed()
          == end3);
    } finally {
      svc.close();
    }
  }

  @Test
  void corruptPositionsFileStopsTheStartNamingFileAndLine() throws Exception {
    Files.writeString(state.resolve(OffsetStore.FILE_NAME), "rlog-positions 1\nbroken\n");
    TailService svc = service(new OffsetStore(state), new RecordingSink(null));
    Set<Thread> before = tailThreads();
    PositionsFileException e = assertThrows(PositionsFileException.class, svc::start);
    assertThat(e.getMessage()).contains(state.resolve("positions").toString()).contains("line 2");
    assertThat(svc.shutdown()).isDone();
    assertThat(tailThreads()).isSubsetOf(before); // start failed before any thread was made
  }

  @Test
  void rejectsDuplicateLabels() {
    assertThrows(IllegalArgumentException.class, () -> new TailService(
        List.of(new TailSource("a", "/x/a.log"), new TailSource("a", "/x/b.log")),
        CONFIG, new OffsetStore(state), b -> true, Clock.system()));
  }

  private static long offsetOf(Path p, int line) throws Exception {
    byte[] all = Files.readAllBytes(p);
    int seen = 0;
    for (int i = 0; i < all.length; i++) {
      if (seen == line) {
        return i;
      }
      if (all[i] == '\n') {
        seen++;
      }
    }
    return all.length;
  }
}
