package dev.rlog.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class YamlConfigTest {
  private static final Path FILE = Path.of("config/test.yaml");

  private static YamlConfig yaml(String text) {
    return YamlConfig.parse(FILE, text);
  }

  @Test
  void typedGettersReadValuesAndUnits() {
    YamlConfig y = yaml("a: 5\nsize: 64KiB\nt: 500ms\nflag: true\nsec: {port: 9}\n");
    assertThat(y.longValue("a", 0, 0, 10)).isEqualTo(5);
    assertThat(y.bytes("size", 0, 0, Long.MAX_VALUE)).isEqualTo(64 * 1024);
    assertThat(y.duration("t", Duration.ZERO, Duration.ZERO, Duration.ofHours(1)))
        .isEqualTo(Duration.ofMillis(500));
    assertThat(y.bool("flag", false)).isTrue();
    assertThat(y.section("sec").intValue("port", 0, 0, 65535)).isEqualTo(9);
    assertThat(y.string("missing", "def")).isEqualTo("def");
    y.rejectUnknownKeys();
  }

  @Test
  void errorsNameTheFileAndTheDottedKey() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> yaml("sec: {port: 70000}").section("sec").intValue("port", 0, 0, 65535));
    assertThat(e.getMessage()).contains("config/test.yaml").contains("sec.port");
    assertThat(e.key()).isEqualTo("sec.port");

    YamlConfig y = yaml("known: 1\nsec: {typo: 2}\n");
    y.longValue("known", 0, 0, 9);
    y.section("sec");
    ConfigException unknown = assertThrows(ConfigException.class, y::rejectUnknownKeys);
    assertThat(unknown.getMessage()).contains("sec.typo").contains("unknown key");

    assertThat(assertThrows(ConfigException.class, () -> yaml("s: lots").bytes("s", 0, 0, 9))
        .getMessage()).contains("'s'");
  }

  @Test
  void syntaxErrorsGiveThePositionButNotTheLineThatMayHoldASecret() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> yaml("project_key: \"rlp_secret\nother: [\n"));
    assertThat(e.getMessage()).contains("config/test.yaml").contains("line")
        .doesNotContain("rlp_secret");
  }

  @Test
  void aMissingFileIsNamed(@TempDir Path dir) {
    Path f = dir.resolve("nope.yaml");
    assertThat(assertThrows(ConfigException.class, () -> YamlConfig.load(f)).getMessage())
        .contains("nope.yaml").contains("not found");
  }

  @Test
  void emptyFileIsAllDefaults(@TempDir Path dir) throws Exception {
    Path f = Files.writeString(dir.resolve("c.yaml"), "");
    assertThat(YamlConfig.load(f).string("x", "d")).isEqualTo("d");
  }
}
