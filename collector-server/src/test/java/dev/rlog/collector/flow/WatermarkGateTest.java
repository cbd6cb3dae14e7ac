package dev.rlog.collector.flow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.flow.WatermarkGate.Transition;
import org.junit.jupiter.api.Test;

class WatermarkGateTest {
  private final WatermarkGate gate = new WatermarkGate(100, 20, 10, 2);

  @Test
  void pausesOnlyAboveHighAndResumesOnlyAtOrBelowLow() {
    assertThat(gate.update(100, 0)).isEqualTo(Transition.NONE); // at high: not above
    assertThat(gate.update(101, 0)).isEqualTo(Transition.PAUSE);
    assertThat(gate.isPaused()).isTrue();
    assertThat(gate.update(500, 0)).isEqualTo(Transition.NONE); // already paused
    assertThat(gate.update(50, 0)).isEqualTo(Transition.NONE); // between: hysteresis holds
    assertThat(gate.update(21, 0)).isEqualTo(Transition.NONE);
    assertThat(gate.update(20, 0)).isEqualTo(Transition.RESUME);
    assertThat(gate.isPaused()).isFalse();
    assertThat(gate.update(50, 0)).isEqualTo(Transition.NONE); // between, open stays open
  }

  @Test
  void recordsCountJustLikeBytes() {
    assertThat(gate.update(0, 11)).isEqualTo(Transition.PAUSE);
    assertThat(gate.update(0, 2)).isEqualTo(Transition.RESUME);
  }

  @Test
  void resumeNeedsBothBelowLow() {
    gate.update(101, 0);
    assertThat(gate.update(0, 3)).isEqualTo(Transition.NONE);
    assertThat(gate.update(21, 2)).isEqualTo(Transition.NONE);
    assertThat(gate.update(20, 2)).isEqualTo(Transition.RESUME);
  }

  @Test
  void rejectsInvertedWatermarks() {
    assertThrows(IllegalArgumentException.class, () -> new WatermarkGate(10, 10, 5, 1));
    assertThrows(IllegalArgumentException.class, () -> new WatermarkGate(10, 1, 5, 6));
    assertThrows(IllegalArgumentException.class, () -> new WatermarkGate(10, -1, 5, 1));
  }
}
