package dev.rlog.common.wire;

/**
 * Receives the payloads {@link FrameDecoder} finds, one call per record, on the decoding thread.
 */
@FunctionalInterface
public interface FrameSink {
  /**
   * One whole record's payload: {@code buf[off, off + len)}. The bytes are a view into the
   * caller's input or the decoder's own buffer and are valid only during this call: copy what
   * must outlive it, and never write into {@code buf}.
   */
  void frame(byte[] buf, int off, int len);
}
