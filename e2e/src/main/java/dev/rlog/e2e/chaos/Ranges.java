package dev.rlog.e2e.chaos;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.stream.Collectors;

/** Runs of consecutive set bits, for reporting which lines were lost or duplicated. Pure. */
public final class Ranges {
  private Ranges() {}

  /** An inclusive range of sequence numbers. */
  public record Range(long first, long last) {
    public long size() {
      return last - first + 1;
    }

    @Override
    public String toString() {
      return first == last ? Long.toString(first) : first + "-" + last;
    }
  }

  /** The runs of set bits in {@code bits}, in order. */
  public static List<Range> of(BitSet bits) {
    List<Range> out = new ArrayList<>();
    for (int from = bits.nextSetBit(0); from >= 0; ) {
      int to = bits.nextClearBit(from);
      out.add(new Range(from, to - 1L));
      from = bits.nextSetBit(to);
    }
    return out;
  }

  /** At most {@code max} ranges, then how many more there are. */
  public static String describe(List<Range> ranges, int max) {
    String shown = ranges.stream().limit(max).map(r -> r + (r.size() > 1 ? " (" + r.size() + ")"
        : "")).collect(Collectors.joining(", "));
    return ranges.size() > max ? shown + ", ... and " + (ranges.size() - max) + " more ranges"
        : shown;
  }
}
