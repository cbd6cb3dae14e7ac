package dev.rlog.e2e.chaos;

import java.nio.file.Path;
import java.time.Duration;

/**
 * One chaos run, validated: what is written, how it is rotated, what is killed, and how long the
 * end of the run may wait for the store. The defaults are the short scenario CI runs.
 *
 * @param files number of log files, written round the clock in parallel
 * @param lines lines in total over all files
 * @param rate lines per second in total over all files
 * @param rotateEvery every file is rotated this often while writing; zero: never
 * @param workDir everything of the run (logs, agent, collector, logrotate); null: a temp dir
 * @param settleTimeout after writing, give up once the store has not grown for this long
 * @param maxWait after writing, give up after this long whatever happens
 */
public record ChaosScenario(
    int files,
    long lines,
    int rate,
    int lineBytes,
    Duration rotateEvery,
    RotationMode mode,
    int agentKills,
    int collectorKills,
    Duration outage,
    long seed,
    SourcePattern pattern,
    Path workDir,
    boolean keep,
    Duration settleTimeout,
    Duration maxWait) {

  public static final int DEFAULT_FILES = 2;
  public static final long DEFAULT_LINES = 50_000;
  public static final int DEFAULT_RATE = 1_000;
  public static final int DEFAULT_LINE_BYTES = 100;
  public static final Duration DEFAULT_ROTATE_EVERY = Duration.ofSeconds(2);
  public static final RotationMode DEFAULT_MODE = RotationMode.MIXED;
  public static final int DEFAULT_AGENT_KILLS = 3;
  public static final int DEFAULT_COLLECTOR_KILLS = 2;
  public static final Duration DEFAULT_OUTAGE = Duration.ofSeconds(10);
  /** A plain path, as most people configure a source: rotated names are not matched. */
  public static final SourcePattern DEFAULT_PATTERN = SourcePattern.PLAIN;
  /** Longer than the agent's longest retry backoff (30 s): a backoff is not taken for a stall. */
  public static final Duration DEFAULT_SETTLE_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_MAX_WAIT = Duration.ofMinutes(10);

  /** A kill, a restart and the next kill need at least this much room. */
  static final Duration MIN_KILL_SLOT = Duration.ofSeconds(2);
  /** Kills and the outage happen within this share of the writing time, away from its ends. */
  static final double WINDOW_START = 0.05;
  static final double WINDOW_END = 0.95;
  static final int MAX_FILES = 64;

  public ChaosScenario {
    require(files >= 1 && files <= MAX_FILES, "--files must be 1.." + MAX_FILES + ", got " + files);
    require(lines >= files, "--lines must be at least --files, got " + lines);
    require(lines / files < Integer.MAX_VALUE, "--lines / --files must stay below 2^31");
    require(rate >= 1, "--rate must be positive, got " + rate);
    require(lineBytes >= 48 && lineBytes <= 64 * 1024,
        "--line-bytes must be 48..65536, got " + lineBytes);
    require(!rotateEvery.isNegative(), "--rotate-every must not be negative");
    require(rotateEvery.isZero() || !mode.usesDateNames()
            || rotateEvery.compareTo(Duration.ofSeconds(1)) >= 0,
        "--rotate-every must be at least 1s with --mode " + mode.cliName()
            + " (dated names have a one-second resolution)");
    require(agentKills >= 0 && collectorKills >= 0, "kill counts must not be negative");
    require(!outage.isNegative(), "--outage must not be negative");
    // (the fields are not assigned yet in a compact constructor: use the parameters)
    Duration writing = writingTime(lines, rate);
    require(outage.toMillis() <= 0.7 * writing.toMillis(),
        "--outage (" + outage + ") must be at most 70% of the writing time (" + writing
            + " = --lines / --rate)");
    require(agentKills == 0
            || killSlot(writing, agentKills, Duration.ZERO).compareTo(MIN_KILL_SLOT) >= 0,
        agentKills + " agent kills do not fit in " + writing + " of writing (at least "
            + MIN_KILL_SLOT + " each)");
    require(collectorKills == 0 || killSlot(writing, collectorKills, outage.plusSeconds(2))
            .compareTo(MIN_KILL_SLOT) >= 0,
        collectorKills + " collector kills do not fit in " + writing
            + " of writing beside the outage (at least " + MIN_KILL_SLOT + " each)");
    require(settleTimeout.compareTo(Duration.ofSeconds(1)) >= 0, "--settle-timeout must be >= 1s");
    require(maxWait.compareTo(settleTimeout) >= 0, "--max-wait must be >= --settle-timeout");
  }

  /** The short scenario with this seed and source pattern (what CI runs). */
  public static ChaosScenario ciDefaults(long seed, SourcePattern pattern, Path workDir) {
    return new ChaosScenario(DEFAULT_FILES, DEFAULT_LINES, DEFAULT_RATE, DEFAULT_LINE_BYTES,
        DEFAULT_ROTATE_EVERY, DEFAULT_MODE, DEFAULT_AGENT_KILLS, DEFAULT_COLLECTOR_KILLS,
        DEFAULT_OUTAGE, seed, pattern, workDir, false, DEFAULT_SETTLE_TIMEOUT, DEFAULT_MAX_WAIT);
  }

  /** How long writing takes at the configured rate. */
  public Duration writingTime() {
    return writingTime(lines, rate);
  }

  private static Duration writingTime(long lines, int rate) {
    return Duration.ofMillis(Math.max(1, lines * 1000 / Math.max(1, rate)));
  }

  /** Lines file {@code f} gets: the lines are shared out evenly, the first files get the rest. */
  public long linesOf(int f) {
    return lines / files + (f < lines % files ? 1 : 0);
  }

  /** The room each of {@code n} kills gets in the kill window less {@code excluded}. */
  private static Duration killSlot(Duration writing, int n, Duration excluded) {
    long window = (long) ((WINDOW_END - WINDOW_START) * writing.toMillis());
    return Duration.ofMillis(Math.max(0, window - excluded.toMillis()) / n);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
