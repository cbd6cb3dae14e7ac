package dev.rlog.collector.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.store.StoreOptions;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * store.dedup_retention, store.dedup_max_instances and store.drop_page_cache: defaults, units,
 * errors naming the key.
 */
class CollectorConfigDedupTest {
  private static final Path FILE = Path.of("conf/collector.yaml");

  private static CollectorConfig parse(String yaml) {
    return CollectorConfig.fromYaml(YamlConfig.parse(FILE, yaml));
  }

  @Test
  void defaultsComeFromTheStoreOptions() {
    CollectorConfig c = parse("");
    assertThat(c.dedupRetention()).isEqualTo(StoreOptions.DEFAULT_DEDUP_RETENTION)
        .isEqualTo(Duration.ofDays(7));
    assertThat(c.dedupMaxInstances()).isEqualTo(StoreOptions.DEFAULT_DEDUP_MAX_INSTANCES);
    assertThat(c.dropPageCache()).isTrue();
  }

  @Test
  void thePageCacheCanBeLeftAlone() {
    assertThat(parse("store: {drop_page_cache: false}").dropPageCache()).isFalse();
    assertThat(parse("store: {drop_page_cache: true}").dropPageCache()).isTrue();
  }

  @Test
  void valuesAreReadInAnyDurationUnit() {
    assertThat(parse("store: {dedup_retention: 30d}").dedupRetention())
        .isEqualTo(Duration.ofDays(30));
    assertThat(parse("store: {dedup_retention: 36h}").dedupRetention())
        .isEqualTo(Duration.ofHours(36));
    assertThat(parse("store: {dedup_retention: 600}").dedupRetention())
        .isEqualTo(Duration.ofMinutes(10));
    assertThat(parse("store: {dedup_max_instances: 1000}").dedupMaxInstances()).isEqualTo(1000);
  }

  @Test
  void badValuesNameTheFileAndTheKey() {
    for (var c : List.of(
        List.of("store: {dedup_retention: 7 days}", "store.dedup_retention"),
        List.of("store: {dedup_retention: -1d}", "store.dedup_retention"),
        List.of("store: {dedup_retention: 0}", "store.dedup_retention"),
        List.of("store: {dedup_retention: 30s}", "store.dedup_retention"),
        List.of("store: {dedup_retention: 99999999999999999999d}", "store.dedup_retention"),
        List.of("store: {dedup_retention: 9999999999999d}", "store.dedup_retention"),
        List.of("store: {dedup_max_instances: 0}", "store.dedup_max_instances"),
        List.of("store: {dedup_max_instances: many}", "store.dedup_max_instances"),
        List.of("store: {dedup_max_instances: 100000000000}", "store.dedup_max_instances"),
        List.of("store: {drop_page_cache: sometimes}", "store.drop_page_cache"))) {
      ConfigException e = assertThrows(ConfigException.class, () -> parse(c.get(0)));
      assertThat(e.getMessage()).as(c.get(0)).contains("collector.yaml").contains(c.get(1));
    }
  }

  @Test
  void theSampleFileParsesToTheDefaults() {
    CollectorConfig sample = CollectorConfig.load(Path.of("../config/collector.yaml"));
    assertThat(sample.dedupRetention()).isEqualTo(StoreOptions.DEFAULT_DEDUP_RETENTION);
    assertThat(sample.dedupMaxInstances()).isEqualTo(StoreOptions.DEFAULT_DEDUP_MAX_INSTANCES);
    assertThat(sample.dropPageCache()).isTrue();
  }
}
