package dev.rlog.collector.store;

import java.util.Locale;

/**
 * When the store's commit point may advance past written bytes (see DESIGN.md, "The store").
 */
public enum FsyncPolicy {
  /**
   * Commit after {@code force(false)} of the segment: a committed (acknowledged) record survives
   * power loss. One fdatasync per writer batch, not per record.
   */
  ALWAYS,
  /**
   * Commit as soon as {@code write()} returned, i.e. the bytes are in the OS page cache: a
   * committed record survives a killed collector but not power loss. The default.
   */
  NEVER;

  public static final FsyncPolicy DEFAULT = NEVER;

  /**
   * Parses the config spelling ({@code always} / {@code never}, any case).
   *
   * @throws IllegalArgumentException naming the accepted values
   */
  public static FsyncPolicy parse(String value) {
    if (value != null) {
      for (FsyncPolicy p : values()) {
        if (p.name().equals(value.trim().toUpperCase(Locale.ROOT))) {
          return p;
        }
      }
    }
    throw new IllegalArgumentException("fsync policy must be 'always' or 'never', got " + value);
  }
}
