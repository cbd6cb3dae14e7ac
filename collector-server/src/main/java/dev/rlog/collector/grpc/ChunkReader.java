package dev.rlog.collector.grpc;

/**
 * Reads a serialized {@code log.Chunk} straight from its bytes: the data and the packed line
 * lengths stay ranges of the message buffer, so nothing is allocated per chunk or per line and the
 * line bytes are copied once, into their store records.
 *
 * <pre>
 * Chunk: 1 seq (varint)  2 label (bytes)  3 file_instance (bytes)  4 start_offset (varint)
 *        5 data (bytes)  6 line_lengths (packed varints)  7 read_at (Timestamp)
 * </pre>
 *
 * <p>{@link #read} parses the fields and checks the lines against the data: every length is at
 * least 1 (a line always takes a byte of the file, so two lines never share an offset), they add
 * up to the data's size, and the lengths come packed, once (what our agent sends; a chunk with no
 * lines is malformed too). Then {@link #nextLine()} walks the lines again, in order, handing out
 * each line's range without its terminator: a final {@code \n}, and one {@code \r} right before
 * it, are not part of the line — as the agent's line splitter has it, so a cut piece or a flushed
 * partial line (no terminator) keeps every byte.
 *
 * <p>Not thread-safe; one reader per call. Reusable: {@link #read} the next message.
 */
public final class ChunkReader extends WireReader {
  private long seq;
  private int labelOff;
  private int labelLen;
  private int fidOff;
  private int fidLen;
  private long startOffset;
  private int dataOff;
  private int dataLen;
  private int lengthsOff;
  private int lengthsEnd;
  private boolean hasTimestamp;
  private int lines;

  // The line cursor: where the next line starts in the buffer and in the file.
  private int lineCursor;
  private int dataCursor;
  private long fileCursor;
  private int lineOff;
  private int lineLen;
  private long lineOffset;

  /**
   * Parses and checks {@code message[off, off+len)}; then the accessors describe it and
   * {@link #nextLine()} starts from its first line.
   *
   * @throws MalformedBatchException if it is not a well-formed chunk
   */
  public ChunkReader read(byte[] message, int off, int len) {
    setInput(message, off, len);
    seq = 0;
    labelOff = fidOff = dataOff = lengthsOff = lengthsEnd = off;
    labelLen = fidLen = dataLen = 0;
    startOffset = 0;
    hasTimestamp = false;
    clearTimestamp();
    boolean lengthsSeen = false;
    while (pos < end) {
      int tag = readVarint32();
      int field = tag >>> 3;
      int wireType = tag & 7;
      if (wireType == WT_LEN && (field == 2 || field == 3 || field == 5)) {
        int n = readLength();
        if (field == 2) {
          labelOff = pos;
          labelLen = n;
        } else if (field == 3) {
          fidOff = pos;
          fidLen = n;
        } else {
          dataOff = pos;
          dataLen = n;
        }
        pos += n;
      } else if (field == 6 && wireType == WT_LEN) {
        if (lengthsSeen) {
          throw new MalformedBatchException("line_lengths appears more than once");
        }
        lengthsSeen = true;
        int n = readLength();
        lengthsOff = pos;
        lengthsEnd = pos + n;
        pos += n;
      } else if (field == 6) {
        throw new MalformedBatchException("line_lengths must be packed");
      } else if (field == 7 && wireType == WT_LEN) {
        int n = readLength();
        readTimestamp(pos + n);
        hasTimestamp = true;
      } else if (field == 1 && wireType == WT_VARINT) {
        seq = readVarint64();
      } else if (field == 4 && wireType == WT_VARINT) {
        startOffset = readVarint64();
      } else {
        skip(wireType);
      }
    }
    if (fidLen == 0) {
      throw new MalformedBatchException("chunk without file_instance");
    }
    if (startOffset < 0) {
      throw new MalformedBatchException("start_offset above 2^63");
    }
    countLines();
    rewind();
    return this;
  }

  /** Checks the lengths against the data and counts the lines. */
  private void countLines() {
    int outerEnd = end;
    pos = lengthsOff;
    end = lengthsEnd;
    long sum = 0;
    int n = 0;
    try {
      while (pos < end) {
        long l = readVarint64();
        if (l < 1 || l > dataLen) {
          throw new MalformedBatchException("line length " + l + " outside 1.." + dataLen);
        }
        sum += l;
        n++;
        if (sum > dataLen) {
          break;
        }
      }
    } finally {
      end = outerEnd;
    }
    if (n == 0) {
      throw new MalformedBatchException("chunk without lines");
    }
    if (sum != dataLen) {
      throw new MalformedBatchException("line lengths do not add up to the "
          + dataLen + " bytes of data");
    }
    if (startOffset + dataLen < 0) {
      throw new MalformedBatchException("start_offset + data overflows");
    }
    lines = n;
  }

  /** Forgets the message, so the reader does not keep it alive. */
  public void clear() {
    setInput(NO_BYTES, 0, 0);
    lengthsOff = lengthsEnd = lineCursor = 0;
  }

  private static final byte[] NO_BYTES = new byte[0];

  /** Starts the line cursor over from the first line. */
  public void rewind() {
    lineCursor = lengthsOff;
    dataCursor = dataOff;
    fileCursor = startOffset;
  }

  /**
   * Advances to the next line; false after the last. The lengths were checked by {@link #read},
   * so this cannot fail.
   */
  public boolean nextLine() {
    if (lineCursor >= lengthsEnd) {
      return false;
    }
    // The varint was checked by read(): a length of 1..dataLength inside the packed lengths, so
    // it is decoded here without the checks (the collector runs C1 only, which keeps them all).
    byte[] b = buf;
    int p = lineCursor;
    int len = b[p++];
    if (len < 0) {
      long v = len & 0x7f;
      for (int shift = 7; ; shift += 7) {
        byte next = b[p++];
        v |= (long) (next & 0x7f) << shift;
        if (next >= 0) {
          break;
        }
      }
      len = (int) v;
    }
    lineCursor = p;
    lineOff = dataCursor;
    lineOffset = fileCursor;
    int content = len;
    if (buf[lineOff + content - 1] == '\n') {
      content--;
      if (content > 0 && buf[lineOff + content - 1] == '\r') {
        content--;
      }
    }
    lineLen = content;
    dataCursor += len;
    fileCursor += len;
    return true;
  }

  public long seq() {
    return seq;
  }

  public int labelOffset() {
    return labelOff;
  }

  public int labelLength() {
    return labelLen;
  }

  public int fileInstanceOffset() {
    return fidOff;
  }

  public int fileInstanceLength() {
    return fidLen;
  }

  public long startOffset() {
    return startOffset;
  }

  public int dataOffset() {
    return dataOff;
  }

  public int dataLength() {
    return dataLen;
  }

  /** Lines in the chunk (checked by {@link #read}). */
  public int lines() {
    return lines;
  }

  /** File offset just after the chunk's last line. */
  public long endOffset() {
    return startOffset + dataLen;
  }

  public boolean hasTimestamp() {
    return hasTimestamp;
  }

  public long seconds() {
    return seconds;
  }

  public int nanos() {
    return nanos;
  }

  /** The current line's first byte in {@link #buffer()}. */
  public int lineOffset() {
    return lineOff;
  }

  /** The current line's length without its terminator. */
  public int lineLength() {
    return lineLen;
  }

  /** The current line's offset in its file instance. */
  public long lineFileOffset() {
    return lineOffset;
  }

  public byte[] buffer() {
    return buf;
  }
}
