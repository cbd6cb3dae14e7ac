package dev.rlog.agent.tail;

/**
 * Where one file instance is in its life. One value per instance; the tailer changes it only
 * through the transitions drawn here.
 *
 * <pre>
 *                 new file at a matched path
 *                           │
 *                           ▼
 *   ┌──────────────► READING ──── renamed out of the pattern, deleted, ───► DRAINING
 *   │  reopened     (open, at     replaced by another file                 (open, read to
 *   │  (grew, slot   a matched                                              its end wherever
 *   │  free)         path)  ◄──── renamed back to a matched name ──────────  it is now)
 *   │                  │  │                                                     │
 *   │  caught up and   │  │ truncated / rewritten                idle for drainIdle, or
 *   │  its slot needed │  └────────────────────────┐             a .gz fully read
 *   │                  ▼                           ▼                            ▼
 *   └──────────── DORMANT ◄──── copy found ── CONTENT_GONE               FINISHING
 *                 (closed,      (continue     (its inode holds other     (deliver what is
 *                  known)        on copy)      bytes; a copy may appear)  held, flush the
 *                    │  ▲                             │                  partial line, close)
 *                    │  └──────────────────────────── │ ───────────────────────┘
 *                    │                                │
 *                    └── gone from the directory ─────┴──► forgotten (lost bytes counted)
 * </pre>
 *
 * A DORMANT instance that the planner finds again (by inode anywhere in its directory, or a copy
 * by its first line, also gzip-compressed) is opened again to be finished: DRAINING when its new
 * name does not match the pattern, READING when it does.
 */
public enum InstanceState {
  /** Open, at a path the source's pattern matches; read as it grows. */
  READING,
  /** Open, no longer at a matched path (renamed, deleted, a copy or a .gz): read to its end. */
  DRAINING,
  /** Deliver the held batch, flush a partial last line, then close. */
  FINISHING,
  /** Closed; known from the positions file, finished, or waiting for an open slot. */
  DORMANT,
  /** Its inode was truncated or rewritten: only a copy (copytruncate) can continue it. */
  CONTENT_GONE;

  /** States that hold an open file. */
  public boolean isOpen() {
    return this == READING || this == DRAINING || this == FINISHING;
  }
}
