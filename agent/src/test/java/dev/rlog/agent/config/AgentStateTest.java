package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentStateTest {
  @TempDir
  Path dir;

  @Test
  void missingFilesAreEmpty() throws Exception {
    AgentState s = new AgentState(dir.resolve("state"));
    assertThat(s.readAgentUuid()).isEmpty();
    assertThat(s.readRefreshToken()).isEmpty();
  }

  @Test
  void writesAtomicallyWithMode0600AndReadsBack() throws Exception {
    AgentState s = new AgentState(dir.resolve("state"));
    s.writeAgentUuid("0b8f6a7e-1111-4222-8333-444455556666");
    s.writeRefreshToken("rlr_first");
    s.writeRefreshToken("rlr_second");

    assertThat(s.readAgentUuid()).contains("0b8f6a7e-1111-4222-8333-444455556666");
    assertThat(s.readRefreshToken()).contains("rlr_second");
    assertThat(Files.readString(s.tokenFile())).isEqualTo("rlr_second\n");
    for (Path f : new Path[] {s.agentUuidFile(), s.tokenFile()}) {
      assertThat(Files.getPosixFilePermissions(f))
          .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }
    try (var files = Files.list(s.dir())) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .as("no temp file left behind").containsExactlyInAnyOrder("agent_uuid", "token");
    }
  }

  @Test
  void invalidContentNamesTheFileButNotTheContent() throws Exception {
    AgentState s = new AgentState(dir);
    Files.writeString(s.tokenFile(), "rlr_secret with space\n");
    IOException e = assertThrows(IOException.class, s::readRefreshToken);
    assertThat(e.getMessage()).contains(s.tokenFile().toString()).doesNotContain("rlr_secret");

    Files.writeString(s.agentUuidFile(), "\n");
    assertThat(assertThrows(IOException.class, s::readAgentUuid).getMessage())
        .contains(s.agentUuidFile().toString());
    Files.write(s.agentUuidFile(), new byte[] {(byte) 0xff, (byte) 0xfe});
    assertThrows(IOException.class, s::readAgentUuid);
  }

  @Test
  void refusesToWriteWhatItCouldNotReadBack() {
    AgentState s = new AgentState(dir);
    assertThrows(IllegalArgumentException.class, () -> s.writeRefreshToken(""));
    assertThrows(IllegalArgumentException.class, () -> s.writeRefreshToken("a\nb"));
    assertThrows(IllegalArgumentException.class, () -> s.writeAgentUuid("x".repeat(65)));
    assertThat(s.tokenFile()).doesNotExist();
  }

  @Test
  void toStringShowsOnlyTheDirectory() throws Exception {
    AgentState s = new AgentState(dir);
    s.writeRefreshToken("rlr_secret");
    assertThat(s.toString()).doesNotContain("rlr_secret").contains(dir.toString());
  }
}
