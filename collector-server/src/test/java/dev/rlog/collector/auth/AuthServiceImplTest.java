package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthServiceImplTest {
  @TempDir Path stateDir;
  private AuthRig rig;
  private String key;

  @BeforeEach
  void setUp() throws Exception {
    rig = new AuthRig(stateDir);
    key = rig.projects.create("web", 500, 5, "Europe/Paris",
        List.of(new Project.Source("nginx", "/var/log/nginx/access.log", true)));
  }

  @AfterEach
  void tearDown() throws Exception {
    rig.close();
  }

  @Test
  void registerWithTheProjectKeyReturnsTokensAndSettings() throws Exception {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));

    assertThat(r.getSuccess()).isTrue();
    assertThat(r.getAgentUuid()).isNotEmpty();
    assertThat(r.getTimezone()).isEqualTo("Europe/Paris");
    assertThat(r.getBatchSize()).isEqualTo(500);
    assertThat(r.getFlushIntervalSec()).isEqualTo(5);
    assertThat(r.getSourcesList()).containsExactly(RegisterResponse.Source.newBuilder()
        .setLabel("nginx").setPath("/var/log/nginx/access.log").setEnabled(true).build());

    rig.heartbeat("Bearer " + r.getAccessToken());
    assertThat(rig.health.identity).hasValue(new AgentIdentity(r.getAgentUuid(), "web"));
  }

  @Test
  void stateFilesAreOwnerOnlyAndHoldNoPlainSecret() throws Exception {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));
    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    for (String name : List.of(ProjectRegistry.FILE_NAME, AgentRegistry.FILE_NAME, SigningKey.FILE_NAME)) {
      Path file = stateDir.resolve(name);
      assertThat(Files.getPosixFilePermissions(file)).as(name)
          .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      assertThat(Files.readString(file)).as(name)
          .doesNotContain(key)
          .doesNotContain(r.getRefreshToken())
          .doesNotContain(refreshed.getRefreshToken())
          .doesNotContain(r.getAccessToken());
    }
  }

  @Test
  void wrongProjectKeyIsUnauthenticatedWithoutHint() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().register(request(key + "x", "host-1")));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(e.getStatus().getDescription()).isEqualTo("invalid project key");
    assertThat(rig.agents.snapshot()).isEmpty();
  }

  @Test
  void emptyOrOversizedFieldsAreInvalidArguments() {
    assertInvalid(request("", "host-1"), "project_key");
    assertInvalid(request(key, ""), "hostname");
    assertInvalid(request(key, "h".repeat(256)), "hostname");
    assertInvalid(request(key, "host\n1"), "hostname");
    assertInvalid(request(key, "host-1").toBuilder().setOs("").build(), "os");
    assertInvalid(request(key, "host-1").toBuilder().setAgentUuid("u".repeat(65)).build(), "agent_uuid");
    assertThat(rig.auth().register(request(key, "h".repeat(255))).getSuccess()).isTrue();

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh("")));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void registerAgainKeepsTheUuid() {
    RegisterResponse first = rig.auth().register(request(key, "host-1"));
    RegisterResponse again = rig.auth().register(
        request(key, "host-1").toBuilder().setAgentUuid(first.getAgentUuid()).build());
    assertThat(again.getAgentUuid()).isEqualTo(first.getAgentUuid());
  }

  @Test
  void refreshRotatesAndTheNewAccessTokenWorks() {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));

    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    assertThat(refreshed.getSuccess()).isTrue();
    assertThat(refreshed.getRefreshToken()).isNotEqualTo(r.getRefreshToken());
    rig.heartbeat("Bearer " + refreshed.getAccessToken());
    assertThat(rig.health.calls).hasValue(1);
  }

  @Test
  void reusedRefreshTokenRevokesAndOldAccessTokensAreRefused() {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));
    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    StatusRuntimeException reuse = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh(r.getRefreshToken())));
    assertThat(reuse.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(reuse.getStatus().getDescription()).isEqualTo("invalid refresh token");

    for (String access : List.of(r.getAccessToken(), refreshed.getAccessToken())) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> rig.heartbeat("Bearer " + access));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(e.getStatus().getDescription()).isEqualTo("access token revoked");
    }
    assertThat(rig.health.calls).hasValue(0);

    // The agent's fallback: register again with its uuid.
    RegisterResponse back = rig.auth().register(
        request(key, "host-1").toBuilder().setAgentUuid(r.getAgentUuid()).build());
    rig.heartbeat("Bearer " + back.getAccessToken());
    assertThat(rig.health.identity).hasValue(new AgentIdentity(r.getAgentUuid(), "web"));
  }

  @Test
  void unknownRefreshTokenIsUnauthenticated() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh("rlr_made-up")));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  private void assertInvalid(RegisterRequest request, String field) {
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> rig.auth().register(request));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).startsWith(field + " ");
  }

  private static RegisterRequest request(String projectKey, String hostname) {
    return RegisterRequest.newBuilder().setProjectKey(projectKey).setHostname(hostname)
        .setOs("linux").setOsVersion("6.1").build();
  }

  private static RefreshRequest refresh(String token) {
    return RefreshRequest.newBuilder().setRefreshToken(token).build();
  }
}
