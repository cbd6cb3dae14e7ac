package dev.rlog.common.wire;

/**
 * A record header declared a payload longer than the configured cap. Thrown before anything is
 * allocated for the payload. The stream cannot be resynchronised after it (there is no frame
 * marker to search for), so the decoder is unusable afterwards and the connection must be closed.
 */
public final class FrameTooLargeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long declaredLength;
  private final int maxFrameLength;

  public FrameTooLargeException(long declaredLength, int maxFrameLength) {
    super("frame declares " + declaredLength + " payload bytes, above the cap of "
        + maxFrameLength);
    this.declaredLength = declaredLength;
    this.maxFrameLength = maxFrameLength;
  }

  /** The unsigned 32-bit length from the header, 0 to 2^32 - 1. */
  public long declaredLength() {
    return declaredLength;
  }

  /** The cap the decoder was configured with. */
  public int maxFrameLength() {
    return maxFrameLength;
  }
}
