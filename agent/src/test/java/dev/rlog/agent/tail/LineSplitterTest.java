package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LineSplitterTest {
  /** Bytes kept 1:1 as ISO-8859-1 chars so assertions can compare raw bytes as text. */
  record Line(long offset, String text, long end) {}

  static final class Collect implements LineSplitter.LineConsumer {
    final List<Line> lines = new ArrayList<>();

    @Override
    public void line(long offset, byte[] bytes, int start, int length, long end) {
      lines.add(new Line(offset, new String(bytes, start, length, StandardCharsets.ISO_8859_1), end));
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static List<Line> split(LineSplitter s, String... chunks) {
    Collect c = new Collect();
    for (String chunk : chunks) {
      byte[] x = b(chunk);
      s.feed(x, 0, x.length, c);
    }
    return c.lines;
  }

  @Test
  void completeLinesWithOffsetsAndEnds() {
    LineSplitter s = new LineSplitter(0, 100);
    assertThat(split(s, "ab\ncde\n")).containsExactly(
        new Line(0, "ab", 3), new Line(3, "cde", 7));
    assertThat(s.emittedPosition()).isEqualTo(7);
    assertThat(s.nextOffset()).isEqualTo(7);
    assertThat(s.hasPartial()).isFalse();
  }

  @Test
  void offsetsStartAtTheGivenPosition() {
    LineSplitter s = new LineSplitter(1000, 100);
    assertThat(split(s, "x\n")).containsExactly(new Line(1000, "x", 1002));
  }

  @Test
  void crlfIsStrippedAndEmptyLinesKept() {
    LineSplitter s = new LineSplitter(0, 100);
    assertThat(split(s, "a\r\n\n\r\nb\rc\n")).containsExactly(
        new Line(0, "a", 3), new Line(3, "", 4), new Line(4, "", 6), new Line(6, "b\rc", 10));
  }

  @Test
  void crlfSplitAcrossBlocks() {
    LineSplitter s = new LineSplitter(0, 100);
    assertThat(split(s, "abc\r", "\nd\n")).containsExactly(
        new Line(0, "abc", 5), new Line(5, "d", 7));
  }

  @Test
  void partialLineIsHeldUntilCompleted() {
    LineSplitter s = new LineSplitter(0, 100);
    assertThat(split(s, "one\ntw")).containsExactly(new Line(0, "one", 4));
    assertThat(s.hasPartial()).isTrue();
    assertThat(s.partialOffset()).isEqualTo(4);
    assertThat(s.partialLength()).isEqualTo(2);
    assertThat(s.emittedPosition()).isEqualTo(4);
    assertThat(s.nextOffset()).isEqualTo(6);
    assertThat(split(s, "o", "")).isEmpty();
    assertThat(split(s, "\nthree\n")).containsExactly(
        new Line(4, "two", 8), new Line(8, "three", 14));
    assertThat(s.hasPartial()).isFalse();
    assertThat(s.partialOffset()).isEqualTo(-1);
  }

  @Test
  void flushedPartialIsEmittedOnceAndTheRestBecomesItsOwnLine() {
    LineSplitter s = new LineSplitter(0, 100);
    Collect c = new Collect();
    s.feed(b("half"), 0, 4, c);
    assertThat(c.lines).isEmpty();
    assertThat(s.flushPartial(c)).isTrue();
    assertThat(s.flushPartial(c)).isFalse();
    assertThat(c.lines).containsExactly(new Line(0, "half", 4));
    assertThat(s.emittedPosition()).isEqualTo(4);
    s.feed(b("-rest\nnext\n"), 0, 11, c);
    assertThat(c.lines).containsExactly(
        new Line(0, "half", 4), new Line(4, "-rest", 10), new Line(10, "next", 15));
    assertThat(s.partialsFlushed()).isEqualTo(1);
  }

  @Test
  void overlongLineIsCutIntoCountedPieces() {
    LineSplitter s = new LineSplitter(0, 4);
    assertThat(split(s, "abcdefghij\nxy\n")).containsExactly(
        new Line(0, "abcd", 4), new Line(4, "efgh", 8), new Line(8, "ij", 11),
        new Line(11, "xy", 14));
    assertThat(s.piecesCut()).isEqualTo(2);
  }

  @Test
  void lineOfExactlyMaxIsNotCutEvenWithCrlfAtTheBoundary() {
    LineSplitter s = new LineSplitter(0, 4);
    assertThat(split(s, "abcd\r", "\n")).containsExactly(new Line(0, "abcd", 6));
    assertThat(split(s, "abcd", "\r", "\n")).containsExactly(new Line(6, "abcd", 12));
    assertThat(s.piecesCut()).isZero();
  }

  @Test
  void carriageReturnThatIsContentIsCutWhenMoreFollows() {
    LineSplitter s = new LineSplitter(0, 4);
    assertThat(split(s, "abcd\r", "x\n")).containsExactly(
        new Line(0, "abcd", 4), new Line(4, "\rx", 7));
  }

  @Test
  void cutsDoNotSplitUtf8Characters() {
    // "aaaé" = 61 61 61 C3 A9, then "b": a cut at 4 would fall inside é, so it moves back to 3.
    byte[] line = "aaa\u00e9b\n".getBytes(StandardCharsets.UTF_8);
    LineSplitter s = new LineSplitter(0, 4);
    Collect c = new Collect();
    s.feed(line, 0, line.length, c);
    assertThat(c.lines).extracting(Line::offset).containsExactly(0L, 3L);
    assertThat(c.lines.get(0).text()).isEqualTo("aaa");
    assertThat(c.lines.get(1).text().getBytes(StandardCharsets.ISO_8859_1))
        .isEqualTo("\u00e9b".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void memoryStaysBoundedOnAHugeLineWithoutNewline() {
    int max = 1024;
    LineSplitter s = new LineSplitter(0, max);
    Collect c = new Collect();
    byte[] block = new byte[10_000];
    Arrays.fill(block, (byte) 'x');
    for (int i = 0; i < 100; i++) {
      s.feed(block, 0, block.length, c);
      assertThat(s.partialLength()).isLessThanOrEqualTo(max + 2);
    }
    assertThat(c.lines).allSatisfy(l -> assertThat(l.text()).hasSize(max));
    assertThat(c.lines.size() * (long) max + s.partialLength()).isEqualTo(1_000_000);
    assertThat(s.piecesCut()).isEqualTo(c.lines.size());
  }

  @Test
  void emptyFeedAndBadArguments() {
    LineSplitter s = new LineSplitter(0, 8);
    assertThat(split(s, "", "")).isEmpty();
    assertThrows(IllegalArgumentException.class, () -> new LineSplitter(-1, 8));
    assertThrows(IllegalArgumentException.class, () -> new LineSplitter(0, 3));
    assertThrows(IndexOutOfBoundsException.class,
        () -> s.feed(new byte[4], 2, 3, (o, x, st, l, e) -> { }));
  }

  @Test
  void outputDoesNotDependOnHowTheInputIsChunked() {
    Random r = new Random(42);
    String[] samples = {
      "a\nbb\r\nccc\n\n\r\n",
      "0123456789abcdef\r\nxyz\r\r\n" + "q".repeat(37) + "\r" + "\n" + "tail-without-newline",
      "\r\r\r\n\n" + "w".repeat(16) + "\r\n" + "v".repeat(17) + "\r",
      new String("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\n\u20ac\u20ac\u20ac\u20ac\u20ac\n"
          .getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1),
    };
    for (int max : new int[] {4, 5, 8, 16}) {
      for (String sample : samples) {
        List<Line> whole = splitAndFlush(max, b(sample), new int[] {sample.length()});
        for (int round = 0; round < 200; round++) {
          int[] chunks = randomChunks(r, sample.length());
          assertThat(splitAndFlush(max, b(sample), chunks))
              .as("max=%d sample=%s chunks=%s", max, sample, Arrays.toString(chunks))
              .isEqualTo(whole);
        }
        assertPiecesCoverInput(whole, b(sample), max);
      }
    }
  }

  private static List<Line> splitAndFlush(int max, byte[] input, int[] chunks) {
    LineSplitter s = new LineSplitter(0, max);
    Collect c = new Collect();
    int pos = 0;
    for (int n : chunks) {
      s.feed(input, pos, n, c);
      pos += n;
      assertThat(s.partialLength()).isLessThanOrEqualTo(max + 2);
    }
    s.flushPartial(c);
    return c.lines;
  }

  private static int[] randomChunks(Random r, int total) {
    List<Integer> out = new ArrayList<>();
    int left = total;
    while (left > 0) {
      int n = r.nextInt(4) == 0 ? 0 : 1 + r.nextInt(Math.min(left, 7));
      out.add(n);
      left -= n;
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Every byte is in exactly one line or is a line terminator; pieces never exceed max. */
  private static void assertPiecesCoverInput(List<Line> lines, byte[] input, int max) {
    long expected = 0;
    for (Line l : lines) {
      assertThat(l.offset()).isEqualTo(expected);
      assertThat(l.text().length()).isLessThanOrEqualTo(max);
      assertThat(new String(input, (int) l.offset(), l.text().length(), StandardCharsets.ISO_8859_1))
          .isEqualTo(l.text());
      expected = l.end();
    }
    assertThat(expected).isEqualTo(input.length);
  }
}
