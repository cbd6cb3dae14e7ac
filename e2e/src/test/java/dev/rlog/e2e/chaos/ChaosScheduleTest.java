package dev.rlog.e2e.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.rlog.e2e.chaos.ChaosSchedule.Event;
import dev.rlog.e2e.chaos.ChaosSchedule.Kind;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChaosScheduleTest {
  private static ChaosScenario scenario(long lines, int rate, RotationMode mode, int agentKills,
      int collectorKills, Duration outage, long seed) {
    return new ChaosScenario(4, lines, rate, 100, Duration.ofSeconds(2), mode, agentKills,
        collectorKills, outage, seed, SourcePattern.PLAIN, null, false, Duration.ofSeconds(60),
        Duration.ofMinutes(10));
  }

  /** The long scenario of the README: 1,000,000 lines at 10,000/s, 20 + 10 kills, 60 s away. */
  private static ChaosScenario longScenario(long seed) {
    return scenario(1_000_000, 10_000, RotationMode.MIXED, 20, 10, Duration.ofSeconds(60), seed);
  }

  @Test
  void theSameSeedGivesTheSameScheduleAndAnotherSeedAnother() {
    assertThat(ChaosSchedule.of(longScenario(42))).isEqualTo(ChaosSchedule.of(longScenario(42)));
    assertThat(ChaosSchedule.of(longScenario(42)).events())
        .isNotEqualTo(ChaosSchedule.of(longScenario(43)).events());
  }

  @Test
  void everyKillIsFollowedByItsRestartBeforeTheNextKillOfThatProcess() {
    for (long seed = 0; seed < 200; seed++) {
      ChaosSchedule s = ChaosSchedule.of(longScenario(seed));
      assertThat(s.count(Kind.AGENT_KILL)).isEqualTo(20);
      assertThat(s.count(Kind.AGENT_START)).isEqualTo(20);
      assertThat(s.count(Kind.COLLECTOR_KILL)).isEqualTo(10);
      assertThat(s.count(Kind.COLLECTOR_START)).isEqualTo(10);
      assertAlternates(s.events(), Kind.AGENT_KILL, Kind.AGENT_START);
      assertAlternates(s.events(), Kind.COLLECTOR_KILL, Kind.COLLECTOR_START);
    }
  }

  @Test
  void collectorKillsStayOutOfTheOutageAndEverythingInsideTheWritingTime() {
    for (long seed = 0; seed < 200; seed++) {
      ChaosSchedule s = ChaosSchedule.of(longScenario(seed));
      Duration outStart = at(s, Kind.OUTAGE_START);
      Duration outEnd = at(s, Kind.OUTAGE_END);
      assertThat(outEnd.minus(outStart)).isEqualTo(Duration.ofSeconds(60));
      for (Event e : s.events()) {
        assertThat(e.at()).isBetween(Duration.ofSeconds(5), Duration.ofSeconds(95));
        if (e.kind() == Kind.COLLECTOR_KILL || e.kind() == Kind.COLLECTOR_START) {
          assertThat(e.at().compareTo(outStart) < 0 || e.at().compareTo(outEnd) > 0)
              .as("seed %d: %s inside the outage %s..%s", seed, e, outStart, outEnd).isTrue();
        }
      }
    }
  }

  @Test
  void mixedRotationPicksEveryMixedModeAndNothingElse() {
    ChaosSchedule s = ChaosSchedule.of(longScenario(1));
    assertThat(s.rotations()).hasSize(49); // every 2 s during 100 s of writing, not at 0 or 100
    assertThat(s.rotations().stream().flatMap(r -> r.modes().stream()).distinct())
        .containsExactlyInAnyOrderElementsOf(RotationMode.MIXED_CHOICES);
    assertThat(ChaosSchedule.of(scenario(100_000, 10_000, RotationMode.COMPRESS, 0, 0,
        Duration.ZERO, 1)).rotations()).allSatisfy(r -> assertThat(r.modes())
        .containsOnly(RotationMode.COMPRESS).hasSize(4));
  }

  @Test
  void noKillsNoOutageNoEvents() {
    assertThat(ChaosSchedule.of(scenario(10_000, 1_000, RotationMode.CREATE, 0, 0, Duration.ZERO,
        1)).events()).isEmpty();
  }

  @Test
  void aScenarioThatCannotFitIsRefusedWithTheOptionNamed() {
    assertThatThrownBy(() -> scenario(10_000, 1_000, RotationMode.CREATE, 0, 0,
        Duration.ofSeconds(8), 1)).hasMessageContaining("--outage");
    assertThatThrownBy(() -> scenario(10_000, 1_000, RotationMode.CREATE, 20, 0, Duration.ZERO,
        1)).hasMessageContaining("agent kills do not fit");
    assertThatThrownBy(() -> scenario(100_000, 10_000, RotationMode.CREATE, 0, 3,
        Duration.ofSeconds(5), 1)).hasMessageContaining("collector kills do not fit");
    assertThatThrownBy(() -> new ChaosScenario(1, 1000, 100, 100, Duration.ofMillis(500),
        RotationMode.DATEEXT, 0, 0, Duration.ZERO, 1, SourcePattern.GLOB, null, false,
        Duration.ofSeconds(60), Duration.ofMinutes(1))).hasMessageContaining("--rotate-every");
  }

  private static Duration at(ChaosSchedule s, Kind kind) {
    return s.events().stream().filter(e -> e.kind() == kind).findFirst().orElseThrow().at();
  }

  private static void assertAlternates(List<Event> events, Kind kill, Kind start) {
    Kind expected = kill;
    for (Event e : events) {
      if (e.kind() == kill || e.kind() == start) {
        assertThat(e.kind()).as("at %s", e.at()).isEqualTo(expected);
        expected = expected == kill ? start : kill;
      }
    }
    assertThat(expected).isEqualTo(kill);
  }
}
