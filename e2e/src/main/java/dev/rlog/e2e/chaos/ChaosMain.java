package dev.rlog.e2e.chaos;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The chaos tool's command line: runs one {@link ChaosScenario} with {@link ChaosRun}, prints
 * the report, exits 0 only if no line was lost, none duplicated and none corrupt (1 if some
 * were, 2 for bad options or a run that could not be done).
 *
 * <pre>
 * java -cp e2e/target/rlog-e2e.jar dev.rlog.e2e.chaos.ChaosMain --seed 42
 * </pre>
 */
@Command(name = "rlog-chaos", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Writes numbered lines to K files, rotates them with the real logrotate, kill -9s the",
        "agent and the collector on a seeded schedule, takes the collector away for a while,",
        "then checks that every line is in the store exactly once.",
        "Durations: 500ms, 2s, 1m or plain seconds. Run from the repository root after",
        "./mvnw -DskipTests package (it starts the built agent and collector jars)."})
public final class ChaosMain implements Callable<Integer> {
  @Option(names = "--files", defaultValue = "" + ChaosScenario.DEFAULT_FILES,
      description = "log files written in parallel (default ${DEFAULT-VALUE})")
  int files;
  @Option(names = "--lines", defaultValue = "" + ChaosScenario.DEFAULT_LINES,
      description = "lines in total over all files (default ${DEFAULT-VALUE})")
  long lines;
  @Option(names = "--rate", defaultValue = "" + ChaosScenario.DEFAULT_RATE,
      description = "lines per second in total (default ${DEFAULT-VALUE})")
  int rate;
  @Option(names = "--line-bytes", defaultValue = "" + ChaosScenario.DEFAULT_LINE_BYTES,
      description = "bytes per line (default ${DEFAULT-VALUE})")
  int lineBytes;
  @Option(names = "--rotate-every", defaultValue = "2s", converter = DurationConverter.class,
      description = "rotate every file this often; 0: never (default ${DEFAULT-VALUE})")
  Duration rotateEvery;
  @Option(names = "--mode", defaultValue = "mixed", converter = ModeConverter.class,
      description = "create | copytruncate | dateext | compress | mixed (create, copytruncate"
          + " and dateext chosen per file and rotation) (default ${DEFAULT-VALUE})")
  RotationMode mode;
  @Option(names = "--agent-kills", defaultValue = "" + ChaosScenario.DEFAULT_AGENT_KILLS,
      description = "kill -9 of the agent, each followed by a restart (default ${DEFAULT-VALUE})")
  int agentKills;
  @Option(names = "--collector-kills", defaultValue = "" + ChaosScenario.DEFAULT_COLLECTOR_KILLS,
      description = "kill -9 of the collector, each followed by a restart"
          + " (default ${DEFAULT-VALUE})")
  int collectorKills;
  @Option(names = "--outage", defaultValue = "10s", converter = DurationConverter.class,
      description = "the collector is killed and kept away this long, once; 0: no outage"
          + " (default ${DEFAULT-VALUE})")
  Duration outage;
  @Option(names = "--seed", description = "seed of the schedule (default: random, printed)")
  Long seed;
  @Option(names = "--pattern", defaultValue = "plain", converter = PatternConverter.class,
      description = "plain: each source is the file's own path; glob: a glob that also matches"
          + " the rotated names (default ${DEFAULT-VALUE})")
  SourcePattern pattern;
  @Option(names = "--work-dir", description = "where the run's files go (must be empty or"
      + " missing; default: a new temp dir)")
  Path workDir;
  @Option(names = "--keep", description = "keep the work dir after a passing run too")
  boolean keep;
  @Option(names = "--settle-timeout", defaultValue = "60s", converter = DurationConverter.class,
      description = "after writing, stop waiting once the store has not grown for this long"
          + " (default ${DEFAULT-VALUE})")
  Duration settleTimeout;
  @Option(names = "--max-wait", defaultValue = "10m", converter = DurationConverter.class,
      description = "after writing, stop waiting after this long (default ${DEFAULT-VALUE})")
  Duration maxWait;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ChaosMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
    ChaosScenario scenario;
    try {
      scenario = new ChaosScenario(files, lines, rate, lineBytes, rotateEvery, mode, agentKills,
          collectorKills, outage, s, pattern, workDir, keep, settleTimeout, maxWait);
    } catch (IllegalArgumentException e) {
      System.err.println("rlog-chaos: " + e.getMessage());
      return 2;
    }
    System.out.println("rlog-chaos seed " + s + " (repeat with --seed " + s + ")");
    ChaosReport report = new ChaosRun(scenario).run();
    System.out.print(report.format());
    return report.passed() ? 0 : 1;
  }

  /** 500ms, 2s, 1m, 1h or a plain number of seconds. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String v) {
      String t = v.trim().toLowerCase(Locale.ROOT);
      try {
        if (t.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        long n = Long.parseLong(t.replaceAll("[smh]$", ""));
        return t.endsWith("m") ? Duration.ofMinutes(n)
            : t.endsWith("h") ? Duration.ofHours(n) : Duration.ofSeconds(n);
      } catch (NumberFormatException e) {
        throw new CommandLine.TypeConversionException("not a duration: '" + v
            + "' (e.g. 500ms, 2s, 1m)");
      }
    }
  }

  static final class ModeConverter implements CommandLine.ITypeConverter<RotationMode> {
    @Override
    public RotationMode convert(String v) {
      return RotationMode.valueOf(v.trim().toUpperCase(Locale.ROOT));
    }
  }

  static final class PatternConverter implements CommandLine.ITypeConverter<SourcePattern> {
    @Override
    public SourcePattern convert(String v) {
      return SourcePattern.valueOf(v.trim().toUpperCase(Locale.ROOT));
    }
  }
}
