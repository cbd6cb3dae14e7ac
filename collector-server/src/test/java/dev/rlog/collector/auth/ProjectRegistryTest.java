package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ProjectRegistryTest {
  @TempDir Path stateDir;

  @Test
  void createReturnsAKeyOnceAndStoresOnlyItsHash() throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    String key = registry.create("web");

    assertThat(key).startsWith(ProjectRegistry.KEY_PREFIX).hasSizeGreaterThan(40);
    Path file = stateDir.resolve(ProjectRegistry.FILE_NAME);
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    String content = Files.readString(file);
    assertThat(content).doesNotContain(key).doesNotContain(key.substring(4))
        .contains(SecretHashes.sha256Hex(key));

    Project p = registry.findByKey(key).orElseThrow();
    assertThat(p.id()).isEqualTo("web");
    assertThat(p.batchSize()).isEqualTo(1000);
    assertThat(p.flushIntervalSec()).isEqualTo(10);
    assertThat(p.timezone()).isEqualTo("UTC");
    assertThat(p.sources()).isEmpty();
    assertThat(p.toString()).doesNotContain(p.keyHash());
  }

  @Test
  void wrongKeysFindNothing() throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    String key = registry.create("web");

    assertThat(registry.findByKey(key + "x")).isEmpty();
    assertThat(registry.findByKey("")).isEmpty();
    assertThat(registry.findByKey(null)).isEmpty();
    assertThat(registry.findByKey(SecretHashes.sha256Hex(key))).isEmpty();
  }

  @Test
  void existingIdIsRefused() throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    registry.create("web");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> registry.create("web"));
    assertThat(e).hasMessageContaining("'web' already exists");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Web", "-web", "_web", "we b", "web!", "ü",
      "a123456789012345678901234567890123456789012345678901234567890123"})
  void invalidIdIsRefused(String id) throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> registry.create(id));
    assertThat(e).hasMessageContaining("project id must match");
    assertThat(Files.exists(stateDir.resolve(ProjectRegistry.FILE_NAME))).isFalse();
  }

  @Test
  void longestValidIdIsAccepted() throws Exception {
    String id = "a" + "b".repeat(62);
    ProjectRegistry.open(stateDir).create(id);
    assertThat(ProjectRegistry.open(stateDir).find(id)).isPresent();
  }

  @Test
  void invalidSettingsAreRefusedNamingTheField() throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> registry.create("web", 0, 10, "UTC", List.of()))).hasMessageContaining("batch_size");
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> registry.create("web", 10, 0, "UTC", List.of()))).hasMessageContaining("flush_interval_sec");
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> registry.create("web", 10, 10, "Mars/Olympus", List.of()))).hasMessageContaining("timezone");
    List<Project.Source> twice = List.of(
        new Project.Source("nginx", "/a", true), new Project.Source("nginx", "/b", true));
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> registry.create("web", 10, 10, "UTC", twice))).hasMessageContaining("appears twice");
  }

  @Test
  void setSourcesIsPersisted() throws Exception {
    ProjectRegistry registry = ProjectRegistry.open(stateDir);
    String key = registry.create("web", 500, 5, "Europe/Paris", List.of());
    List<Project.Source> sources = List.of(
        new Project.Source("nginx", "/var/log/nginx/access.log", true),
        new Project.Source("app", "/srv/app/app.log", false));

    registry.setSources("web", sources);

    Project reloaded = ProjectRegistry.open(stateDir).findByKey(key).orElseThrow();
    assertThat(reloaded.sources()).isEqualTo(sources);
    assertThat(reloaded.batchSize()).isEqualTo(500);
    assertThat(reloaded.timezone()).isEqualTo("Europe/Paris");
    assertThrows(IllegalArgumentException.class, () -> registry.setSources("nope", sources));
  }

  @Test
  void collectorSeesAProjectCreatedByTheCli() throws Exception {
    ProjectRegistry collector = ProjectRegistry.open(stateDir);
    String webKey = collector.create("web");
    assertThat(collector.reloadIfChanged()).isFalse();

    String dbKey = ProjectRegistry.open(stateDir).create("db"); // another process

    assertThat(collector.findByKey(dbKey)).map(Project::id).contains("db");
    assertThat(collector.findByKey(webKey)).map(Project::id).contains("web");
    assertThat(collector.reloadIfChanged()).isFalse();
  }

  @Test
  void twoWritersDoNotLoseEachOthersProject() throws Exception {
    ProjectRegistry cliA = ProjectRegistry.open(stateDir);
    ProjectRegistry cliB = ProjectRegistry.open(stateDir);

    cliA.create("web");
    cliB.create("db"); // B's in-memory view predates "web"; the write re-reads under the lock

    assertThat(ProjectRegistry.open(stateDir).list()).extracting(Project::id).containsExactly("db", "web");
  }

  @Test
  void aBrokenFileOnReloadKeepsTheLastGoodState() throws Exception {
    ProjectRegistry collector = ProjectRegistry.open(stateDir);
    String key = collector.create("web");

    Files.writeString(stateDir.resolve(ProjectRegistry.FILE_NAME), "{ not json");

    assertThat(collector.findByKey(key)).isPresent();
    assertThrows(java.io.IOException.class, () -> ProjectRegistry.open(stateDir));
  }
}
