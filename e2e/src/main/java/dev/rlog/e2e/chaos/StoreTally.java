package dev.rlog.e2e.chaos;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Counts the chaos lines found in the store, per file: which sequence numbers were seen, which
 * more than once, and records that are not a whole line of the file their label names (corrupt).
 * Then, against what was written, says what was lost. Pure; one thread.
 *
 * <p>Memory: two bits per written line (seen, seen twice) plus a few corrupt samples.
 */
public final class StoreTally {
  static final int MAX_CORRUPT_SAMPLES = 5;
  private static final int MAX_SAMPLE_CHARS = 160;

  private final List<String> labels;
  private final BitSet[] seen;
  private final BitSet[] twice;
  private long records;
  private long extraCopies;
  private long corrupt;
  private final List<String> corruptSamples = new ArrayList<>();

  /** {@code labels.get(f)} is the source label of file {@code f}. */
  public StoreTally(List<String> labels) {
    this.labels = List.copyOf(labels);
    this.seen = new BitSet[labels.size()];
    this.twice = new BitSet[labels.size()];
    reset();
  }

  /** Forgets everything counted (the store was cut back; it is read again from the start). */
  public void reset() {
    for (int f = 0; f < seen.length; f++) {
      seen[f] = new BitSet();
      twice[f] = new BitSet();
    }
    records = 0;
    extraCopies = 0;
    corrupt = 0;
    corruptSamples.clear();
  }

  /** True if records of {@code label} are counted here. */
  public boolean counts(String label) {
    return labels.contains(label);
  }

  /** One stored record of a chaos source: its label and its line. */
  public void accept(String label, String line) {
    int file = labels.indexOf(label);
    if (file < 0) {
      return;
    }
    records++;
    ChaosLine.Parsed p = line == null ? null : ChaosLine.parse(line);
    if (p == null || p.file() != file || p.seq() >= Integer.MAX_VALUE) {
      corrupt++;
      if (corruptSamples.size() < MAX_CORRUPT_SAMPLES) {
        String s = label + ": " + line;
        corruptSamples.add(s.length() > MAX_SAMPLE_CHARS ? s.substring(0, MAX_SAMPLE_CHARS) + "..."
            : s);
      }
      return;
    }
    int seq = (int) p.seq();
    if (seen[file].get(seq)) {
      twice[file].set(seq);
      extraCopies++;
    } else {
      seen[file].set(seq);
    }
  }

  /** Records of chaos sources read so far. */
  public long records() {
    return records;
  }

  /** Distinct lines read so far. */
  public long distinct() {
    long n = 0;
    for (BitSet s : seen) {
      n += s.cardinality();
    }
    return n;
  }

  /** The verdict for files of which {@code written[f]} lines (0..n-1) were written. */
  public Verdict verdict(long[] written) {
    List<FileVerdict> files = new ArrayList<>();
    long corruptNow = corrupt;
    for (int f = 0; f < seen.length; f++) {
      BitSet lost = new BitSet();
      lost.set(0, (int) written[f]);
      lost.andNot(seen[f]);
      BitSet beyond = seen[f].get((int) written[f], Math.max((int) written[f], seen[f].length()));
      // a well-formed line numbered past what was written was never written: corrupt too
      corruptNow += beyond.cardinality();
      files.add(new FileVerdict(labels.get(f), written[f],
          seen[f].get(0, (int) written[f]).cardinality(),
          lost.cardinality(), Ranges.of(lost), twice[f].cardinality(), Ranges.of(twice[f])));
    }
    return new Verdict(files, records, extraCopies, corruptNow, List.copyOf(corruptSamples));
  }

  /** One file's result; ranges are of sequence numbers. */
  public record FileVerdict(String label, long written, long distinct, long lost,
      List<Ranges.Range> lostRanges, long duplicated, List<Ranges.Range> duplicatedRanges) {}

  /**
   * The whole result. {@code duplicated} counts lines stored more than once, {@code
   * extraCopies} the records beyond the first of each.
   */
  public record Verdict(List<FileVerdict> files, long records, long extraCopies, long corrupt,
      List<String> corruptSamples) {
    public long written() {
      return files.stream().mapToLong(FileVerdict::written).sum();
    }

    public long distinct() {
      return files.stream().mapToLong(FileVerdict::distinct).sum();
    }

    public long lost() {
      return files.stream().mapToLong(FileVerdict::lost).sum();
    }

    public long duplicated() {
      return files.stream().mapToLong(FileVerdict::duplicated).sum();
    }

    public boolean clean() {
      return lost() == 0 && duplicated() == 0 && corrupt == 0;
    }
  }
}
