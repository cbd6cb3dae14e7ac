package dev.rlog.e2e.chaos;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * When each kill, restart, outage and rotation of a run happens, all derived from the seed with
 * {@link Random}, as offsets from the start of writing. Pure and deterministic: the same scenario
 * and seed give the same schedule, so a failing run can be repeated.
 *
 * <p>Kills are spread over the middle of the writing time ({@link ChaosScenario#WINDOW_START} to
 * {@link ChaosScenario#WINDOW_END}): the window is cut into one slot per kill, the kill falls in
 * the first half of its slot and its restart follows after a random delay shorter than 40% of
 * the slot, so a process is always back before its next kill is due. Collector kills avoid the
 * outage (and a second either side). Kills and outage come from {@code new Random(seed)};
 * rotation modes (for {@link RotationMode#MIXED}) from a second generator seeded from it, so the
 * kill schedule does not depend on how many rotations there are.
 */
public record ChaosSchedule(List<Event> events, List<Rotation> rotations) {
  /** Longest pause between a kill and the restart. */
  static final Duration MAX_AGENT_RESTART_DELAY = Duration.ofSeconds(3);
  static final Duration MAX_COLLECTOR_RESTART_DELAY = Duration.ofSeconds(2);
  private static final long MODE_SEED_SALT = 0x5DEECE66DL;

  /** What happens at an event. */
  public enum Kind {
    AGENT_KILL, AGENT_START, COLLECTOR_KILL, COLLECTOR_START, OUTAGE_START, OUTAGE_END
  }

  /** One process event, {@code at} after writing started. */
  public record Event(Duration at, Kind kind) {}

  /** One rotation of every file, {@code at} after writing started; {@code modes} per file. */
  public record Rotation(Duration at, List<RotationMode> modes) {}

  public ChaosSchedule {
    events = List.copyOf(events);
    rotations = List.copyOf(rotations);
  }

  /** The schedule of {@code s}. */
  public static ChaosSchedule of(ChaosScenario s) {
    Random random = new Random(s.seed());
    long writing = s.writingTime().toMillis();
    long windowStart = (long) (ChaosScenario.WINDOW_START * writing);
    long windowEnd = (long) (ChaosScenario.WINDOW_END * writing);
    List<Event> events = new ArrayList<>();

    // the outage: anywhere its whole length fits in [10%, 90%] of the writing time
    long outStart = -1;
    long outEnd = -1;
    if (!s.outage().isZero()) {
      long earliest = (long) (0.10 * writing);
      long latest = Math.max(earliest, (long) (0.90 * writing) - s.outage().toMillis());
      outStart = earliest + (long) (random.nextDouble() * (latest - earliest));
      outEnd = outStart + s.outage().toMillis();
      events.add(new Event(Duration.ofMillis(outStart), Kind.OUTAGE_START));
      events.add(new Event(Duration.ofMillis(outEnd), Kind.OUTAGE_END));
    }

    // collector kills: slots over the window less [outStart - 1 s, outEnd + 1 s]
    if (s.collectorKills() > 0) {
      long gapFrom = outStart < 0 ? windowEnd : Math.max(windowStart, outStart - 1000);
      long gapTo = outStart < 0 ? windowEnd : Math.min(windowEnd, outEnd + 1000);
      long room = (windowEnd - windowStart) - (gapTo - gapFrom);
      long slot = room / s.collectorKills();
      for (int i = 0; i < s.collectorKills(); i++) {
        long kill = i * slot + (long) (random.nextDouble() * slot * 0.5);
        long delay = (long) (random.nextDouble()
            * Math.min(MAX_COLLECTOR_RESTART_DELAY.toMillis(), slot * 0.4));
        long at = windowStart + kill;
        if (at >= gapFrom) {
          at += gapTo - gapFrom; // past the outage: the slots continue after it
        } else {
          delay = Math.min(delay, gapFrom - at); // back before the outage begins
        }
        events.add(new Event(Duration.ofMillis(at), Kind.COLLECTOR_KILL));
        events.add(new Event(Duration.ofMillis(at + delay), Kind.COLLECTOR_START));
      }
    }

    // agent kills: slots over the whole window (during the outage too)
    if (s.agentKills() > 0) {
      long slot = (windowEnd - windowStart) / s.agentKills();
      for (int i = 0; i < s.agentKills(); i++) {
        long at = windowStart + i * slot + (long) (random.nextDouble() * slot * 0.5);
        long delay = (long) (random.nextDouble()
            * Math.min(MAX_AGENT_RESTART_DELAY.toMillis(), slot * 0.4));
        events.add(new Event(Duration.ofMillis(at), Kind.AGENT_KILL));
        events.add(new Event(Duration.ofMillis(at + delay), Kind.AGENT_START));
      }
    }
    // stable: at equal times the order of insertion holds (a kill before its restart)
    events.sort(Comparator.comparing(Event::at));

    List<Rotation> rotations = new ArrayList<>();
    if (!s.rotateEvery().isZero()) {
      Random modeRandom = new Random(s.seed() ^ MODE_SEED_SALT);
      List<RotationMode> choices = RotationMode.MIXED_CHOICES;
      for (Duration at = s.rotateEvery(); at.compareTo(s.writingTime()) < 0;
          at = at.plus(s.rotateEvery())) {
        List<RotationMode> modes = new ArrayList<>();
        for (int f = 0; f < s.files(); f++) {
          modes.add(s.mode() == RotationMode.MIXED
              ? choices.get(modeRandom.nextInt(choices.size()))
              : s.mode());
        }
        rotations.add(new Rotation(at, modes));
      }
    }
    return new ChaosSchedule(events, rotations);
  }

  /** How many events of {@code kind} there are. */
  public long count(Kind kind) {
    return events.stream().filter(e -> e.kind() == kind).count();
  }
}
