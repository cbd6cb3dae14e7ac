package dev.rlog.agent.tail.fs;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.agent.tail.TailConfig;
import dev.rlog.agent.tail.TailSource;
import dev.rlog.agent.tail.fs.RecordingSink.Rec;
import dev.rlog.common.time.FakeClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SourceTailerTest {
  @TempDir Path logs;
  @TempDir Path state;

  /** An append-mode writer, like a logger's file handle. */
  static final class Writer implements AutoCloseable {
    final FileChannel ch;

    Writer(Path p) throws IOException {
      ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.APPEND);
    }

    Writer write(String s) throws IOException {
      ByteBuffer b = ByteBuffer.wrap(s.getBytes(UTF_8));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      return this;
    }

    Writer lines(String prefix, int from, int to) throws IOException {
      StringBuilder sb = new StringBuilder();
      for (int i = from; i < to; i++) {
        sb.append(prefix).append(i).append('\n');
      }
      return write(sb.toString());
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }

  static List<String> range(String prefix, int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> prefix + i).toList();
  }

  static Object fileKey(Path p) throws IOException {
    return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
  }

  static void truncate(Path p) throws IOException {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.truncate(0);
    }
  }

  static void assertOffsetsContiguous(List<Rec> recs) {
    long expected = recs.isEmpty() ? 0 : recs.get(0).offset();
    for (Rec r : recs) {
      assertThat(r.offset()).as("offset of %s", r.text()).isEqualTo(expected);
      expected = r.end();
    }
  }

  @Test
  void appendedLinesAreDeliveredOnceInOrderWithTheirOffsets() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.lines("line-", 0, 10);
      h.poll();
      w.lines("line-", 10, 2000); // several read blocks
      h.poll();
      h.poll();
      w.lines("line-", 2000, 2001);
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("line-", 0, 2001));
      assertThat(h.sink.instances()).hasSize(1);
      assertThat(h.sink.records().get(0).offset()).isZero();
      assertOffsetsContiguous(h.sink.records());
      assertThat(h.sink.instances().get(0)).startsWith(
          fileKey(log).toString().replaceAll("\\(dev=([0-9a-f]+),ino=([0-9]+)\\)", "$1:$2") + ":");
    }
  }

  @Test
  void crlfLinesLoseTheirCarriageReturn() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.write("first\r\nsecond\r\n\r\nthird\r");
      h.poll();
      w.write("\n");
      h.poll();
      assertThat(h.sink.texts()).containsExactly("first", "second", "", "third");
    }
  }

  @Test
  void partialLastLineIsHeldBackThenCompletedOrFlushedAfterTheWait() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.write("start\npart");
      h.poll();
      assertThat(h.sink.texts()).containsExactly("start");
      w.write("ial\n");
      h.poll();
      assertThat(h.sink.texts()).containsExactly("start", "partial");

      w.write("lonely");
      h.poll();
      h.advance(Duration.ofSeconds(4));
      h.poll();
      assertThat(h.sink.texts()).containsExactly("start", "partial");
      h.advance(Duration.ofSeconds(1));
      h.poll();
      assertThat(h.sink.texts()).containsExactly("start", "partial", "lonely");
      w.write(" rest\n");
      h.poll();
      // The flushed part is never sent again; what completes it is a line of its own.
      assertThat(h.sink.texts()).containsExactly("start", "partial", "lonely", " rest");
      assertOffsetsContiguous(h.sink.records());
      assertThat(h.tailer.stats().partialsFlushed()).isEqualTo(1);
    }
  }

  @Test
  void overlongLinesAreCutAndCounted() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.write("x".repeat(2500) + "\nshort\n");
      h.poll();
      assertThat(h.sink.texts()).containsExactly("x".repeat(1024), "x".repeat(1024),
          "x".repeat(452), "short");
      assertThat(h.tailer.stats().piecesCut()).isEqualTo(2);
    }
  }

  @Test
  void renameRotationUnderWritingDeliversEveryLineOnce() throws Exception {
    Path log = logs.resolve("app.log");
    Path rotated = logs.resolve("app.log.1");
    try (TailHarness h = new TailHarness(state, "app", log)) {
      Writer old = new Writer(log);
      old.lines("old-", 0, 500);
      h.poll();
      old.lines("old-", 500, 600); // not read yet when the rotation happens
      Files.move(log, rotated, StandardCopyOption.ATOMIC_MOVE);
      try (Writer fresh = new Writer(log)) {
        for (int i = 0; i < 50; i++) { // the program still writes through both handles
          old.lines("old-", 600 + i, 601 + i);
          fresh.lines("new-", i, i + 1);
          if (i % 10 == 0) {
            h.poll();
          }
        }
        old.close();
        h.poll();
        h.advance(Duration.ofSeconds(11)); // drainIdle: the old file is done
        h.poll();
        fresh.lines("new-", 50, 100);
        h.poll();
      }
      List<String> instances = h.sink.instances();
      assertThat(instances).hasSize(2);
      assertThat(h.sink.texts(r -> r.instance().equals(instances.get(0))))
          .containsExactlyElementsOf(range("old-", 0, 650));
      assertThat(h.sink.texts(r -> r.instance().equals(instances.get(1))))
          .containsExactlyElementsOf(range("new-", 0, 100));
      assertThat(h.tailer.stats().openFiles()).isEqualTo(1);
      assertThat(h.tailer.stats().rotations()).isEqualTo(1);
    }
  }

  @Test
  void renameToAMatchedNameIsFollowedNotReadAgain() throws Exception {
    Path log = logs.resolve("app.log");
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      Writer old = new Writer(log);
      old.lines("old-", 0, 300);
      h.poll();
      old.lines("old-", 300, 400);
      Files.move(log, logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
      try (Writer fresh = new Writer(log)) {
        old.lines("old-", 400, 450).close();
        fresh.lines("new-", 0, 100);
        h.poll();
        h.poll();
      }
      assertThat(h.sink.texts(r -> r.text().startsWith("old-")))
          .containsExactlyElementsOf(range("old-", 0, 450));
      assertThat(h.sink.texts(r -> r.text().startsWith("new-")))
          .containsExactlyElementsOf(range("new-", 0, 100));
      assertThat(h.sink.instances()).hasSize(2);
    }
  }

  /** copytruncate with the writer paused between copy and truncate, as the issue allows. */
  private void copytruncate(boolean pollBetweenCopyAndTruncate) throws Exception {
    Path log = logs.resolve("app.log");
    Path copy = logs.resolve("app.log.1");
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      w.lines("line-", 0, 300);
      h.poll();
      w.lines("line-", 300, 400); // written before the copy, not read yet
      Files.copy(log, copy);
      if (pollBetweenCopyAndTruncate) {
        h.poll(); // sees the copy while app.log still holds everything: must not read it from 0
      }
      truncate(log);
      w.lines("line-", 400, 450); // O_APPEND writer continues at the new end (0)
      h.poll();
      h.poll();
      w.lines("line-", 450, 500);
      h.poll();
      h.advance(Duration.ofSeconds(11)); // past copyGrace: nothing held back any more
      h.poll();
      assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(range("line-", 0, 500));
      List<String> instances = h.sink.instances();
      assertThat(instances).hasSize(2);
      // The copy continues the first instance (same id, offsets keep rising) ...
      List<Rec> first = h.sink.records().stream()
          .filter(r -> r.instance().equals(instances.get(0))).toList();
      assertThat(first).extracting(Rec::text).containsExactlyElementsOf(range("line-", 0, 400));
      assertOffsetsContiguous(first);
      // ... and app.log starts over from 0 as a new instance.
      List<Rec> second = h.sink.records().stream()
          .filter(r -> r.instance().equals(instances.get(1))).toList();
      assertThat(second).extracting(Rec::text).containsExactlyElementsOf(range("line-", 400, 500));
      assertThat(second.get(0).offset()).isZero();
      assertThat(h.tailer.stats().copiesContinued()).isEqualTo(1);
    }
  }

  @Test
  void copytruncateSeenAtOnceLosesAndDuplicatesNothing() throws Exception {
    copytruncate(false);
  }

  @Test
  void copytruncateWithTheCopySeenBeforeTheTruncation() throws Exception {
    copytruncate(true);
  }

  /**
   * copytruncate under a fast writer: by the next read the file was truncated and written again
   * past the old read position, with another first line. The new bytes must not be read as the
   * old file's continuation, and the copy must still be finished from where reading was.
   */
  @Test
  void truncatedAndRewrittenPastTheReadPositionIsNotReadAsTheOldFile() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      w.lines("line-", 0, 100);
      h.poll();
      w.lines("line-", 100, 150); // written, not read yet
      Files.copy(log, logs.resolve("app.log.1"));
      truncate(log);
      w.lines("new-", 0, 400); // far past the old read position before the tailer looks again
      h.poll();
      h.poll();
      h.advance(Duration.ofSeconds(11)); // past copyGrace
      h.poll();
      h.poll();
      assertThat(h.sink.texts(r -> r.text().startsWith("line-")))
          .containsExactlyInAnyOrderElementsOf(range("line-", 0, 150));
      assertThat(h.sink.texts(r -> r.text().startsWith("new-")))
          .containsExactlyInAnyOrderElementsOf(range("new-", 0, 400));
    }
  }

  @Test
  void copyThatShowsUpAfterTheTruncationWasSeenIsStillContinued() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      w.lines("line-", 0, 100);
      h.poll();
      w.lines("line-", 100, 150);
      Path hidden = logs.resolve("copy.tmp"); // not matched yet
      Files.copy(log, hidden);
      truncate(log);
      h.poll(); // truncation seen, no copy in sight
      w.lines("line-", 150, 160);
      Files.move(hidden, logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
      h.poll();
      assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(range("line-", 0, 160));
    }
  }

  @Test
  void aMatchedFileStartingLikeAnotherButDifferingIsReadFromZeroOnceItStopsGrowing()
      throws Exception {
    Path a = logs.resolve("a.log");
    Path b = logs.resolve("b.log");
    try (Writer wa = new Writer(a); TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"))) {
      wa.write("# header v1\n").lines("a-", 0, 10);
      h.poll();
      try (Writer wb = new Writer(b)) {
        wb.write("# header v1\n").lines("b-", 0, 10);
        h.poll(); // first sight: held, it might be a copy still being written
        assertThat(h.sink.texts(r -> r.text().startsWith("b-"))).isEmpty();
        h.poll(); // same size as before and differing bytes: its own file, read from 0
      }
      assertThat(h.sink.texts(r -> r.text().startsWith("b-"))).containsExactlyElementsOf(range("b-", 0, 10));
      assertThat(h.sink.texts(r -> r.text().startsWith("#"))).hasSize(2);
    }
  }

  @Test
  void aCopyNotFollowedByTruncationIsReadAsItsOwnFileAfterTheGrace() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
      w.lines("line-", 0, 20);
      h.poll();
      Files.copy(log, logs.resolve("app.log.bak"));
      h.poll();
      assertThat(h.sink.texts()).hasSize(20);
      h.advance(Duration.ofSeconds(10));
      h.poll();
      assertThat(h.sink.texts()).hasSize(40);
      assertThat(h.sink.instances()).hasSize(2);
    }
  }

  @Test
  void truncationRestartsAtZeroAsANewInstance() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.lines("before-", 0, 100);
      h.poll();
      truncate(log);
      w.lines("after-", 0, 10);
      h.poll();
      h.poll();
      List<String> instances = h.sink.instances();
      assertThat(instances).hasSize(2);
      List<Rec> after = h.sink.records().stream()
          .filter(r -> r.instance().equals(instances.get(1))).toList();
      assertThat(after).extracting(Rec::text).containsExactlyElementsOf(range("after-", 0, 10));
      assertThat(after.get(0).offset()).isZero();
      assertThat(h.sink.texts()).hasSize(110);
      assertThat(h.tailer.stats().truncations()).isEqualTo(1);
    }
  }

  @Test
  void truncatedAndRewrittenPastTheReadPositionIsStillANewFile() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.lines("first-", 0, 10);
      h.poll();
      truncate(log);
      w.lines("second-generation-", 0, 50); // bigger than before, other first line
      h.poll();
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(
          concat(range("first-", 0, 10), range("second-generation-", 0, 50)));
    }
  }

  @Test
  void restartResumesExactlyFromCommittedPositions() throws Exception {
    Path log = logs.resolve("app.log");
    String id;
    try (Writer w = new Writer(log)) {
      w.lines("line-", 0, 100);
      try (TailHarness h = new TailHarness(state, "app", log)) {
        h.poll();
        h.ackAll(); // lines 0..99 acknowledged and on disk
        w.lines("line-", 100, 150);
        h.poll(); // read and shipped, never acknowledged: the agent is killed now
        assertThat(h.sink.texts()).hasSize(150);
        id = h.sink.instances().get(0);
      }
      w.lines("line-", 150, 200);
      try (TailHarness h = new TailHarness(state, "app", log)) {
        h.poll();
        List<Rec> recs = h.sink.records();
        assertThat(recs).extracting(Rec::text).containsExactlyElementsOf(range("line-", 100, 200));
        assertThat(recs).extracting(Rec::instance).containsOnly(id);
        assertThat(recs.get(0).offset()).isEqualTo(Files.size(log) / 200 * 0 + offsetOfLine(log, 100));
        assertOffsetsContiguous(recs);
      }
    }
  }

  @Test
  void restartAfterRenameWhileDownFindsTheFileByInode() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log)) {
      w.lines("line-", 0, 50);
      try (TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
        h.poll();
        h.ackAll();
      }
      w.lines("line-", 50, 60);
      Files.move(log, logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
      try (Writer fresh = new Writer(log);
          TailHarness h = new TailHarness(state, "app", logs.resolve("app.log*"))) {
        fresh.lines("new-", 0, 5);
        h.poll();
        assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(
            concat(range("line-", 50, 60), range("new-", 0, 5)));
      }
    }
  }

  /** With a glob that matches the copy's name, and with a plain path that does not. */
  @ParameterizedTest
  @ValueSource(strings = {"app.log*", "app.log"})
  void copytruncateWhileTheAgentWasDownContinuesTheCopyFromTheCommittedPosition(String source)
      throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log)) {
      w.lines("line-", 0, 100);
      String id;
      try (TailHarness h = new TailHarness(state, "app", logs.resolve(source))) {
        h.poll();
        h.ackAll();
        id = h.sink.instances().get(0);
      }
      w.lines("line-", 100, 130);
      Files.copy(log, logs.resolve("app.log.1"));
      truncate(log);
      w.lines("line-", 130, 140);
      try (TailHarness h = new TailHarness(state, "app", logs.resolve(source))) {
        h.poll();
        h.advance(Duration.ofSeconds(11));
        h.poll();
        assertThat(h.sink.texts()).containsExactlyInAnyOrderElementsOf(range("line-", 100, 140));
        assertThat(h.sink.texts(r -> r.instance().equals(id)))
            .containsExactlyElementsOf(range("line-", 100, 130));
      }
    }
  }

  @Test
  void aThrowingSinkLosesNothing() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.lines("line-", 0, 5);
      boolean[] fail = {true};
      RecordingSink recording = h.sink;
      SourceTailer tailer = new SourceTailer(new TailSource("app",
          log.toString()), TailHarness.CONFIG, h.clock, h.registry, h.checkpointer, b -> {
            if (fail[0]) {
              throw new IllegalStateException("boom");
            }
            return recording.offer(b);
          }, new Random(1), ByteBuffer.allocate(TailHarness.CONFIG.blockBytes()));
      try {
        tailer.poll();
        assertThat(tailer.stats().errors()).isEqualTo(1);
        fail[0] = false;
        tailer.poll();
        assertThat(recording.texts()).containsExactlyElementsOf(range("line-", 0, 5));
      } finally {
        tailer.close();
      }
    }
  }

  @Test
  void inodeReusedWithADifferentFirstLineIsReadFromZero() throws Exception {
    Path log = logs.resolve("app.log");
    Object key;
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.lines("A-", 0, 20);
      h.poll();
      h.ackAll();
      key = fileKey(log);
    }
    // While the agent is down the inode is given a new life: other first line, bigger file.
    truncate(log);
    try (Writer w = new Writer(log)) {
      w.lines("B-", 0, 100);
    }
    assertThat(fileKey(log)).isEqualTo(key);
    try (TailHarness h = new TailHarness(state, "app", log)) {
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("B-", 0, 100));
      assertThat(h.sink.records().get(0).offset()).isZero();
    }
  }

  @Test
  void truncatedWhileDownWithTheSameFirstLineStartsOverToo() throws Exception {
    Path log = logs.resolve("app.log");
    try (Writer w = new Writer(log); TailHarness h = new TailHarness(state, "app", log)) {
      w.write("same header\n").lines("x-", 0, 100);
      h.poll();
      h.ackAll();
    }
    truncate(log);
    try (Writer w = new Writer(log)) {
      w.write("same header\n").lines("y-", 0, 3);
    }
    try (TailHarness h = new TailHarness(state, "app", log)) {
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(
          concat(List.of("same header"), range("y-", 0, 3)));
      String before = h.store.load().entries().stream()
          .filter(e -> e.committed() > 0).findFirst().orElseThrow().instance();
      assertThat(h.sink.instances()).doesNotContain(before);
    }
  }

  @Test
  void fullSinkPausesReadingAndLosesNothing() throws Exception {
    Path log = logs.resolve("app.log");
    TailConfig small = TailConfig.builder().blockBytes(4096).maxBlocksPerPoll(1)
        .partialLineWait(Duration.ofSeconds(5)).build();
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", log, small, new FakeClock())) {
      w.lines("line-", 0, 5000); // ~50 KiB
      h.sink.full(true);
      h.poll();
      long read = h.tailer.stats().bytesRead();
      assertThat(read).isEqualTo(4096); // one block read, its batch held, reading paused
      for (int i = 0; i < 10; i++) {
        h.poll();
      }
      assertThat(h.tailer.stats().bytesRead()).isEqualTo(read);
      assertThat(h.tailer.stats().sinkRefusals()).isGreaterThan(1);
      h.sink.full(false);
      for (int i = 0; i < 20; i++) {
        h.poll();
      }
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("line-", 0, 5000));
    }
  }

  @Test
  void newMatchingFilesArePickedUpAndRegisteredBeforeShipping() throws Exception {
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"))) {
      h.poll();
      try (Writer a = new Writer(logs.resolve("a.log")); Writer b = new Writer(logs.resolve("b.log"))) {
        a.lines("a-", 0, 3);
        b.write("b-0"); // no complete line yet: not picked up, no identity
        h.poll();
        assertThat(h.sink.texts()).containsExactly("a-0", "a-1", "a-2");
        b.write("\n");
        new Writer(logs.resolve("ignored.txt")).lines("no-", 0, 1).close();
        h.poll();
      }
      assertThat(h.sink.texts()).containsExactly("a-0", "a-1", "a-2", "b-0");
      // RecordingSink checked on every offer that the instance was already on disk.
      assertThat(h.store.load().entries()).hasSize(2);
    }
  }

  @Test
  void startAtEndSkipsExistingContentOnlyForFilesPresentAtFirstStart() throws Exception {
    Path log = logs.resolve("app.log");
    TailConfig end = TailConfig.builder().blockBytes(4096)
        .startPosition(TailConfig.StartPosition.END).build();
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), end, new FakeClock())) {
      w.lines("old-", 0, 10);
      h.poll();
      w.lines("new-", 0, 2);
      try (Writer later = new Writer(logs.resolve("later.log"))) {
        later.lines("later-", 0, 2);
        h.poll();
      }
      assertThat(h.sink.texts()).containsExactlyInAnyOrder("new-0", "new-1", "later-0", "later-1");
    }
  }

  @Test
  void startAtEndDoesNotApplyToFilesThatAppearedWhileTheAgentWasDown() throws Exception {
    Path log = logs.resolve("app.log");
    TailConfig end = TailConfig.builder().blockBytes(4096)
        .startPosition(TailConfig.StartPosition.END).build();
    try (Writer w = new Writer(log);
        TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), end, new FakeClock())) {
      w.lines("old-", 0, 10);
      h.poll();
      w.lines("seen-", 0, 2);
      h.poll();
      h.ackAll();
    }
    // Down: rotation happens, the new file gets lines.
    Files.move(log, logs.resolve("app.log.1"), StandardCopyOption.ATOMIC_MOVE);
    try (Writer w = new Writer(log)) {
      w.lines("while-down-", 0, 3);
    }
    try (TailHarness h = new TailHarness(state, "app", logs.resolve("*.log"), end, new FakeClock())) {
      h.poll();
      assertThat(h.sink.texts()).containsExactlyElementsOf(range("while-down-", 0, 3));
    }
  }

  @Test
  void deletedFileIsClosedAfterDrainingAndForgottenOnceAcknowledged() throws Exception {
    Path log = logs.resolve("app.log");
    try (TailHarness h = new TailHarness(state, "app", log)) {
      try (Writer w = new Writer(log)) {
        w.lines("x-", 0, 5);
      }
      h.poll();
      Files.delete(log);
      h.poll();
      h.advance(Duration.ofSeconds(11));
      h.poll();
      assertThat(h.tailer.stats().openFiles()).isZero();
      h.advance(Duration.ofMinutes(2));
      h.poll();
      assertThat(h.tailer.stats().trackedFiles()).isEqualTo(1); // not acknowledged yet
      h.ackAll();
      h.poll();
      assertThat(h.tailer.stats().trackedFiles()).isZero();
      assertThat(h.registry.size()).isZero();
    }
  }

  private static long offsetOfLine(Path p, int lineIndex) throws IOException {
    byte[] all = Files.readAllBytes(p);
    int seen = 0;
    for (int i = 0; i < all.length; i++) {
      if (seen == lineIndex) {
        return i;
      }
      if (all[i] == '\n') {
        seen++;
      }
    }
    return all.length;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
