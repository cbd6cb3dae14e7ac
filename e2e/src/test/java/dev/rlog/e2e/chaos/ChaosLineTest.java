package dev.rlog.e2e.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ChaosLineTest {
  @Test
  void aFormattedLineParsesBackToItsFileAndNumber() {
    String line = ChaosLine.format(3, 4711, 100);
    assertThat(line).startsWith("chaos f=3 seq=0000004711 pad=").hasSize(100);
    assertThat(ChaosLine.parse(line)).isEqualTo(new ChaosLine.Parsed(3, 4711));
  }

  @Test
  void paddingDiffersFromLineToLine() {
    assertThat(ChaosLine.format(0, 1, 100).substring(30, 90))
        .isNotEqualTo(ChaosLine.format(0, 2, 100).substring(30, 90));
  }

  @Test
  void aShortLineBytesStillGivesAValidLine() {
    assertThat(ChaosLine.parse(ChaosLine.format(12, 9_999_999_999L, 10)))
        .isEqualTo(new ChaosLine.Parsed(12, 9_999_999_999L));
  }

  @Test
  void cutJoinedAlteredAndForeignLinesAreCorrupt() {
    String a = ChaosLine.format(0, 10, 100);
    String b = ChaosLine.format(0, 11, 100);
    assertThat(ChaosLine.parse(a.substring(0, 60))).isNull();
    assertThat(ChaosLine.parse(a.substring(0, 99))).isNull();
    assertThat(ChaosLine.parse(a.substring(1))).isNull();
    assertThat(ChaosLine.parse(a.substring(0, 50) + b.substring(50))).isNull();
    assertThat(ChaosLine.parse(a + b)).isNull();
    assertThat(ChaosLine.parse(a.replace("seq=0000000010", "seq=0000000011"))).isNull();
    assertThat(ChaosLine.parse(a.replace(" crc=", " crc=z").substring(0, 100))).isNull();
    assertThat(ChaosLine.parse("")).isNull();
    assertThat(ChaosLine.parse("hello")).isNull();
    assertThat(ChaosLine.parse("\u001f\u008b\u0008garbage crc=00000000")).isNull();
  }
}
