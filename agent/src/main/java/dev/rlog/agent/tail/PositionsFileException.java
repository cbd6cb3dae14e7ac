package dev.rlog.agent.tail;

import java.io.IOException;

/** A positions file that cannot be trusted; the message names the file and the line. */
public final class PositionsFileException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final int line;

  public PositionsFileException(String source, int line, String problem) {
    super(source + " line " + line + ": " + problem);
    this.source = source;
    this.line = line;
  }

  public String source() {
    return source;
  }

  /** 1-based line number. */
  public int line() {
    return line;
  }
}
