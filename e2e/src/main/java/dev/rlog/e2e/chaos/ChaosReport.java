package dev.rlog.e2e.chaos;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * What a chaos run did and found. {@link #passed()} only if no line was lost, none stored twice
 * and no record was corrupt; {@link #format()} is the report the tool prints.
 *
 * @param agentKills kill -9 of the agent actually done
 * @param collectorKills kill -9 of the collector actually done (not counting the outage)
 * @param outage how long the collector was really away for the outage (zero if none)
 * @param unexpectedExits agent or collector exits nobody asked for (each was restarted)
 * @param settle how the wait for the store ended: COMPLETE, STALLED or TIMED_OUT
 * @param settleTime from the end of writing until the wait ended
 * @param agentExit the agent's exit code on the final SIGTERM (0 expected)
 * @param collectorExit the collector's exit code on the final SIGTERM (0 expected)
 * @param malformedStoreLines complete store lines that are not JSON (counted as corrupt)
 */
public record ChaosReport(
    ChaosScenario scenario,
    Path workDir,
    int agentKills,
    int collectorKills,
    Duration outage,
    int unexpectedExits,
    LogWriters.Stats writers,
    String settle,
    Duration settleTime,
    int agentExit,
    int collectorExit,
    long malformedStoreLines,
    StoreTally.Verdict verdict) {

  /** Ranges shown per file in the report. */
  static final int MAX_RANGES = 20;

  public long lost() {
    return verdict.lost();
  }

  public long duplicated() {
    return verdict.duplicated();
  }

  public long corrupt() {
    return verdict.corrupt() + malformedStoreLines;
  }

  public boolean passed() {
    return lost() == 0 && duplicated() == 0 && corrupt() == 0;
  }

  public String format() {
    ChaosScenario s = scenario;
    StringBuilder sb = new StringBuilder();
    sb.append("==== rlog chaos report ====\n");
    line(sb, "seed", Long.toString(s.seed()));
    line(sb, "scenario", String.format(Locale.ROOT,
        "%d files, %,d lines of %d B at %,d lines/s (%s), rotation %s every %s, pattern %s",
        s.files(), s.lines(), s.lineBytes(), s.rate(), seconds(s.writingTime()),
        s.mode().cliName(), seconds(s.rotateEvery()), s.pattern().cliName()));
    line(sb, "chaos", String.format(Locale.ROOT,
        "%d agent kill -9 (of %d), %d collector kill -9 (of %d), outage %s (of %s),"
            + " %d unexpected exits", agentKills, s.agentKills(), collectorKills,
        s.collectorKills(), seconds(outage), seconds(s.outage()), unexpectedExits));
    line(sb, "rotations", String.format(Locale.ROOT,
        "%d logrotate runs, per file and mode %s, %d failed; writers reopened %d times, paused"
            + " %d times for copytruncate", writers.rotationsRun(),
        modes(writers.rotationsByMode()),
        writers.rotationFailures(), writers.reopens(), writers.holds()));
    line(sb, "settle", settle + " after " + seconds(settleTime) + "; final SIGTERM exit codes:"
        + " agent " + agentExit + ", collector " + collectorExit);
    line(sb, "work dir", String.valueOf(workDir));
    sb.append('\n');
    line(sb, "written", String.format(Locale.ROOT, "%,d", verdict.written()));
    line(sb, "stored", String.format(Locale.ROOT, "%,d records, %,d distinct lines",
        verdict.records(), verdict.distinct()));
    line(sb, "lost", String.format(Locale.ROOT, "%,d", lost()));
    line(sb, "duplicated", String.format(Locale.ROOT, "%,d lines (%,d extra records)",
        duplicated(), verdict.extraCopies()));
    line(sb, "corrupt", String.format(Locale.ROOT, "%,d", corrupt())
        + (malformedStoreLines > 0 ? " (" + malformedStoreLines + " store lines not JSON)" : ""));
    for (StoreTally.FileVerdict f : verdict.files()) {
      sb.append(String.format(Locale.ROOT, "  %-4s written %,d, stored %,d distinct, lost %,d,"
          + " duplicated %,d%n", f.label(), f.written(), f.distinct(), f.lost(), f.duplicated()));
      if (f.lost() > 0) {
        sb.append("       lost seq: ").append(Ranges.describe(f.lostRanges(), MAX_RANGES))
            .append('\n');
      }
      if (f.duplicated() > 0) {
        sb.append("       duplicated seq: ")
            .append(Ranges.describe(f.duplicatedRanges(), MAX_RANGES)).append('\n');
      }
    }
    for (String c : verdict.corruptSamples()) {
      sb.append("  corrupt: ").append(c).append('\n');
    }
    sb.append(passed() ? "RESULT: PASS (0 lost, 0 duplicated, 0 corrupt)\n"
        : "RESULT: FAIL\n");
    return sb.toString();
  }

  private static void line(StringBuilder sb, String key, String value) {
    sb.append(String.format(Locale.ROOT, "%-11s %s%n", key + ":", value));
  }

  private static String modes(Map<RotationMode, Integer> byMode) {
    StringBuilder sb = new StringBuilder("{");
    for (RotationMode m : RotationMode.values()) {
      if (byMode.containsKey(m)) {
        sb.append(sb.length() > 1 ? ", " : "").append(m.cliName()).append(' ')
            .append(byMode.get(m));
      }
    }
    return sb.append('}').toString();
  }

  static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }
}
