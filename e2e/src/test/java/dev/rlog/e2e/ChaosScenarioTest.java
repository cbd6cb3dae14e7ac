package dev.rlog.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.rlog.e2e.chaos.ChaosReport;
import dev.rlog.e2e.chaos.ChaosRun;
import dev.rlog.e2e.chaos.ChaosScenario;
import dev.rlog.e2e.chaos.Logrotate;
import dev.rlog.e2e.chaos.SourcePattern;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short chaos scenario, in the normal build (about 70-90 s): the chaos tool's defaults
 * ({@link ChaosScenario#ciDefaults}: 2 files, 50,000 lines at 1,000 lines/s, mixed rotation
 * with the real logrotate every 2 s, 3 agent and 2 collector kill -9, a 10 s outage). Every
 * line must be stored exactly once. Needs {@code logrotate} (.ci/run installs it): without it
 * the test fails saying so, it is not skipped.
 */
class ChaosScenarioTest {
  /**
   * Which source path the agent is given: PLAIN ({@code app-0.log}), the configuration most
   * people write, where rotated names are not matched and the agent must finish a rotated file
   * wherever logrotate put it. (GLOB, {@code {app-0.log,app-0.log*[!z]}}, also matches them.)
   */
  static final SourcePattern PATTERN = SourcePattern.PLAIN;
  /** Fixed so a failure can be repeated; {@code -Drlog.chaos.seed=N} runs another schedule. */
  static final long SEED = Long.getLong("rlog.chaos.seed", 20261130L);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir; // kept on failure, with every log

  @Test
  void shortScenarioLosesNoLineAndStoresNoneTwice() throws Exception {
    assertThat(Logrotate.find())
        .as("the chaos scenario rotates with the real logrotate, which is not installed:"
            + " install it (Debian/Ubuntu: apt-get install -y logrotate; .ci/run does)")
        .isPresent();
    ChaosReport report = new ChaosRun(
        ChaosScenario.ciDefaults(SEED, PATTERN, dir.resolve("run"))).run();
    System.out.print(report.format());
    assertThat(report.lost()).as("lines lost\n%s", report.format()).isZero();
    assertThat(report.duplicated()).as("lines stored twice\n%s", report.format()).isZero();
    assertThat(report.corrupt()).as("corrupt records\n%s", report.format()).isZero();
    assertThat(report.agentKills()).as("agent kill -9 done").isEqualTo(3);
    assertThat(report.collectorKills()).as("collector kill -9 done").isEqualTo(2);
    assertThat(report.writers().rotationFailures()).as("logrotate failures").isZero();
  }
}
