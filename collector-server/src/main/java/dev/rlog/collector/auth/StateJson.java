package dev.rlog.collector.auth;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The Jackson mapper for the collector's state files ({@code projects.json}, {@code agents.json}):
 * indented for ops who read them, tolerant of unknown fields so an older collector can read a
 * file written by a newer CLI. Thread-safe once configured.
 */
final class StateJson {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

  private StateJson() {}
}
