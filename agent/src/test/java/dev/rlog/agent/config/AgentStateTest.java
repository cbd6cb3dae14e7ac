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
  void theAgentSecretIsGeneratedOnceRandomAndOwnerOnly() throws Exception {
    AgentState s = new AgentState(dir.resolve("state"));
    String secret = s.agentSecret();

    assertThat(secret).hasSize(43).matches("[A-Za-z0-9_-]+");
    assertThat(s.agentSecret()).isEqualTo(secret);
    assertThat(new AgentState(dir.resolve("state")).agentSecret()).isEqualTo(secret);
    assertThat(Files.readString(s.secretFile())).isEqualTo(secret + "\n");
    assertThat(Files.getPosixFilePermissions(s.secretFile()))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(new AgentState(dir.resolve("other")).agentSecret()).isNotEqualTo(secret);
    assertThat(s.toString()).doesNotContain(secret);
  }

  @Test
  void aBadStoredSecretIsAnErrorNeverSilentlyReplaced() throws Exception {
    AgentState s = new AgentState(dir);
    Files.writeString(s.secretFile(), "short-secret\n");
    IOException e = assertThrows(IOException.class, s::agentSecret);
    assertThat(e.getMessage()).contains(s.secretFile().toString()).doesNotContain("short-secret");
    assertThat(Files.readString(s.secretFile())).isEqualTo("short-secret\n");

    Files.writeString(s.secretFile(), "two words-long-enough-for-the-minimum\n");
    assertThrows(IOException.class, s::agentSecret);
  }

  @Test
  void toStringShowsOnlyTheDirectory() throws Exception {
    AgentState s = new AgentState(dir);
    s.writeRefreshToken("rlr_secret");
    assertThat(s.toString()).doesNotContain("rlr_secret").contains(dir.toString());
  }
}
