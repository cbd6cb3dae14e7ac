package dev.rlog.e2e.chaos;

import java.util.List;
import java.util.Locale;

/**
 * How logrotate rotates a chaos file. The concrete modes name the logrotate directives used
 * (see {@link LogrotateConfig}); {@link #MIXED} picks one of {@link #MIXED_CHOICES} per file and
 * rotation from the seed.
 */
public enum RotationMode {
  /** Rename to {@code app.log.N} (numbered), create a new file at the path. */
  CREATE,
  /** Copy to {@code app.log.N}, truncate the file in place (the writer keeps its handle). */
  COPYTRUNCATE,
  /** Rename to {@code app.log-YYYYMMDD-<epoch s>}, create a new file at the path. */
  DATEEXT,
  /**
   * Rename to {@code app.log-YYYYMMDD-<epoch s>}, create a new file, then gzip the renamed file
   * at once (no {@code delaycompress}): the uncompressed rotated file is gone right after.
   * Date names, not numbers, so rotated {@code .gz} files never collide with plain ones.
   */
  COMPRESS,
  /** Per file and rotation one of {@link #MIXED_CHOICES}. */
  MIXED;

  /** What MIXED chooses from: the modes a plain-path or glob source must survive without loss. */
  public static final List<RotationMode> MIXED_CHOICES = List.of(CREATE, COPYTRUNCATE, DATEEXT);

  /** True if rotated names carry the date to the second: rotations must be 1 s apart. */
  public boolean usesDateNames() {
    return this == DATEEXT || this == COMPRESS || this == MIXED;
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
