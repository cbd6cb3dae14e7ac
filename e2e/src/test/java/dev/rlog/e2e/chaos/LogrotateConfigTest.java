package dev.rlog.e2e.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogrotateConfigTest {
  private static final Path CTL = Path.of("/w/ctl");

  private static String stanza(RotationMode mode) {
    return LogrotateConfig.config(List.of(Path.of("/w/logs/app-0.log")), List.of(mode), 30, CTL);
  }

  @Test
  void eachModeUsesItsDirectives() {
    assertThat(stanza(RotationMode.CREATE)).contains("\"/w/logs/app-0.log\" {", "rotate 30",
        "    create\n", "nodateext", "nocompress", "await-reopen.sh")
        .doesNotContain("copytruncate");
    assertThat(stanza(RotationMode.COPYTRUNCATE)).contains("copytruncate", "prerotate",
        "/bin/sh '/w/ctl/hold.sh' \"$1\"", "release.sh").doesNotContain("    create\n");
    assertThat(stanza(RotationMode.DATEEXT)).contains("    create\n", "    dateext\n",
        "dateformat -%Y%m%d-%s", "nocompress");
    assertThat(stanza(RotationMode.COMPRESS)).contains("    dateext\n", "    compress\n",
        "nodelaycompress", "await-reopen.sh");
  }

  @Test
  void oneStanzaPerFileAndMixedIsNotAConcreteMode() {
    String c = LogrotateConfig.config(List.of(Path.of("/a.log"), Path.of("/b.log")),
        List.of(RotationMode.CREATE, RotationMode.COPYTRUNCATE), 5, CTL);
    assertThat(c).contains("\"/a.log\" {", "\"/b.log\" {");
    assertThatThrownBy(() -> stanza(RotationMode.MIXED)).isInstanceOf(
        IllegalArgumentException.class);
    assertThatThrownBy(() -> LogrotateConfig.config(List.of(Path.of("/a.log")), List.of(), 5,
        CTL)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theScriptsTalkThroughTheControlDirectoryAndWaitBounded() {
    var scripts = LogrotateConfig.scripts(CTL);
    assertThat(scripts.get(LogrotateConfig.HOLD_SCRIPT)).contains("ctl='/w/ctl'",
        ": > \"$ctl/$n.hold\"", "$ctl/$n.held", "-lt 1000");
    assertThat(scripts.get(LogrotateConfig.RELEASE_SCRIPT)).contains("rm -f \"$ctl/$n.hold\"");
    assertThat(scripts.get(LogrotateConfig.AWAIT_REOPEN_SCRIPT)).contains("stat -c %i \"$1\"",
        "$ctl/$n.ino", "-lt 1000");
  }

  @Test
  void theGlobPatternMatchesRotatedNamesButNotGzAndPlainOnlyTheFile() {
    Path file = Path.of("/w/logs/app-0.log");
    var glob = java.nio.file.FileSystems.getDefault().getPathMatcher("glob:"
        + Path.of(SourcePattern.GLOB.sourcePath(file)).getFileName());
    for (String n : List.of("app-0.log", "app-0.log.1", "app-0.log.12",
        "app-0.log-20261130-1796014433")) {
      assertThat(glob.matches(Path.of(n))).as(n).isTrue();
    }
    for (String n : List.of("app-0.log.1.gz", "app-0.log-20261130-1796014433.gz", "app-1.log")) {
      assertThat(glob.matches(Path.of(n))).as(n).isFalse();
    }
    assertThat(SourcePattern.PLAIN.sourcePath(file)).isEqualTo("/w/logs/app-0.log");
  }
}
