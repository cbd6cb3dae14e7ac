package dev.rlog.agent.tail.fs;

import static dev.rlog.agent.tail.fs.SourceTailerTest.range;
import static dev.rlog.agent.tail.fs.SourceTailerTest.truncate;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.agent.tail.InstanceState;
import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.fs.SourceTailerTest.Writer;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pattern starts files, it never stops one from being finished: a source with a plain path
 * (rotated names not matched) through rename, dateext, numbered shifts, copytruncate and
 * compression, while the agent runs and while it is down; and the bounds on open files and held
 * batches for a backlog of many files. Real files, fake clock, no threads.
 */
class FinishAnywhereTest {
  @TempDir Path logs;
  @TempDir Path state;

  private Path log() {
    return logs.resolve("app.log");
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** Runs a first agent on the plain path: lines 0..acked read and acknowledged. */
  private void runAndAck(Writer w, int acked) throws IOException {
    w.lines("old-", 0, acked);
    try (TailHarness h = new TailHarness(state, "app", log())) {
      h.poll();
      h.ackAll();
    }
  }

  private void gzip(Path from, Path to) throws IOException {
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(to))) {
      Files.copy(from, out);
    }
    Files.delete(from);
  }

  @Test
  void renamedOutOfThePatternWhileDownIsFinishedBeforeTheNewFile() throws Exception {
    try (Writer w = new Writer(log())) {
      runAndAck(w, 100);
      w.lines("old-", 100, 160); // written while the agent is down, then rotated away
    }
    Files.move(log(), logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
    try (Writer fresh = new Writer(log()); TailHarness h = new TailHarness(state, "app", log())) {
      fresh.lines("new-", 0, 20);
      h.poll();
      assertThat(h.sink.texts())
          .containsExactlyElementsOf(concat(range("old-", 100, 160), range("new-", 0, 20)));
      h.advance(Duration.ofSeconds(11)); // drainIdle: the renamed file is finished and closed
      h.poll();
      assertThat(h.tailer.stats().openFiles()).isEqualTo(1);
      assertThat(h.tailer.stats().lostBytesGone()).isZero();
    }
  }

  @Test
  void dateextNameAndNumberedShiftsWhileDownAreFoundByInode() throws Exception {
    try (Writer w = new Writer(log())) {
      runAndAck(w, 10);
      w.lines("old-", 10, 30);
    }
    // Two renames of the same file while down: app.log -> app.log-20261130 -> app.log.2
    Files.move(log(), logs.resolve("app.log-20261130"), StandardCopyOption.ATOMIC_MOVE);
    Files.move(logs.resolve("app.log-20261130"), logs.resolve("app.log.2"),
        StandardCopyOption.ATOMIC_MOVE);
    try (TailHarness h = new TailHarness(state, "app", log())) {
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("old-", 10, 30));
    }
  }

  @Test
  void renamedOutOfThePatternWhileRunningIsReadToItsEnd() throws Exception {
    try (TailHarness h = new TailHarness(state, "app", log())) {
      Writer old = new Writer(log());
      old.lines("old-", 0, 100);
      h.poll();
      // Read but not acknowledged when the rename happens; more lines after it.
      Files.move(log(), logs.resolve("app.log-20261130"), StandardCopyOption.ATOMIC_MOVE);
      old.lines("old-", 100, 150).close();
      try (Writer fresh = new Writer(log())) {
        fresh.lines("new-", 0, 10);
        h.poll();
        h.poll();
      }
      assertThat(h.sink.texts(r -> r.text().startsWith("old-")))
          .containsExactlyElementsOf(range("old-", 0, 150));
      assertThat(h.sink.texts(r -> r.text().startsWith("new-")))
          .containsExactlyElementsOf(range("new-", 0, 10));
      assertThat(h.tailer.states()).containsValue(InstanceState.DRAINING);
    }
  }

  @Test
  void copytruncateOfAPlainPathWhileRunningContinuesInTheUnmatchedCopy() throws Exception {
    try (Writer w = new Writer(log()); TailHarness h = new TailHarness(state, "app", log())) {
      w.lines("line-", 0, 300);
      h.poll();
      w.lines("line-", 300, 400); // not read yet when logrotate copies and truncates
      Files.copy(log(), logs.resolve("app.log.1"));
      truncate(log());
      w.lines("line-", 400, 450);
      h.poll();
      h.poll();
      h.advance(Duration.ofSeconds(11));
      h.poll();
      assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(range("line-", 0, 450));
      assertThat(h.sink.instances()).hasSize(2);
      assertThat(h.tailer.stats().copiesContinued()).isEqualTo(1);
    }
  }

  @Test
  void renamedAndCompressedWhileDownIsFinishedFromTheGzip() throws Exception {
    try (Writer w = new Writer(log())) {
      runAndAck(w, 1000);
      w.lines("old-", 1000, 1200);
    }
    Files.move(log(), logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
    gzip(logs.resolve("app.log.1"), logs.resolve("app.log.1.gz"));
    try (Writer fresh = new Writer(log()); TailHarness h = new TailHarness(state, "app", log())) {
      fresh.lines("new-", 0, 5);
      h.poll();
      h.poll();
      assertThat(h.sink.texts())
          .containsExactlyElementsOf(concat(range("old-", 1000, 1200), range("new-", 0, 5)));
      assertThat(h.sink.records().get(0).offset()).isEqualTo(
          range("old-", 0, 1000).stream().mapToLong(s -> s.length() + 1).sum());
      h.advance(Duration.ofSeconds(1));
      h.poll();
      assertThat(h.tailer.stats().openFiles()).isEqualTo(1); // the .gz is done and closed
    }
  }

  @Test
  void copytruncatedAndCompressedWhileDownIsFinishedFromTheGzip() throws Exception {
    try (Writer w = new Writer(log())) {
      runAndAck(w, 50);
      w.lines("old-", 50, 80);
      Files.copy(log(), logs.resolve("app.log.1"));
      truncate(log());
      w.lines("new-", 0, 3);
    }
    gzip(logs.resolve("app.log.1"), logs.resolve("app.log.1.gz"));
    try (TailHarness h = new TailHarness(state, "app", log())) {
      h.poll();
      h.poll();
      assertThat(h.sink.texts())
          .containsExactlyInAnyOrderElementsOf(concat(range("old-", 50, 80), range("new-", 0, 3)));
    }
  }

  @Test
  void compressedFilesMatchedByThePatternAreNeverStarted() throws Exception {
    try (Writer w = new Writer(logs.resolve("other.log"))) {
      w.lines("x-", 0, 10);
    }
    gzip(logs.resolve("other.log"), logs.resolve("app.log.3.gz"));
    try (Writer w = new Writer(log());
        TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      w.lines("a-", 0, 2);
      h.poll();
      assertThat(h.sink.texts()).containsExactly("a-0", "a-1");
    }
  }

  @Test
  void aFileThatLeftTheDirectoryUnreadIsCountedAsLost() throws Exception {
    TailConfig oneOpen = TailConfig.builder().blockBytes(4096).maxOpenFiles(1)
        .copyGrace(Duration.ofSeconds(10)).retention(Duration.ofMinutes(1)).build();
    try (Writer a = new Writer(logs.resolve("a.log")); Writer b = new Writer(logs.resolve("b.log"));
        TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), oneOpen,
            new FakeClock())) {
      a.lines("a-", 0, 3000); // more than one poll's worth: a keeps the only slot
      b.lines("b-", 0, 10);
      setAge(logs.resolve("a.log"), 100);
      setAge(logs.resolve("b.log"), 50);
      h.sink.full(true);
      h.poll();
      long bSize = Files.size(logs.resolve("b.log"));
      Files.delete(logs.resolve("b.log")); // gone before it was ever opened
      h.poll();
      h.advance(Duration.ofSeconds(11));
      h.poll();
      assertThat(h.tailer.stats().lostBytesGone()).isEqualTo(bSize);
      h.sink.full(false);
      for (int i = 0; i < 20; i++) {
        h.poll();
      }
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("a-", 0, 3000));
    }
  }

  @Test
  void aBacklogOfManyFilesIsReadOldestFirstWithBoundedOpenFilesAndOneHeldBatch()
      throws Exception {
    int n = 40;
    TailConfig few = TailConfig.builder().blockBytes(4096).maxBlocksPerPoll(2).maxOpenFiles(4)
        .build();
    for (int i = 0; i < n; i++) {
      Path p = logs.resolve(String.format("f%02d.log", i));
      try (Writer w = new Writer(p)) {
        w.lines("f" + i + "-", 0, 500); // several blocks each
      }
      setAge(p, 1000 - i); // f00 is the oldest
    }
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), few,
        new FakeClock())) {
      int maxOpen = 0;
      for (int round = 0; round < 2000 && h.sink.records().size() < n * 500; round++) {
        h.sink.full(round % 3 == 0); // the shipper is often behind
        h.tailer.requestRescan();
        h.tailer.poll();
        maxOpen = Math.max(maxOpen, h.tailer.stats().openFiles());
        assertThat(h.tailer.stats().openFiles()).isLessThanOrEqualTo(4);
      }
      h.sink.full(false);
      h.poll();
      assertThat(maxOpen).isEqualTo(4);
      List<String> expected = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        expected.addAll(range("f" + i + "-", 0, 500));
      }
      assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(expected);
      // Oldest first: the first lines delivered come from the oldest files.
      assertThat(h.sink.texts().get(0)).isEqualTo("f0-0");
      List<String> firstFiles = h.sink.texts().stream().limit(4 * 500L)
          .map(s -> s.substring(0, s.indexOf('-'))).distinct().toList();
      assertThat(firstFiles).allMatch(Stream.of("f0", "f1", "f2", "f3").toList()::contains);
    }
  }

  @Test
  void quietFilesAreNotReadAgainAtEveryRescan() throws Exception {
    for (int i = 0; i < 50; i++) {
      try (Writer w = new Writer(logs.resolve("q" + i + ".log"))) {
        w.lines("q" + i + "-", 0, 1);
      }
    }
    TailConfig cfg = TailConfig.builder().blockBytes(4096).maxOpenFiles(10).build();
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), cfg,
        new FakeClock())) {
      for (int i = 0; i < 20; i++) {
        h.poll();
      }
      long read = h.tailer.stats().bytesRead();
      for (int i = 0; i < 20; i++) {
        h.advance(Duration.ofSeconds(1));
        h.poll();
      }
      assertThat(h.tailer.stats().bytesRead()).isEqualTo(read);
      assertThat(h.sink.records()).hasSize(50);
      assertThat(h.tailer.stats().openFiles()).isLessThanOrEqualTo(10);
      // a quiet closed file that grows is opened and read again
      try (Writer w = new Writer(logs.resolve("q7.log"))) {
        w.lines("q7-", 1, 3);
      }
      h.poll();
      assertThat(h.sink.texts()).contains("q7-1", "q7-2");
      assertThat(h.sink.records()).hasSize(52);
    }
  }

  @Test
  void aGenerationWrittenAndRotatedAwayWhileDownIsAdoptedButOldRotationsAreNot() throws Exception {
    try (Writer w = new Writer(log())) {
      runAndAck(w, 10);
      w.lines("old-", 10, 20);
    }
    long listed = System.currentTimeMillis() - 5000; // when the stopped agent last looked
    Path ancient = logs.resolve("app.log.9");
    try (Writer w = new Writer(ancient)) {
      w.lines("ancient-", 0, 3);
    }
    Files.setLastModifiedTime(ancient, FileTime.fromMillis(listed - 60_000));
    // Down: app.log rotated twice. The middle generation lived at app.log only meanwhile.
    Files.move(log(), logs.resolve("app.log.2"), StandardCopyOption.ATOMIC_MOVE);
    try (Writer w = new Writer(log())) {
      w.lines("mid-", 0, 30);
    }
    Files.move(log(), logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
    try (Writer w = new Writer(log()); TailHarness h = new TailHarness(state, "app", log())) {
      w.lines("new-", 0, 5);
      h.tailer.adoptFilesModifiedSince(listed);
      h.poll();
      h.poll();
      assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(concat(
          concat(range("old-", 10, 20), range("mid-", 0, 30)), range("new-", 0, 5)));
      assertThat(h.sink.instances()).hasSize(3);
    }
  }

  @Test
  void aGenerationWrittenInPlaceByCopytruncateAndRotatedOnBeforeAnyRescanIsRead()
      throws Exception {
    TailConfig cfg = TailConfig.builder().blockBytes(4096).build();
    try (TailHarness h = new TailHarness(state, "app", log(), cfg, new FakeClock())) {
      Writer w = new Writer(log());
      w.lines("x-", 0, 100);
      h.poll();
      h.sink.full(true); // the collector is away: the agent reads nothing more for now
      w.lines("x-", 100, 150);
      h.tailer.poll();
      // copytruncate: x's lines are in the copy, its inode starts a second generation ...
      Files.copy(log(), logs.resolve("app.log.1"));
      truncate(log());
      w.lines("g2-", 0, 40);
      w.close();
      // ... and before the agent looks again, a rename rotation moves both on.
      Files.move(logs.resolve("app.log.1"), logs.resolve("app.log.2"),
          StandardCopyOption.ATOMIC_MOVE);
      Files.move(log(), logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
      try (Writer w3 = new Writer(log())) {
        w3.lines("g3-", 0, 5);
      }
      h.sink.full(false);
      h.poll();
      h.poll();
      assertThat(h.sink.texts(r -> r.text().startsWith("x-")))
          .containsExactlyElementsOf(range("x-", 0, 150));
      assertThat(h.sink.texts(r -> r.text().startsWith("g2-")))
          .containsExactlyElementsOf(range("g2-", 0, 40));
      assertThat(h.sink.texts(r -> r.text().startsWith("g3-")))
          .containsExactlyElementsOf(range("g3-", 0, 5));
    }
  }

  @Test
  void waitingFilesGetASlotAsSoonAsAnOpenOneIsCaughtUpNotAtTheNextRescan() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (Writer w = new Writer(logs.resolve(String.format("w%02d.log", i)))) {
        w.lines("w" + i + "-", 0, 3);
      }
    }
    TailConfig two = TailConfig.builder().blockBytes(4096).maxOpenFiles(2).build();
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), two,
        new FakeClock())) {
      // One rescan, then only polls at the same instant: no periodic rescan can help.
      for (int i = 0; i < 100 && h.sink.records().size() < 60; i++) {
        h.tailer.poll();
      }
      assertThat(h.sink.records()).hasSize(60);
      assertThat(h.tailer.stats().openFiles()).isLessThanOrEqualTo(2);
    }
  }

  private static void setAge(Path p, int secondsAgo) throws IOException {
    Files.setLastModifiedTime(p,
        FileTime.from(Instant.parse("2026-11-30T00:00:00Z").minusSeconds(secondsAgo)));
  }
}
